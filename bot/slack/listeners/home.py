"""The App Home tab: published when the person opens it, and its "Report a leak" button."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.deps import Deps
from bot.slack.ids import ActionId
from bot.slack.listeners.actions import after_ack
from bot.slack.listeners.commands import open_intake


def register(app: AsyncApp, deps: Deps) -> None:
    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        # Bolt has acked already (events are acked before their listeners run): the Slack
        # calls below (the person's locale, the publish) do not hold up the answer.
        user_id = str(event.get("user") or "")
        if event.get("tab") != "home" or not user_id:
            return  # the Messages tab needs nothing from us
        await deps.home.publish(client, user_id, opened=True)

    @app.action(ActionId.HOME_REPORT)
    @after_ack(deps)
    async def report(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        user = body.get("user") if isinstance(body.get("user"), dict) else {}
        user_id = str((user or {}).get("id") or "")
        # The click's trigger id opens the same intake as `/leak` (no channel to answer in).
        await open_intake(deps, client, str(body.get("trigger_id") or ""), user_id, {})
