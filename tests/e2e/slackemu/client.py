"""``SlackSender``: send signed requests to an app's HTTP endpoint exactly as Slack does.

    async with SlackSender(app_url, SECRET, clock=clock, emulator=emu) as slack:
        reply = await slack.slash_command("/leak", "", user_id="U1")
        assert reply.status == 200

Slash commands and interactions go as ``application/x-www-form-urlencoded`` (interactions as
``payload=<JSON>``), Events API callbacks as ``application/json``; every request carries
``X-Slack-Request-Timestamp`` (from the clock) and ``X-Slack-Signature``. With an emulator,
trigger ids and response_urls come from it (``views.open`` accepts each trigger once), the
clicked message or view is read from it, and a ``view_submission`` ack is applied to it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypedDict, Unpack
from urllib.parse import urlencode

import aiohttp
from multidict import CIMultiDict

from . import payloads
from .clock import Clock, SystemClock
from .emulator import SlackEmulator
from .payloads import DEFAULT_WORKSPACE, Workspace
from .signing import signed_headers

__all__ = ["SendOptions", "SlackReply", "SlackSender"]

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


class SendOptions(TypedDict, total=False):
    """How to deliver one request."""

    #: Sign with a wrong secret (the app must answer 401).
    forge: bool
    #: Seconds added to the clock's time in the timestamp (-600: a stale, replayed request).
    timestamp_offset: int
    #: Send ``X-Slack-Retry-Num`` (and ``X-Slack-Retry-Reason``, default "http_timeout").
    retry_num: int
    retry_reason: str
    #: More headers to send.
    headers: Mapping[str, str]


@dataclass
class SlackReply:
    """What the app answered, and what was sent."""

    status: int
    headers: CIMultiDict[str]
    text: str
    json: Any
    sent: dict[str, Any]
    body: bytes
    trigger_id: str | None = None
    response_url: str | None = None
    #: For a view_submission with an emulator: the ack as applied to the modal.
    view_ack: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """HTTP 200."""
        return self.status == 200


class SlackSender:
    """Signs and posts Slack's requests to ``{app_url}{path}`` (default ``/slack/events``)."""

    def __init__(
        self,
        app_url: str,
        signing_secret: str,
        *,
        clock: Clock | None = None,
        emulator: SlackEmulator | None = None,
        path: str = "/slack/events",
        workspace: Workspace | None = None,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 10.0,
        seed: int | None = None,
    ) -> None:
        self.url = app_url.rstrip("/") + path
        self.signing_secret = signing_secret
        self.clock: Clock = clock or SystemClock()
        self.emulator = emulator
        self.workspace = workspace or (emulator.workspace if emulator else DEFAULT_WORKSPACE)
        self._session = session
        self._own_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._rng = random.Random(seed)

    async def __aenter__(self) -> SlackSender:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session this sender opened."""
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------------ low level

    async def post(
        self, body: bytes, content_type: str, **options: Unpack[SendOptions]
    ) -> SlackReply:
        """Sign ``body`` and POST it; the reply holds status, headers, text and JSON if any."""
        timestamp = int(self.clock.now().timestamp()) + options.get("timestamp_offset", 0)
        secret = self.signing_secret + "-forged" if options.get("forge") else self.signing_secret
        headers = signed_headers(
            secret,
            timestamp,
            body,
            content_type=content_type,
            retry_num=options.get("retry_num"),
            retry_reason=options.get("retry_reason"),
        )
        headers.update(options.get("headers", {}))
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        async with self._session.post(self.url, data=body, headers=headers) as response:
            raw = await response.read()
            text = raw.decode(response.charset or "utf-8", "replace")
            parsed: Any = None
            if text.strip():
                try:
                    parsed = json.loads(text)
                except ValueError:
                    parsed = None
            return SlackReply(
                status=response.status,
                headers=CIMultiDict(response.headers),
                text=text,
                json=parsed,
                sent={},
                body=body,
            )

    async def send_form(
        self, fields: Mapping[str, str], **options: Unpack[SendOptions]
    ) -> SlackReply:
        """POST form fields (a slash command)."""
        reply = await self.post(urlencode(fields).encode(), FORM, **options)
        reply.sent = dict(fields)
        return reply

    async def send_interaction(
        self, payload: Mapping[str, Any], **options: Unpack[SendOptions]
    ) -> SlackReply:
        """POST ``payload=<JSON>`` (block_actions, view_submission, view_closed, …)."""
        body = urlencode({"payload": payloads.dumps(payload)}).encode()
        reply = await self.post(body, FORM, **options)
        reply.sent = dict(payload)
        return reply

    async def send_json(
        self, body: Mapping[str, Any], **options: Unpack[SendOptions]
    ) -> SlackReply:
        """POST a JSON body (Events API)."""
        reply = await self.post(payloads.dumps(body).encode(), JSON, **options)
        reply.sent = dict(body)
        return reply

    # ------------------------------------------------------------------ Slack's requests

    def _trigger(self, user_id: str, view_id: str | None = None) -> str:
        if self.emulator is not None:
            return self.emulator.new_trigger_id(user_id=user_id, view_id=view_id)
        return payloads.new_trigger_id(self._rng)

    def _response_url(self, channel: str | None, message_ts: str | None, user_id: str) -> str:
        if self.emulator is not None:
            return self.emulator.new_response_url(
                channel=channel, message_ts=message_ts, user_id=user_id
            )
        ws = self.workspace
        return (
            f"https://hooks.slack.com/commands/{ws.team_id}/{self._rng.randrange(10**12)}"
            f"/{self._rng.getrandbits(96):024x}"
        )

    async def slash_command(
        self,
        command: str,
        text: str = "",
        *,
        user_id: str,
        user_name: str | None = None,
        channel_id: str = "C0LEAKCHAN",
        channel_name: str = "general",
        **options: Unpack[SendOptions],
    ) -> SlackReply:
        """Send a slash command; ``reply.trigger_id``/``reply.response_url`` are the ones sent."""
        trigger_id = self._trigger(user_id)
        response_url = self._response_url(channel_id, None, user_id)
        fields = payloads.slash_command(
            command,
            text,
            user_id=user_id,
            user_name=user_name,
            channel_id=channel_id,
            channel_name=channel_name,
            response_url=response_url,
            trigger_id=trigger_id,
            workspace=self.workspace,
        )
        reply = await self.send_form(fields, **options)
        reply.trigger_id, reply.response_url = trigger_id, response_url
        return reply

    async def block_actions(
        self,
        action_id: str,
        *,
        user_id: str,
        value: str | None = None,
        selected_option: Mapping[str, Any] | str | None = None,
        selected_options: Sequence[Mapping[str, Any] | str] | None = None,
        action_type: str | None = None,
        block_id: str | None = None,
        channel_id: str | None = None,
        message_ts: str | None = None,
        message: Mapping[str, Any] | None = None,
        is_ephemeral: bool = False,
        view: Mapping[str, Any] | str | None = None,
        answers: Mapping[str, Any] | None = None,
        user_name: str | None = None,
        action: Mapping[str, Any] | None = None,
        **options: Unpack[SendOptions],
    ) -> SlackReply:
        """A user clicks/selects ``action_id`` in a message (``channel_id`` + ``message_ts``)
        or in a view (``view``: a dict, or a view id read from the emulator).

        With an emulator the message/view is read from it, so the element must exist there;
        ``answers`` fills the view's current state (see ``values_from_answers``).
        """
        view_dict: Mapping[str, Any] | None = None
        if isinstance(view, str):
            view_dict = self._emulator_required().view(view)
        elif view is not None:
            view_dict = view
        if (
            view_dict is None
            and message is None
            and self.emulator is not None
            and channel_id is not None
            and message_ts is not None
            and not is_ephemeral
        ):
            message = self.emulator.message(channel_id, message_ts)
        if channel_id is not None and self.emulator is not None and channel_id[:1] in ("U", "W"):
            channel_id = self.emulator.dm_channel(channel_id)
        view_id = view_dict.get("id") if view_dict is not None else None
        trigger_id = self._trigger(user_id, view_id if isinstance(view_id, str) else None)
        response_url = None
        if view_dict is None:
            response_url = self._response_url(channel_id, message_ts, user_id)
        state = None
        if view_dict is not None:
            state = payloads.values_from_answers(view_dict, answers or {}, enforce_required=False)
        payload = payloads.block_actions(
            action_id,
            user_id=user_id,
            user_name=user_name,
            trigger_id=trigger_id,
            value=value,
            selected_option=selected_option,
            selected_options=selected_options,
            action_type=action_type,
            block_id=block_id,
            channel_id=channel_id,
            message=message,
            message_ts=message_ts,
            is_ephemeral=is_ephemeral,
            view=view_dict,
            state_values=state,
            response_url=response_url,
            action=action,
            workspace=self.workspace,
        )
        reply = await self.send_interaction(payload, **options)
        reply.trigger_id, reply.response_url = trigger_id, response_url
        return reply

    async def view_submission(
        self,
        view: Mapping[str, Any] | str,
        *,
        user_id: str,
        answers: Mapping[str, Any] | None = None,
        values: Mapping[str, Any] | None = None,
        user_name: str | None = None,
        apply_ack: bool = True,
        **options: Unpack[SendOptions],
    ) -> SlackReply:
        """A user submits a modal (``view``: a dict, or a view id read from the emulator).

        ``answers`` -> ``values_from_answers(view, answers)``; or pass ready ``values``. With an
        emulator (and ``apply_ack``), a 200 ack is applied to the modal (closed, updated,
        pushed, errors); ``reply.view_ack`` is that ``RecordedCall``.
        """
        view_dict = self._emulator_required().view(view) if isinstance(view, str) else view
        state = (
            dict(values)
            if values is not None
            else payloads.values_from_answers(view_dict, answers or {})
        )
        view_id = view_dict.get("id")
        trigger_id = self._trigger(user_id, view_id if isinstance(view_id, str) else None)
        payload = payloads.view_submission(
            view_dict,
            state,
            user_id=user_id,
            user_name=user_name,
            trigger_id=trigger_id,
            workspace=self.workspace,
        )
        reply = await self.send_interaction(payload, **options)
        reply.trigger_id = trigger_id
        if (
            apply_ack
            and reply.status == 200
            and self.emulator is not None
            and isinstance(view_id, str)
        ):
            ack = reply.json if isinstance(reply.json, Mapping) else None
            reply.view_ack = self.emulator.apply_view_ack(view_id, ack)
        return reply

    async def view_closed(
        self,
        view: Mapping[str, Any] | str,
        *,
        user_id: str,
        is_cleared: bool = False,
        user_name: str | None = None,
        **options: Unpack[SendOptions],
    ) -> SlackReply:
        """A user closes a modal (Slack sends this only with ``notify_on_close``)."""
        view_dict = self._emulator_required().view(view) if isinstance(view, str) else view
        view_id = view_dict.get("id")
        if self.emulator is not None and isinstance(view_id, str):
            self.emulator.close_view(view_id, clear=is_cleared)
        payload = payloads.view_closed(
            view_dict,
            user_id=user_id,
            user_name=user_name,
            is_cleared=is_cleared,
            workspace=self.workspace,
        )
        return await self.send_interaction(payload, **options)

    async def event_callback(
        self,
        event: Mapping[str, Any],
        *,
        event_id: str | None = None,
        event_time: int | None = None,
        **options: Unpack[SendOptions],
    ) -> SlackReply:
        """An Events API ``event_callback`` (``event_time`` defaults to the clock's now)."""
        body = payloads.event_callback(
            event,
            event_id=event_id or f"Ev{self._rng.getrandbits(48):012X}",
            event_time=event_time if event_time is not None else int(self.clock.now().timestamp()),
            workspace=self.workspace,
        )
        return await self.send_json(body, **options)

    async def url_verification(
        self, challenge: str = "challenge-token", **options: Unpack[SendOptions]
    ) -> SlackReply:
        """The ``url_verification`` handshake."""
        body = payloads.url_verification(challenge, workspace=self.workspace)
        return await self.send_json(body, **options)

    def _emulator_required(self) -> SlackEmulator:
        if self.emulator is None:
            raise ValueError("a view id needs SlackSender(emulator=...); pass the view dict")
        return self.emulator
