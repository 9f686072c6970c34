"""A decided incident's own private channel (LEAKBOT_INCIDENT_CHANNELS=private).

On decision, instead of the tasks in the escalation channel's thread: the channel is created
(members: the reporter, the approvers, the task owners), the incident's summary and its tasks
are posted there, and the escalation message's thread gets a link to it. All of it through the
outbox, in order, with dedupe keys: one channel per incident however many replicas run or
however often the decision's follow-up is repaired.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Final

from bot.domain.channel_names import incident_channel_name
from bot.notifications import Notification
from bot.service import RECOMMENDATION
from bot.store import IncidentRecord, OutboxMessage

INCIDENT_CHANNEL: Final = "incident_channel"


def incident_channel_members(
    record: IncidentRecord, approvers: Iterable[str], owners: Iterable[str | None]
) -> list[str]:
    """Who is invited: the reporter, the approvers (user groups as S… ids, expanded by the Slack
    edge when it invites) and the task owners, each once, in that order."""
    people = [record.reporter_id, *approvers, *(owner for owner in owners if owner)]
    return list(dict.fromkeys(people))


def incident_channel_messages(
    record: IncidentRecord,
    tasks_note: Notification,
    *,
    approvers: Iterable[str],
    owners: Iterable[str | None],
) -> list[OutboxMessage]:
    """The outbox rows, in the order they must be sent: the channel, the summary there, the
    tasks there (in the escalation thread if the channel could not be created), the link."""
    incident_id, round_ = record.id, record.round
    channel = Notification(
        kind="incident_channel",
        incident_id=incident_id,
        facts={
            "name": incident_channel_name(incident_id, record.partner),
            "members": incident_channel_members(record, approvers, owners),
        },
    )
    summary = Notification(
        kind="channel_summary", incident_id=incident_id, within=INCIDENT_CHANNEL, round=round_
    )
    tasks = replace(tasks_note, within=INCIDENT_CHANNEL)
    link = Notification(
        kind="channel_link", incident_id=incident_id, thread=RECOMMENDATION, round=round_
    )
    return [
        channel.to_outbox(dedupe_key=f"incident_channel:{incident_id}"),
        summary.to_outbox(dedupe_key=f"channel_summary:{incident_id}:{round_}"),
        tasks.to_outbox(dedupe_key=f"tasks:{incident_id}:{round_}"),
        link.to_outbox(dedupe_key=f"channel_link:{incident_id}"),
    ]
