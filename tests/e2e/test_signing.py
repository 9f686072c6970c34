"""Slack's documented signing example verifies against leakbot's real HTTP stack.

The example from https://api.slack.com/authentication/verifying-requests-from-slack: the secret,
timestamp, body and signature below are Slack's, byte for byte. The app is started with that
secret and a FakeClock a few seconds after the timestamp, so Bolt's 5-minute check passes;
then the same bytes are replayed, sent late, altered, and sent without the headers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime

import aiohttp
import pytest
from conftest import Leakbot, running_leakbot
from e2e_support import assert_no_traceback, footprint
from slackemu import FakeClock, SlackEmulator, signing

from bot.store import Store

SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_TIMESTAMP = 1531420618
SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
    b"&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
    b"&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
    b"%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
async def documented(
    emulator: SlackEmulator, clock: FakeClock, database_url: str, store: Store
) -> AsyncIterator[Leakbot]:
    """leakbot with Slack's example secret, its clock 3 s after the example's timestamp."""
    clock.set(datetime.fromtimestamp(SLACK_TIMESTAMP + 3, UTC))
    async with running_leakbot(
        emulator, clock, database_url, SLACK_SIGNING_SECRET=SLACK_SECRET
    ) as bot:
        yield bot


def slack_headers(**changes: str | None) -> dict[str, str]:
    headers: dict[str, str | None] = {
        "Content-Type": FORM,
        "X-Slack-Request-Timestamp": str(SLACK_TIMESTAMP),
        "X-Slack-Signature": SLACK_SIGNATURE,
        **changes,
    }
    return {k: v for k, v in headers.items() if v is not None}


async def post(bot: Leakbot, body: bytes, headers: Mapping[str, str]) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{bot.server.url}/slack/events", data=body, headers=headers) as response,
    ):
        text = await response.text()
    assert response.status < 500, (response.status, text)
    assert_no_traceback(text)
    assert SLACK_SECRET not in text
    return response.status, text


def test_the_documented_signature_is_what_the_emulator_computes() -> None:
    # The harness's signer agrees with Slack's example, so the e2e suite signs like Slack.
    assert signing.sign(SLACK_SECRET, SLACK_TIMESTAMP, SLACK_BODY) == SLACK_SIGNATURE


async def test_documented_example_verifies_then_replay_stale_and_tampering_fail(
    documented: Leakbot, clock: FakeClock
) -> None:
    bot = documented
    # Altered requests first: a refused request is not remembered by the replay guard, so each
    # of these is refused by the signature check itself, not because its signature was seen.
    altered = SLACK_BODY.replace(b"roadrunner", b"roadrunnes")
    assert len(altered) == len(SLACK_BODY)
    status, _ = await post(bot, altered, slack_headers())  # one byte of the body changed
    assert status == 401
    status, _ = await post(bot, SLACK_BODY + b"&x=1", slack_headers())  # bytes appended
    assert status == 401
    for changes in (
        {"X-Slack-Request-Timestamp": str(SLACK_TIMESTAMP + 1)},  # the timestamp is signed too
        {"X-Slack-Signature": None},
        {"X-Slack-Request-Timestamp": None},
        {"X-Slack-Signature": None, "X-Slack-Request-Timestamp": None},
        {"X-Slack-Signature": ""},
        {"X-Slack-Signature": SLACK_SIGNATURE.upper()},
        {"X-Slack-Signature": SLACK_SIGNATURE.replace("v0=", "v1=")},
        {"X-Slack-Signature": SLACK_SIGNATURE[:-1]},
        # Headers the verifier cannot even read: a refusal too, not a server error.
        {"X-Slack-Request-Timestamp": "not-a-number"},
        {"X-Slack-Request-Timestamp": ""},
        {"X-Slack-Request-Timestamp": "1531420618.5"},
        {"X-Slack-Signature": "v0=" + "é" * 64},
    ):
        status, _ = await post(bot, SLACK_BODY, slack_headers(**changes))
        assert status == 401, changes
    assert bot.emulator.calls == []  # nothing got past the signature check

    # Slack's bytes, exactly: verified. The command is not leakbot's, so Bolt answers it as an
    # unhandled request (404), which it only reaches after the signature check.
    status, text = await post(bot, SLACK_BODY, slack_headers())
    assert status != 401, text
    assert status == 404, (status, text)
    # The authorisation step behind the signature check ran (auth.test): the request got in.
    assert [c.method for c in bot.emulator.calls] == ["auth.test"]

    # The very same request again, within the 5 minutes: a replay.
    status, _ = await post(bot, SLACK_BODY, slack_headers())
    assert status == 401

    # `ssl_check=1` is Slack's certificate probe: it passes without any signature.
    status, _ = await post(
        bot, b"ssl_check=1&token=xyzz0WbapA4vBCDEFasx0q6G", {"Content-Type": FORM}
    )
    assert status == 200

    # Nothing was written by any of this.
    after = await footprint(bot.store, bot.emulator)
    assert (after.incidents, after.outbox, after.audit, after.api_calls) == (0, 0, 0, 0), after


async def test_documented_example_is_stale_six_minutes_later(
    documented: Leakbot, clock: FakeClock
) -> None:
    bot = documented
    clock.advance(minutes=6)
    # Never seen before (so not a replay), but older than Bolt's 5-minute window.
    status, _ = await post(bot, SLACK_BODY, slack_headers())
    assert status == 401
    assert bot.emulator.calls == []  # refused before anything else ran


async def test_documented_example_replayed_six_minutes_later_is_still_refused(
    documented: Leakbot, clock: FakeClock
) -> None:
    bot = documented
    status, _ = await post(bot, SLACK_BODY, slack_headers())
    assert status == 404
    # The replay guard forgets signatures after its window; Bolt's freshness check takes over.
    clock.advance(minutes=6)
    status, _ = await post(bot, SLACK_BODY, slack_headers())
    assert status == 401
