"""The approver set against the playbook's approval policy (doctor and start-up warnings)."""

from __future__ import annotations

from bot.domain.approvals import reporter_approver_shortfall
from bot.domain.playbook import ApprovalPolicy


def test_two_approvers_cannot_decide_a_suspension_one_of_them_reported() -> None:
    policy = ApprovalPolicy(required_approvals={"suspend_and_legal": 2})
    shortfall = reporter_approver_shortfall(2, policy)
    assert shortfall is not None
    assert (shortfall.action, shortfall.needed, shortfall.others) == ("suspend_and_legal", 2, 1)
    assert "only 1 other(s) remain" in shortfall.describe()
    assert reporter_approver_shortfall(3, policy) is None


def test_a_reporter_who_may_approve_counts() -> None:
    policy = ApprovalPolicy(required_approvals={"suspend_and_legal": 2}, reporter_may_approve=True)
    assert reporter_approver_shortfall(2, policy) is None
    assert reporter_approver_shortfall(1, policy) is not None


def test_one_approval_everywhere_needs_two_people_when_the_reporter_may_not() -> None:
    policy = ApprovalPolicy()
    assert reporter_approver_shortfall(1, policy) is not None
    assert reporter_approver_shortfall(2, policy) is None
    assert reporter_approver_shortfall(0, policy) is None  # "no approvers" is another check
