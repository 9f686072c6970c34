"""Who may decide one incident: the approvers, and the second level once it escalated to them."""

from __future__ import annotations

from bot.domain.approvals import reporter_approver_shortfall
from bot.domain.i18n import t
from bot.slack.approvers import Approvers
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


async def deciders_for(deps: Deps, record: IncidentRecord) -> Approvers:
    members = await deps.approvers.members()
    second = await deps.escalation.members() if deps.escalation is not None else Approvers()
    return await _with_second_level(deps, record, members, second)


def approvers_unknown_text(
    lang: str, user_id: str, approvers: Approvers, incident_id: str = ""
) -> str | None:
    """What to tell `user_id`, refused by `approvers`, when that refusal would be a guess (an
    approver group Slack did not answer for may hold them): nothing was recorded, try again.
    None when it is no guess. Without `incident_id`, the short form (a modal's field error
    holds 150 characters)."""
    if not approvers.unsure_of(user_id):
        return None
    if not incident_id:
        return t(lang, "approve.approvers_unknown_short")
    mention = " ".join(f"<!subteam^{group}>" for group in sorted(approvers.unresolved))
    return t(lang, "approve.approvers_unknown", incident_id=incident_id, groups=mention)


async def may_act_on_task(
    deps: Deps, record: IncidentRecord, owner_id: str | None, user_id: str
) -> tuple[bool, Approvers]:
    """Whether `user_id` may tick a task or record the partner's report: the incident's reporter,
    the task's owner or an approver. Returns the approvers too, to tell a refusal that would be a
    guess (`approvers_unknown_text`)."""
    approvers = await deps.approvers.members()
    return user_id in {record.reporter_id, owner_id} | approvers, approvers


async def known_deciders_for(deps: Deps, record: IncidentRecord) -> Approvers | None:
    """As `deciders_for`, from the approvers as last looked up (no Slack call: for answers due in
    an ack); None while a group was never looked up here."""
    members = deps.approvers.known_members()
    second = deps.escalation.known_members() if deps.escalation is not None else frozenset()
    if members is None or second is None:
        return None
    return await _with_second_level(deps, record, Approvers(members), Approvers(second))


async def _with_second_level(
    deps: Deps, record: IncidentRecord, members: Approvers, second: Approvers
) -> Approvers:
    """The second level counts (its members and its unresolved groups) only once the incident
    escalated to it."""
    if not (second - members or second.unresolved) or not await escalated_to_second_level(
        deps, record
    ):
        return members
    return Approvers(members | second, members.unresolved | second.unresolved)


async def approver_set_warning(deps: Deps) -> str | None:
    """Said at start-up when the approvers cannot decide every case (see `leakbot doctor`)."""
    members = await deps.approvers.members()
    shortfall = reporter_approver_shortfall(len(members), deps.playbook.approval)
    if shortfall is None:
        return None
    return f"LEAKBOT_APPROVERS: {len(members)} people can approve, but " + shortfall.describe()
