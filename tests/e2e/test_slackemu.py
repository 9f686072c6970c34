"""Tests of the slackemu test fixture itself, through slack-sdk's real AsyncWebClient and a real
slack-bolt AsyncApp. Nothing here sleeps: retry handlers' sleeps are replaced by recorders."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import async_handler as sdk_async_handler
from slack_sdk.http_retry import builtin_async_handlers
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.signature import Clock as VerifierClock
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient
from slackemu import (
    HTML_PAGE_FAULT,
    FakeClock,
    LocalServer,
    SlackEmulator,
    SlackSender,
    SystemClock,
    blockkit,
    payloads,
    sign,
    signed_headers,
    validate_message,
    validate_view,
    values_from_answers,
)

from bot.slack import api_errors

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_EXAMPLE_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
    b"&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
    b"&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
    b"%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_EXAMPLE_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
NO_WAIT = FixedValueRetryIntervalCalculator(0)


class FrozenVerifierClock(VerifierClock):
    """slack-sdk's SignatureVerifier clock, stopped at ``at``."""

    def __init__(self, at: float) -> None:
        self.at = at

    def now(self) -> float:
        return self.at


def section(text: str, block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if block_id is not None:
        block["block_id"] = block_id
    return block


def modal(
    title: str = "Report a leak", blocks: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "leak_intake",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Send"},
        "blocks": blocks if blocks is not None else [section("Tell us what happened")],
    }


INTAKE_BLOCKS: list[dict[str, Any]] = [
    {
        "type": "input",
        "block_id": "partner",
        "label": {"type": "plain_text", "text": "Partner"},
        "element": {"type": "plain_text_input", "action_id": "partner_input", "max_length": 80},
    },
    {
        "type": "input",
        "block_id": "severity",
        "label": {"type": "plain_text", "text": "Severity"},
        "element": {
            "type": "static_select",
            "action_id": "severity_select",
            "options": [
                {"text": {"type": "plain_text", "text": "Low"}, "value": "low"},
                {"text": {"type": "plain_text", "text": "High"}, "value": "high"},
            ],
        },
    },
    {
        "type": "input",
        "block_id": "kinds",
        "optional": True,
        "label": {"type": "plain_text", "text": "Data"},
        "element": {
            "type": "checkboxes",
            "action_id": "kinds_boxes",
            "options": [
                {"text": {"type": "mrkdwn", "text": "*Personal*"}, "value": "personal"},
                {"text": {"type": "plain_text", "text": "Financial"}, "value": "financial"},
            ],
        },
    },
    {
        "type": "input",
        "block_id": "count",
        "optional": True,
        "label": {"type": "plain_text", "text": "Records"},
        "element": {
            "type": "number_input",
            "action_id": "count_input",
            "is_decimal_allowed": False,
        },
    },
    {
        "type": "input",
        "block_id": "when",
        "optional": True,
        "label": {"type": "plain_text", "text": "Discovered"},
        "element": {"type": "datetimepicker", "action_id": "when_picker"},
    },
    {
        "type": "input",
        "block_id": "day",
        "optional": True,
        "label": {"type": "plain_text", "text": "Day"},
        "element": {"type": "datepicker", "action_id": "day_picker"},
    },
    {
        "type": "input",
        "block_id": "owners",
        "optional": True,
        "label": {"type": "plain_text", "text": "Owners"},
        "element": {
            "type": "multi_static_select",
            "action_id": "owners_select",
            "options": [
                {"text": {"type": "plain_text", "text": "Legal"}, "value": "legal"},
                {"text": {"type": "plain_text", "text": "Security"}, "value": "security"},
            ],
        },
    },
]


@pytest.fixture
async def emu() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator() as emulator:
        yield emulator


@pytest.fixture
def client(emu: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-test", base_url=emu.api_url)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Replace the sleeps of slack-sdk's async retry handlers by a recorder (no real wait)."""
    recorded: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        recorded.append(seconds)

    fake = SimpleNamespace(sleep=fake_sleep)
    monkeypatch.setattr(builtin_async_handlers, "asyncio", fake)
    monkeypatch.setattr(sdk_async_handler, "asyncio", fake)
    return recorded


async def api_error(call: Awaitable[Any]) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        await call
    return caught.value


# ---------------------------------------------------------------------------- signing & clock


def test_sign_matches_slacks_documented_example() -> None:
    assert sign(SECRET, 1531420618, SLACK_EXAMPLE_BODY) == SLACK_EXAMPLE_SIGNATURE
    assert sign(SECRET, "1531420618", SLACK_EXAMPLE_BODY) == SLACK_EXAMPLE_SIGNATURE


def test_sign_agrees_with_slack_sdk_signature_verifier() -> None:
    verifier = SignatureVerifier(SECRET, clock=FrozenVerifierClock(1531420618.0 + 10))
    assert verifier.is_valid(SLACK_EXAMPLE_BODY, "1531420618", SLACK_EXAMPLE_SIGNATURE)
    body = b'{"type":"event_callback","event":{"type":"app_mention"}}'
    headers = signed_headers("other-secret", 1531420618, body, retry_num=2)
    assert SignatureVerifier("other-secret", clock=verifier.clock).is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )
    assert headers["X-Slack-Retry-Num"] == "2"
    assert headers["X-Slack-Retry-Reason"] == "http_timeout"
    assert not verifier.is_valid(body, "1531420618", sign(SECRET + "x", 1531420618, body))


def test_fake_clock() -> None:
    clock = FakeClock()
    assert clock.now() == datetime(2026, 1, 1, tzinfo=UTC)
    assert clock.advance(90, minutes=1).isoformat() == "2026-01-01T00:02:30+00:00"
    clock.set(datetime(2027, 5, 1, tzinfo=UTC))
    assert clock.now().year == 2027
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        clock.set(datetime(2027, 5, 1))  # naive
    assert SystemClock().now().tzinfo is not None


# ---------------------------------------------------------------------------- messages


async def test_post_then_update_round_trip(emu: SlackEmulator, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(
        channel="C123", text="Leak reported", blocks=[section("*New*")]
    )
    assert posted["channel"] == "C123"
    assert posted["ts"] == "1767225600.000100"
    assert posted["message"]["bot_id"] == emu.workspace.bot_id
    assert posted["message"]["blocks"][0]["block_id"]  # Slack fills in block ids
    second = await client.chat_postMessage(channel="C123", text="Another")
    assert float(second["ts"]) > float(posted["ts"])

    updated = await client.chat_update(
        channel="C123", ts=posted["ts"], text="Leak approved", blocks=[section("*Approved*")]
    )
    assert updated["ts"] == posted["ts"] and updated["text"] == "Leak approved"
    current = emu.message("C123", posted["ts"])
    assert current["text"] == "Leak approved" and "edited" in current
    assert "*Approved*" in emu.message_text("C123", posted["ts"])
    assert [m["text"] for m in emu.message_history("C123", posted["ts"])] == [
        "Leak reported",
        "Leak approved",
    ]
    call = emu.calls_to("chat.update")[0]
    assert call.http_method == "POST" and call.args["blocks"][0]["type"] == "section"
    assert call.headers["authorization"] == "Bearer xoxb-test" and call.token == "xoxb-test"

    missing = await api_error(client.chat_update(channel="C123", ts="1.2", text="x"))
    assert missing.response["error"] == "message_not_found"
    empty = client.api_call("chat.postMessage", json={"channel": "C123"})
    assert (await api_error(empty)).response["error"] == "no_text"
    emu.assert_no_rejections()


async def test_form_encoded_blocks_are_decoded(emu: SlackEmulator, client: AsyncWebClient) -> None:
    blocks = [section("from a form")]
    await client.api_call("chat.postMessage", data={"channel": "C1", "blocks": json.dumps(blocks)})
    call = emu.calls_to("chat.postMessage")[0]
    assert call.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert call.args["blocks"][0]["text"]["text"] == "from a form"
    bad = client.api_call("chat.postMessage", data={"channel": "C1", "blocks": "[not json"})
    assert (await api_error(bad)).response["error"] == "invalid_blocks_format"


async def test_dms_by_user(emu: SlackEmulator, client: AsyncWebClient) -> None:
    opened = await client.conversations_open(users="U1")
    dm = opened["channel"]["id"]
    assert dm.startswith("D") and dm == emu.dm_channel("U1")
    assert (await client.conversations_open(users=["U1"]))["channel"]["id"] == dm
    posted = await client.chat_postMessage(channel="U1", text="Please confirm")
    assert posted["channel"] == dm
    await client.chat_postMessage(channel=dm, text="Reminder")
    assert [m["text"] for m in emu.dms("U1")] == ["Please confirm", "Reminder"]
    assert emu.dms("U2") == []
    group = await client.conversations_open(users="U1,U2")
    assert group["channel"]["id"].startswith("G")


async def test_ephemeral_permalink_delete_and_schedule(client: AsyncWebClient) -> None:
    clock = FakeClock()
    async with SlackEmulator(clock=clock) as emu:
        client = AsyncWebClient(token="xoxb-test", base_url=emu.api_url)
        eph = await client.chat_postEphemeral(channel="C1", user="U1", text="only you")
        assert eph["message_ts"] and emu.ephemerals(user="U1")[0]["text"] == "only you"

        posted = await client.chat_postMessage(channel="C1", text="root")
        link = await client.chat_getPermalink(channel="C1", message_ts=posted["ts"])
        assert link["permalink"] == (
            f"https://leakbot-test.slack.com/archives/C1/p{posted['ts'].replace('.', '')}"
        )
        await client.chat_delete(channel="C1", ts=posted["ts"])
        assert emu.messages("C1") == [] and emu.deleted_messages()[0]["text"] == "root"

        now = int(clock.now().timestamp())
        scheduled = await client.chat_scheduleMessage(
            channel="C1", post_at=now + 3600, text="later"
        )
        assert scheduled["scheduled_message_id"].startswith("Q")
        assert emu.scheduled_messages("C1")[0]["post_at"] == now + 3600
        past = client.chat_scheduleMessage(channel="C1", post_at=now - 1, text="x")
        assert (await api_error(past)).response["error"] == "time_in_past"
        far = client.chat_scheduleMessage(channel="C1", post_at=now + 121 * 86400, text="x")
        assert (await api_error(far)).response["error"] == "time_too_far"


async def test_channels_membership_and_members(emu: SlackEmulator, client: AsyncWebClient) -> None:
    emu.add_channel("C1", name="leaks", members=[f"U{i}" for i in range(5)])
    emu.add_channel("C2", name="legal", is_member=False)
    info = await client.conversations_info(channel="C1")
    assert info["channel"]["is_member"] is True and info["channel"]["name"] == "leaks"
    assert (await client.conversations_info(channel="C2"))["channel"]["is_member"] is False
    not_member = client.chat_postMessage(channel="C2", text="x")
    assert (await api_error(not_member)).response["error"] == "not_in_channel"
    unknown = client.conversations_info(channel="C404")
    assert (await api_error(unknown)).response["error"] == "channel_not_found"

    first = await client.conversations_members(channel="C1", limit=3)
    assert first["members"] == ["U0", "U1", "U2"]
    cursor = first["response_metadata"]["next_cursor"]
    rest = await client.conversations_members(channel="C1", limit=3, cursor=cursor)
    assert rest["members"] == ["U3", "U4"] and rest["response_metadata"]["next_cursor"] == ""


# ---------------------------------------------------------------------------- auth & methods


async def test_auth_errors_and_unknown_method(emu: SlackEmulator) -> None:
    no_token = AsyncWebClient(base_url=emu.api_url)
    assert (await api_error(no_token.auth_test())).response["error"] == "not_authed"
    user_token = AsyncWebClient(token="xoxp-user", base_url=emu.api_url)
    assert (await api_error(user_token.auth_test())).response["error"] == "invalid_auth"
    bot = AsyncWebClient(token="xoxb-test", base_url=emu.api_url)
    identity = await bot.auth_test()
    assert identity["user_id"] == emu.workspace.bot_user_id
    assert identity["team_id"] == emu.workspace.team_id and identity["bot_id"]
    unknown = await api_error(bot.api_call("leaks.report"))
    assert unknown.response["error"] == "unknown_method" and unknown.response.status_code == 200

    async with SlackEmulator(valid_tokens=["xoxb-only"]) as strict:
        ok = AsyncWebClient(token="xoxb-only", base_url=strict.api_url)
        assert (await ok.auth_test())["ok"]
        other = AsyncWebClient(token="xoxb-other", base_url=strict.api_url)
        assert (await api_error(other.auth_test())).response["error"] == "invalid_auth"


async def test_users_info_is_a_get_and_locale_needs_include_locale(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    emu.add_user("U1", real_name="Ada Lovelace", locale="fr-FR", tz="Europe/Paris")
    plain = await client.users_info(user="U1")
    assert plain["user"]["real_name"] == "Ada Lovelace" and "locale" not in plain["user"]
    with_locale = await client.users_info(user="U1", include_locale=True)
    assert with_locale["user"]["locale"] == "fr-FR"
    assert with_locale["user"]["tz"] == "Europe/Paris"
    assert with_locale["user"]["tz_offset"] in (3600, 7200)
    assert [c.http_method for c in emu.calls_to("users.info")] == ["GET", "GET"]
    assert emu.calls_to("users.info")[1].args["include_locale"] in ("1", "true")
    missing = await api_error(client.users_info(user="U404"))
    assert missing.response["error"] == "user_not_found"


async def test_usergroups_users_list(emu: SlackEmulator, client: AsyncWebClient) -> None:
    emu.add_usergroup("S1", ["U1", "U2"])
    assert (await client.usergroups_users_list(usergroup="S1"))["users"] == ["U1", "U2"]
    missing = await api_error(client.usergroups_users_list(usergroup="S404"))
    assert missing.response["error"] == "no_such_subteam"


async def test_register_method(emu: SlackEmulator, client: AsyncWebClient) -> None:
    from slackemu import SlackApiFailure

    def lookup(args: dict[str, Any]) -> dict[str, Any]:
        if args["email"] == "ada@example.com":
            return {"user": {"id": "U1"}}
        raise SlackApiFailure("users_not_found")

    emu.register_method("users.lookupByEmail", lookup)
    assert (await client.users_lookupByEmail(email="ada@example.com"))["user"]["id"] == "U1"
    missing = await api_error(client.users_lookupByEmail(email="x@example.com"))
    assert missing.response["error"] == "users_not_found"


# ---------------------------------------------------------------------------- views


async def test_views_open_uses_a_trigger_once(emu: SlackEmulator, client: AsyncWebClient) -> None:
    trigger = emu.new_trigger_id(user_id="U1")
    opened = await client.views_open(trigger_id=trigger, view=modal())
    view = opened["view"]
    assert view["id"].startswith("V") and view["hash"] and view["root_view_id"] == view["id"]
    assert emu.open_views("U1")[0]["id"] == view["id"]
    again = await api_error(client.views_open(trigger_id=trigger, view=modal()))
    assert again.response["error"] == "exchanged_trigger_id"
    unknown = await api_error(client.views_open(trigger_id="1.2.abc", view=modal()))
    assert unknown.response["error"] == "invalid_trigger_id"


async def test_trigger_expires_after_three_seconds() -> None:
    clock = FakeClock()
    async with SlackEmulator(clock=clock) as emu:
        client = AsyncWebClient(token="xoxb-test", base_url=emu.api_url)
        trigger = emu.new_trigger_id()
        clock.advance(3.5)
        expired = await api_error(client.views_open(trigger_id=trigger, view=modal()))
        assert expired.response["error"] == "expired_trigger_id"


async def test_views_update_hash_and_external_id(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    view = (
        await client.views_open(
            trigger_id=emu.new_trigger_id(), view={**modal(), "external_id": "leak-42"}
        )
    )["view"]
    updated = await client.views_update(view_id=view["id"], hash=view["hash"], view=modal("Step 2"))
    assert updated["view"]["title"]["text"] == "Step 2" and updated["view"]["hash"] != view["hash"]
    stale = await api_error(
        client.views_update(view_id=view["id"], hash=view["hash"], view=modal())
    )
    assert stale.response["error"] == "hash_conflict"
    by_external = await client.views_update(external_id="leak-42", view=modal("Step 3"))
    assert by_external["view"]["id"] == view["id"]
    assert emu.view(view["id"])["title"]["text"] == "Step 3"
    missing = await api_error(client.views_update(view_id="V404", view=modal()))
    assert missing.response["error"] == "not_found"


async def test_views_push_stack_of_three(emu: SlackEmulator, client: AsyncWebClient) -> None:
    root = (await client.views_open(trigger_id=emu.new_trigger_id(), view=modal()))["view"]
    for step in (2, 3):
        pushed = await client.views_push(
            trigger_id=emu.new_trigger_id(view_id=root["id"]), view=modal(f"Step {step}")
        )
        assert pushed["view"]["root_view_id"] == root["id"]
    assert len(emu.view_stack(root["id"])) == 3
    over = client.views_push(trigger_id=emu.new_trigger_id(view_id=root["id"]), view=modal())
    assert (await api_error(over)).response["error"] == "push_limit_reached"


async def test_views_publish_home(emu: SlackEmulator, client: AsyncWebClient) -> None:
    home = {"type": "home", "blocks": [section("Your open leaks: none")]}
    published = await client.views_publish(user_id="U1", view=home)
    assert emu.home_view("U1") == published["view"]
    bad = await api_error(client.views_publish(user_id="U1", view=modal()))
    assert bad.response["error"] == "invalid_arguments"


# ---------------------------------------------------------------------------- Block Kit limits


async def test_blocks_over_limits_are_rejected_like_slack(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    too_many = await api_error(
        client.chat_postMessage(channel="C1", text="x", blocks=[section("b")] * 51)
    )
    assert too_many.response["error"] == "invalid_blocks"
    assert too_many.response["errors"] == ["no more than 50 items allowed [json-pointer:/blocks]"]
    assert too_many.response["response_metadata"]["messages"][0].startswith("[ERROR] no more")
    assert too_many.response.status_code == 200

    long_text = await api_error(
        client.chat_postMessage(channel="C1", text="x", blocks=[section("a" * 3001)])
    )
    assert long_text.response["errors"] == [
        "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"
    ]
    duplicate = await api_error(
        client.chat_postMessage(
            channel="C1", text="x", blocks=[section("a", "same"), section("b", "same")]
        )
    )
    assert (
        "duplicate block_id 'same' [json-pointer:/blocks/1/block_id]"
        in duplicate.response["errors"]
    )
    title = await api_error(
        client.views_open(trigger_id=emu.new_trigger_id(), view=modal("t" * 25))
    )
    assert title.response["error"] == "invalid_arguments"
    assert title.response["response_metadata"]["messages"] == [
        "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"
    ]
    too_long = await api_error(client.chat_postMessage(channel="C1", text="x" * 40001))
    assert too_long.response["error"] == "msg_too_long"

    rejected = emu.rejections()
    assert [c.method for c in rejected] == ["chat.postMessage"] * 3 + ["views.open"] + [
        "chat.postMessage"
    ]
    assert rejected[0].rejected_with == "invalid_blocks" and rejected[0].problems
    with pytest.raises(AssertionError, match="Slack would refuse"):
        emu.assert_no_rejections()
    assert emu.messages("C1") == []


async def test_blocks_at_limits_are_accepted(emu: SlackEmulator, client: AsyncWebClient) -> None:
    await client.chat_postMessage(channel="C1", text="x", blocks=[section("b")] * 50)
    await client.chat_postMessage(channel="C1", text="x" * 40000, blocks=[section("a" * 3000)])
    await client.views_open(trigger_id=emu.new_trigger_id(), view=modal("t" * 24))
    await client.views_open(trigger_id=emu.new_trigger_id(), view=modal(blocks=INTAKE_BLOCKS))
    emu.assert_no_rejections()


# ---------------------------------------------------------------------------- faults


async def test_429_reaches_a_client_without_rate_limit_handler(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    emu.fail_next("chat.postMessage", retry_after=7)
    error = await api_error(client.chat_postMessage(channel="C1", text="x"))
    assert error.response.status_code == 429
    assert error.response["error"] == "ratelimited"
    assert error.response.headers["Retry-After"] == "7"
    assert (await client.chat_postMessage(channel="C1", text="x"))["ok"]
    assert [c.fault for c in emu.calls_to("chat.postMessage")] == ["ratelimited", None]


async def test_429_is_retried_by_the_rate_limit_handler(
    emu: SlackEmulator, sleeps: list[float]
) -> None:
    client = AsyncWebClient(
        token="xoxb-test",
        base_url=emu.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    )
    emu.fail_next("chat.postMessage", times=2, retry_after=3)
    posted = await client.chat_postMessage(channel="C1", text="x")
    assert posted["ok"]
    assert len(emu.calls_to("chat.postMessage")) == 3
    assert len(sleeps) == 2 and all(3 <= s < 4 for s in sleeps)  # Retry-After + jitter


async def test_server_errors_are_retried(emu: SlackEmulator, sleeps: list[float]) -> None:
    client = AsyncWebClient(
        token="xoxb-test",
        base_url=emu.api_url,
        retry_handlers=[
            AsyncServerErrorRetryHandler(max_retry_count=2, interval_calculator=NO_WAIT)
        ],
    )
    emu.fail_next("chat.postMessage", status=500)
    emu.fail_next("chat.postMessage", status=503)
    assert (await client.chat_postMessage(channel="C1", text="x"))["ok"]
    calls = emu.calls_to("chat.postMessage")
    assert [(c.status, c.fault) for c in calls] == [
        (500, "internal_error"),
        (503, "service_unavailable"),
        (200, None),
    ]
    emu.fail_next("chat.postMessage", status=500)
    plain = AsyncWebClient(token="xoxb-test", base_url=emu.api_url)
    assert (
        await api_error(plain.chat_postMessage(channel="C1", text="x"))
    ).response.status_code == 500


async def test_an_html_error_page_is_not_a_slack_answer(
    emu: SlackEmulator, sleeps: list[float]
) -> None:
    """What a load balancer in front of Slack sends: an HTML page with a 5xx status. slack_sdk
    raises SlackApiError without Slack's fields; bot.slack.api_errors reads it."""
    emu.fail_next("chat.postMessage", html=True)
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{emu.api_url}chat.postMessage", data={"token": "xoxb-t"}) as answer,
    ):
        assert answer.status == 502 and answer.content_type == "text/html"
        assert "502 Bad Gateway" in await answer.text()
    [call] = emu.calls_to("chat.postMessage")
    assert (call.status, call.fault, call.response, call.ok) == (502, "html_502", None, False)

    bare = AsyncWebClient(token="xoxb-test", base_url=emu.api_url, retry_handlers=[])
    emu.fail_next("chat.postMessage", html=True, status=504)
    error = await api_error(bare.chat_postMessage(channel="C1", text="x"))
    assert (api_errors.http_status(error), api_errors.error_code(error)) == (504, "")
    assert api_errors.error_text(error) == "HTTP 504, not a Slack answer"
    assert not api_errors.is_slack_answer(error)

    # slack_sdk's server-error handler retries a 503 page as it retries Slack's own 503.
    retry_server_errors = AsyncServerErrorRetryHandler(
        max_retry_count=2, interval_calculator=NO_WAIT
    )
    retrying = AsyncWebClient(
        token="xoxb-test", base_url=emu.api_url, retry_handlers=[retry_server_errors]
    )
    emu.clear()
    emu.fail_next("chat.postMessage", html=True, status=503)
    assert (await retrying.chat_postMessage(channel="C1", text="x"))["ok"]
    assert [c.status for c in emu.calls_to("chat.postMessage")] == [503, 200]

    emu.set_failure_rate(1.0, kinds=[HTML_PAGE_FAULT], seed=1)
    error = await api_error(bare.chat_postMessage(channel="C1", text="x"))
    assert api_errors.error_text(error) == "HTTP 502, not a Slack answer"
    with pytest.raises(ValueError, match="html"):
        emu.fail_next("chat.postMessage", html=True, error="channel_not_found")


async def test_disconnect_is_a_connection_error_and_retried(
    emu: SlackEmulator, sleeps: list[float]
) -> None:
    bare = AsyncWebClient(token="xoxb-test", base_url=emu.api_url, retry_handlers=[])
    emu.fail_next("chat.postMessage", disconnect=True)
    started = time.monotonic()
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await asyncio.wait_for(bare.chat_postMessage(channel="C1", text="x"), timeout=5)
    assert time.monotonic() - started < 2  # no hang

    retrying = AsyncWebClient(
        token="xoxb-test",
        base_url=emu.api_url,
        retry_handlers=[AsyncConnectionErrorRetryHandler(interval_calculator=NO_WAIT)],
    )
    emu.clear()
    emu.fail_next("chat.postMessage", disconnect=True)
    assert (await retrying.chat_postMessage(channel="C1", text="x"))["ok"]
    assert [c.error for c in emu.calls_to("chat.postMessage")] == ["disconnect", None]


async def test_injected_ok_false_error(emu: SlackEmulator, client: AsyncWebClient) -> None:
    emu.fail_next("*", error="channel_not_found")
    error = await api_error(client.chat_postMessage(channel="C1", text="x"))
    assert error.response.status_code == 200 and error.response["error"] == "channel_not_found"
    assert emu.calls[-1].fault == "channel_not_found"


async def outcomes(emu: SlackEmulator, n: int) -> list[str]:
    client = AsyncWebClient(token="xoxb-test", base_url=emu.api_url, retry_handlers=[])
    seen: list[str] = []
    for i in range(n):
        try:
            await client.chat_postMessage(channel="C1", text=f"m{i}")
            seen.append("ok")
        except SlackApiError as e:
            seen.append(str(e.response["error"]))
        except aiohttp.ClientConnectionError:
            seen.append("disconnect")
    return seen


async def test_failure_rate_is_reproducible_with_a_seed(emu: SlackEmulator) -> None:
    emu.set_failure_rate(0.5, seed=7)
    first = await outcomes(emu, 30)
    emu.set_failure_rate(0.5, seed=7)
    assert await outcomes(emu, 30) == first
    assert {"ok", "ratelimited", "internal_error"} <= set(first)
    assert first.count("ok") not in (0, 30)
    emu.set_failure_rate(0.5, seed=8)
    assert await outcomes(emu, 30) != first
    recorded = emu.calls_to("chat.postMessage")
    assert len(recorded) == 90  # every attempt is recorded, failed ones too
    emu.set_failure_rate(0)
    assert await outcomes(emu, 3) == ["ok"] * 3


async def test_rate_limit_per_channel_with_a_fake_clock(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    clock = FakeClock()
    emu.enable_rate_limit("chat.postMessage", per_channel_per_second=1, clock=clock)
    assert (await client.chat_postMessage(channel="C1", text="1"))["ok"]
    limited = await api_error(client.chat_postMessage(channel="C1", text="2"))
    assert limited.response.status_code == 429 and limited.response.headers["Retry-After"] == "1"
    assert (await client.chat_postMessage(channel="C2", text="other channel"))["ok"]
    clock.advance(1)
    assert (await client.chat_postMessage(channel="C1", text="3"))["ok"]
    assert [c.fault for c in emu.calls_to("chat.postMessage")] == [None, "rate_limit", None, None]


async def test_wait_for_call_wakes_on_the_answer(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    waiting = asyncio.create_task(emu.wait_for_call("chat.postMessage", count=2))
    await client.chat_postMessage(channel="C1", text="one")
    assert not waiting.done()
    await client.chat_postMessage(channel="C1", text="two")
    call = await waiting
    assert call.args["text"] == "two"
    with pytest.raises(AssertionError, match="no 1 answered"):
        await emu.wait_for_call("views.open", timeout=0.01)


# ---------------------------------------------------------------------------- response_url


async def test_response_url_posts_are_recorded_and_validated(emu: SlackEmulator) -> None:
    client = AsyncWebClient(token="xoxb-test", base_url=emu.api_url)
    posted = await client.chat_postMessage(channel="C1", text="Approve?", blocks=[section("?")])
    url = emu.new_response_url(channel="C1", message_ts=posted["ts"], user_id="U1")
    webhook = AsyncWebhookClient(url)

    answer = await webhook.send(text="only you", response_type="ephemeral")
    assert answer.status_code == 200 and json.loads(answer.body) == {"ok": True}
    replaced = await webhook.send(
        text="Approved", blocks=[section("*Approved*")], replace_original=True
    )
    assert replaced.status_code == 200
    assert emu.message("C1", posted["ts"])["text"] == "Approved"
    assert [r.get("text") for r in emu.responses(url)] == ["only you", "Approved"]
    assert emu.ephemerals(user="U1")[0]["text"] == "only you"

    invalid = await webhook.send(text="x", blocks=[section("a" * 3001)])
    assert invalid.status_code == 400
    assert emu.calls_to("response_url")[-1].rejected_with == "invalid_blocks"
    assert len(emu.responses(url)) == 2
    unknown = await AsyncWebhookClient(f"{emu.url}/response/nope").send(text="x")
    assert unknown.status_code == 404


# ---------------------------------------------------------------------------- validator alone


def test_validator_accepts_a_rich_message() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Leak #42"}},
        {
            "type": "section",
            "block_id": "summary",
            "fields": [{"type": "mrkdwn", "text": f"*F{i}*"} for i in range(10)],
            "accessory": {
                "type": "static_select",
                "action_id": "pick",
                "options": [
                    {"text": {"type": "plain_text", "text": f"o{i}"}, "value": f"v{i}"}
                    for i in range(100)
                ],
                "initial_option": {"text": {"type": "plain_text", "text": "o3"}, "value": "v3"},
            },
        },
        {"type": "divider"},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "approve",
                    "text": {"type": "plain_text", "text": "A" * 75},
                    "value": "v" * 2000,
                    "style": "primary",
                    "confirm": {
                        "title": {"type": "plain_text", "text": "T" * 100},
                        "text": {"type": "mrkdwn", "text": "x" * 300},
                        "confirm": {"type": "plain_text", "text": "Y" * 30},
                        "deny": {"type": "plain_text", "text": "N" * 30},
                    },
                },
                {
                    "type": "button",
                    "action_id": "reject",
                    "text": {"type": "plain_text", "text": "No"},
                },
            ],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 10},
        {"type": "image", "image_url": "https://example.com/a.png", "alt_text": "a"},
        {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": []}]},
        # the same action_id in another block is fine (Slack: unique within its block)
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "approve",
                    "text": {"type": "plain_text", "text": "A"},
                }
            ],
        },
    ]
    assert validate_message("fallback", blocks) == []
    assert validate_message(None, None) == []
    assert validate_view(modal(blocks=INTAKE_BLOCKS)) == []
    assert validate_view({"type": "home", "blocks": blocks}) == []


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def button(text: str = "b", **fields: Any) -> dict[str, Any]:
    return {"type": "button", "text": plain(text), **fields}


def option(text: str = "o", value: str = "v") -> dict[str, Any]:
    return {"text": plain(text), "value": value}


def with_accessory(element: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**section("s"), "accessory": element}]


def select(*options: dict[str, Any]) -> dict[str, Any]:
    return {"type": "static_select", "action_id": "pick", "options": list(options)}


def confirm(title: str = "t", text: str = "x", yes: str = "y", no: str = "n") -> dict[str, Any]:
    return {"title": plain(title), "text": plain(text), "confirm": plain(yes), "deny": plain(no)}


def an_input(element: dict[str, Any] | None = None, **fields: Any) -> list[dict[str, Any]]:
    block: dict[str, Any] = {"type": "input", "label": plain("l"), **fields}
    if element is not None:
        block["element"] = element
    return [block]


TEXT_INPUT = {"type": "plain_text_input", "action_id": "t"}
ACCESSORY = "[json-pointer:/blocks/0/accessory"
REFUSED: list[tuple[list[dict[str, Any]], str]] = [
    ([{"type": "carousel"}], "invalid block type 'carousel' [json-pointer:/blocks/0/type]"),
    ([{"type": "section"}], "must provide either `text` or `fields` [json-pointer:/blocks/0]"),
    ([section("")], "must be more than 0 characters [json-pointer:/blocks/0/text/text]"),
    (
        [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}],
        "no more than 10 items allowed [json-pointer:/blocks/0/fields]",
    ),
    (
        [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}],
        "must be less than 2001 characters [json-pointer:/blocks/0/fields/0/text]",
    ),
    (
        [{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}],
        "must be plain_text, got 'mrkdwn' [json-pointer:/blocks/0/text/type]",
    ),
    (
        [{"type": "header", "text": plain("h" * 151)}],
        "must be less than 151 characters [json-pointer:/blocks/0/text/text]",
    ),
    (
        [section("a", "b" * 256)],
        "must be less than 256 characters [json-pointer:/blocks/0/block_id]",
    ),
    (
        [{"type": "actions", "elements": [button()] * 26}],
        "no more than 25 items allowed [json-pointer:/blocks/0/elements]",
    ),
    ([{"type": "actions"}], "missing required field: elements [json-pointer:/blocks/0]"),
    (
        [{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}],
        "no more than 10 items allowed [json-pointer:/blocks/0/elements]",
    ),
    (
        [{"type": "actions", "elements": [button(action_id="a"), button(action_id="a")]}],
        "duplicate action_id 'a' [json-pointer:/blocks/0/elements/1/action_id]",
    ),
    (
        with_accessory(button(action_id="a" * 256)),
        f"must be less than 256 characters {ACCESSORY}/action_id]",
    ),
    (with_accessory(button("b" * 76)), f"must be less than 76 characters {ACCESSORY}/text/text]"),
    (
        with_accessory(button(value="v" * 2001)),
        f"must be less than 2001 characters {ACCESSORY}/value]",
    ),
    (with_accessory(button(url="u" * 3001)), f"must be less than 3001 characters {ACCESSORY}/url]"),
    (
        with_accessory(select(option(value="v" * 151))),
        f"must be less than 151 characters {ACCESSORY}/options/0/value]",
    ),
    (
        with_accessory(select(option("o" * 76))),
        f"must be less than 76 characters {ACCESSORY}/options/0/text/text]",
    ),
    (
        with_accessory(select(*[option()] * 101)),
        f"no more than 100 items allowed {ACCESSORY}/options]",
    ),
    (
        with_accessory({**select(option()), "initial_option": option("x", "x")}),
        f"must match one of the provided options {ACCESSORY}/initial_option]",
    ),
    (
        with_accessory(button(confirm=confirm(title="t" * 101))),
        f"must be less than 101 characters {ACCESSORY}/confirm/title/text]",
    ),
    (
        with_accessory(button(confirm=confirm(text="x" * 301))),
        f"must be less than 301 characters {ACCESSORY}/confirm/text/text]",
    ),
    (
        with_accessory(button(confirm=confirm(yes="y" * 31))),
        f"must be less than 31 characters {ACCESSORY}/confirm/confirm/text]",
    ),
    (
        [{**section("s"), "txt": {"type": "mrkdwn", "text": "typo"}}],
        "invalid additional property: txt [json-pointer:/blocks/0/txt]",
    ),
    (an_input(button()), "'button' cannot be in an input [json-pointer:/blocks/0/element/type]"),
    (
        an_input(TEXT_INPUT, label=plain("l" * 2001)),
        "must be less than 2001 characters [json-pointer:/blocks/0/label/text]",
    ),
    (
        an_input(TEXT_INPUT, hint=plain("h" * 2001)),
        "must be less than 2001 characters [json-pointer:/blocks/0/hint/text]",
    ),
    (
        an_input({**TEXT_INPUT, "max_length": 3001}),
        "must be between 1 and 3000 [json-pointer:/blocks/0/element/max_length]",
    ),
    (
        [{"type": "input", "element": TEXT_INPUT}],
        "missing required field: label [json-pointer:/blocks/0]",
    ),
    (an_input(), "missing required field: element [json-pointer:/blocks/0]"),
]


@pytest.mark.parametrize(("blocks", "expected"), REFUSED)
def test_validator_refuses(blocks: list[dict[str, Any]], expected: str) -> None:
    assert expected in validate_message("t", blocks)


def test_validator_view_rules() -> None:
    with_input = modal(blocks=INTAKE_BLOCKS[:1])
    assert validate_view(with_input) == []
    del with_input["submit"]
    assert validate_view(with_input) == [
        "must provide `submit` when the view has input blocks [json-pointer:/view/submit]"
    ]
    problems = validate_view(
        {
            **modal(),
            "type": "dialog",
            "private_metadata": "p" * 3001,
            "callback_id": "c" * 256,
            "close": {"type": "mrkdwn", "text": "Close"},
        }
    )
    assert (
        "must be a valid enum value (modal, home), got 'dialog' [json-pointer:/view/type]"
        in problems
    )
    assert "must be less than 3001 characters [json-pointer:/view/private_metadata]" in problems
    assert "must be less than 256 characters [json-pointer:/view/callback_id]" in problems
    assert validate_view(modal(blocks=[section("b")] * 100)) == []
    assert validate_view(modal(blocks=[section("b")] * 101)) == [
        "no more than 100 items allowed [json-pointer:/view/blocks]"
    ]
    closing = validate_view({**modal(), "close": {"type": "mrkdwn", "text": "Close"}})
    assert closing == ["must be plain_text, got 'mrkdwn' [json-pointer:/view/close/type]"]
    scoped = [section("a")] + [
        {
            "type": "actions",
            "elements": [
                {"type": "button", "action_id": "x", "text": {"type": "plain_text", "text": "b"}}
            ],
        }
    ] * 2
    assert validate_message(None, scoped) == []
    assert validate_message(None, scoped, action_id_scope="surface") == [
        "duplicate action_id 'x' [json-pointer:/blocks/2/elements/0/action_id]"
    ]


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=3100))
def test_section_text_limit_property(length: int) -> None:
    problems = validate_message(None, [section("a" * length)])
    assert (problems == []) == (1 <= length <= 3000)


def test_blocks_text_and_find_element() -> None:
    blocks = [*INTAKE_BLOCKS, section("*hello*")]
    assert "*hello*" in blockkit.blocks_text(blocks) and "Severity" in blockkit.blocks_text(blocks)
    found = blockkit.find_element(blocks, "severity_select")
    assert found is not None and found[0]["block_id"] == "severity"


# ---------------------------------------------------------------------------- payload builders


def test_values_from_answers_shapes() -> None:
    when = datetime(2026, 1, 2, 9, 30, tzinfo=UTC)
    values = values_from_answers(
        modal(blocks=INTAKE_BLOCKS),
        {
            "partner": "Acme",
            "severity_select": "high",  # by action_id
            "kinds": ["personal", "financial"],
            "count": 1200,
            "when": when,
            "day": date(2026, 1, 2),
        },
    )
    assert values["partner"]["partner_input"] == {"type": "plain_text_input", "value": "Acme"}
    assert values["severity"]["severity_select"]["selected_option"]["value"] == "high"
    assert [o["value"] for o in values["kinds"]["kinds_boxes"]["selected_options"]] == [
        "personal",
        "financial",
    ]
    assert values["count"]["count_input"] == {"type": "number_input", "value": "1200"}
    assert values["when"]["when_picker"]["selected_date_time"] == int(when.timestamp())
    assert values["day"]["day_picker"]["selected_date"] == "2026-01-02"
    assert values["owners"]["owners_select"] == {
        "type": "multi_static_select",
        "selected_options": [],
    }

    with pytest.raises(ValueError, match="required input 'severity'"):
        values_from_answers(INTAKE_BLOCKS, {"partner": "Acme"})
    with pytest.raises(ValueError, match="not an option"):
        values_from_answers(INTAKE_BLOCKS, {"partner": "Acme", "severity": "medium"})
    with pytest.raises(ValueError, match="no input for answers"):
        values_from_answers(INTAKE_BLOCKS, {"partner": "Acme", "severity": "low", "typo": 1})
    with pytest.raises(ValueError, match="outside"):
        values_from_answers(INTAKE_BLOCKS, {"partner": "A" * 81, "severity": "low"})
    with pytest.raises(ValueError, match="whole number"):
        values_from_answers(INTAKE_BLOCKS, {"partner": "A", "severity": "low", "count": 1.5})


def test_slash_command_fields() -> None:
    fields = payloads.slash_command(
        "leak", "acme", user_id="U1", response_url="https://r", trigger_id="1.2.3"
    )
    assert list(fields)[:3] == ["token", "team_id", "team_domain"]
    assert fields["command"] == "/leak" and fields["text"] == "acme"
    for name in (
        "channel_id",
        "channel_name",
        "user_name",
        "api_app_id",
        "response_url",
        "trigger_id",
    ):
        assert fields[name]


# ---------------------------------------------------------------------------- the sender


async def test_sender_wire_format(emu: SlackEmulator) -> None:
    received: list[tuple[str, bytes, dict[str, str]]] = []

    async def capture(request: web.Request) -> web.Response:
        received.append((request.content_type, await request.read(), dict(request.headers)))
        return web.json_response({"seen": True})

    app = web.Application()
    app.router.add_post("/slack/events", capture)
    clock = FakeClock()
    async with (
        LocalServer(app) as server,
        SlackSender(server.url, SECRET, clock=clock, emulator=emu) as slack,
    ):
        reply = await slack.slash_command("/leak", "acme", user_id="U1", retry_num=1)
        assert reply.status == 200 and reply.json == {"seen": True}
        await slack.event_callback({"type": "app_mention", "text": "hi"}, event_id="Ev1")
        approve = {
            "type": "button",
            "action_id": "approve",
            "text": {"type": "plain_text", "text": "OK"},
        }
        ts = emu.add_message(
            "C1", "Approve?", user="U9", blocks=[{"type": "actions", "elements": [approve]}]
        )
        await slack.block_actions("approve", user_id="U1", channel_id="C1", message_ts=ts)
        await slack.url_verification("abc", forge=True, timestamp_offset=-600)

    verifier = SignatureVerifier(SECRET, clock=FrozenVerifierClock(clock.now().timestamp()))
    (ctype, body, headers), (etype, ebody, eheaders), (itype, ibody, _), (_, vbody, vheaders) = (
        received
    )
    assert ctype == "application/x-www-form-urlencoded" and etype == "application/json"
    assert itype == "application/x-www-form-urlencoded"
    assert headers["X-Slack-Request-Timestamp"] == str(int(clock.now().timestamp()))
    assert verifier.is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )
    assert verifier.is_valid(
        ebody, eheaders["X-Slack-Request-Timestamp"], eheaders["X-Slack-Signature"]
    )
    assert headers["X-Slack-Retry-Num"] == "1" and "X-Slack-Retry-Num" not in eheaders
    form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
    assert form["command"] == "/leak" and form["trigger_id"] == reply.trigger_id
    assert form["response_url"] == reply.response_url and reply.response_url.startswith(emu.url)
    event = json.loads(ebody)
    assert event["type"] == "event_callback" and event["event_id"] == "Ev1"
    assert event["authorizations"][0]["user_id"] == emu.workspace.bot_user_id
    interaction = json.loads(parse_qs(ibody.decode())["payload"][0])
    assert (
        interaction["type"] == "block_actions"
        and interaction["actions"][0]["action_id"] == "approve"
    )
    assert int(vheaders["X-Slack-Request-Timestamp"]) == int(clock.now().timestamp()) - 600
    assert not verifier.is_valid(
        vbody, vheaders["X-Slack-Request-Timestamp"], vheaders["X-Slack-Signature"]
    )


async def test_sender_drives_a_real_bolt_app(emu: SlackEmulator) -> None:
    api = AsyncWebClient(token="xoxb-test", base_url=emu.api_url)
    app = AsyncApp(client=api, signing_secret=SECRET, process_before_response=True)
    seen: dict[str, Any] = {}

    @app.command("/leak")
    async def open_intake(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=modal(blocks=INTAKE_BLOCKS))

    @app.view("leak_intake")
    async def submit(ack: Any, view: dict[str, Any]) -> None:
        values = view["state"]["values"]
        seen["values"] = values
        if values["partner"]["partner_input"]["value"] == "nobody":
            await ack(response_action="errors", errors={"partner": "Who leaked?"})
        else:
            await ack()

    @app.action("approve")
    async def approve(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        seen["action"] = body["actions"][0]
        await respond(text="Approved", replace_original=True)

    @app.event("app_mention")
    async def mention(event: dict[str, Any], say: Any) -> None:
        await say(text=f"You said {event['text']}")

    async with (
        LocalServer(app.web_app()) as server,
        SlackSender(server.url, SECRET, emulator=emu) as slack,
    ):
        assert (await slack.url_verification("xyz")).json == {"challenge": "xyz"}
        assert (await slack.slash_command("/leak", user_id="U1", forge=True)).status == 401
        assert (
            await slack.slash_command("/leak", user_id="U1", timestamp_offset=-600)
        ).status == 401

        reply = await slack.slash_command("/leak", user_id="U1")
        assert reply.status == 200
        view_id = emu.successful_calls_to("views.open")[0].response["view"]["id"]  # type: ignore[index]
        refused = await slack.view_submission(
            view_id, user_id="U1", answers={"partner": "nobody", "severity": "low"}
        )
        assert refused.json == {"response_action": "errors", "errors": {"partner": "Who leaked?"}}
        assert emu.view_stack(view_id)  # still open
        done = await slack.view_submission(
            view_id, user_id="U1", answers={"partner": "Acme", "severity": "high"}
        )
        assert done.status == 200 and emu.view_stack(view_id) == []
        assert seen["values"]["severity"]["severity_select"]["selected_option"]["value"] == "high"

        button = {
            "type": "actions",
            "block_id": "decision",
            "elements": [
                {
                    "type": "button",
                    "action_id": "approve",
                    "value": "leak-42",
                    "text": {"type": "plain_text", "text": "Approve"},
                }
            ],
        }
        posted = await api.chat_postMessage(channel="C1", text="Approve?", blocks=[button])
        clicked = await slack.block_actions(
            "approve", user_id="U2", channel_id="C1", message_ts=posted["ts"]
        )
        assert clicked.status == 200
        assert seen["action"]["value"] == "leak-42" and seen["action"]["block_id"] == "decision"
        assert emu.message("C1", posted["ts"])["text"] == "Approved"
        with pytest.raises(ValueError, match="no element with action_id 'reject'"):
            await slack.block_actions(
                "reject", user_id="U2", channel_id="C1", message_ts=posted["ts"]
            )

        mentioned = await slack.event_callback(
            payloads.app_mention_event(
                channel="C1", user="U1", text="hello", ts="1767225700.000100"
            ),
            retry_num=1,
        )
        assert mentioned.status == 200
        said = await emu.wait_for_call(
            "chat.postMessage", where=lambda c: "hello" in c.args.get("text", "")
        )
        assert said.ok
    emu.assert_no_rejections()


async def test_view_submission_acks_are_applied_and_checked(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    root = (
        await client.views_open(trigger_id=emu.new_trigger_id(), view=modal(blocks=INTAKE_BLOCKS))
    )["view"]
    assert emu.apply_view_ack(
        root["id"], {"response_action": "errors", "errors": {"partner": "?"}}
    ).ok
    wrong = emu.apply_view_ack(root["id"], {"response_action": "errors", "errors": {"nope": "?"}})
    assert wrong.rejected_with == "invalid_arguments"
    too_long = emu.apply_view_ack(
        root["id"], {"response_action": "update", "view": modal("t" * 25)}
    )
    assert too_long.problems == ("must be less than 25 characters [json-pointer:/view/title/text]",)
    assert emu.apply_view_ack(root["id"], {"response_action": "update", "view": modal("Step 2")}).ok
    assert emu.view(root["id"])["title"]["text"] == "Step 2"
    assert emu.apply_view_ack(root["id"], {"response_action": "push", "view": modal("Step 3")}).ok
    assert [v["title"]["text"] for v in emu.view_stack(root["id"])] == ["Step 2", "Step 3"]
    assert emu.apply_view_ack(root["id"], {"response_action": "clear"}).ok
    assert emu.view_stack(root["id"]) == [] and emu.open_views() == []
    closed = await api_error(client.views_update(view_id=root["id"], view=modal()))
    assert closed.response["error"] == "not_found"
    assert len(emu.rejections()) == 2


async def test_sender_block_actions_in_a_modal_ties_the_trigger_to_it(emu: SlackEmulator) -> None:
    payloads_seen: list[dict[str, Any]] = []

    async def capture(request: web.Request) -> web.Response:
        form = parse_qs((await request.read()).decode())
        payloads_seen.append(json.loads(form["payload"][0]))
        return web.Response()

    app = web.Application()
    app.router.add_post("/slack/events", capture)
    client = AsyncWebClient(token="xoxb-test", base_url=emu.api_url)
    blocks = [
        *INTAKE_BLOCKS[:2],
        {"type": "actions", "elements": [button("More", action_id="more", value="m")]},
    ]
    root = (await client.views_open(trigger_id=emu.new_trigger_id(), view=modal(blocks=blocks)))[
        "view"
    ]
    async with LocalServer(app) as server, SlackSender(server.url, SECRET, emulator=emu) as slack:
        reply = await slack.block_actions(
            "more", user_id="U1", view=root["id"], answers={"partner": "Acme"}
        )
        await slack.view_closed(root["id"], user_id="U1", is_cleared=True)
    sent = payloads_seen[0]
    assert sent["container"] == {"type": "view", "view_id": root["id"]}
    assert sent["view"]["state"]["values"]["partner"]["partner_input"]["value"] == "Acme"
    assert sent["actions"][0]["value"] == "m" and "response_url" not in sent
    assert payloads_seen[1]["type"] == "view_closed" and payloads_seen[1]["is_cleared"] is True
    assert emu.view_stack(root["id"]) == []
    assert reply.trigger_id is not None
    pushed = await api_error(client.views_push(trigger_id=reply.trigger_id, view=modal()))
    assert pushed.response["error"] == "not_found"  # the modal it came from is closed now
