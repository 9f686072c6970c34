"""Events API: a mention gets the help text once, however often Slack retries the delivery."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.i18n import t
from bot.slack.deps import Deps


def register(app: AsyncApp, deps: Deps) -> None:
    @app.event("app_mention")
    async def mention(body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient) -> None:
        event_id = str(body.get("event_id") or "")
        # Slack retries a delivery it thinks failed, and Bolt dispatches it again (#731).
        if not event_id or not await deps.service.first_delivery(f"event:{event_id}"):
            return
        lang = deps.settings.LEAKBOT_LANGUAGE
        await client.chat_postMessage(
            channel=str(event.get("channel") or ""),
            thread_ts=str(event.get("thread_ts") or event.get("ts") or ""),
            text=t(lang, "help.mention"),
        )
