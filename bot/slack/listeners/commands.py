"""`/leak`, `/leak help`, `/leak list`, `/leak status LEAK-…`."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot import failpoints
from bot.domain.i18n import t
from bot.service import Unavailable
from bot.slack.blocks.intake import IntakeState, step_view
from bot.slack.blocks.responses import (
    help_message,
    status_message,
    text_message,
    unknown_command,
)
from bot.slack.deps import Deps
from bot.slack.ids import SLASH_COMMAND
from bot.slack.listeners.actions import after_ack
from bot.slack.listeners.documents import export_command
from bot.slack.listeners.listing import list_incidents, parse_list_args
from bot.store import IncidentRecord, TaskRecord

log = logging.getLogger(__name__)
INCIDENT_ID = re.compile(r"^LEAK-\d{4}-\d{4,}$", re.IGNORECASE)


def register(app: AsyncApp, deps: Deps) -> None:
    @app.command(SLASH_COMMAND)
    @after_ack(deps)
    async def leak(
        ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        text = str(command.get("text") or "").strip()
        sub, _, rest = text.partition(" ")
        sub = sub.lower()
        user_id = str(command.get("user_id") or "")
        # Acknowledged before any Slack call (the user's locale, the approver groups): those
        # may retry for longer than Slack's 3 s. The answer follows through the response_url.
        await ack()
        failpoints.hit("command.acked")
        if sub == "":
            await open_intake(deps, client, str(command.get("trigger_id") or ""), user_id, command)
            return
        lang = await deps.user_lang(user_id)
        try:
            if sub == "export":
                request_key = str(command.get("trigger_id") or "")
                await export_command(respond, deps, lang, user_id, request_key)
            else:
                await _answer(respond, deps, sub, rest, text, lang, user_id)
        except (Unavailable, OSError, TimeoutError) as exc:
            # The database is down: say so rather than leave the person without an answer.
            deps.metrics.failures.labels("command").inc()
            log.error("command failed: %s", type(exc).__name__)
            await respond(**text_message(t(lang, "command.unavailable")))


async def _answer(
    answer: AsyncRespond, deps: Deps, sub: str, rest: str, text: str, lang: str, user_id: str
) -> None:
    if sub == "help":
        await answer(**help_message(lang))
    elif sub == "list":
        # Approvers see every incident; anyone else sees the ones they reported.
        mine = None if user_id in await deps.approvers.members() else user_id
        await answer(**await list_incidents(deps, parse_list_args(rest), lang, reporter_id=mine))
    elif sub == "status":
        incident_id = rest.strip().upper()
        if not INCIDENT_ID.match(incident_id):
            await answer(**unknown_command(lang, text))
            return
        record = await deps.service.incident(incident_id)
        tasks = await deps.follow.tasks(incident_id) if record else []
        if record is not None and not await may_see(deps, record, tasks, user_id):
            # Same answer as for an unknown id: an outsider learns nothing, not even that it exists.
            await answer(**status_message(deps.service, None, [], [], lang, incident_id))
            return
        trail = await deps.service.audit_trail(incident_id) if record else []
        await answer(**status_message(deps.service, record, trail, tasks, lang, incident_id))
    else:
        await answer(**unknown_command(lang, text))


async def may_see(
    deps: Deps, record: IncidentRecord, tasks: Sequence[TaskRecord], user_id: str
) -> bool:
    """An incident's details are for its reporter, the approvers and its tasks' owners."""
    if user_id == record.reporter_id or any(task.owner_id == user_id for task in tasks):
        return True
    return user_id in await deps.approvers.members()


async def open_intake(
    deps: Deps, client: AsyncWebClient, trigger_id: str, user_id: str, command: dict[str, Any]
) -> None:
    """Open the modal at once (the trigger id lives 3 s), then switch language if needed."""
    default_lang = deps.settings.LEAKBOT_LANGUAGE
    state = IntakeState(step=0, lang=default_lang, channel_id=command.get("channel_id"))
    now = deps.service.now()
    response = await client.views_open(
        trigger_id=trigger_id, view=step_view(deps.playbook, state, now)
    )
    lang = await deps.user_lang(user_id)
    if lang != default_lang:
        view = response.get("view") or {}
        state.lang = lang
        await client.views_update(
            view_id=view.get("id"), hash=view.get("hash"), view=step_view(deps.playbook, state, now)
        )
