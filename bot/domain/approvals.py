"""Who may decide an incident, and how many approvals an action needs (the playbook's policy)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import Enum

from bot.domain.playbook import ApprovalPolicy
from bot.domain.vocabulary import OptionKey


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
