"""Block Kit for an incident's life after the decision (issue 12): the partner's report,
closing and reopening, the filtered incident list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.domain.closing import REGULATOR_STATES
from bot.domain.i18n import t
from bot.slack.blocks.common import (
    MESSAGE_BLOCKS_MAX,
    MODAL_TITLE_MAX,
    Block,
    bullet_sections,
    context,
    escape,
    plain,
    section,
)
from bot.slack.ids import ActionId, BlockId, CallbackId

QUALITY_ACTIONS: dict[str, ActionId] = {
    "sufficient": ActionId.REPORT_SUFFICIENT,
    "insufficient": ActionId.REPORT_INSUFFICIENT,
    "missing": ActionId.REPORT_MISSING,
}


def report_value(task_id: int, quality: str) -> str:
    return f"{task_id}:{quality}"


def parse_report_value(value: str) -> tuple[int, str] | None:
    task_text, _, quality = value.partition(":")
    if not task_text.isdecimal() or quality not in QUALITY_ACTIONS:
        return None
    return int(task_text), quality


def partner_report_question(task_id: int, title: str, lang: str, done_text: str) -> dict[str, Any]:
    """The ephemeral answer to marking the partner's report done: how was it?"""
    question = t(lang, "partner_report.question", title=escape(title))
    buttons: list[Block] = [
        {
            "type": "button",
            "action_id": action_id,
            "text": plain(t(lang, f"partner_report.{quality}"), 75),
            "value": report_value(task_id, quality),
            **({"style": "danger"} if quality != "sufficient" else {}),
        }
        for quality, action_id in QUALITY_ACTIONS.items()
    ]
    return {
        "text": f"{done_text} {question}",
        "blocks": [
            section(escape(done_text)),
            section(question),
            {"type": "actions", "block_id": f"leak_report:{task_id}", "elements": buttons},
        ],
    }


# -- closing and reopening --------------------------------------------------------------------

NOTE_MAX = 1000
REASON_MAX = 500


def incident_controls(incident_id: str, status: str, lang: str) -> Block | None:
    """Under a decided (or sent back) incident: Update facts and Close; under a closed one:
    Reopen."""

    def button(action_id: ActionId, key: str) -> dict[str, Any]:
        return {
            "type": "button",
            "action_id": action_id,
            "text": plain(t(lang, key), 75),
            "value": incident_id,
        }

    if status in ("decided", "rejected"):
        buttons = [button(ActionId.UPDATE, "update.button"), button(ActionId.CLOSE, "close.button")]
    elif status == "closed":
        buttons = [button(ActionId.REOPEN, "reopen.button")]
    else:
        return None
    return {"type": "actions", "block_id": f"{BlockId.INCIDENT}:{incident_id}", "elements": buttons}


def _select(options: list[tuple[str, str]], placeholder: str) -> dict[str, Any]:
    return {
        "type": "static_select",
        "action_id": ActionId.INPUT,
        "placeholder": plain(placeholder, 150),
        "options": [{"text": plain(label, 75), "value": value} for value, label in options],
    }


def _input(block_id: str, label: str, element: dict[str, Any], *, optional: bool) -> Block:
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, 2000),
        "element": element,
        "optional": optional,
    }


@dataclass(frozen=True)
class OpenDeadline:
    """An open regulator deadline, as the close modal asks about it."""

    ref: str
    title: str
    due: str


def close_view(
    lang: str,
    incident_id: str,
    partner: str,
    outcomes: Sequence[str],
    deadlines: Sequence[OpenDeadline],
    metadata: str,
) -> dict[str, Any]:
    blocks: list[Block] = [
        section(t(lang, "close.intro", incident_id=incident_id, partner=escape(partner))),
        _input(
            BlockId.OUTCOME,
            t(lang, "close.outcome"),
            _select(
                [(key, t(lang, f"outcome.{key}")) for key in outcomes],
                t(lang, "close.outcome_placeholder"),
            ),
            optional=False,
        ),
        _input(
            BlockId.NOTE,
            t(lang, "close.note"),
            {
                "type": "plain_text_input",
                "action_id": ActionId.INPUT,
                "multiline": True,
                "max_length": NOTE_MAX,
            },
            optional=True,
        ),
    ]
    if deadlines:
        blocks.append(section(t(lang, "close.regulator_intro")))
    states = [(state, t(lang, f"close.regulator_{state}")) for state in REGULATOR_STATES]
    for deadline in deadlines[:30]:  # 3 blocks each, within the modal's 100
        label = f"{deadline.title} ({deadline.due})"
        blocks.append(
            _input(
                f"{BlockId.REGULATOR}:{deadline.ref}",
                label,
                _select(states, t(lang, "close.regulator_placeholder")),
                optional=False,
            )
        )
        blocks.append(
            _input(
                f"{BlockId.REGULATOR_REASON}:{deadline.ref}",
                t(lang, "close.regulator_reason"),
                {"type": "plain_text_input", "action_id": ActionId.INPUT, "max_length": REASON_MAX},
                optional=True,
            )
        )
    return {
        "type": "modal",
        "callback_id": CallbackId.CLOSE,
        "private_metadata": metadata,
        "title": plain(t(lang, "close.title"), MODAL_TITLE_MAX),
        "submit": plain(t(lang, "close.submit"), MODAL_TITLE_MAX),
        "close": plain(t(lang, "close.cancel"), MODAL_TITLE_MAX),
        "blocks": blocks,
    }


def closed_status_line(lang: str, *, outcome: str, who: str, when: str, note: str | None) -> str:
    line = t(lang, "status.closed_with", outcome=t(lang, f"outcome.{outcome}"), who=who, when=when)
    if note:
        line += "\n" + t(lang, "status.closed_note", note=escape(note))
    return line


# -- /leak list with filters and pages ---------------------------------------------------------


def list_page_message(
    lang: str,
    lines: Sequence[str],
    *,
    scope: str,
    partner: str | None,
    first: int,
    total: int,
    next_command: str | None,
) -> dict[str, Any]:
    if total == 0:
        text = t(lang, "list.none", scope=t(lang, f"list.scope.{scope}"))
        return {"text": text, "blocks": [section(text)], "response_type": "ephemeral"}
    title = t(
        lang,
        "list.page_title",
        scope=t(lang, f"list.scope.{scope}"),
        first=first,
        last=first + len(lines) - 1,
        total=total,
    )
    if partner:
        title += " " + t(lang, "list.partner_filter", partner=partner)
    blocks = bullet_sections(title, list(lines), formatted=True)
    if next_command:
        blocks.append(context(escape(t(lang, "list.more", command=next_command))))
    return {"text": title, "blocks": blocks[:MESSAGE_BLOCKS_MAX], "response_type": "ephemeral"}
