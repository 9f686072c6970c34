"""Refuse a replayed Slack request: the same signature twice within the 5-minute window.

Bolt refuses requests older than 5 minutes; inside that window a captured request could be sent
again. Slack signs each delivery (and each of its retries) afresh, so a signature seen twice is
a replay. A signature is remembered before the request is handled, so simultaneous copies are
refused too, all but the first. The memory is per process and bounded; a replica that did not see
the first copy still has Bolt's 5-minute limit and the database's idempotency keys (submission
keys, processed Slack deliveries, approvals per approver).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from bot.clock import Clock

WINDOW_SECONDS = 300
MAX_REMEMBERED = 100_000
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ReplayGuard:
    def __init__(self, clock: Clock, *, path: str = "/slack/events") -> None:
        self.clock = clock
        self.path = path
        self._seen: OrderedDict[str, float] = OrderedDict()

    def _forget_old(self, now: float) -> None:
        while self._seen:
            signature, expires = next(iter(self._seen.items()))
            if expires > now and len(self._seen) <= MAX_REMEMBERED:
                break
            del self._seen[signature]

    def middleware(self) -> Middleware:
        @web.middleware
        async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
            signature = request.headers.get("X-Slack-Signature")
            if request.path != self.path or not signature:
                return await handler(request)
            now = self.clock.now().timestamp()
            self._forget_old(now)
            if signature in self._seen:
                return web.json_response({"error": "invalid request"}, status=401)
            # Remembered BEFORE the handler awaits anything: checking and remembering with an
            # await between them let simultaneous copies all pass (no await, so no other
            # request runs in between on this event loop).
            self._seen[signature] = now + WINDOW_SECONDS
            response = await handler(request)
            if response.status == 401:
                # Refused by the signature check: not a genuine request, so it must not make
                # the genuine one (same signature) look like a replay.
                self._seen.pop(signature, None)
            return response

        return guard
