"""The "what changed" note after new facts (issue 12), and the modal's last view."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.changes import FactChanges
from bot.domain.explain import format_moment, option_label
from bot.domain.i18n import t
from bot.domain.playbook import Playbook
from bot.domain.vocabulary import OPTION_KEYS
from bot.slack.blocks.common import MODAL_TITLE_MAX, SECTION_TEXT_MAX, clip, escape, plain, section
from bot.slack.ids import CallbackId


def _value_text(playbook: Playbook, answer_id: str, value: Any, lang: str, tz: ZoneInfo) -> str:
    if value is None or value == "" or value == []:
        return t(lang, "intake.unknown")
    try:
        question = playbook.question(answer_id)
    except KeyError:
        return escape(str(value))
    if question.kind == "one_of":
        return question.choice(str(value)).label.get(lang)
    if question.kind == "several_of" and isinstance(value, list):
        separator = "、" if lang == "ja" else ", "
        return separator.join(question.choice(str(v)).label.get(lang) for v in value)
    if question.kind == "datetime" and isinstance(value, str):
        return format_moment(datetime.fromisoformat(value).astimezone(tz), lang)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return escape(clip(str(value), 300))


def _label(playbook: Playbook, answer_id: str, lang: str) -> str:
    try:
        return playbook.question(answer_id).label.get(lang)
    except KeyError:
        return answer_id


def _option(playbook: Playbook, key: str, lang: str) -> str:
    return option_label(playbook, key, lang) if key in OPTION_KEYS else key


def _deadline_label(playbook: Playbook, deadline_id: str, lang: str) -> str:
    rule = playbook.deadlines.get(deadline_id)  # type: ignore[call-overload]
    return rule.label.get(lang) if rule is not None else deadline_id


def what_changed_text(
    playbook: Playbook,
    changes: FactChanges,
    lang: str,
    tz: ZoneInfo,
    *,
    incident_id: str,
    partner: str,
    who: str,
    outcome: str,
) -> str:
    """`outcome`: "reapproval" (a new round waits), "kept" (the decision stands) or
    "pending" (still waiting for its decision)."""
    lines = [
        t(lang, "update.note_title", incident_id=incident_id, partner=escape(partner), who=who)
    ]
    for change in changes.answers:
        lines.append(
            t(
                lang,
                "update.answer_line",
                label=escape(_label(playbook, change.answer_id, lang)),
                before=_value_text(playbook, change.answer_id, change.before, lang, tz),
                after=_value_text(playbook, change.answer_id, change.after, lang, tz),
            )
        )
    for deadline in changes.deadlines:
        label = escape(_deadline_label(playbook, deadline.deadline_id, lang))
        when: datetime | None
        if deadline.before is None:
            key, when = "update.deadline_new", deadline.after
        elif deadline.after is None:
            key, when = "update.deadline_gone", deadline.before
        else:
            key, when = "update.deadline_moved", deadline.after
        if when is None:
            continue
        lines.append(
            t(
                lang,
                key,
                label=label,
                due=format_moment(when.astimezone(tz), lang),
                before=format_moment(deadline.before.astimezone(tz), lang)
                if deadline.before
                else "",
            )
        )
    lines.append(
        t(
            lang,
            "update.recommendation",
            before=_option(playbook, changes.recommendation_before, lang),
            after=_option(playbook, changes.recommendation_after, lang),
        )
        if changes.recommendation_changed
        else t(
            lang,
            "update.recommendation_same",
            option=_option(playbook, changes.recommendation_after, lang),
        )
    )
    lines.append(t(lang, f"update.outcome_{outcome}"))
    return clip("\n".join(lines), SECTION_TEXT_MAX)


def update_done_view(lang: str, text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": CallbackId.DONE,
        "title": plain(t(lang, "update.title"), MODAL_TITLE_MAX),
        "close": plain(t(lang, "intake.close"), MODAL_TITLE_MAX),
        "blocks": [section(text)],
    }
