"""One incident's state in a line of mrkdwn ("Decided: stop the business — @a, @b, 4 Dec 10:00"),
and mentions of people and user groups."""

from __future__ import annotations

from collections.abc import Collection
from zoneinfo import ZoneInfo

from bot.domain.explain import format_moment, option_label
from bot.domain.i18n import t
from bot.domain.playbook import Playbook
from bot.domain.vocabulary import OPTION_KEYS
from bot.slack.blocks.common import escape
from bot.store import IncidentRecord


def mentions(ids: Collection[str]) -> str:
    """Users as <@U…>, user groups (ids starting with S) as <!subteam^S…>."""
    return " ".join(f"<!subteam^{i}>" if i.startswith("S") else f"<@{i}>" for i in ids)


def status_line(playbook: Playbook, record: IncidentRecord, lang: str, tz: ZoneInfo) -> str:
    who = ", ".join(f"<@{user}>" for user in record.decided_by)
    when = format_moment(record.decided_at.astimezone(tz), lang) if record.decided_at else ""
    if record.status == "decided" and record.decided_action in OPTION_KEYS:
        action = option_label(playbook, record.decided_action, lang)
        return t(lang, "status.decided", action=action, who=who, when=when)
    if record.status == "rejected":
        return t(
            lang,
            "status.rejected",
            who=who,
            when=when,
            reason=escape(record.decision_reason or ""),
        )
    return t(lang, f"status.{record.status}")
