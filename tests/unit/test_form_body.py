"""An interaction's form body decoded as Bolt decodes it (bot/slack/form_body.py), faster.

Each body is compared with Bolt's own `parse_body` (urllib's parse_qsl and unquote): equal
payloads, or None where Bolt must parse it itself; and the request handed to Bolt is the one
`to_bolt_request` builds."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from aiohttp.test_utils import make_mocked_request
from slack_bolt.adapter.aiohttp import to_bolt_request
from slack_bolt.request.internals import parse_body

from bot.slack.form_body import bolt_request, interaction_payload

FORM = "application/x-www-form-urlencoded"
TEXT = "個人情報の漏えい: a+b=c & d%e_f ~*'()!\t\"\\ 😀 ＡＢＣ"
CLICK: dict[str, Any] = {
    "type": "block_actions",
    "user": {"id": "UAPPROVER1", "team_id": "T0LEAKTEAM"},
    "team": {"id": "T0LEAKTEAM"},
    "channel": {"id": "CESCALATE1"},
    "response_url": "https://hooks.slack.com/actions/T0/1/abc",
    "message": {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": TEXT}}] * 5},
    "actions": [{"action_id": "leak_approve", "value": "2026-0001:1:notify"}],
}


def form(payload: Any, *, ensure_ascii: bool = False) -> str:
    return urlencode({"payload": json.dumps(payload, ensure_ascii=ensure_ascii)})


@pytest.mark.parametrize(
    "body",
    [
        form(CLICK),
        form(CLICK, ensure_ascii=True),
        form({"type": "view_submission", "view": {"private_metadata": TEXT}}),
        # quote() instead of quote_plus(): spaces as %20, "/" kept, lower-case hex.
        "payload=" + quote(json.dumps(CLICK, ensure_ascii=False), safe="/:,").lower(),
        # Literal "=" in the value (parse_qsl splits at the first one only), before hex digits.
        "payload=" + json.dumps({"a": "x=y=41=e3=81=82"}).replace(" ", "+"),
    ],
)
def test_a_payload_as_bolt_parses_it(body: str) -> None:
    fast = interaction_payload(body, FORM)
    assert fast is not None
    assert fast == parse_body(body, FORM)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (form(CLICK) + "&other=1", FORM),  # two fields
        ("other=1&" + form(CLICK), FORM),
        (form(CLICK), "application/json"),  # Bolt reads it as JSON (and fails)
        ("command=%2Fleak&text=", FORM),  # a slash command
        ('{"type": "event_callback"}', FORM),  # JSON
        (form({"text": "100%"}).replace("%25", "%"), FORM),  # a lone "%": unquote keeps it
        (form({"text": "ab"}).replace("ab", "%zzab"), FORM),
        ("payload=" + quote('{"text": "\u3042"}')[:-6] + "%E3%81" + quote('"}'), FORM),  # cut
        ("payload=" + quote('{"text": "\u3042"}').replace("%E3", "%E3%0A"), FORM),  # not UTF-8
        ('payload={"a":\r\n"b"}', FORM),  # line breaks (quoted-printable's)
        ('payload={"a":\n"b"}', FORM),
        ("payload=" + '{"text": "\u3042"}', FORM),  # not ASCII
        (form(["a list"]), FORM),  # not an object: Bolt's outcome, whatever it is
    ],
)
def test_anything_else_is_left_to_bolt(body: str, content_type: str) -> None:
    assert interaction_payload(body, content_type) is None


def test_what_bolt_would_refuse_raises() -> None:
    with pytest.raises(json.JSONDecodeError):
        interaction_payload("payload=not-json", FORM)
    with pytest.raises(json.JSONDecodeError):
        parse_body("payload=not-json", FORM)


@pytest.mark.parametrize("body", [form(CLICK), "command=%2Fleak&text=hello+there"])
async def test_the_request_bolt_gets_is_the_one_it_builds(body: str) -> None:
    def request() -> Any:
        made = make_mocked_request(
            "POST",
            "/slack/events?x=1",
            headers={"Content-Type": FORM, "X-Slack-Signature": "v0=abc"},
        )
        made._read_bytes = body.encode()  # the body aiohttp read
        return made

    ours, bolts = await bolt_request(request()), await to_bolt_request(request())
    assert ours.raw_body == bolts.raw_body == body
    assert ours.body == bolts.body
    assert dict(ours.context) == dict(bolts.context)
    assert ours.context.user_id == "UAPPROVER1" or "command" in body
    assert (ours.query, ours.headers, ours.content_type, ours.mode) == (
        bolts.query,
        bolts.headers,
        bolts.content_type,
        bolts.mode,
    )
    assert (ours.lazy_only, ours.lazy_function_name) == (bolts.lazy_only, bolts.lazy_function_name)
