"""bot/slack/api_errors.py against real slack_sdk errors from a real local HTTP server: Slack's
JSON refusal, and the three other things slack_sdk hands over when the answer is not Slack's
(a text page, an HTML page, a body that is not JSON)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.api_errors import (
    answer_fields,
    error_code,
    error_text,
    http_status,
    is_slack_answer,
)


async def _refused(_request: web.Request) -> web.Response:
    return web.json_response({"ok": False, "error": "invalid_auth"})


async def _html(_request: web.Request) -> web.Response:
    return web.Response(
        status=503, text="<html>Service Unavailable</html>", content_type="text/html"
    )


async def _plain(_request: web.Request) -> web.Response:
    return web.Response(status=404, text="404: Not Found")


async def _broken_json(_request: web.Request) -> web.Response:
    return web.Response(status=502, text="{not json", content_type="application/json")


@pytest.fixture
async def server() -> AsyncIterator[str]:
    app = web.Application()
    for path, handler in [
        ("refused", _refused),
        ("html", _html),
        ("plain", _plain),
        ("broken", _broken_json),
    ]:
        app.router.add_post(f"/{path}/auth.test", handler)
    async with TestServer(app, host="127.0.0.1") as test_server:
        yield str(test_server.make_url("")).rstrip("/")


async def _failure(base: str, path: str) -> SlackApiError:
    client = AsyncWebClient(token="xoxb-test", base_url=f"{base}/{path}/")
    with pytest.raises(SlackApiError) as caught:
        await client.auth_test()
    return caught.value


@pytest.mark.parametrize(
    ("path", "fields", "code", "text", "status", "slack"),
    [
        (
            "refused",
            {"ok": False, "error": "invalid_auth"},
            "invalid_auth",
            "invalid_auth",
            200,
            True,
        ),
        ("html", {}, "", "HTTP 503, not a Slack answer", 503, False),
        ("plain", {}, "", "HTTP 404, not a Slack answer", 404, False),
        ("broken", {}, "", "HTTP 502, not a Slack answer", 502, False),
    ],
)
async def test_every_shape_of_a_failed_call(
    server: str,
    path: str,
    fields: dict[str, object],
    code: str,
    text: str,
    status: int,
    slack: bool,
) -> None:
    exc = await _failure(server, path)
    assert dict(answer_fields(exc)) == fields
    assert (error_code(exc), error_text(exc), http_status(exc), is_slack_answer(exc)) == (
        code,
        text,
        status,
        slack,
    )
