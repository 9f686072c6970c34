"""Who may decide one incident: the approvers, and the second level once it escalated to them."""

from __future__ import annotations

from bot.domain.approvals import reporter_approver_shortfall
from bot.domain.i18n import t
from bot.slack.deps import Deps
from bot.store import IncidentRecord

SECOND_LEVEL_AUDIT = "escalation.second_level"


async def escalated_to_second_level(deps: Deps, record: IncidentRecord) -> bool:
    """The follow-through wrote `escalation.second_level` for the incident's current round."""
    return any(
        entry.action == SECOND_LEVEL_AUDIT
        and isinstance(entry.after, dict)
        and entry.after.get("round") == record.round
        for entry in await deps.service.audit_trail(record.id)
    )


async def deciders_for(deps: Deps, record: IncidentRecord) -> frozenset[str]:
    members = await deps.approvers.members()
    second = await deps.escalation.members() if deps.escalation is not None else frozenset()
    return await _with_second_level(deps, record, members, second)


def unresolved_groups(deps: Deps) -> frozenset[str]:
    """The approver groups (second level included) that the last lookup could not learn: a
    refusal as "not an approver" would then be a guess, so the person is asked to try again."""
    second = deps.escalation.unresolved() if deps.escalation is not None else frozenset()
    return deps.approvers.unresolved() | second


def approvers_unknown_text(deps: Deps, lang: str, incident_id: str = "") -> str | None:
    """What to tell someone refused while a group is unresolved (None when none is): Slack
    was not reachable to say who approves, nothing was recorded, try again. With no
    `incident_id`, the short form (a modal's field error holds 150 characters)."""
    groups = unresolved_groups(deps)
    if not groups:
        return None
    if not incident_id:
        return t(lang, "approve.approvers_unknown_short")
    mention = " ".join(f"<!subteam^{group}>" for group in sorted(groups))
    return t(lang, "approve.approvers_unknown", incident_id=incident_id, groups=mention)


async def known_deciders_for(deps: Deps, record: IncidentRecord) -> frozenset[str] | None:
    """As `deciders_for`, from the approvers as last looked up (no Slack call: for answers due in
    an ack); None while a group was never looked up here."""
    members = deps.approvers.known_members()
    second = deps.escalation.known_members() if deps.escalation is not None else frozenset()
    if members is None or second is None:
        return None
    return await _with_second_level(deps, record, members, second)


async def _with_second_level(
    deps: Deps, record: IncidentRecord, members: frozenset[str], second: frozenset[str]
) -> frozenset[str]:
    if not second - members or not await escalated_to_second_level(deps, record):
        return members
    return members | second


async def approver_set_warning(deps: Deps) -> str | None:
    """Said at start-up when the approvers cannot decide every case (see `leakbot doctor`)."""
    members = await deps.approvers.members()
    shortfall = reporter_approver_shortfall(len(members), deps.playbook.approval)
    if shortfall is None:
        return None
    return f"LEAKBOT_APPROVERS: {len(members)} people can approve, but " + shortfall.describe()
