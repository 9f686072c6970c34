"""`respond()` through the app's keep-alive HTTP session.

Bolt's own `AsyncRespond` makes a `AsyncWebhookClient` without a session for every answer, which
opens (and closes) a new `aiohttp.ClientSession` and TCP/TLS connection per click: a good part
of a click's CPU after its ack (bench/ack_latency.py). This one posts the same body through the
session the Web API client already keeps (bot/slack/app.py), or a session of its own when there
is none (e.g. before the server started), as Bolt does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.context.respond.internals import _build_message
from slack_bolt.response import BoltResponse
from slack_sdk.webhook import WebhookResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient


class SessionRespond(AsyncRespond):
    """Bolt's `respond()` (same arguments, same body), posted through `session()`."""

    def __init__(
        self, *, response_url: str | None, session: Callable[[], aiohttp.ClientSession | None]
    ) -> None:
        super().__init__(response_url=response_url)
        self._session = session

    async def __call__(
        self,
        text: str | dict[str, Any] = "",
        blocks: Sequence[Any] | None = None,
        attachments: Sequence[Any] | None = None,
        response_type: str | None = None,
        replace_original: bool | None = None,
        delete_original: bool | None = None,
        unfurl_links: bool | None = None,
        unfurl_media: bool | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> WebhookResponse:
        if self.response_url is None:
            raise ValueError("respond is unsupported here as there is no response_url")
        if isinstance(text, dict):
            message = _build_message(**text)
        elif isinstance(text, str):
            message = _build_message(
                text=text,
                blocks=blocks,
                attachments=attachments,
                response_type=response_type,
                replace_original=replace_original,
                delete_original=delete_original,
                unfurl_links=unfurl_links,
                unfurl_media=unfurl_media,
                thread_ts=thread_ts,
                metadata=metadata,
            )
        else:
            raise ValueError(f"The arg is unexpected type ({type(text)})")
        session = self._session()
        client = AsyncWebhookClient(
            url=self.response_url, session=session if session and not session.closed else None
        )
        return await client.send_dict(message)


def shared_respond(
    session: Callable[[], aiohttp.ClientSession | None],
) -> Callable[..., Awaitable[BoltResponse | None]]:
    """A Bolt middleware giving listeners a `SessionRespond` when the request has a
    response_url (Bolt's `context.respond` makes its own only when none is set)."""

    async def middleware(
        context: AsyncBoltContext, next: Callable[[], Awaitable[BoltResponse]]
    ) -> BoltResponse | None:
        if context.response_url:
            context["respond"] = SessionRespond(response_url=context.response_url, session=session)
        return await next()

    return middleware
