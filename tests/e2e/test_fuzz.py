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
from datetime import datetime
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
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from slackemu import signing

from bot.domain.answers import parse_answers
from bot.domain.vocabulary import OPTION_KEYS

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
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
    QUESTION_IDS | ascii_text,
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
# Shaped like Slack's payloads for leakbot's own controls, with junk only in the leaves: these get
# past the shape check and into the listeners.
leaf = st.one_of(st.none(), ascii_text, st.integers(), json_values)
targeted_actions = st.fixed_dictionaries(
    {"action_id": ACTION_IDS, "type": st.sampled_from(["button", "static_select"])},
    optional={
        "block_id": st.sampled_from(["leak_decision:LEAK-2026-0001", "leak_decision:", "x"])
        | ascii_text,
        "value": INCIDENT_IDS | leaf,
        "selected_option": st.none() | options | json_values,
    },
)
targeted_views = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["V0000000001", "VFAKE"]),
        "type": st.just("modal"),
        "callback_id": CALLBACK_IDS,
        "private_metadata": metadata,
    },
    optional={
        "state": st.fixed_dictionaries(
            {},
            optional={
                "values": st.dictionaries(
                    QUESTION_IDS | ascii_text,
                    st.dictionaries(st.sampled_from(["value", "x"]), leaf, max_size=2) | leaf,
                    max_size=5,
                )
                | leaf
            },
        ),
        "hash": leaf,
    },
)
targeted_interaction = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("block_actions"),
            "user": st.fixed_dictionaries({"id": USERS}),
            "actions": st.lists(targeted_actions, min_size=1, max_size=2),
        },
        optional={
            "view": targeted_views,
            "trigger_id": ascii_text,
            "channel": st.fixed_dictionaries({"id": st.just(CHANNEL)}),
            "response_url": st.sampled_from(["", "not a url"]),
            "container": st.none() | st.dictionaries(ascii_text, leaf, max_size=2),
        },
    ),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["view_submission", "view_closed"]),
            "user": st.fixed_dictionaries({"id": USERS}),
            "view": targeted_views,
        },
        optional={"team": st.none() | st.fixed_dictionaries({"id": ascii_text})},
    ),
)
command_fields = st.fixed_dictionaries(
    {},
    optional={
        "command": st.sampled_from(["/leak", "/leak", "/LEAK", "/other", "", "leak"]),
        "text": st.one_of(
            st.sampled_from(["", "help", "list", "status", "status LEAK-2026-0001", "STATUS x"]),
            st.builds(
                lambda sub, rest: f"{sub} {rest}", st.sampled_from(["status", "list"]), any_text
            ),
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
header_value = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
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
    alphabet=st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="\r\n"),
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
    kind = draw(
        st.sampled_from(["interaction", "targeted", "command", "form", "event", "json", "raw"])
    )
    if kind in ("interaction", "targeted"):
        payload = draw(interaction if kind == "interaction" else targeted_interaction)
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


@fuzz_settings(100)
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


ODD_BODIES: dict[str, tuple[bytes, str]] = {
    "1 MB form": (b"payload=" + b"%7B" + b"a" * (1024 * 1024), FORM),
    "1 MB JSON": (
        json.dumps({"type": "event_callback", "x": "a" * (1024 * 1024 + 10)}).encode(),
        JSON,
    ),
    "just under 1 MB": (
        urlencode({"command": "/leak", "text": "status " + "x" * (1024 * 1024 - 200)}).encode(),
        FORM,
    ),
    "nesting deeper than the parser's recursion": (
        b"payload=" + b"%5B" * 200_000 + b"%5D" * 200_000,
        FORM,
    ),
    "latin-1 bytes": ("command=/leak&text=status \xe9\xff".encode("latin-1"), FORM),
    "invalid UTF-8 in JSON": (b'{"type": "event_callback", "event": {"type": "\xff\xfe"}}', JSON),
    "NUL characters": (b"command=%2Fleak&text=\x00\x00&user_id=\x00", FORM),
    "UTF-8 BOM": (
        b"\xef\xbb\xbf" + json.dumps({"type": "url_verification", "challenge": "c"}).encode(),
        JSON,
    ),
    "UTF-16": (json.dumps({"type": "url_verification", "challenge": "c"}).encode("utf-16"), JSON),
    "lone surrogate escapes": (
        b'payload={"type": "block_actions", "user": {"id": "\\ud800"}}',
        FORM,
    ),
}


async def test_huge_deep_and_undecodable_bodies(leakbot: Leakbot) -> None:
    """1 MB and more, nesting deeper than the JSON parser's recursion, bytes that are not
    UTF-8 — unsigned, forged, stale, and signed."""
    for name, (raw, content_type) in ODD_BODIES.items():
        before = await footprint(leakbot.store, leakbot.emulator)
        calls = len(leakbot.emulator.calls)
        for mode in ("unsigned", "forged", "stale", "signed"):
            leakbot.clock.advance(seconds=1)
            headers = headers_for(leakbot, raw, content_type, mode, 0, {})
            status, _ = await post_raw(leakbot, raw, headers)
            if mode == "signed":
                assert status in (200, 400, 401, 404, 413), (name, mode, status)
            else:
                assert status in (400, 401, 413), (name, mode, status)
                await nothing_written_since(leakbot, before, calls)


# -- (b) the intake modal ------------------------------------------------------------------------

JAPANESE = re.compile(r"[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef]")
NOW = int(T0.timestamp())
LENGTHS = [150, 199, 200, 201, 999, 1000, 1001, 3001]
long_ascii = st.builds(
    lambda ch, n: ch * n,
    st.sampled_from(["a", '"', "\\", "\x01", "\n", " "]),
    st.sampled_from(LENGTHS),
)
long_any = st.builds(
    lambda ch, n: ch * n,
    st.sampled_from(["あ", "a", '"', "\\", "\x01", "\n", "😀", " ", "<!channel>"]),
    st.sampled_from(LENGTHS),
)
numbers = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.integers().map(str),
    st.floats().map(str),
    st.sampled_from(
        ["", " 12 ", "1e3", "1.5", "-0", "-1", "١٢٣", "0x10", "9" * 5000, "1_000", "+5"]
    ),
    ascii_text,
)
moments = st.one_of(
    st.integers(min_value=-(10**13), max_value=10**13),
    st.sampled_from(
        [
            0,
            -1,
            NOW,
            NOW - 1,
            NOW + 1,
            NOW + 3600,
            253402300799,
            253402300800,
            -62135596800,
            -62135596801,
            -62135596800 - 9 * 3600,
            2**63,
            2**64,
        ]
    ),
    st.floats(),
    st.sampled_from(
        [
            "2026-01-01T00:00",
            "9999-12-31T23:59",
            "0001-01-01T00:00",
            "0001-01-01T00:00+14:00",
            "2026-11-26T10:00:00Z",
            "1970-01-01T00:00",
            "yesterday",
            "",
        ]
    ),
    ascii_text,
)


def element_states(kind: str, choices: list[str]) -> st.SearchStrategy[Any]:
    """`view.state.values[block][action]` for an input of `kind`: the right element type with
    odd values, or another element type altogether, or no element shape at all."""
    choice = st.sampled_from(choices) if choices else ascii_text
    texts = (any_text | long_any) if kind == "text" else (ascii_text | long_ascii)
    text_input = st.fixed_dictionaries(
        {"type": st.just("plain_text_input")},
        optional={"value": st.none() | texts | json_values},
    )
    number_input = st.fixed_dictionaries(
        {"type": st.just("number_input")}, optional={"value": st.none() | numbers | json_values}
    )
    datetimepicker = st.fixed_dictionaries(
        {"type": st.just("datetimepicker")},
        optional={"selected_date_time": st.none() | moments | json_values},
    )
    option = st.fixed_dictionaries(
        {}, optional={"value": choice | ascii_text | json_values, "text": json_values}
    )
    select = st.fixed_dictionaries(
        {"type": st.sampled_from(["static_select", "radio_buttons"])},
        optional={"selected_option": st.none() | option | json_values},
    )
    several = st.fixed_dictionaries(
        {"type": st.sampled_from(["checkboxes", "multi_static_select"])},
        optional={"selected_options": st.lists(option | json_values, max_size=4) | json_values},
    )
    right = {
        "text": text_input,
        "datetime": datetimepicker,
        "integer": number_input,
        "one_of": select,
        "several_of": several,
    }[kind]
    anything = st.dictionaries(ascii_text, json_values, max_size=3)
    return st.one_of(
        right, right, right, text_input, number_input, datetimepicker, select, several, anything
    )


def step_values(bot: Leakbot, step_index: int) -> st.SearchStrategy[dict[str, Any]]:
    """The state of one step's inputs as drawn junk: blocks missing, wrongly shaped, extra."""
    playbook = bot.playbook
    blocks: dict[str, st.SearchStrategy[Any]] = {}
    for qid in playbook.steps[step_index].questions:
        question = playbook.question(qid)
        element = element_states(question.kind, [c.value for c in question.choices])
        blocks[qid] = st.one_of(
            st.fixed_dictionaries({"value": element}),
            st.fixed_dictionaries({"value": element}),
            st.fixed_dictionaries({"other_action": element}),
            json_values,
        )
    others = [q.id for q in playbook.questions if q.id not in blocks]
    extra = st.dictionaries(
        st.sampled_from([*others, "leak_navigation", "reason"]) | ascii_text,
        st.fixed_dictionaries({"value": json_values}) | json_values,
        max_size=2,
    )
    return st.builds(
        lambda present, extra: {**extra, **present},
        st.fixed_dictionaries({}, optional=blocks),
        extra,
    )


def metadata_of(view: Mapping[str, Any]) -> dict[str, Any]:
    data = json.loads(str(view.get("private_metadata") or "{}"))
    assert isinstance(data, dict)
    return data


def assert_in_language(message: Any, lang: str) -> None:
    assert isinstance(message, str) and message.strip(), message
    assert len(message) <= 150, message
    for marker in TRACEBACK_MARKERS:
        assert marker not in message
    # Japanese catalog texts all have Japanese in them; English ones none (junk echoed back in
    # a message is ASCII by construction, see `ascii_text`).
    assert bool(JAPANESE.search(message)) == (lang == "ja"), (lang, message)


async def assert_no_half_written_incidents(bot: Leakbot, known: set[str]) -> None:
    """Every incident not in `known` is whole: answers that parse (all of them, the required
    partner included), its creation audited, its messages queued."""
    records = [r for r in await bot.store.list_incidents(limit=10_000) if r.id not in known]
    queued = {item.incident_id for item in await bot.store.outbox_items()}
    deps = bot.app.deps
    for record in records:
        assessed_at = datetime.fromisoformat(record.assessment["assessed_at"])
        answers = parse_answers(record.answers, bot.playbook, tz=deps.settings.tz, now=assessed_at)
        assert answers.text("partner") == record.partner
        trail = [a.action for a in await bot.store.audit_trail(record.id)]
        assert trail[:1] == ["incident.created"], (record.id, trail)
        assert record.id in queued, record.id


@fuzz_settings(30)
@given(data=st.data())
async def test_intake_modal_with_arbitrary_values(leakbot: Leakbot, data: st.DataObject) -> None:
    bot = leakbot
    emu = bot.emulator
    user, lang = data.draw(st.sampled_from([(REPORTER, "ja"), (REPORTER_EN, "en")]), label="user")
    valid_steps = data.draw(st.sampled_from([STEPS, MILD_STEPS]), label="fallback answers")
    known = {r.id for r in await bot.store.list_incidents(limit=10_000)}
    view_id = await bot.open_modal(user)
    steps = bot.playbook.steps
    for index, step in enumerate(steps):
        view = emu.view(view_id)
        assert metadata_of(view)["s"] == index
        inputs = {b["block_id"] for b in view["blocks"] if b.get("type") == "input"}
        assert inputs == set(step.questions)
        advanced = False
        for _ in range(data.draw(st.integers(min_value=1, max_value=3), label="tries")):
            values = data.draw(step_values(bot, index), label=f"step {index + 1} values")
            reply = await bot.slack.view_submission(view_id, user_id=user, values=values)
            assert reply.status == 200, (reply.status, reply.text[:500])
            ack = reply.json
            assert isinstance(ack, dict), reply.text[:500]
            if ack.get("response_action") == "errors":
                errors = ack.get("errors")
                assert isinstance(errors, dict) and errors, ack
                assert set(errors) <= inputs, (set(errors), inputs)
                for message in errors.values():
                    assert_in_language(message, lang)
                continue
            assert ack.get("response_action") == "update", ack
            advanced = True
            break
        if not advanced:
            reply = await bot.submit_step(view_id, user, valid_steps[index])
            assert (reply.json or {}).get("response_action") == "update", reply.json
        assert metadata_of(emu.view(view_id))["s"] == index + 1
    # The summary, confirmed.
    reply = await bot.slack.view_submission(view_id, user_id=user, values={})
    assert reply.status == 200, reply.text[:500]
    ack = reply.json
    assert isinstance(ack, dict) and ack.get("response_action") == "update", ack
    done = ack["view"].get("callback_id") == "leak_done"
    after = len(await bot.store.list_incidents(limit=10_000))
    assert after == len(known) + (1 if done else 0), (done, len(known), after)
    await assert_no_half_written_incidents(bot, known)
    # Its messages go out, and Slack would take every one of them.
    await bot.deliver()
    dead = [item for item in await bot.store.outbox_items() if item.status == "dead"]
    assert dead == [], [(item.kind, item.last_error) for item in dead]
    emu.assert_no_rejections()


LONGEST = [
    # (partner, description): at or near each field's limit, with characters that take several
    # characters each once JSON-escaped into the modal's private_metadata.
    ('"' * 200, "\x01" * 1000),
    ("\x01" * 200, '"\\' * 500),
    ("<!channel>" * 20, "\n" * 1000),
    ("あ" * 200, "😀" * 1000),
    ("a" * 200, "社外秘" * 333),
]


async def test_longest_texts_fit_or_get_a_clean_error(leakbot: Leakbot) -> None:
    """Texts within their limits can still overflow private_metadata (3,000 characters) once
    escaped: the step then answers with an error on the text saying how long it may be, and a
    text of that length goes through."""
    bot = leakbot
    overflowed = 0
    for partner, description in LONGEST:
        known = {r.id for r in await bot.store.list_incidents(limit=10_000)}
        steps = [dict(step) for step in STEPS]
        steps[0]["partner"], steps[-1]["description"] = partner, description
        view_id = await bot.open_modal(REPORTER)
        for index, answers in enumerate(steps):
            reply = await bot.submit_step(view_id, REPORTER, answers)
            ack = reply.json or {}
            if ack.get("response_action") == "errors":
                assert index == len(steps) - 1, ack
                [(block, message)] = ack["errors"].items()
                assert block == "description"
                assert_in_language(message, "ja")
                allowed, length = (int(n) for n in re.findall(r"\d+", message)[:2])
                assert length == len(description) and 0 < allowed < length, message
                overflowed += 1
                shorter = {**answers, "description": description[:allowed]}
                ack = (await bot.submit_step(view_id, REPORTER, shorter)).json or {}
            assert ack.get("response_action") == "update", ack
        reply = await bot.submit_step(view_id, REPORTER, {})
        assert (reply.json or {})["view"]["callback_id"] == "leak_done"
        await assert_no_half_written_incidents(bot, known)
        await bot.deliver()
        assert [i for i in await bot.store.outbox_items() if i.status != "sent"] == []
    assert overflowed >= 2  # the control characters, and quotes with backslashes
    bot.emulator.assert_no_rejections()
