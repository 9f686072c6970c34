"""Refuse (400) a signed request whose body is not shaped like anything Slack sends.

Bolt reads its payloads without checking their shape (`body["event"]["type"]`,
`body["actions"][0]["action_id"]`, `body["view"]["type"]`…): a JSON `null` or a list where
Slack always sends an object makes Bolt's middleware, listener matchers — and even its error
handler — raise, and the request is answered 500 with nothing useful logged. This middleware runs
right after the signature check (so a request without a valid signature is still a plain 401)
and lets through only what has Slack's documented structure at the places Bolt and the listeners
rely on; the listeners stay defensive about everything else.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

log = logging.getLogger(__name__)

# Top-level fields that are strings whenever Slack sends them.
_STRINGS = (
    "type",
    "token",
    "command",
    "text",
    "callback_id",
    "action_id",
    "trigger_id",
    "response_url",
    "team_id",
    "team_domain",
    "user_id",
    "user_name",
    "channel_id",
    "channel_name",
    "api_app_id",
    "enterprise_id",
    "event_id",
    "challenge",
    "ssl_check",
)
# Objects, or (for some payloads) a plain id or null.
_OBJECT_OR_ID = ("user", "team", "enterprise", "channel")
# Objects or null ("view", when present, must be an object: Bolt reads it without a check).
_OBJECTS = ("container", "message", "state", "workflow_step")
_ACTION_TYPES = ("block_actions", "interactive_message")
_VIEW_TYPES = ("view_submission", "view_closed")


def _is_str(value: Any) -> bool:
    return value is None or isinstance(value, str)


def problem(body: Any) -> str | None:
    """What makes `body` unlike any Slack payload, or None when it is shaped like one."""
    if not isinstance(body, dict):
        return "the body is not an object"
    for key in _STRINGS:
        if not _is_str(body.get(key)):
            return f"{key} is not a string"
    for key in _OBJECT_OR_ID:
        if not (_is_str(body.get(key)) or isinstance(body.get(key), dict)):
            return f"{key} is not an object"
    for key in _OBJECTS:
        if body.get(key) is not None and not isinstance(body[key], dict):
            return f"{key} is not an object"
    if "view" in body and not isinstance(body["view"], dict):
        return "view is not an object"
    kind = body.get("type")
    if "event" in body:
        event = body["event"]
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return "event is not an object with a type"
    if "authorizations" in body and not (
        isinstance(body["authorizations"], list)
        and all(isinstance(item, dict) for item in body["authorizations"])
    ):
        return "authorizations is not a list of objects"
    if "actions" in body:
        actions = body["actions"]
        if not isinstance(actions, list) or not all(isinstance(a, dict) for a in actions):
            return "actions is not a list of objects"
        if kind in _ACTION_TYPES and not actions:
            return "no actions"
        if kind == "block_actions" and not all(
            isinstance(a.get("action_id"), str) for a in actions
        ):
            return "an action has no action_id"
    if kind in _VIEW_TYPES and "view" in body:
        view = body["view"]
        if not isinstance(view, dict) or not all(
            isinstance(view.get(key), str) for key in ("type", "callback_id")
        ):
            return "view has no type or callback_id"
    return None


class PayloadShapeCheck(AsyncMiddleware):
    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse:
        found = problem(req.body)
        if found is None:
            return await next()
        log.info("malformed request refused: %s", found)
        return BoltResponse(status=400, body="bad request")
