"""Slack's request body handed to Bolt, an interaction's form decoded without Bolt's slow path.

An interaction (a click, a modal's submission) arrives as `payload=<JSON, percent-encoded>`, and
its JSON holds the whole message or view it came from: in Japanese every character is three
`%XX` escapes. Bolt parses it with `urllib.parse.parse_qsl`, whose `unquote` decodes the escapes
one by one in Python (~1 ms of CPU per 14 KB body, before the ack: bench/README.md, "Issue 14,
pgclick"). Here the escapes are decoded in C: `%XX` written as quoted-printable's `=XX` (a
literal `=` as `=3D`) and decoded by `binascii.a2b_qp`, then UTF-8. Anything that decoding could
read otherwise (another field, a JSON body, a `%` not followed by two hex digits: the decoded
length tells, a line break, a non-ASCII character, bytes that are not strict UTF-8 where
`unquote` puts U+FFFD) goes through Bolt's own parsing, so Bolt sees the same request either
way.
"""

from __future__ import annotations

import binascii
import json
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_bolt_request
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest

_PAYLOAD = "payload="


def interaction_payload(body: str, content_type: str | None) -> dict[str, Any] | None:
    """What Bolt's `parse_body` returns for `body` when it is one `payload` field of a JSON
    object; None when Bolt should parse it. Raises as `json.loads` does."""
    if (
        content_type == "application/json"
        or not body.startswith(_PAYLOAD)
        or "&" in body  # more than one field: parse_qsl's rules
        or "\n" in body  # a2b_qp's soft line break
        or "\r" in body
        or not body.isascii()
    ):
        return None
    quoted = body[len(_PAYLOAD) :].replace("+", " ").replace("=", "=3D").replace("%", "=")
    decoded = binascii.a2b_qp(quoted)
    if len(decoded) != len(quoted) - 2 * quoted.count("="):
        # Not every `=` began a hex escape (a lone `%`, which unquote keeps as it is).
        return None
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        return None
    payload = json.loads(text)
    return payload if isinstance(payload, dict) else None


async def bolt_request(request: web.Request) -> AsyncBoltRequest:
    """`slack_bolt.adapter.aiohttp.to_bolt_request`, with an interaction's payload decoded by
    `interaction_payload`. Raises on a body Bolt cannot parse either."""
    raw = await request.text()
    # Query, headers, content type and mode as Bolt sets them; the body is set below.
    bolt = AsyncBoltRequest(body="", query=request.query_string, headers=request.headers)  # type: ignore[arg-type]
    payload = interaction_payload(raw, bolt.content_type)
    if payload is None:
        return await to_bolt_request(request)
    bolt.raw_body = raw  # what the signature check verifies
    bolt.body = payload
    bolt.context = build_async_context(AsyncBoltContext({}), payload)
    return bolt
