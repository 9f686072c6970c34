"""``SlackEmulator``: a local Slack Web API (and response_url) server for end-to-end tests.

    async with SlackEmulator() as emu:
        client = AsyncWebClient(token="xoxb-test", base_url=emu.api_url)
        await client.chat_postMessage(channel="C1", text="hi")
        assert emu.calls_to("chat.postMessage")[0].args["text"] == "hi"

It answers like Slack (HTTP 200 with ``{"ok": false, "error": ...}`` for API errors, 429 with
``Retry-After`` when rate limited), keeps state (messages per channel, DMs, views, triggers),
checks Block Kit limits (``blockkit.py``), records every call, and injects faults on demand
without ever waiting for real time (except the opt-in ``latency``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import inspect
import json
import math
import random
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http import HTTPStatus
from types import TracebackType
from typing import Any, Final
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from aiohttp import web
from multidict import CIMultiDict

from .blockkit import ActionIdScope, blocks_text, validate_message, validate_view
from .clock import Clock, SystemClock
from .payloads import DEFAULT_WORKSPACE, Workspace, new_trigger_id
from .server import LocalServer

__all__ = [
    "FAULT_KINDS",
    "HTML_PAGE_FAULT",
    "METHOD_SCOPES",
    "TRIGGER_TTL_SECONDS",
    "RecordedCall",
    "SlackApiFailure",
    "SlackEmulator",
]

#: Fault kinds for ``set_failure_rate`` (any other name: HTTP 200 ``ok: false`` with that error).
FAULT_KINDS: Final = ("ratelimited", "internal_error", "service_unavailable", "disconnect")
#: A further kind, not among the defaults (seeded runs keep their sequence): HTTP 502 with an HTML
#: page, as the load balancer in front of Slack answers when Slack's servers behind it do not.
HTML_PAGE_FAULT: Final = "bad_gateway_page"
_HTML_PAGE: Final = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n</body>\r\n</html>\r\n"
)
TRIGGER_TTL_SECONDS: Final = 3.0

RESPONSE_URL: Final = "response_url"
_JSON_ARGS: Final = frozenset(
    {"blocks", "attachments", "view", "metadata", "user_auth_blocks", "unfurls", "chunks", "files"}
)
_STATUS_ERRORS: Final = {429: "ratelimited", 500: "internal_error", 503: "service_unavailable"}
_MAX_VIEW_STACK: Final = 3
# The bot scope each served method needs (as Slack documents them); None: no scope. Methods
# whose scope depends on the conversation name a family: "channels" / "groups" / "im" + suffix.
METHOD_SCOPES: Final[dict[str, str | None]] = {
    "auth.test": None,
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.delete": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.getPermalink": None,
    "chat.scheduleMessage": "chat:write",
    "chat.deleteScheduledMessage": "chat:write",
    "chat.scheduledMessages.list": "chat:write",
    "conversations.open": "im:write",
    # Private channels only (public ones would need channels:manage).
    "conversations.create": "groups:write",
    "conversations.invite": "*:write",
    # By `types`: "groups:read" for private_channel, else "channels:read".
    "conversations.list": "*:read",
    "conversations.info": "*:read",
    "conversations.members": "*:read",
    "conversations.history": "*:history",
    "conversations.replies": "*:history",
    "users.info": "users:read",
    "usergroups.users.list": "usergroups:read",
    "views.open": None,
    "views.update": None,
    "views.push": None,
    "views.publish": None,
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
}
_SCHEDULE_MAX_AHEAD: Final = timedelta(days=120)


class SlackApiFailure(Exception):
    """Raise from a custom method handler to answer ``{"ok": false, "error": error}``."""

    def __init__(
        self, error: str, *, status: int = 200, extra: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = dict(extra or {})


class _Rejected(Exception):
    """A Block Kit (or message size) rejection: recorded as ``RecordedCall.rejected_with``."""

    def __init__(self, error: str, problems: Sequence[str], *, with_errors: bool) -> None:
        super().__init__(error)
        self.error = error
        self.problems = tuple(problems)
        self.with_errors = with_errors


@dataclass
class RecordedCall:
    """One request the emulator received (an API call, or a post to a response_url)."""

    method: str
    args: dict[str, Any]
    headers: CIMultiDict[str]
    http_method: str
    token: str | None = None
    raw_body: bytes = b""
    status: int = 200
    response: dict[str, Any] | None = None
    #: The injected fault ("ratelimited", "disconnect", "channel_not_found", "rate_limit"…).
    fault: str | None = None
    #: "invalid_blocks" / "invalid_arguments" / "msg_too_long" / "invalid_blocks_format".
    rejected_with: str | None = None
    problems: tuple[str, ...] = ()
    #: Set once the emulator has answered (or dropped) the request.
    answered: bool = False

    @property
    def ok(self) -> bool:
        """Answered HTTP 200 with ``ok: true``."""
        return self.status == 200 and bool(self.response and self.response.get("ok") is True)

    @property
    def error(self) -> str | None:
        """The ``error`` answered, if any (``"disconnect"`` when the connection was dropped)."""
        if self.fault == "disconnect":
            return "disconnect"
        return None if self.response is None else self.response.get("error")


@dataclass
class _Waiter:
    method: str
    count: int
    where: Callable[[RecordedCall], bool] | None
    future: asyncio.Future[RecordedCall]

    def matches(self, call: RecordedCall) -> bool:
        return call.method == self.method and (self.where is None or self.where(call))


@dataclass
class _Fault:
    label: str
    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    disconnect: bool = False
    html: bool = False


@dataclass
class _ScriptedFault:
    method: str
    remaining: int
    fault: _Fault


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class _RateLimit:
    rate: float
    burst: int
    clock: Clock
    buckets: dict[str, _Bucket] = field(default_factory=dict)

    def retry_after(self, key: str) -> int | None:
        """Take a token for ``key``; seconds to wait when there is none."""
        now = self.clock.now().timestamp()
        bucket = self.buckets.setdefault(key, _Bucket(float(self.burst), now))
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - bucket.tokens) / self.rate))


@dataclass
class _Trigger:
    issued_at: datetime
    user_id: str | None
    view_id: str | None
    used: bool = False


@dataclass
class _ResponseUrl:
    channel: str | None
    message_ts: str | None
    user_id: str | None
    posts: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Channel:
    id: str
    name: str
    is_private: bool
    is_member: bool
    is_archived: bool
    members: list[str]


MethodHandler = Callable[[dict[str, Any]], Mapping[str, Any] | Awaitable[Mapping[str, Any]]]


# The file types Slack shows in image blocks (the Slack file object's reference).
IMAGE_TYPES: Final[tuple[str, ...]] = (".png", ".jpg", ".jpeg", ".gif")


@dataclass
class _File:
    """A file of upload v2: declared by getUploadURLExternal, bytes POSTed, then shared."""

    filename: str
    length: int
    content: bytes | None = None
    title: str = ""
    shares: list[tuple[str, str | None]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # files.completeUploadExternal finished it (with or without a channel): only then is it a
    # file Slack shows, e.g. in an image block's `slack_file`.
    completed: bool = False
    alt_txt: str | None = None


class SlackEmulator:
    """A local Slack Web API on 127.0.0.1; ``emu.api_url`` goes to ``AsyncWebClient(base_url=)``.

    Options: ``valid_tokens`` (default: any token starting with ``token_prefix``, "xoxb-"),
    ``clock`` (trigger expiry, scheduled messages, rate limits; real time by default),
    ``latency`` seconds before each answer (benchmarks only), ``seed`` for generated ids,
    ``workspace`` (team/app/bot ids), ``strict_triggers`` (views.open/push only accept trigger
    ids from ``new_trigger_id``/``register_trigger``), ``strict_channels`` (only channels from
    ``add_channel`` and DMs), ``action_id_scope`` ("block" as Slack, or "surface"),
    ``scopes`` (the granted bot scopes: sent in ``X-OAuth-Scopes``, and a method whose scope
    is not among them answers ``missing_scope``, see ``METHOD_SCOPES``; None: all granted).
    """

    def __init__(
        self,
        *,
        valid_tokens: Iterable[str] | None = None,
        token_prefix: str = "xoxb-",
        clock: Clock | None = None,
        latency: float = 0.0,
        scopes: Sequence[str] | None = None,
        seed: int = 0,
        workspace: Workspace = DEFAULT_WORKSPACE,
        ts_base: int = 1767225600,
        trigger_ttl: float | None = TRIGGER_TTL_SECONDS,
        strict_triggers: bool = True,
        strict_channels: bool = False,
        action_id_scope: ActionIdScope = "block",
    ) -> None:
        self.valid_tokens = None if valid_tokens is None else frozenset(valid_tokens)
        self.token_prefix = token_prefix
        self.clock: Clock = clock or SystemClock()
        # With a clock given, message ts follow it (as Slack's follow the time of posting);
        # without, they count up from `ts_base` (reproducible).
        self._ts_from_clock = clock is not None
        self.latency = latency
        # Granted bot scopes, sent like Slack in every Web API answer's X-OAuth-Scopes header.
        self.scopes: list[str] | None = list(scopes) if scopes is not None else None
        self.workspace = workspace
        self.trigger_ttl = trigger_ttl
        self.strict_triggers = strict_triggers
        self.strict_channels = strict_channels
        self.action_id_scope: ActionIdScope = action_id_scope
        self.calls: list[RecordedCall] = []
        self._waiters: list[_Waiter] = []
        self._seed = seed
        self._ts_base = ts_base
        self._server: LocalServer | None = None
        self._methods: dict[str, Callable[[RecordedCall], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "chat.scheduleMessage": self._chat_schedule_message,
            "chat.deleteScheduledMessage": self._chat_delete_scheduled_message,
            "chat.scheduledMessages.list": self._chat_scheduled_messages_list,
            "conversations.open": self._conversations_open,
            "conversations.create": self._conversations_create,
            "conversations.invite": self._conversations_invite,
            "conversations.list": self._conversations_list,
            "conversations.info": self._conversations_info,
            "conversations.members": self._conversations_members,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroups_users_list,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.push": self._views_push,
            "views.publish": self._views_publish,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
        }
        # Every served method says which scopes it needs (a new one must be added there).
        assert self._methods.keys() <= METHOD_SCOPES.keys(), self._methods.keys() - METHOD_SCOPES
        self._custom: dict[str, MethodHandler] = {}
        self._scripted: list[_ScriptedFault] = []
        self._failure_rate = 0.0
        self._failure_kinds: tuple[str, ...] = ()
        self._failure_methods: frozenset[str] | None = None
        self._failure_retry_after = 1
        self._failure_rng = random.Random(seed)
        self._rate_limits: dict[str, _RateLimit] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._usergroups: dict[str, list[str]] = {}
        self._channels: dict[str, _Channel] = {}
        self.reset()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start serving on a free port."""
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_get("/api/{method}", self._handle_api, allow_head=False)
        app.router.add_post("/api/{method}", self._handle_api)
        app.router.add_post("/response/{token}", self._handle_response_url)
        app.router.add_post("/upload/{file_id}", self._handle_upload)
        server = LocalServer(app)
        await server.start()
        self._server = server

    async def stop(self) -> None:
        """Stop serving (idempotent); recorded calls and state stay readable."""
        server, self._server = self._server, None
        if server is not None:
            await server.stop()

    async def __aenter__(self) -> SlackEmulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        if self._server is None:
            raise RuntimeError("SlackEmulator not started")
        return self._server.url

    @property
    def api_url(self) -> str:
        """The Web API base URL, ending with ``/api/`` like ``https://slack.com/api/``."""
        return f"{self.url}/api/"

    # ------------------------------------------------------------------ configuration

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        real_name: str | None = None,
        display_name: str | None = None,
        email: str | None = None,
        locale: str = "en-US",
        tz: str = "UTC",
        is_bot: bool = False,
        is_admin: bool = False,
        deleted: bool = False,
    ) -> None:
        """Make ``users.info`` know ``user_id``.

        Once any user is added, ``conversations.open`` and ``views.publish`` refuse unknown ones
        (``user_not_found``), as Slack would.
        """
        ZoneInfo(tz)  # fail early on a bad zone name
        self._users[user_id] = {
            "name": name or user_id.lower(),
            "real_name": real_name or name or user_id,
            "display_name": display_name if display_name is not None else name or "",
            "email": email,
            "locale": locale,
            "tz": tz,
            "is_bot": is_bot,
            "is_admin": is_admin,
            "deleted": deleted,
        }

    def add_usergroup(self, usergroup_id: str, users: Iterable[str]) -> None:
        """Make ``usergroups.users.list`` answer ``users`` for ``usergroup_id`` ("S…")."""
        self._usergroups[usergroup_id] = list(users)

    def add_channel(
        self,
        channel_id: str,
        *,
        name: str | None = None,
        is_private: bool = False,
        is_member: bool = True,
        is_archived: bool = False,
        members: Iterable[str] = (),
    ) -> None:
        """Make a channel known (``conversations.info``/``members``; posting checks membership)."""
        self._channels[channel_id] = _Channel(
            id=channel_id,
            name=name or channel_id.lower(),
            is_private=is_private,
            is_member=is_member,
            is_archived=is_archived,
            members=list(members),
        )

    @property
    def methods(self) -> frozenset[str]:
        """The Web API methods this emulator answers (custom ones included)."""
        return frozenset(self._methods) | frozenset(self._custom)

    def register_method(self, method: str, handler: MethodHandler) -> None:
        """Serve ``method`` with ``handler(args) -> answer`` (``ok: true`` is added); an async
        handler may hold its answer back (e.g. until the test saw the app's ack).

        Raise ``SlackApiFailure("some_error")`` from the handler for an ``ok: false`` answer.
        Replaces a built-in method of the same name.
        """
        self._custom[method] = handler

    # ------------------------------------------------------------------ faults

    def fail_next(
        self,
        method: str,
        *,
        times: int = 1,
        status: int | None = None,
        retry_after: int = 1,
        error: str | None = None,
        disconnect: bool = False,
        html: bool = False,
    ) -> None:
        """Make the next ``times`` calls to ``method`` ("*": any; "response_url") fail.

        Default: HTTP 429 ``ratelimited`` with ``Retry-After: retry_after``. ``status=500``/``503``
        answer like Slack's server errors; ``error="channel_not_found"`` answers HTTP 200
        ``ok: false`` (or ``status`` if given); ``disconnect=True`` drops the connection unanswered;
        ``html=True`` answers an HTML error page, not Slack's JSON (``status``, default 502), as a
        load balancer or proxy in front of Slack does.
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        if html and (disconnect or error is not None):
            raise ValueError("html is a page without Slack's answer: no error, no disconnect")
        if disconnect:
            fault = _Fault("disconnect", disconnect=True)
        elif html:
            code = status or 502
            HTTPStatus(code)  # ValueError now, not in the request handler, for a made-up status
            fault = _Fault(f"html_{code}", status=code, html=True)
        elif error is not None:
            fault = _Fault(error, status=status or 200, error=error)
        else:
            code = status or 429
            fault = _Fault(
                _STATUS_ERRORS.get(code, f"http_{code}"),
                status=code,
                error=_STATUS_ERRORS.get(code, f"http_{code}"),
                retry_after=retry_after if code == 429 else None,
            )
        self._scripted.append(_ScriptedFault(method, times, fault))

    def set_failure_rate(
        self,
        rate: float,
        *,
        kinds: Sequence[str] = FAULT_KINDS,
        seed: int = 0,
        methods: Iterable[str] | None = None,
        retry_after: int = 1,
    ) -> None:
        """Fail each call (to ``methods``, default all) with probability ``rate``.

        The kind is drawn from ``kinds`` (see ``FAULT_KINDS``; other names are ``ok: false``
        errors) by a ``random.Random(seed)``: the same calls in the same order fail the same
        way on every run. ``rate=0`` turns it off.
        """
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be within [0, 1]")
        if rate and not kinds:
            raise ValueError("kinds must not be empty")
        self._failure_rate = rate
        self._failure_kinds = tuple(kinds)
        self._failure_methods = None if methods is None else frozenset(methods)
        self._failure_retry_after = retry_after
        self._failure_rng = random.Random(seed)

    def enable_rate_limit(
        self,
        method: str,
        *,
        per_channel_per_second: float = 1.0,
        burst: int = 1,
        clock: Clock | None = None,
    ) -> None:
        """Answer 429 (``Retry-After``) past ``per_channel_per_second`` calls per channel.

        A token bucket per channel holding ``burst`` calls, timed by ``clock`` (default: the
        emulator's); rate-limited calls are recorded with ``fault="rate_limit"``.
        """
        if per_channel_per_second <= 0 or burst < 1:
            raise ValueError("per_channel_per_second must be > 0 and burst >= 1")
        self._rate_limits[method] = _RateLimit(per_channel_per_second, burst, clock or self.clock)

    def disable_rate_limit(self, method: str) -> None:
        """Stop rate limiting ``method``."""
        self._rate_limits.pop(method, None)

    def clear_faults(self) -> None:
        """Forget scripted faults, the failure rate and rate limits."""
        self._scripted.clear()
        self._failure_rate = 0.0
        self._rate_limits.clear()

    # ------------------------------------------------------------------ triggers & response urls

    def new_trigger_id(self, *, user_id: str | None = None, view_id: str | None = None) -> str:
        """A trigger id that ``views.open``/``views.push`` accept once, within ``trigger_ttl``."""
        trigger_id = new_trigger_id(self._rng)
        self.register_trigger(trigger_id, user_id=user_id, view_id=view_id)
        return trigger_id

    def register_trigger(
        self, trigger_id: str, *, user_id: str | None = None, view_id: str | None = None
    ) -> None:
        """Accept ``trigger_id`` once; ``view_id``: the modal it came from (for ``views.push``)."""
        self._triggers[trigger_id] = _Trigger(self.clock.now(), user_id, view_id)

    def new_response_url(
        self,
        *,
        channel: str | None = None,
        message_ts: str | None = None,
        user_id: str | None = None,
    ) -> str:
        """A response_url served by the emulator.

        With ``channel``+``message_ts`` (the message an action came from) ``replace_original``
        and ``delete_original`` act on that stored message; ``user_id`` is who sees ephemeral
        answers.
        """
        token = f"{self._rng.getrandbits(64):016x}"
        self._response_urls[token] = _ResponseUrl(channel, message_ts, user_id)
        return f"{self.url}/response/{token}"

    def responses(self, token_or_url: str) -> list[dict[str, Any]]:
        """The bodies posted to one response_url (by token or full URL), in order."""
        token = token_or_url.rstrip("/").rsplit("/", 1)[-1]
        if token not in self._response_urls:
            raise KeyError(f"unknown response_url token {token!r}")
        return list(self._response_urls[token].posts)

    # ------------------------------------------------------------------ reading

    def calls_to(self, method: str) -> list[RecordedCall]:
        """Recorded calls to ``method`` (all attempts, failed and injected ones too)."""
        return [c for c in self.calls if c.method == method]

    def successful_calls_to(self, method: str) -> list[RecordedCall]:
        """Recorded calls to ``method`` that were answered ``ok: true``."""
        return [c for c in self.calls_to(method) if c.ok]

    def rejections(self) -> list[RecordedCall]:
        """Calls refused for their blocks, views or message size."""
        return [c for c in self.calls if c.rejected_with is not None]

    def assert_no_rejections(self) -> None:
        """Fail with the problems if any call was refused for its blocks/view/size."""
        rejected = self.rejections()
        if rejected:
            lines = [f"{c.method}: {c.rejected_with}: {'; '.join(c.problems)}" for c in rejected]
            raise AssertionError("Slack would refuse:\n" + "\n".join(lines))

    async def wait_for_call(
        self,
        method: str,
        *,
        count: int = 1,
        where: Callable[[RecordedCall], bool] | None = None,
        timeout: float = 5.0,
    ) -> RecordedCall:
        """Wait until ``count`` calls to ``method`` (matching ``where``) have been answered.

        For work an app does after its ack. Counts calls since the last ``clear()`` and returns
        the ``count``-th; wakes on the answer itself (no polling). ``AssertionError`` after
        ``timeout`` seconds, listing the calls seen.
        """
        loop = asyncio.get_running_loop()
        waiter = _Waiter(method, count, where, loop.create_future())
        matches = [c for c in self.calls if c.answered and waiter.matches(c)]
        if len(matches) >= count:
            return matches[count - 1]
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                return await waiter.future
        except TimeoutError:
            seen = ", ".join(f"{c.method}:{c.error or 'ok'}" for c in self.calls) or "none"
            raise AssertionError(
                f"no {count} answered call(s) to {method} within {timeout}s; calls: {seen}"
            ) from None
        finally:
            self._waiters.remove(waiter)

    def clear(self) -> None:
        """Forget the recorded calls (state stays)."""
        self.calls.clear()

    def reset(self) -> None:
        """Forget calls, messages, views, triggers, response urls and faults (not config)."""
        self.calls = []
        self._rng = random.Random(self._seed)
        self._ts_micro = 0
        self._id_counter = 0
        self._messages: dict[str, dict[str, dict[str, Any]]] = {}
        self._history: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._deleted: list[dict[str, Any]] = []
        self._ephemeral: list[dict[str, Any]] = []
        self._scheduled: dict[str, dict[str, Any]] = {}
        self._dm_by_user: dict[str, str] = {}
        self._user_by_dm: dict[str, str] = {}
        self._mpims: dict[tuple[str, ...], str] = {}
        self._triggers: dict[str, _Trigger] = {}
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._views: dict[str, dict[str, Any]] = {}
        self._view_user: dict[str, str | None] = {}
        self._stacks: dict[str, list[str]] = {}
        self._stack_of: dict[str, str] = {}
        self._external: dict[str, str] = {}
        self._home: dict[str, str] = {}
        self._files: dict[str, _File] = {}
        self.clear_faults()

    def files_shared(
        self, channel: str | None = None, thread_ts: str | None = None
    ) -> list[dict[str, Any]]:
        """Files shared (files.completeUploadExternal), optionally in one channel / thread:
        id, filename, title, content (bytes), channel, thread_ts."""
        found: list[dict[str, Any]] = []
        for file_id, file in self._files.items():
            for share_channel, share_thread in file.shares:
                if channel is not None and share_channel != self._resolve_channel(channel):
                    continue
                if thread_ts is not None and share_thread != thread_ts:
                    continue
                found.append(
                    {
                        "id": file_id,
                        "filename": file.filename,
                        "title": file.title,
                        "content": file.content,
                        "channel": share_channel,
                        "thread_ts": share_thread,
                    }
                )
        return found

    def delete_file(self, file_id: str) -> None:
        """The file is gone from Slack (deleted by someone, or by the workspace's retention):
        messages can no longer show it."""
        del self._files[file_id]

    def uploaded_files(self) -> dict[str, bytes | None]:
        """Every file id handed out, with its uploaded bytes (None: never uploaded)."""
        return {file_id: file.content for file_id, file in self._files.items()}

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        """The current stored message ``ts`` in ``channel`` (a user id means their DM)."""
        channel = self._resolve_channel(channel)
        try:
            return copy.deepcopy(self._messages[channel][ts])
        except KeyError:
            raise KeyError(f"no message {ts} in {channel}") from None

    def message_text(self, channel: str, ts: str) -> str:
        """A message's ``text`` and every text in its blocks, one per line."""
        msg = self.message(channel, ts)
        return "\n".join(t for t in (msg.get("text") or "", blocks_text(msg.get("blocks"))) if t)

    def message_history(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """Every version of a message, first as posted, last as now."""
        return copy.deepcopy(self._history.get((self._resolve_channel(channel), ts), []))

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Stored (not deleted) messages, of one channel or all, in posting order."""
        if channel is None:
            found = [m for msgs in self._messages.values() for m in msgs.values()]
            found.sort(key=lambda m: float(m["ts"]))
        else:
            found = list(self._messages.get(self._resolve_channel(channel), {}).values())
        return copy.deepcopy(found)

    def dm_channel(self, user_id: str) -> str:
        """The app's DM channel ("D…") with ``user_id`` (opened if needed)."""
        if user_id not in self._dm_by_user:
            channel = self._new_id("D")
            self._dm_by_user[user_id] = channel
            self._user_by_dm[channel] = user_id
        return self._dm_by_user[user_id]

    def dms(self, user_id: str) -> list[dict[str, Any]]:
        """Messages the app posted in its DM with ``user_id``."""
        channel = self._dm_by_user.get(user_id)
        return [] if channel is None else self.messages(channel)

    def ephemerals(
        self, channel: str | None = None, user: str | None = None
    ) -> list[dict[str, Any]]:
        """Ephemeral messages (``chat.postEphemeral`` and ephemeral response_url posts)."""
        return [
            copy.deepcopy(e)
            for e in self._ephemeral
            if (channel is None or e["channel"] == channel) and (user is None or e["user"] == user)
        ]

    def deleted_messages(self) -> list[dict[str, Any]]:
        """Messages removed by ``chat.delete`` or ``delete_original``."""
        return copy.deepcopy(self._deleted)

    def scheduled_messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Pending ``chat.scheduleMessage`` messages."""
        return [
            copy.deepcopy(m)
            for m in self._scheduled.values()
            if channel is None or m["channel"] == channel
        ]

    def add_message(
        self,
        channel: str,
        text: str,
        *,
        user: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
    ) -> str:
        """Store a message from a person (not the app); returns its ``ts``."""
        msg: dict[str, Any] = {"type": "message", "text": text, "user": user}
        if blocks is not None:
            msg["blocks"] = blocks
        if thread_ts is not None:
            msg["thread_ts"] = thread_ts
        stored = self._store_message(self._resolve_channel(channel), msg)
        return str(stored["ts"])

    def view(self, view_id: str) -> dict[str, Any]:
        """A view as stored now (open or closed)."""
        try:
            return copy.deepcopy(self._views[view_id])
        except KeyError:
            raise KeyError(f"no view {view_id}") from None

    def view_stack(self, view_id: str) -> list[dict[str, Any]]:
        """The open stack holding ``view_id``, bottom first (empty once closed)."""
        root = self._stack_of.get(view_id)
        return [] if root is None else [self.view(v) for v in self._stacks.get(root, [])]

    def open_views(self, user_id: str | None = None) -> list[dict[str, Any]]:
        """The top view of every open modal stack (of ``user_id``)."""
        return [
            self.view(stack[-1])
            for stack in self._stacks.values()
            if stack and (user_id is None or self._view_user.get(stack[0]) == user_id)
        ]

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The Home tab published for ``user_id``."""
        view_id = self._home.get(user_id)
        return None if view_id is None else self.view(view_id)

    def close_view(self, view_id: str, *, clear: bool = False) -> None:
        """The user closed the top view (``clear``: the whole stack), as Slack's client does."""
        root = self._stack_of.get(view_id)
        if root is None:
            return
        stack = self._stacks[root]
        closing = list(stack) if clear else stack[-1:]
        for closed in closing:
            stack.remove(closed)
            self._stack_of.pop(closed, None)
        if not stack:
            del self._stacks[root]

    def apply_view_ack(self, view_id: str, ack: Mapping[str, Any] | None) -> RecordedCall:
        """Apply an app's ``view_submission`` ack to the modal, as Slack would.

        ``None``/``{}`` closes the view; ``response_action`` ``clear``, ``update``, ``push`` and
        ``errors`` act as documented; a refused view or errors keyed by a non-input block are
        recorded as a rejection (method ``"view_submission.ack"``).
        """
        args = dict(ack or {})
        call = RecordedCall(
            "view_submission.ack", args, CIMultiDict(), "ACK", raw_body=json.dumps(args).encode()
        )
        self.calls.append(call)
        try:
            call.response = self._view_ack(view_id, args)
        except _Rejected as rejected:
            call.rejected_with, call.problems = rejected.error, rejected.problems
            call.response = _rejection_body(rejected)
        self._finished(call)
        return call

    # ------------------------------------------------------------------ HTTP

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        method = request.match_info["method"]
        call = await self._record(request, method)
        fault = self._take_fault(method)
        if fault is not None:
            return self._fault_response(request, call, fault)
        if method not in self._methods and method not in self._custom:
            return self._answer(
                call, {"ok": False, "error": "unknown_method", "req_method": method}
            )
        if not call.token:
            return self._answer(call, {"ok": False, "error": "not_authed"})
        if not self._token_ok(call.token):
            return self._answer(call, {"ok": False, "error": "invalid_auth"})
        needed = self._needed_scope(method, call.args)
        if needed is not None and self.scopes is not None and needed not in self.scopes:
            # As Slack: the call is refused, naming the scope and what the token has.
            return self._answer(
                call,
                {
                    "ok": False,
                    "error": "missing_scope",
                    "needed": needed,
                    "provided": ",".join(self.scopes),
                },
            )
        limit = self._rate_limits.get(method)
        if limit is not None:
            wait = limit.retry_after(str(call.args.get("channel", "")))
            if wait is not None:
                call.fault = "rate_limit"
                return self._answer(
                    call, {"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(wait)}
                )
        try:
            if method in self._custom:
                answer = self._custom[method](dict(call.args))
                if inspect.isawaitable(answer):  # a handler may hold its answer back
                    answer = await answer
                body: dict[str, Any] = {"ok": True, **answer}
            else:
                body = {"ok": True, **self._methods[method](call)}
        except SlackApiFailure as failure:
            return self._answer(
                call, {"ok": False, "error": failure.error, **failure.extra}, failure.status
            )
        except _Rejected as rejected:
            call.rejected_with, call.problems = rejected.error, rejected.problems
            return self._answer(call, _rejection_body(rejected))
        return self._answer(call, body)

    def _needed_scope(self, method: str, args: Mapping[str, Any]) -> str | None:
        """The scope `method` needs for these arguments (None: none, or a custom method)."""
        scope = METHOD_SCOPES.get(method) if method not in self._custom else None
        if scope is None or not scope.startswith("*"):
            return scope
        if method == "conversations.list":
            types = str(args.get("types") or "public_channel").split(",")
            return ("groups" if "private_channel" in types else "channels") + scope[1:]
        channel = str(args.get("channel") or "")
        known = self._channels.get(channel)
        if channel in self._user_by_dm or channel.startswith("D"):
            family = "im"
        elif (known is not None and known.is_private) or channel.startswith("G"):
            family = "groups"
        else:
            family = "channels"
        return family + scope[1:]

    async def _handle_upload(self, request: web.Request) -> web.StreamResponse:
        """The upload URL handed out by files.getUploadURLExternal: takes the bytes (raw body
        or a multipart "file" part) once, and only as many as were declared."""
        file = self._files.get(request.match_info["file_id"])
        if file is None:
            return web.Response(status=404, text="unknown upload")
        if request.content_type == "multipart/form-data":
            form = await request.post()
            part = form.get("file") or form.get("filename")
            data = part.file.read() if isinstance(part, web.FileField) else b""
        else:
            data = await request.read()
        if file.content is not None:
            return web.Response(status=409, text="already uploaded")
        if len(data) != file.length:
            file.problems.append(f"declared length {file.length}, received {len(data)} bytes")
            return web.Response(status=400, text="length mismatch")
        file.content = data
        return web.Response(status=200, text=f"OK - {len(data)}")

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        call = await self._record(request, RESPONSE_URL)
        fault = self._take_fault(RESPONSE_URL)
        if fault is not None:
            return self._fault_response(request, call, fault)
        target = self._response_urls.get(request.match_info["token"])
        if target is None:
            return self._answer(call, {"ok": False, "error": "expired_url"}, 404)
        try:
            self._post_to_response_url(target, call.args)
        except _Rejected as rejected:
            call.rejected_with, call.problems = rejected.error, rejected.problems
            return self._answer(call, {"ok": False, "error": rejected.error}, 400)
        target.posts.append(copy.deepcopy(call.args))
        return self._answer(call, {"ok": True})

    async def _record(self, request: web.Request, method: str) -> RecordedCall:
        args: dict[str, Any] = dict(request.query)
        raw = b""
        if request.method == "POST":
            if request.content_type == "multipart/form-data":
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, str):
                        args[key] = value
                    elif isinstance(value, bytes | bytearray):
                        args[key] = bytes(value).decode("utf-8", "replace")
                    else:
                        args[key] = {"filename": value.filename, "content_type": value.content_type}
            else:
                raw = await request.read()
                args.update(_parse_body(raw, request.content_type))
        token = args.pop("token", None)
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            token = auth[len("Bearer ") :].strip()
        for key in _JSON_ARGS & args.keys():
            if isinstance(args[key], str):
                with contextlib.suppress(ValueError):  # else left as a string, refused later
                    args[key] = json.loads(args[key])
        call = RecordedCall(
            method=method,
            args=args,
            headers=CIMultiDict(request.headers),
            http_method=request.method,
            token=token if isinstance(token, str) else None,
            raw_body=raw,
        )
        self.calls.append(call)
        return call

    def _answer(
        self,
        call: RecordedCall,
        body: dict[str, Any],
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        call.status, call.response = status, body
        self._finished(call)
        if self.scopes is not None:
            headers = {**(headers or {}), "X-OAuth-Scopes": ",".join(self.scopes)}
        return web.json_response(body, status=status, headers=headers)

    def _finished(self, call: RecordedCall) -> None:
        call.answered = True
        for waiter in list(self._waiters):
            if waiter.future.done():
                continue
            matches = [c for c in self.calls if c.answered and waiter.matches(c)]
            if len(matches) >= waiter.count:
                waiter.future.set_result(matches[waiter.count - 1])

    def _token_ok(self, token: str) -> bool:
        if self.valid_tokens is not None:
            return token in self.valid_tokens
        return token.startswith(self.token_prefix)

    def _take_fault(self, method: str) -> _Fault | None:
        for scripted in self._scripted:
            if scripted.method in (method, "*") and scripted.remaining > 0:
                scripted.remaining -= 1
                if scripted.remaining == 0:
                    self._scripted.remove(scripted)
                return scripted.fault
        applies = self._failure_methods is None or method in self._failure_methods
        if self._failure_rate and applies and self._failure_rng.random() < self._failure_rate:
            return self._fault_of_kind(self._failure_rng.choice(self._failure_kinds))
        return None

    def _fault_of_kind(self, kind: str) -> _Fault:
        if kind == "disconnect":
            return _Fault(kind, disconnect=True)
        if kind == "ratelimited":
            return _Fault(kind, 429, kind, retry_after=self._failure_retry_after)
        if kind == "internal_error":
            return _Fault(kind, 500, kind)
        if kind == "service_unavailable":
            return _Fault(kind, 503, kind)
        if kind == HTML_PAGE_FAULT:
            return _Fault(kind, 502, html=True)
        return _Fault(kind, 200, kind)

    def _fault_response(
        self, request: web.Request, call: RecordedCall, fault: _Fault
    ) -> web.Response:
        call.fault = fault.label
        if fault.disconnect:
            call.status = 0
            self._finished(call)
            if request.transport is not None:
                request.transport.close()
            # Writing to the closed transport is skipped by aiohttp; the client sees
            # ServerDisconnectedError right away.
            return web.Response(status=204)
        if fault.html:
            call.status, call.response = fault.status, None
            self._finished(call)
            reason = HTTPStatus(fault.status).phrase
            page = _HTML_PAGE.format(status=fault.status, reason=reason)
            return web.Response(status=fault.status, text=page, content_type="text/html")
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
        return self._answer(call, {"ok": False, "error": fault.error}, fault.status, headers)

    # ------------------------------------------------------------------ ids & storage

    def _new_id(self, prefix: str) -> str:
        self._id_counter += 1
        return f"{prefix}{self._id_counter:09d}"

    def _next_ts(self) -> str:
        """Like Slack: the time of posting (on the emulator's clock), unique and increasing."""
        self._ts_micro += 100
        if self._ts_from_clock:
            now_micro = int(self.clock.now().timestamp() * 1_000_000) - self._ts_base * 1_000_000
            self._ts_micro = max(self._ts_micro, now_micro)
        seconds, micro = divmod(self._ts_micro, 1_000_000)
        return f"{self._ts_base + seconds}.{micro:06d}"

    def _resolve_channel(self, channel: str) -> str:
        """A user id ("U…"/"W…") stands for the app's DM with that user."""
        if channel[:1] in ("U", "W") and channel not in self._channels:
            return self.dm_channel(channel)
        return channel

    def _store_message(self, channel: str, msg: dict[str, Any]) -> dict[str, Any]:
        msg = {**msg, "ts": self._next_ts(), "team": self.workspace.team_id}
        _fill_ids(msg.get("blocks"), self._rng)
        self._messages.setdefault(channel, {})[msg["ts"]] = msg
        self._history[(channel, msg["ts"])] = [copy.deepcopy(msg)]
        return msg

    def _listed(self, msg: Mapping[str, Any], args: Mapping[str, Any]) -> dict[str, Any]:
        # Slack returns message metadata only when asked with include_all_metadata.
        out = copy.deepcopy(dict(msg))
        if not _truthy(args.get("include_all_metadata")):
            out.pop("metadata", None)
        return out

    @staticmethod
    def _page(found: list[dict[str, Any]], args: Mapping[str, Any]) -> dict[str, Any]:
        """One page of `found` by `limit` (Slack's default 100) and `cursor`, with
        `has_more` and `response_metadata.next_cursor` as Slack gives them."""
        limit = max(1, min(int(args.get("limit") or 100), 999))
        cursor = str(args.get("cursor") or "")
        try:
            start = int(base64.b64decode(cursor).decode().split(":")[1]) if cursor else 0
        except (ValueError, IndexError) as exc:
            raise SlackApiFailure("invalid_cursor") from exc
        page = found[start : start + limit]
        end = start + len(page)
        more = end < len(found)
        next_cursor = base64.b64encode(f"offset:{end}".encode()).decode() if more else ""
        return {
            "messages": page,
            "has_more": more,
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _conversations_history(self, call: RecordedCall) -> dict[str, Any]:
        """Top-level messages of a channel, newest first, from `oldest` on, by pages
        (`limit`, `cursor`)."""
        channel = self._resolve_channel(str(call.args.get("channel") or ""))
        if channel not in self._messages and channel not in self._channels:
            raise SlackApiFailure("channel_not_found")
        known = self._channels.get(channel)
        if known is not None and not known.is_member:
            # Slack: a private channel the bot is not in does not exist for it.
            raise SlackApiFailure("channel_not_found" if known.is_private else "not_in_channel")
        oldest = float(call.args.get("oldest") or 0)
        found = [
            self._listed(msg, call.args)
            for ts, msg in self._messages.get(channel, {}).items()
            if float(ts) >= oldest and msg.get("thread_ts") in (None, ts)
        ]
        found.sort(key=lambda m: float(m["ts"]), reverse=True)
        return self._page(found, call.args)

    def _conversations_replies(self, call: RecordedCall) -> dict[str, Any]:
        """A thread: its parent, then the replies, oldest first, by pages."""
        channel = self._resolve_channel(str(call.args.get("channel") or ""))
        parent = str(call.args.get("ts") or "")
        messages = self._messages.get(channel, {})
        if parent not in messages:
            raise SlackApiFailure("thread_not_found")
        found = [
            self._listed(msg, call.args)
            for ts, msg in messages.items()
            if ts == parent or msg.get("thread_ts") == parent
        ]
        found.sort(key=lambda m: float(m["ts"]))
        return self._page(found, call.args)

    def _bot_message(self, args: Mapping[str, Any]) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "type": "message",
            "user": self.workspace.bot_user_id,
            "bot_id": self.workspace.bot_id,
            "app_id": self.workspace.api_app_id,
            "text": args.get("text") or "",
        }
        for key in ("blocks", "attachments", "metadata", "thread_ts"):
            if args.get(key) is not None:
                msg[key] = copy.deepcopy(args[key])
        return msg

    def _check_message(self, args: Mapping[str, Any], *, require_content: bool) -> None:
        blocks = args.get("blocks")
        if isinstance(blocks, str):
            raise _Rejected(
                "invalid_blocks_format", ["blocks must be a JSON array"], with_errors=True
            )
        if require_content and not (args.get("text") or blocks or args.get("attachments")):
            raise SlackApiFailure("no_text")
        problems = validate_message(args.get("text"), blocks, action_id_scope=self.action_id_scope)
        if any(p.endswith("[json-pointer:/text]") for p in problems):
            raise _Rejected("msg_too_long", problems, with_errors=False)
        if not problems and isinstance(blocks, list):
            problems = self._slack_file_problems(blocks)
        if problems:
            raise _Rejected("invalid_blocks", problems, with_errors=True)

    def _slack_file_problems(self, blocks: list[Any]) -> list[str]:
        """Image blocks and elements whose `slack_file` Slack could not show: an id it never
        issued, or a file not uploaded and completed, or not an image. (A `url` is not checked:
        this emulator hands out no file URLs.)"""
        problems: list[str] = []

        def visit(node: Any, path: str) -> None:
            if isinstance(node, list):
                for index, child in enumerate(node):
                    visit(child, f"{path}/{index}")
                return
            if not isinstance(node, Mapping):
                return
            reference = node.get("slack_file") if node.get("type") == "image" else None
            if isinstance(reference, Mapping) and reference.get("id") is not None:
                file = self._files.get(str(reference["id"]))
                if (
                    file is None
                    or not file.completed
                    or not file.filename.lower().endswith(IMAGE_TYPES)
                ):
                    problems.append(f"invalid slack file [json-pointer:{path}/slack_file]")
            for key, child in node.items():
                if isinstance(child, list | Mapping):
                    visit(child, f"{path}/{key}")

        visit(blocks, "/blocks")
        return problems

    def images_shown(self, channel: str) -> list[tuple[str, str]]:
        """(message ts, file id) of each `slack_file` image in the channel's messages."""
        found: list[tuple[str, str]] = []
        for ts, msg in self._messages.get(self._resolve_channel(channel), {}).items():
            for block in msg.get("blocks") or []:
                reference = block.get("slack_file") if block.get("type") == "image" else None
                if isinstance(reference, Mapping) and reference.get("id"):
                    found.append((ts, str(reference["id"])))
        return found

    def _channel_for_post(self, args: Mapping[str, Any]) -> str:
        raw = args.get("channel")
        if not raw or not isinstance(raw, str):
            raise SlackApiFailure("channel_not_found")
        channel = self._resolve_channel(raw)
        known = self._channels.get(channel)
        if known is None:
            if self.strict_channels and channel not in self._user_by_dm:
                raise SlackApiFailure("channel_not_found")
            return channel
        if known.is_private and not known.is_member:
            raise SlackApiFailure("channel_not_found")
        if known.is_archived:
            raise SlackApiFailure("is_archived")
        if not known.is_member:
            raise SlackApiFailure("not_in_channel")
        return channel

    def _existing(self, channel_arg: Any, ts: Any) -> tuple[str, dict[str, Any]]:
        if not isinstance(channel_arg, str) or not channel_arg:
            raise SlackApiFailure("channel_not_found")
        channel = self._resolve_channel(channel_arg)
        found = self._messages.get(channel, {}).get(str(ts)) if ts else None
        if found is None:
            raise SlackApiFailure("message_not_found")
        return channel, found

    # ------------------------------------------------------------------ methods: auth & chat

    def _auth_test(self, call: RecordedCall) -> dict[str, Any]:
        ws = self.workspace
        return {
            "url": f"https://{ws.team_domain}.slack.com/",
            "team": ws.team_name,
            "user": "leakbot",
            "team_id": ws.team_id,
            "user_id": ws.bot_user_id,
            "bot_id": ws.bot_id,
            "enterprise_id": ws.enterprise_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, call: RecordedCall) -> dict[str, Any]:
        channel = self._channel_for_post(call.args)
        self._check_message(call.args, require_content=True)
        msg = self._store_message(channel, self._bot_message(call.args))
        return {"channel": channel, "ts": msg["ts"], "message": copy.deepcopy(msg)}

    def _chat_update(self, call: RecordedCall) -> dict[str, Any]:
        channel, msg = self._existing(call.args.get("channel"), call.args.get("ts"))
        if msg.get("user") != self.workspace.bot_user_id:
            raise SlackApiFailure("cant_update_message")
        self._check_message(call.args, require_content=False)
        if "text" in call.args:
            msg["text"] = call.args["text"] or ""
        for key in ("blocks", "attachments", "metadata"):
            if key in call.args:
                if call.args[key]:
                    msg[key] = copy.deepcopy(call.args[key])
                else:
                    msg.pop(key, None)
        _fill_ids(msg.get("blocks"), self._rng)
        msg["edited"] = {"user": self.workspace.bot_user_id, "ts": self._next_ts()}
        self._history[(channel, msg["ts"])].append(copy.deepcopy(msg))
        return {
            "channel": channel,
            "ts": msg["ts"],
            "text": msg.get("text", ""),
            "message": copy.deepcopy(msg),
        }

    def _chat_delete(self, call: RecordedCall) -> dict[str, Any]:
        channel, msg = self._existing(call.args.get("channel"), call.args.get("ts"))
        if msg.get("user") != self.workspace.bot_user_id:
            raise SlackApiFailure("cant_delete_message")
        self._delete(channel, msg["ts"])
        return {"channel": channel, "ts": msg["ts"]}

    def _delete(self, channel: str, ts: str) -> None:
        msg = self._messages[channel].pop(ts)
        self._deleted.append({**msg, "channel": channel})

    def _chat_post_ephemeral(self, call: RecordedCall) -> dict[str, Any]:
        channel = self._channel_for_post(call.args)
        user = call.args.get("user")
        if not user:
            raise SlackApiFailure("user_not_found")
        known = self._channels.get(channel)
        if known is not None and known.members and user not in known.members:
            raise SlackApiFailure("user_not_in_channel")
        self._check_message(call.args, require_content=True)
        ts = self._next_ts()
        self._ephemeral.append(
            {**self._bot_message(call.args), "ts": ts, "channel": channel, "user": user}
        )
        return {"message_ts": ts}

    def _chat_get_permalink(self, call: RecordedCall) -> dict[str, Any]:
        channel, msg = self._existing(call.args.get("channel"), call.args.get("message_ts"))
        link = (
            f"https://{self.workspace.team_domain}.slack.com/archives/{channel}"
            f"/p{msg['ts'].replace('.', '')}"
        )
        if msg.get("thread_ts") and msg["thread_ts"] != msg["ts"]:
            link += f"?thread_ts={msg['thread_ts']}&cid={channel}"
        return {"channel": channel, "permalink": link}

    def _chat_schedule_message(self, call: RecordedCall) -> dict[str, Any]:
        channel = self._channel_for_post(call.args)
        try:
            post_at = int(float(call.args.get("post_at", "")))
        except (TypeError, ValueError):
            raise SlackApiFailure("invalid_time") from None
        now = self.clock.now()
        if post_at <= now.timestamp():
            raise SlackApiFailure("time_in_past")
        if post_at > (now + _SCHEDULE_MAX_AHEAD).timestamp():
            raise SlackApiFailure("time_too_far")
        self._check_message(call.args, require_content=True)
        scheduled_id = self._new_id("Q")
        msg = self._bot_message(call.args)
        self._scheduled[scheduled_id] = {
            "id": scheduled_id,
            "channel": channel,
            "post_at": post_at,
            "date_created": int(now.timestamp()),
            "message": msg,
        }
        return {
            "channel": channel,
            "scheduled_message_id": scheduled_id,
            "post_at": post_at,
            "message": copy.deepcopy(msg),
        }

    def _chat_delete_scheduled_message(self, call: RecordedCall) -> dict[str, Any]:
        scheduled_id = call.args.get("scheduled_message_id")
        found = self._scheduled.get(str(scheduled_id))
        if found is None or found["channel"] != self._resolve_channel(
            str(call.args.get("channel", ""))
        ):
            raise SlackApiFailure("invalid_scheduled_message_id")
        del self._scheduled[str(scheduled_id)]
        return {}

    def _chat_scheduled_messages_list(self, call: RecordedCall) -> dict[str, Any]:
        channel = call.args.get("channel")
        items = [
            {k: m[k] for k in ("id", "channel", "post_at", "date_created")}
            | {"text": m["message"].get("text", "")}
            for m in self._scheduled.values()
            if not channel or m["channel"] == channel
        ]
        return {"scheduled_messages": items, "response_metadata": {"next_cursor": ""}}

    # ------------------------------------------------------------------ methods: conversations

    def _conversations_open(self, call: RecordedCall) -> dict[str, Any]:
        users_arg = call.args.get("users")
        if users_arg:
            users = [u.strip() for u in str(users_arg).split(",") if u.strip()]
            for user in users:
                if self._users and user not in self._users:
                    raise SlackApiFailure("user_not_found")
            if len(users) == 1:
                channel_id = self.dm_channel(users[0])
            else:
                key = tuple(sorted(users))
                channel_id = self._mpims.setdefault(key, self._new_id("G"))
        elif call.args.get("channel"):
            channel_id = str(call.args["channel"])
            if channel_id not in self._user_by_dm and channel_id not in self._mpims.values():
                raise SlackApiFailure("channel_not_found")
        else:
            raise SlackApiFailure("users_list_not_supplied")
        if _truthy(call.args.get("return_im")):
            return {"channel": self._channel_object(channel_id)}
        return {"channel": {"id": channel_id}}

    def channel_named(self, name: str) -> dict[str, Any] | None:
        """A channel by name (e.g. one the app created): id, name, is_private, members."""
        for known in self._channels.values():
            if known.name == name:
                return {
                    "id": known.id,
                    "name": known.name,
                    "is_private": known.is_private,
                    "members": list(known.members),
                }
        return None

    def _conversations_create(self, call: RecordedCall) -> dict[str, Any]:
        """A channel created by the app (which is its first member), with Slack's name rules:
        lowercase letters, digits, hyphens and underscores, at most 80 characters."""
        name = str(call.args.get("name") or "")
        if not name:
            raise SlackApiFailure("invalid_name_required")
        if len(name) > 80:
            raise SlackApiFailure("invalid_name_maxlength")
        if not re.fullmatch(r"[a-z0-9_\-]+", name):
            raise SlackApiFailure("invalid_name_specials")
        if any(known.name == name for known in self._channels.values()):
            raise SlackApiFailure("name_taken")
        channel_id = self._new_id("C")
        self.add_channel(
            channel_id,
            name=name,
            is_private=_truthy(call.args.get("is_private")),
            members=[self.workspace.bot_user_id],
        )
        return {"channel": self._channel_object(channel_id)}

    def _conversations_invite(self, call: RecordedCall) -> dict[str, Any]:
        """Users (a comma list) join a channel the app is in; `already_in_channel` when every
        one of them already was (Slack invites the others and says nothing about them)."""
        channel = str(call.args.get("channel") or "")
        known = self._channels.get(channel)
        if known is None or (known.is_private and not known.is_member):
            raise SlackApiFailure("channel_not_found")
        if not known.is_member:
            raise SlackApiFailure("not_in_channel")
        users = [u.strip() for u in str(call.args.get("users") or "").split(",") if u.strip()]
        if not users:
            raise SlackApiFailure("no_user")
        if len(users) > 1000:
            raise SlackApiFailure("too_many_users")
        if all(user in known.members for user in users):
            raise SlackApiFailure("already_in_channel")
        known.members.extend(user for user in users if user not in known.members)
        return {"channel": self._channel_object(channel)}

    def _conversations_list(self, call: RecordedCall) -> dict[str, Any]:
        """The channels of `types` the app can see (private ones only when it is a member), by
        pages (`limit`, `cursor`)."""
        types = str(call.args.get("types") or "public_channel").split(",")
        found = [
            self._channel_object(known.id)
            for known in self._channels.values()
            if ("private_channel" if known.is_private else "public_channel") in types
            and (known.is_member or not known.is_private)
            and not (known.is_archived and _truthy(call.args.get("exclude_archived")))
        ]
        limit = max(1, min(int(call.args.get("limit") or 100), 1000))
        cursor = str(call.args.get("cursor") or "")
        try:
            start = int(base64.b64decode(cursor).decode().split(":")[1]) if cursor else 0
        except (ValueError, IndexError) as exc:
            raise SlackApiFailure("invalid_cursor") from exc
        page = found[start : start + limit]
        end = start + len(page)
        next_cursor = (
            base64.b64encode(f"offset:{end}".encode()).decode() if end < len(found) else ""
        )
        return {"channels": page, "response_metadata": {"next_cursor": next_cursor}}

    def _channel_object(self, channel_id: str) -> dict[str, Any]:
        if channel_id in self._user_by_dm:
            return {
                "id": channel_id,
                "created": self._ts_base,
                "is_im": True,
                "is_org_shared": False,
                "user": self._user_by_dm[channel_id],
                "is_user_deleted": False,
                "priority": 0,
            }
        known = self._channels.get(channel_id)
        if known is None:
            raise SlackApiFailure("channel_not_found")
        return {
            "id": known.id,
            "name": known.name,
            "name_normalized": known.name,
            "is_channel": not known.is_private,
            "is_group": known.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": known.is_private,
            "is_archived": known.is_archived,
            "is_general": False,
            "is_shared": False,
            "is_org_shared": False,
            "is_ext_shared": False,
            "is_member": known.is_member,
            "created": self._ts_base,
            "creator": "",
            "num_members": len(known.members),
        }

    def _conversations_info(self, call: RecordedCall) -> dict[str, Any]:
        channel = str(call.args.get("channel") or "")
        known = self._channels.get(channel)
        if known is not None and known.is_private and not known.is_member:
            raise SlackApiFailure("channel_not_found")
        return {"channel": self._channel_object(channel)}

    def _conversations_members(self, call: RecordedCall) -> dict[str, Any]:
        channel = str(call.args.get("channel") or "")
        if channel in self._user_by_dm:
            members = [self._user_by_dm[channel], self.workspace.bot_user_id]
        else:
            known = self._channels.get(channel)
            if known is None or (known.is_private and not known.is_member):
                raise SlackApiFailure("channel_not_found")
            members = known.members
        limit = int(call.args.get("limit") or 100)
        cursor = str(call.args.get("cursor") or "")
        start = int(base64.b64decode(cursor).decode().split(":")[1]) if cursor else 0
        page = members[start : start + limit]
        end = start + len(page)
        next_cursor = (
            base64.b64encode(f"offset:{end}".encode()).decode() if end < len(members) else ""
        )
        return {"members": page, "response_metadata": {"next_cursor": next_cursor}}

    # ------------------------------------------------------------------ methods: users

    def _users_info(self, call: RecordedCall) -> dict[str, Any]:
        user_id = str(call.args.get("user") or "")
        cfg = self._users.get(user_id)
        if cfg is None:
            raise SlackApiFailure("user_not_found")
        zone = ZoneInfo(cfg["tz"])
        now = self.clock.now().astimezone(zone)
        offset = now.utcoffset() or timedelta(0)
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": self.workspace.team_id,
            "name": cfg["name"],
            "deleted": cfg["deleted"],
            "color": "9f69e7",
            "real_name": cfg["real_name"],
            "tz": cfg["tz"],
            "tz_label": now.tzname() or cfg["tz"],
            "tz_offset": int(offset.total_seconds()),
            "profile": {
                "real_name": cfg["real_name"],
                "real_name_normalized": cfg["real_name"],
                "display_name": cfg["display_name"],
                "display_name_normalized": cfg["display_name"],
                "email": cfg["email"],
                "team": self.workspace.team_id,
            },
            "is_admin": cfg["is_admin"],
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": cfg["is_bot"],
            "is_app_user": False,
            "updated": self._ts_base,
        }
        if cfg["email"] is None:
            del user["profile"]["email"]
        if _truthy(call.args.get("include_locale")):
            user["locale"] = cfg["locale"]
        return {"user": user}

    def _usergroups_users_list(self, call: RecordedCall) -> dict[str, Any]:
        group = str(call.args.get("usergroup") or "")
        if group not in self._usergroups:
            raise SlackApiFailure("no_such_subteam")
        return {"users": list(self._usergroups[group])}

    # ------------------------------------------------------------------ methods: views

    def _parsed_view(self, args: Mapping[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        if not isinstance(view, dict):
            raise _Rejected(
                "invalid_arguments",
                ["must provide an object [json-pointer:/view]"],
                with_errors=False,
            )
        problems = validate_view(view, action_id_scope=self.action_id_scope)
        if problems:
            raise _Rejected("invalid_arguments", problems, with_errors=False)
        return view

    def _use_trigger(self, args: Mapping[str, Any]) -> _Trigger:
        trigger_id = args.get("trigger_id") or args.get("interactivity_pointer")
        if not trigger_id or not isinstance(trigger_id, str):
            raise SlackApiFailure(
                "invalid_arguments",
                extra={
                    "response_metadata": {
                        "messages": ["[ERROR] missing required field: trigger_id"]
                    }
                },
            )
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            if self.strict_triggers:
                raise SlackApiFailure("invalid_trigger_id")
            trigger = self._triggers[trigger_id] = _Trigger(self.clock.now(), None, None)
        if trigger.used:
            raise SlackApiFailure("exchanged_trigger_id")
        if self.trigger_ttl is not None and self.clock.now() - trigger.issued_at > timedelta(
            seconds=self.trigger_ttl
        ):
            raise SlackApiFailure("expired_trigger_id")
        trigger.used = True
        return trigger

    def _store_view(
        self,
        view: Mapping[str, Any],
        *,
        view_id: str | None = None,
        root_view_id: str | None = None,
        previous_view_id: str | None = None,
    ) -> dict[str, Any]:
        view_id = view_id or self._new_id("V")
        blocks = copy.deepcopy(view.get("blocks") or [])
        _fill_ids(blocks, self._rng)
        ws = self.workspace
        stored: dict[str, Any] = {
            "id": view_id,
            "team_id": ws.team_id,
            "type": view.get("type"),
            "blocks": blocks,
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(self.clock.now().timestamp())}.{self._rng.getrandbits(32):08x}",
            "title": copy.deepcopy(view.get("title")),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": copy.deepcopy(view.get("close")),
            "submit": copy.deepcopy(view.get("submit")),
            "previous_view_id": previous_view_id,
            "root_view_id": root_view_id or view_id,
            "app_id": ws.api_app_id,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": ws.team_id,
            "bot_id": ws.bot_id,
        }
        external_id = stored["external_id"]
        if external_id:
            owner = self._external.get(external_id)
            if owner is not None and owner != view_id:
                raise SlackApiFailure("duplicate_external_id")
            self._external[external_id] = view_id
        self._views[view_id] = stored
        return stored

    def _files_get_upload_url_external(self, call: RecordedCall) -> dict[str, Any]:
        filename = str(call.args.get("filename") or "")
        length_text = str(call.args.get("length") or "")
        if not filename:
            raise SlackApiFailure("invalid_arguments", extra={"detail": "filename is required"})
        if not length_text.isdecimal() or int(length_text) <= 0:
            raise SlackApiFailure("invalid_arguments", extra={"detail": "length must be > 0"})
        file_id = self._new_id("F")
        alt_txt = call.args.get("alt_txt")
        self._files[file_id] = _File(
            filename=filename,
            length=int(length_text),
            alt_txt=str(alt_txt) if alt_txt is not None else None,
        )
        return {"upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _files_complete_upload_external(self, call: RecordedCall) -> dict[str, Any]:
        files = call.args.get("files")
        if not isinstance(files, list) or not files:
            raise SlackApiFailure("invalid_arguments", extra={"detail": "files must be a list"})
        channel = call.args.get("channel_id")
        thread_ts = call.args.get("thread_ts") or None
        if thread_ts is not None and not channel:
            raise SlackApiFailure(
                "invalid_arguments", extra={"detail": "thread_ts needs channel_id"}
            )
        target = self._resolve_channel(str(channel)) if channel else None
        if target is not None and thread_ts is not None:
            self._existing(target, thread_ts)  # the parent message must exist
        done: list[dict[str, Any]] = []
        for entry in files:
            file_id = str(entry.get("id") or "") if isinstance(entry, dict) else ""
            file = self._files.get(file_id)
            if file is None or file.content is None:
                # Unknown, or its bytes never reached the upload URL.
                raise SlackApiFailure("file_not_found", extra={"file_id": file_id})
            file.title = str(entry.get("title") or file.filename)
            file.completed = True
            share = (target, str(thread_ts) if thread_ts else None)
            # Completing the same file again (a retry whose answer was lost) shares it once.
            if target is not None and share not in file.shares:
                file.shares.append((target, share[1]))
            done.append({"id": file_id, "title": file.title, "name": file.filename})
        return {"files": done}

    def _views_open(self, call: RecordedCall) -> dict[str, Any]:
        view = self._parsed_view(call.args)
        if view.get("type") != "modal":
            raise _Rejected(
                "invalid_arguments", ["must be modal [json-pointer:/view/type]"], with_errors=False
            )
        trigger = self._use_trigger(call.args)
        stored = self._store_view(view)
        self._stacks[stored["id"]] = [stored["id"]]
        self._stack_of[stored["id"]] = stored["id"]
        self._view_user[stored["id"]] = trigger.user_id
        return {"view": copy.deepcopy(stored)}

    def _views_push(self, call: RecordedCall) -> dict[str, Any]:
        view = self._parsed_view(call.args)
        trigger = self._use_trigger(call.args)
        root = self._stack_of.get(trigger.view_id or "")
        if root is None:  # a trigger not tied to a view: the user's (or the latest) open modal
            roots = [r for r in self._stacks if trigger.user_id in (None, self._view_user.get(r))]
            root = roots[-1] if roots else None
        if root is None:
            raise SlackApiFailure("not_found")
        stack = self._stacks[root]
        if len(stack) >= _MAX_VIEW_STACK:
            raise SlackApiFailure("push_limit_reached")
        stored = self._store_view(view, root_view_id=root, previous_view_id=stack[-1])
        stack.append(stored["id"])
        self._stack_of[stored["id"]] = root
        self._view_user[stored["id"]] = self._view_user.get(root)
        return {"view": copy.deepcopy(stored)}

    def _views_update(self, call: RecordedCall) -> dict[str, Any]:
        view_id = call.args.get("view_id")
        external_id = call.args.get("external_id")
        if not view_id and not external_id:
            raise SlackApiFailure("invalid_arguments")
        if not view_id:
            view_id = self._external.get(str(external_id))
        current = self._views.get(str(view_id)) if view_id else None
        is_home = current is not None and current["id"] in self._home.values()
        if current is None or (current["id"] not in self._stack_of and not is_home):
            raise SlackApiFailure("not_found")
        view = self._parsed_view(call.args)
        expected = call.args.get("hash")
        if expected and expected != current["hash"]:
            raise SlackApiFailure("hash_conflict")
        stored = self._store_view(
            view,
            view_id=current["id"],
            root_view_id=current["root_view_id"],
            previous_view_id=current["previous_view_id"],
        )
        return {"view": copy.deepcopy(stored)}

    def _views_publish(self, call: RecordedCall) -> dict[str, Any]:
        user_id = call.args.get("user_id")
        if not user_id or not isinstance(user_id, str):
            raise SlackApiFailure("invalid_arguments")
        if self._users and user_id not in self._users:
            raise SlackApiFailure("user_not_found")
        view = self._parsed_view(call.args)
        if view.get("type") != "home":
            raise _Rejected(
                "invalid_arguments", ["must be home [json-pointer:/view/type]"], with_errors=False
            )
        current_id = self._home.get(user_id)
        expected = call.args.get("hash")
        if current_id is not None and expected and expected != self._views[current_id]["hash"]:
            raise SlackApiFailure("hash_conflict")
        stored = self._store_view(view, view_id=current_id)
        self._home[user_id] = stored["id"]
        return {"view": copy.deepcopy(stored)}

    def _view_ack(self, view_id: str, ack: Mapping[str, Any]) -> dict[str, Any]:
        action = ack.get("response_action")
        if action is None:
            self.close_view(view_id)
        elif action == "clear":
            self.close_view(view_id, clear=True)
        elif action == "errors":
            errors = ack.get("errors")
            current = self._views.get(view_id, {})
            inputs = {
                b.get("block_id") for b in current.get("blocks", []) if b.get("type") == "input"
            }
            if not isinstance(errors, Mapping) or not errors:
                raise _Rejected(
                    "invalid_arguments", ["errors must be a non-empty object"], with_errors=False
                )
            wrong = [
                f"{key!r} is not an input block_id [json-pointer:/errors/{key}]"
                for key in errors
                if key not in inputs
            ]
            if wrong:
                raise _Rejected("invalid_arguments", wrong, with_errors=False)
        elif action in ("update", "push"):
            view = self._parsed_view(ack)
            root = self._stack_of.get(view_id)
            if root is None:
                raise SlackApiFailure("not_found")
            stack = self._stacks[root]
            if action == "update":
                current = self._views[view_id]
                self._store_view(
                    view,
                    view_id=view_id,
                    root_view_id=current["root_view_id"],
                    previous_view_id=current["previous_view_id"],
                )
            else:
                if len(stack) >= _MAX_VIEW_STACK:
                    raise _Rejected(
                        "push_limit_reached", ["at most 3 views in a stack"], with_errors=False
                    )
                stored = self._store_view(view, root_view_id=root, previous_view_id=stack[-1])
                stack.append(stored["id"])
                self._stack_of[stored["id"]] = root
                self._view_user[stored["id"]] = self._view_user.get(root)
        else:
            raise _Rejected(
                "invalid_arguments",
                [f"unknown response_action {action!r} [json-pointer:/response_action]"],
                with_errors=False,
            )
        return {"ok": True}

    # ------------------------------------------------------------------ response_url

    def _post_to_response_url(self, target: _ResponseUrl, body: Mapping[str, Any]) -> None:
        delete = _truthy(body.get("delete_original"))
        if not delete:
            self._check_message(body, require_content=True)
        has_original = (
            target.channel is not None
            and target.message_ts is not None
            and target.message_ts in self._messages.get(target.channel, {})
        )
        if delete:
            if has_original:
                assert target.channel is not None and target.message_ts is not None
                self._delete(target.channel, target.message_ts)
            return
        if _truthy(body.get("replace_original")) and has_original:
            assert target.channel is not None and target.message_ts is not None
            msg = self._messages[target.channel][target.message_ts]
            msg["text"] = body.get("text") or ""
            if body.get("blocks"):
                msg["blocks"] = copy.deepcopy(body["blocks"])
            else:
                msg.pop("blocks", None)
            _fill_ids(msg.get("blocks"), self._rng)
            self._history[(target.channel, target.message_ts)].append(copy.deepcopy(msg))
            return
        if body.get("response_type") == "in_channel" and target.channel is not None:
            self._store_message(target.channel, self._bot_message(body))
            return
        self._ephemeral.append(
            {
                **self._bot_message(body),
                "ts": self._next_ts(),
                "channel": target.channel,
                "user": target.user_id,
            }
        )


# ---------------------------------------------------------------------------- helpers


def _parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    if not raw:
        return {}
    if content_type == "application/json":
        try:
            parsed = json.loads(raw)
        except ValueError:
            return {"_invalid_json": raw.decode("utf-8", "replace")}
        return dict(parsed) if isinstance(parsed, dict) else {}
    fields = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    if set(fields) == {"payload"}:  # response_url posts may come as payload=<JSON>
        try:
            payload = json.loads(fields["payload"])
        except ValueError:
            return fields
        return dict(payload) if isinstance(payload, dict) else fields
    return fields


def _rejection_body(rejected: _Rejected) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error": rejected.error}
    if rejected.with_errors:
        body["errors"] = list(rejected.problems)
    body["response_metadata"] = {"messages": [f"[ERROR] {p}" for p in rejected.problems]}
    return body


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _fill_ids(blocks: Any, rng: random.Random) -> None:
    """Give blocks (and elements) without ids generated ones, as Slack does."""
    if not isinstance(blocks, list):
        return
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    for block in blocks:
        if not isinstance(block, dict):
            continue
        if "block_id" not in block:
            block["block_id"] = "".join(rng.choice(alphabet) for _ in range(5))
        elements: list[Any] = []
        if block.get("type") == "actions":
            elements = list(block.get("elements") or [])
        elif isinstance(block.get("accessory"), dict):
            elements = [block["accessory"]]
        elif isinstance(block.get("element"), dict):
            elements = [block["element"]]
        for element in elements:
            if isinstance(element, dict) and element.get("type") != "image":
                element.setdefault("action_id", "".join(rng.choice(alphabet) for _ in range(5)))
