"""The follow-up tasks' Done buttons (`leak_task_done`, value = task id)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.domain.i18n import t
from bot.lifecycle import PARTNER_REPORT_REFS
from bot.slack.blocks.lifecycle import partner_report_question
from bot.slack.deciders import approvers_unknown_text, may_act_on_task
from bot.slack.deps import Deps
from bot.slack.ids import ActionId
from bot.slack.listeners.actions import after_ack, in_app_home


async def _tell(respond: AsyncRespond | None, text: str) -> None:
    """An ephemeral answer, where there is one (not for a click in the App Home)."""
    if respond is not None and not in_app_home(respond):
        await respond(text=text, response_type="ephemeral", replace_original=False)


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(ActionId.TASK_DONE)
    @after_ack(deps)
    async def task_done(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond | None) -> None:
        await ack()
        user = body.get("user") if isinstance(body.get("user"), dict) else {}
        user_id = str((user or {}).get("id") or "")
        lang = await deps.user_lang(user_id)
        actions = body.get("actions") if isinstance(body.get("actions"), list) else []
        raw = str(
            (actions[0] if actions and isinstance(actions[0], dict) else {}).get("value") or ""
        )
        task_id = int(raw) if raw.isdecimal() else -1
        found = await deps.follow.task(task_id)
        if found is None:
            await _tell(respond, t(lang, "task.not_found"))
            return
        task, record = found
        allowed, approvers = await may_act_on_task(deps, record, task.owner_id, user_id)
        if not allowed:
            unknown = approvers_unknown_text(lang, user_id, approvers, record.id)
            if unknown:  # an approver group Slack did not answer for: not a refusal
                await _tell(respond, unknown)
                return
            await deps.follow.refused_task(record, task, user_id)
            await _tell(respond, t(lang, "task.not_allowed"))
            return
        outcome = await deps.follow.complete_task(record, task, user_id)
        title = task.title.get(lang) or task.ref
        if outcome.kind == "done":
            deps.outbox.notify()
            done_text = t(lang, "task.done_ok", title=title)
            if task.ref in PARTNER_REPORT_REFS and respond is not None and not in_app_home(respond):
                # The partner's report is an event: ask how it was (listeners/lifecycle.py).
                await respond(
                    **partner_report_question(task.id, title, lang, done_text),
                    response_type="ephemeral",
                    replace_original=False,
                )
                return
            await _tell(respond, done_text)
        else:
            await _tell(respond, t(lang, "task.already_done", title=title))
        if in_app_home(respond):  # the tab shows it at once
            await deps.home.publish(deps.client, user_id, opened=False)
