"""The signature check in front of everything Bolt does with a request (public Bolt API only).

Bolt's own check is turned off (`request_verification_enabled=False`) and this middleware is
given as `before_authorize`, the place Bolt runs it: after the `ssl_check` probe (answered
without a signature, as Slack sends it) and before authorisation, URL verification and the
listeners. It checks the signature on the app's clock (5-minute freshness, injected in tests),
then refuses (400) a signed body not shaped like any Slack payload (bot/slack/payload_shape.py).
The replay guard runs before it, in front of Bolt (bot/slack/replay.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import Clock as SignatureClock
from slack_sdk.signature import SignatureVerifier

from bot.clock import Clock
from bot.slack.payload_shape import PayloadShapeCheck

log = logging.getLogger(__name__)


class _VerifierClock(SignatureClock):
    """The 5-minute freshness check on the app's clock (injected in tests)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def now(self) -> float:
        return self.clock.now().timestamp()


class _Verifier(SignatureVerifier):
    """slack_sdk's verifier, except that headers it cannot read are a refusal (401), not an
    exception (a 500): a timestamp that is not a number (`int()` fails), a signature with
    non-ASCII characters (`hmac.compare_digest` raises TypeError)."""

    def is_valid(self, body: str | bytes, timestamp: str | None, signature: str | None) -> bool:
        try:
            return super().is_valid(body, timestamp, signature)
        except (TypeError, ValueError):
            return False


class SignedRequestCheck(AsyncMiddleware):
    """`signing_secret=None`: no signature check (Socket Mode, where Slack's socket is the
    proof); the shape check runs either way."""

    def __init__(self, signing_secret: str | None, clock: Clock) -> None:
        self.verifier = (
            _Verifier(signing_secret, clock=_VerifierClock(clock))
            if signing_secret is not None
            else None
        )
        self.shape = PayloadShapeCheck()

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse:
        if self.verifier is not None and req.mode != "socket_mode":
            timestamp = req.headers.get("x-slack-request-timestamp", ["0"])[0]
            signature = req.headers.get("x-slack-signature", [""])[0]
            if not self.verifier.is_valid(req.raw_body, timestamp, signature):
                # Worded as Bolt's own line was (operators search for it); never the body.
                log.info("Invalid request signature detected, body: [omitted]")
                return BoltResponse(status=401, body={"error": "invalid request"})
        return await self.shape.async_process(req=req, resp=resp, next=next)
