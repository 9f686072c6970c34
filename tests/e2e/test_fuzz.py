"""Fuzzing leakbot's HTTP endpoint and its intake modal with Hypothesis.

(a) `POST /slack/events` with arbitrary bodies, content types and headers: unsigned, forged,
stale and validly signed. Whatever arrives, the answer is never a 5xx, never shows a traceback
or the signing secret, and a request without a valid signature writes nothing at all.
(b) The real intake modal, each step submitted with drawn raw `view.state.values`: every answer
is field errors keyed by that step's input blocks (in the person's language) or the next step;
after the final confirmation there is a whole, valid incident or none.

Each test starts one leakbot (per database) and runs all its Hypothesis examples against it:
pytest-asyncio runs an async `@given` test's examples one by one on the test's event loop.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp
from conftest import (
    APPROVER_1,
    CHANNEL,
    MILD_STEPS,
    REPORTER,
    REPORTER_EN,
    SECRET,
    STEPS,
    STRANGER,
    T0,
    Leakbot,
)
from e2e_support import TRACEBACK_MARKERS, Footprint, footprint
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from slackemu import signing

from bot.domain.answers import parse_answers
from bot.domain.vocabulary import OPTION_KEYS

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
SIGNED_MODES = ("signed",)
BAD_MODES = ("unsigned", "forged", "stale", "future", "garbage_headers", "no_timestamp")


# LEAKBOT_FUZZ_SCALE=20 for a deeper run than the suite's (which stays fast on both databases).
SCALE = max(1, int(os.environ.get("LEAKBOT_FUZZ_SCALE", "1")))


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


# -- strategies: the pieces of Slack's requests ---------------------------------------------------

# ASCII (control characters included) for everything an error message might echo back, so that
# the language of a message can be checked; Unicode goes where nothing is echoed.
ascii_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127), max_size=24)
any_text = st.text(max_size=24)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | ascii_text
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ascii_text, inner, max_size=4),
    max_leaves=12,
)


def either(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a plausible value, sometimes any JSON at all (wrong types included)."""
    return st.one_of(good, good, json_values)


USERS = st.sampled_from([REPORTER, APPROVER_1, STRANGER, "U0NOBODY00", ""])
ACTION_IDS = st.sampled_from(
    ["leak_approve", "leak_reject", "leak_choose", "leak_task_done", "leak_back", "value"]
)
CALLBACK_IDS = st.sampled_from(["leak_intake", "leak_reject_reason", "leak_done"])
INCIDENT_IDS = st.sampled_from(["LEAK-2026-0001", "LEAK-2026-9999", "leak-2026-0001", "1", ""])
QUESTION_IDS = st.sampled_from(
    ["partner", "aware_at", "source", "data_kinds", "affected_persons", "description", "reason"]
)
PAYLOAD_TYPES = st.sampled_from(
    [
        "block_actions",
        "view_submission",
        "view_closed",
        "shortcut",
        "message_action",
        "block_suggestion",
        "interactive_message",
        "dialog_submission",
        "workflow_step_edit",
    ]
)

options = st.fixed_dictionaries(
    {}, optional={"value": either(st.sampled_from(OPTION_KEYS) | ascii_text), "text": json_values}
)
actions = st.fixed_dictionaries(
    {},
    optional={
        "action_id": either(ACTION_IDS),
        "block_id": either(
            st.sampled_from(["leak_decision:LEAK-2026-0001", "leak_decision:", "leak_navigation"])
        ),
        "value": either(INCIDENT_IDS | st.sampled_from(["1", "-1", "0", "99999999999999999999"])),
        "type": either(st.sampled_from(["button", "static_select", "checkboxes"])),
        "selected_option": either(options),
        "selected_options": either(st.lists(either(options), max_size=3)),
    },
)
metadata = st.one_of(
    ascii_text,
    st.builds(json.dumps, json_values),
    st.builds(
        lambda s, lang, a, c: json.dumps({"s": s, "l": lang, "a": a, "c": c}),
        either(st.integers(min_value=-2, max_value=6)),
        either(st.sampled_from(["ja", "en"])),
        either(st.dictionaries(QUESTION_IDS, json_values, max_size=4)),
        json_values,
    ),
    st.builds(lambda i, c: json.dumps({"i": i, "c": c}), either(INCIDENT_IDS), json_values),
)
state_values = st.dictionaries(
    either(QUESTION_IDS),
    either(st.dictionaries(st.sampled_from(["value", "other"]), json_values, max_size=2)),
    max_size=4,
).filter(lambda d: isinstance(d, dict))
views = st.fixed_dictionaries(
    {},
    optional={
        "id": either(st.sampled_from(["V0000000001", "VFAKE"])),
        "type": either(st.sampled_from(["modal", "home"])),
        "callback_id": either(CALLBACK_IDS),
        "private_metadata": either(metadata),
        "state": either(st.fixed_dictionaries({}, optional={"values": either(state_values)})),
        "hash": json_values,
        "blocks": json_values,
    },
)
interaction = st.fixed_dictionaries(
    {"type": either(PAYLOAD_TYPES)},
    optional={
        "user": either(st.fixed_dictionaries({}, optional={"id": either(USERS)})),
        "actions": either(st.lists(either(actions), max_size=3)),
        "view": either(views),
        "trigger_id": either(ascii_text),
        # Never a reachable URL: a listener answering there would be a real network call.
        "response_url": either(st.sampled_from(["", "not a url", "ftp://x", "http://"])),
        "team": either(st.fixed_dictionaries({}, optional={"id": either(ascii_text)})),
        "channel": either(st.fixed_dictionaries({}, optional={"id": either(st.just(CHANNEL))})),
        "container": json_values,
        "message": json_values,
        "callback_id": either(CALLBACK_IDS | ascii_text),
        "state": json_values,
        "api_app_id": json_values,
        "token": json_values,
    },
)
command_fields = st.fixed_dictionaries(
    {},
    optional={
        "command": st.sampled_from(["/leak", "/leak", "/LEAK", "/other", "", "leak"]),
        "text": st.one_of(
            st.sampled_from(["", "help", "list", "status", "status LEAK-2026-0001", "STATUS x"]),
            st.builds(lambda sub, rest: f"{sub} {rest}", st.sampled_from(["status", "list"]), any_text),
            any_text,
        ),
        "user_id": USERS | ascii_text,
        "trigger_id": ascii_text,
        "channel_id": st.sampled_from([CHANNEL, "C0NOWHERE1", ""]),
        "response_url": st.sampled_from(["", "not a url"]),
        "team_id": ascii_text,
        "token": ascii_text,
        "ssl_check": st.sampled_from(["0", "", "x"]),
    },
)
events = st.fixed_dictionaries(
    {"type": either(st.sampled_from(["event_callback", "url_verification", "app_rate_limited"]))},
    optional={
        "event": either(
            st.fixed_dictionaries(
                {"type": either(st.sampled_from(["app_mention", "message", "app_home_opened"]))},
                optional={
                    "channel": either(st.sampled_from([CHANNEL, "C0NOWHERE1"])),
                    "ts": either(st.sampled_from(["1767225600.000100", "x"])),
                    "thread_ts": json_values,
                    "user": either(USERS),
                    "text": any_text,
                    "bot_id": json_values,
                    "subtype": json_values,
                },
            )
        ),
        "event_id": either(ascii_text),
        "event_time": json_values,
        "team_id": json_values,
        "api_app_id": json_values,
        "challenge": json_values,
        "authorizations": json_values,
        "token": json_values,
        "enterprise_id": json_values,
        "is_enterprise_install": json_values,
    },
)
header_value = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40
)
content_types = st.one_of(
    st.sampled_from(
        [
            FORM,
            JSON,
            "text/plain",
            "",
            "multipart/form-data; boundary=xyz",
            f"{FORM}; charset=latin-1",
            f"{JSON}; charset=utf-16",
            f"{JSON}; charset=no-such-charset",
            "application/json;;;",
        ]
    ),
    header_value,
)
# Any header text aiohttp will send (non-ASCII included), for the signature and timestamp.
wild_header_value = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\r\n"),
    max_size=70,
) | st.sampled_from(["", " ", "0", "-1", "1e9", "9" * 5000, "v0=", "v0=" + "é" * 64, "١٢٣"])
extra_headers = st.dictionaries(
    st.sampled_from(
        [
            "X-Slack-Retry-Num",
            "X-Slack-Retry-Reason",
            "X-Forwarded-For",
            "Content-Encoding",
            "X-Slack-Something",
        ]
    ),
    header_value,
    max_size=3,
)


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    """A request body and its content type: structured Slack-like junk, or raw bytes."""
    kind = draw(st.sampled_from(["interaction", "command", "form", "event", "json", "raw"]))
    if kind == "interaction":
        payload = draw(interaction)
        fields: list[tuple[str, str]] = [("payload", json.dumps(payload))]
        fields += draw(st.lists(st.tuples(ascii_text, ascii_text), max_size=2))
        return urlencode(fields).encode(), draw(st.sampled_from([FORM, FORM, JSON]))
    if kind == "command":
        return urlencode(draw(command_fields)).encode(), draw(st.sampled_from([FORM, FORM, ""]))
    if kind == "form":
        pairs = draw(st.lists(st.tuples(any_text, any_text), max_size=5))
        payload_text = draw(st.one_of(st.builds(json.dumps, json_values), any_text))
        if draw(st.booleans()):
            pairs.append(("payload", payload_text))
        return urlencode(pairs).encode(), draw(content_types)
    if kind == "event":
        return json.dumps(draw(events)).encode(), draw(st.sampled_from([JSON, JSON, FORM]))
    if kind == "json":
        return json.dumps(draw(json_values)).encode(), draw(content_types)
    return draw(st.binary(max_size=300)), draw(content_types)


# -- sending -------------------------------------------------------------------------------------


async def post_raw(bot: Leakbot, body: bytes, headers: Mapping[str, str]) -> tuple[int, str]:
    """POST exactly these bytes and headers (no signing), and check the answer is clean."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{bot.server.url}/slack/events", data=body, headers=dict(headers)) as reply,
    ):
        text = (await reply.read()).decode("utf-8", "replace")
        status = reply.status
    assert status < 500, (status, text[:500], body[:300])
    for marker in TRACEBACK_MARKERS:
        assert marker not in text, text[:2000]
    assert SECRET not in text
    return status, text


def headers_for(
    bot: Leakbot,
    body: bytes,
    content_type: str,
    mode: str,
    skew: int,
    extra: Mapping[str, str],
    garbage: tuple[str, str] = ("x", "y"),
) -> dict[str, str]:
    now = int(bot.clock.now().timestamp())
    headers: dict[str, str] = {}
    if mode == "signed":
        headers = signing.signed_headers(SECRET, now, body)
    elif mode == "forged":
        headers = signing.signed_headers(SECRET + "-forged", now, body)
    elif mode == "stale":
        headers = signing.signed_headers(SECRET, now - 301 - skew, body)
    elif mode == "future":
        headers = signing.signed_headers(SECRET, now + 301 + skew, body)
    elif mode == "garbage_headers":
        timestamp, signature = garbage
        headers = {
            "X-Slack-Request-Timestamp": str(now) if skew % 2 else timestamp,
            "X-Slack-Signature": "v0=" + "0" * 64 if skew % 3 == 0 else signature,
        }
    elif mode == "no_timestamp":
        headers = {"X-Slack-Signature": signing.sign(SECRET, now, body)}
    headers = {**extra, **headers}
    if content_type:
        headers["Content-Type"] = content_type
    return headers


async def nothing_written_since(bot: Leakbot, before: Footprint, calls: int) -> None:
    after = await footprint(bot.store, bot.emulator)
    assert after == before, (before, after)
    assert len(bot.emulator.calls) == calls, [c.method for c in bot.emulator.calls[calls:]]


# -- (a) the endpoint ----------------------------------------------------------------------------


@fuzz_settings(120)
@given(
    body=bodies(),
    mode=st.sampled_from(BAD_MODES),
    skew=st.integers(min_value=0, max_value=10**7),
    extra=extra_headers,
    garbage=st.tuples(wild_header_value, wild_header_value),
)
async def test_requests_without_a_valid_signature_are_refused_and_write_nothing(
    leakbot: Leakbot,
    body: tuple[bytes, str],
    mode: str,
    skew: int,
    extra: dict[str, str],
    garbage: tuple[str, str],
) -> None:
    raw, content_type = body
    before = await footprint(leakbot.store, leakbot.emulator)
    calls = len(leakbot.emulator.calls)
    headers = headers_for(leakbot, raw, content_type, mode, skew, extra, garbage)
    status, text = await post_raw(leakbot, raw, headers)
    if b"ssl_check=1" not in raw:
        # 401 from the signature check; 400 for a body that cannot even be read (before it).
        assert status in (400, 401), (status, text[:300], raw[:200])
    await nothing_written_since(leakbot, before, calls)


@fuzz_settings(150)
@given(body=bodies(), extra=extra_headers)
async def test_signed_junk_gets_a_clean_answer(
    leakbot: Leakbot, body: tuple[bytes, str], extra: dict[str, str]
) -> None:
    # A fresh timestamp for each example: the same body twice in one second is a replay.
    leakbot.clock.advance(seconds=1)
    raw, content_type = body
    headers = headers_for(leakbot, raw, content_type, "signed", 0, extra)
    status, text = await post_raw(leakbot, raw, headers)
    event(f"status {status}")
    assert status in (200, 400, 401, 404), (status, text[:300])
