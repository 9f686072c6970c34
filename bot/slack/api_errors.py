"""What a failed Web API call said, whatever came back.

slack_sdk raises `SlackApiError` with `response` holding Slack's JSON answer (a dict in `data`),
but not always: a text/plain answer leaves its text in `data` (a web server's "404: Not Found"
when SLACK_API_URL points elsewhere), an HTML page leaves `{}` (a proxy's or a load balancer's
503), and a body that is not JSON leaves aiohttp's own response (no `data`; `status`, not
`status_code`). Reading `exc.response.get("error")` then raised an AttributeError in the middle
of error handling. Every place that reads a failed call's answer goes through here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackApiError


def answer_fields(exc: SlackApiError) -> Mapping[str, Any]:
    """Slack's JSON answer; empty when the answer was not Slack's JSON."""
    data = getattr(exc.response, "data", None)
    return data if isinstance(data, dict) else {}


def http_status(exc: SlackApiError) -> int | None:
    response = exc.response
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    return status if isinstance(status, int) else None


def error_code(exc: SlackApiError) -> str:
    """Slack's error code (`invalid_auth`, `channel_not_found`, …), or "" without one."""
    return str(answer_fields(exc).get("error") or "")


def error_text(exc: SlackApiError) -> str:
    """Slack's error code, or what came back instead (`HTTP 503, not a Slack answer`)."""
    code = error_code(exc)
    if code:
        return code
    status = http_status(exc)
    return f"HTTP {status}, not a Slack answer" if status else "not a Slack answer"


def is_slack_answer(exc: SlackApiError) -> bool:
    """The answer was Slack's JSON (`ok` false, an error code), not another server's page."""
    return "ok" in answer_fields(exc)
