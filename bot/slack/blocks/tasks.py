"""The follow-up tasks message, posted in the recommendation's thread: one Done button each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.explain import format_moment
from bot.domain.i18n import t
from bot.slack.blocks.common import MESSAGE_BLOCKS_MAX, Block, clip, context, escape, plain, section
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


def tasks_message(
    tasks: Sequence[TaskRecord], lang: str, tz: ZoneInfo, *, incident_id: str
) -> dict[str, Any]:
    blocks: list[Block] = [section(f"*{escape(t(lang, 'task.thread_title'))}* ({incident_id})")]
    for task in tasks[: MESSAGE_BLOCKS_MAX - 2]:
        block = section(clip(task_text(task, lang, tz), 2900))
        if task.status != "done":
            block["accessory"] = {
                "type": "button",
                "action_id": ActionId.TASK_DONE,
                "text": plain(t(lang, "task.done_button"), 75),
                "value": str(task.id),
            }
        blocks.append(block)
    if len(tasks) > MESSAGE_BLOCKS_MAX - 2:
        blocks.append(
            context(escape(t(lang, "summary.more", count=len(tasks) - (MESSAGE_BLOCKS_MAX - 2))))
        )
    return {"text": t(lang, "task.thread_title"), "blocks": blocks}
