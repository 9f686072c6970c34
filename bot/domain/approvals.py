"""Who may decide an incident, and how many approvals an action needs (the playbook's policy)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import Enum

from bot.domain.i18n import Msg, msg
from bot.domain.playbook import ApprovalPolicy
from bot.domain.vocabulary import OPTION_KEYS, OptionKey


class Refusal(Enum):
    NOT_APPROVER = "not_approver"
    OWN_INCIDENT = "own_incident"


@dataclass(frozen=True)
class ApprovalCheck:
    allowed: bool
    refusal: Refusal | None = None
    needed: int = 1


def check_approval(
    *,
    actor_id: str,
    reporter_id: str,
    approvers: Collection[str],
    action: OptionKey,
    policy: ApprovalPolicy,
) -> ApprovalCheck:
    """Only approvers decide; the reporter never approves their own incident (unless the
    playbook allows it); the number of distinct approvers comes from the policy."""
    if actor_id not in approvers:
        return ApprovalCheck(False, Refusal.NOT_APPROVER)
    if actor_id == reporter_id and not policy.reporter_may_approve:
        return ApprovalCheck(False, Refusal.OWN_INCIDENT)
    return ApprovalCheck(True, None, policy.approvals_needed(action))


def may_reject(*, actor_id: str, reporter_id: str, approvers: Collection[str]) -> bool:
    """Sending an incident back is an approver's act; the reporter cannot reject their own."""
    return actor_id in approvers and actor_id != reporter_id


@dataclass(frozen=True)
class Shortfall:
    """An approver set too small for an action when one approver is the reporter."""

    action: OptionKey
    needed: int
    others: int

    def message(self) -> Msg:
        """For operators: `leakbot doctor` (in its language) and the start-up log."""
        return msg(
            "approvers.shortfall", others=self.others, action=self.action, needed=self.needed
        )

    def describe(self) -> str:
        """In English, for the start-up log."""
        return str(self.message())


def reporter_approver_shortfall(approver_count: int, policy: ApprovalPolicy) -> Shortfall | None:
    """When an approver reports a case, the other approvers must still be able to reach the
    most demanding action's number of approvals (e.g. two approvers, one of whom reports a
    `suspend_and_legal` case, can never decide it)."""
    others = approver_count if policy.reporter_may_approve else approver_count - 1
    action = max(OPTION_KEYS, key=policy.approvals_needed)
    needed = policy.approvals_needed(action)
    if approver_count < 1 or others >= needed:
        return None
    return Shortfall(action, needed, max(others, 0))
