"""Ephemeral replies: help, the open-incident list, an incident's status, refusals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.domain.explain import format_moment, option_label
from bot.domain.i18n import t
from bot.service import IncidentService
from bot.slack.blocks.common import (
    MESSAGE_BLOCKS_MAX,
    Block,
    bullet_sections,
    context,
    escape,
    fields_section,
    header,
    section,
)
from bot.slack.blocks.recommendation import fact_pairs
from bot.slack.blocks.status import status_line
from bot.slack.render import incident_view
from bot.store import AuditRecord, IncidentRecord, TaskRecord

Message = dict[str, Any]
AUDIT_LINES_MAX = 15


def text_message(text: str) -> Message:
    return {"text": text, "blocks": [section(text)], "response_type": "ephemeral"}


def help_message(lang: str) -> Message:
    return {
        "text": t(lang, "help.title"),
        "response_type": "ephemeral",
        "blocks": [
            header(t(lang, "help.title")),
            section(t(lang, "help.body")),
            section(t(lang, "help.list_filters")),  # issue 12
        ],
    }


def unknown_command(lang: str, text: str) -> Message:
    message = help_message(lang)
    message["blocks"].insert(0, section(t(lang, "help.unknown", text=escape(text[:100]))))
    return message


def status_message(
    service: IncidentService,
    record: IncidentRecord | None,
    trail: Sequence[AuditRecord],
    tasks: Sequence[TaskRecord],
    lang: str,
    incident_id: str,
) -> Message:
    if record is None:
        return text_message(t(lang, "status.not_found", incident_id=incident_id))
    tz = service.config.tz
    view = incident_view(service, record)
    top = option_label(service.playbook, view.assessment.recommendation, lang)
    blocks: list[Block] = [
        header(t(lang, "message.header", incident_id=record.id, partner=record.partner)),
        section(
            t(
                lang,
                "status.summary",
                option=escape(top),
                status=status_line(service.playbook, record, lang, tz),
            )
        ),
    ]
    blocks += fields_section(fact_pairs(service.playbook, view.answers, lang))
    deadlines = [
        f"{d.label(lang)}: {format_moment(d.due, lang)}" for d in view.assessment.deadlines
    ]
    blocks += bullet_sections(t(lang, "report.deadlines"), deadlines)
    if tasks:
        task_lines = [
            ("✅ " if task.status == "done" else "⬜ ")
            + task.title.get(lang, task.title.get("en", task.ref))
            + (f" — {format_moment(task.due_at.astimezone(tz), lang)}" if task.due_at else "")
            for task in tasks
        ]
        blocks += bullet_sections(t(lang, "status.tasks"), task_lines)
    audit_lines = [
        t(
            lang,
            "status.audit_line",
            when=format_moment(entry.at.astimezone(tz), lang),
            who=f"<@{entry.actor_id}>" if entry.actor_id.startswith(("U", "W")) else entry.actor_id,
            what=t(lang, f"audit.{entry.action}")
            if f"audit.{entry.action}" in _audit_keys(lang)
            else entry.action,
        )
        for entry in trail[-AUDIT_LINES_MAX:]
    ]
    blocks += bullet_sections(
        t(lang, "status.audit", count=len(trail)), audit_lines, formatted=True
    )
    blocks.append(context(escape(t(lang, "report.survey_basis"))))
    return {
        "text": t(lang, "message.header", incident_id=record.id, partner=escape(record.partner)),
        "blocks": blocks[:MESSAGE_BLOCKS_MAX],
        "response_type": "ephemeral",
    }


def _audit_keys(lang: str) -> set[str]:
    from bot.domain.i18n import catalog

    return {key for key in catalog()[lang] if key.startswith("audit.")}
