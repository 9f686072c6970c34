"""The follow-up tasks message, posted in the recommendation's thread: one Done button each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.explain import format_moment
from bot.domain.i18n import t
from bot.drafting import task_document
from bot.slack.blocks.common import MESSAGE_BLOCKS_MAX, Block, clip, context, escape, plain, section
from bot.slack.blocks.documents import task_draft_button
from bot.slack.ids import ActionId
from bot.store import TaskRecord


def task_text(task: TaskRecord, lang: str, tz: ZoneInfo) -> str:
    title = escape(task.title.get(lang) or task.title.get("en") or task.ref)
    owner = f"<@{task.owner_id}>" if task.owner_id else "-"
    if task.status == "done":
        when = format_moment(task.done_at.astimezone(tz), lang) if task.done_at else ""
        return t(lang, "task.done_line", title=title, who=f"<@{task.done_by}>", when=when)
    if task.due_at is None:
        return t(lang, "task.line_no_due", title=title, owner=owner)
    return t(
        lang,
        "task.line",
        title=title,
        owner=owner,
        due=format_moment(task.due_at.astimezone(tz), lang),
    )


def _task_blocks(task: TaskRecord, lang: str, tz: ZoneInfo, incident_id: str) -> list[Block]:
    """The task's line with its Done button; a task that has a document also gets its draft
    button (issue 13: the regulator reports, the notices, the partner letter)."""
    block = section(clip(task_text(task, lang, tz), 2900))
    if task.status != "done":
        block["accessory"] = {
            "type": "button",
            "action_id": ActionId.TASK_DONE,
            "text": plain(t(lang, "task.done_button"), 75),
            "value": str(task.id),
        }
    document = task_document(task.ref)
    if document is None:
        return [block]
    draft_button = task_draft_button(incident_id, document, lang)
    return [block, {"type": "actions", "elements": [draft_button]}]


def tasks_message(
    tasks: Sequence[TaskRecord], lang: str, tz: ZoneInfo, *, incident_id: str
) -> dict[str, Any]:
    blocks: list[Block] = [section(f"*{escape(t(lang, 'task.thread_title'))}* ({incident_id})")]
    shown = 0
    for task in tasks:
        group = _task_blocks(task, lang, tz, incident_id)
        # Keep one block free for the "N more" line.
        if len(blocks) + len(group) > MESSAGE_BLOCKS_MAX - 1:
            break
        blocks += group
        shown += 1
    if shown < len(tasks):
        blocks.append(context(escape(t(lang, "summary.more", count=len(tasks) - shown))))
    return {"text": t(lang, "task.thread_title"), "blocks": blocks}
