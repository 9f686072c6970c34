"""Builders for what Slack sends to an app, shaped like Slack's documented payloads (pure).

- ``slash_command(...)`` -> the form fields of a slash command request;
- ``block_actions(...)``, ``view_submission(...)``, ``view_closed(...)`` -> the interaction
  payload (sent as the form field ``payload=<JSON>``);
- ``event_callback(event, ...)`` and ``url_verification(...)`` -> Events API JSON bodies, with
  ``message_event``, ``app_mention_event`` and ``app_home_opened_event`` for common events;
- ``values_from_answers(view, answers)`` -> ``view.state.values`` as Slack would fill it.

The workspace (team, app, bot) comes from a ``Workspace``; the emulator has one (``emu.workspace``).
"""

from __future__ import annotations

import json
import random
import time as _time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as dtime
from decimal import Decimal, InvalidOperation
from typing import Any

from .blockkit import find_element, iter_elements

__all__ = [
    "DEFAULT_WORKSPACE",
    "Workspace",
    "app_home_opened_event",
    "app_mention_event",
    "block_actions",
    "event_callback",
    "message_event",
    "new_trigger_id",
    "slash_command",
    "state_value",
    "url_verification",
    "values_from_answers",
    "view_closed",
    "view_submission",
]

_VERIFICATION_TOKEN = "legacy-verification-token"


@dataclass(frozen=True)
class Workspace:
    """The ids Slack puts in every payload."""

    team_id: str = "T0LEAKTEAM"
    team_domain: str = "leakbot-test"
    team_name: str = "Leakbot Test"
    api_app_id: str = "A0LEAKAPP1"
    bot_user_id: str = "U0LEAKBOT1"
    bot_id: str = "B0LEAKBOT1"
    enterprise_id: str | None = None
    verification_token: str = _VERIFICATION_TOKEN

    def team(self) -> dict[str, Any]:
        """``{"id", "domain"}`` as in interaction payloads."""
        return {"id": self.team_id, "domain": self.team_domain}

    def enterprise(self) -> dict[str, Any] | None:
        """The ``enterprise`` object, or ``None``."""
        if self.enterprise_id is None:
            return None
        return {"id": self.enterprise_id, "name": "Leakbot Enterprise"}


DEFAULT_WORKSPACE = Workspace()


def new_trigger_id(rng: random.Random | None = None) -> str:
    """A fresh trigger id shaped like Slack's (``"398738663015.47445629121.803a…"``)."""
    r = rng or random.Random()
    return f"{r.randrange(10**11, 10**12)}.{r.randrange(10**10, 10**11)}.{r.getrandbits(128):032x}"


def _user(user_id: str, user_name: str | None, workspace: Workspace) -> dict[str, Any]:
    name = user_name or user_id.lower()
    return {"id": user_id, "username": name, "name": name, "team_id": workspace.team_id}


def _action_ts() -> str:
    return f"{_time.time():.6f}"


# ---------------------------------------------------------------------------- commands


def slash_command(
    command: str,
    text: str = "",
    *,
    user_id: str,
    user_name: str | None = None,
    channel_id: str = "C0LEAKCHAN",
    channel_name: str = "general",
    response_url: str,
    trigger_id: str,
    workspace: Workspace = DEFAULT_WORKSPACE,
) -> dict[str, str]:
    """The form fields of a slash command request, in Slack's order."""
    fields = {
        "token": workspace.verification_token,
        "team_id": workspace.team_id,
        "team_domain": workspace.team_domain,
    }
    if workspace.enterprise_id is not None:
        fields["enterprise_id"] = workspace.enterprise_id
        fields["enterprise_name"] = "Leakbot Enterprise"
    fields.update(
        {
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name or user_id.lower(),
            "command": command if command.startswith("/") else f"/{command}",
            "text": text,
            "api_app_id": workspace.api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
    )
    return fields


# ---------------------------------------------------------------------------- interactions


def block_actions(
    action_id: str,
    *,
    user_id: str,
    trigger_id: str,
    user_name: str | None = None,
    value: str | None = None,
    selected_option: Mapping[str, Any] | str | None = None,
    selected_options: Sequence[Mapping[str, Any] | str] | None = None,
    action_type: str | None = None,
    block_id: str | None = None,
    channel_id: str | None = None,
    channel_name: str = "general",
    message: Mapping[str, Any] | None = None,
    message_ts: str | None = None,
    is_ephemeral: bool = False,
    view: Mapping[str, Any] | None = None,
    state_values: Mapping[str, Any] | None = None,
    response_url: str | None = None,
    action: Mapping[str, Any] | None = None,
    workspace: Workspace = DEFAULT_WORKSPACE,
) -> dict[str, Any]:
    """A ``block_actions`` payload for one action, from a message or from a view.

    When ``message`` / ``view`` holds the element, its block id, type, text and (for buttons)
    value are taken from it, and a ``selected_option`` given as a value is looked up in its
    options; ``ValueError`` if the element is not there. ``action`` adds or overrides fields.
    """
    source = view if view is not None else message
    source_blocks = source.get("blocks") if source is not None else None
    found = find_element(source_blocks, action_id, block_id) if source_blocks else None
    if source is not None and found is None:
        where = "view" if view is not None else "message"
        raise ValueError(f"no element with action_id {action_id!r} in the {where}")
    element: Mapping[str, Any] = found[1] if found else {}
    if found is not None:
        block_id = block_id or found[0].get("block_id")
    kind = action_type or element.get("type")
    if kind is None:
        kind = "static_select" if selected_option is not None else "button"
    act: dict[str, Any] = {
        "action_id": action_id,
        "block_id": block_id or "blk",
        "type": kind,
        "action_ts": _action_ts(),
    }
    if kind == "button":
        act["text"] = element.get("text") or {"type": "plain_text", "text": action_id}
        button_value = value if value is not None else element.get("value")
        if button_value is not None:
            act["value"] = button_value
        if element.get("style") is not None:
            act["style"] = element["style"]
    elif value is not None:
        act["value"] = value
    if selected_option is not None:
        act["selected_option"] = _resolve_option(element, selected_option)
    if selected_options is not None:
        act["selected_options"] = [_resolve_option(element, o) for o in selected_options]
    if element.get("placeholder") is not None:
        act["placeholder"] = element["placeholder"]
    act.update(action or {})

    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id, user_name, workspace),
        "api_app_id": workspace.api_app_id,
        "token": workspace.verification_token,
        "trigger_id": trigger_id,
        "team": workspace.team(),
        "enterprise": workspace.enterprise(),
        "is_enterprise_install": False,
    }
    if view is not None:
        full_view = dict(view)
        full_view["state"] = {"values": dict(state_values or {})}
        payload["container"] = {"type": "view", "view_id": view.get("id")}
        payload["view"] = full_view
    else:
        ts = message_ts or (message or {}).get("ts")
        payload["container"] = {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel_id,
            "is_ephemeral": is_ephemeral,
        }
        payload["channel"] = {"id": channel_id, "name": channel_name}
        if message is not None and not is_ephemeral:
            payload["message"] = dict(message)
        payload["state"] = {"values": dict(state_values or {})}
        if response_url is not None:
            payload["response_url"] = response_url
    payload["actions"] = [act]
    return payload


def view_submission(
    view: Mapping[str, Any],
    values: Mapping[str, Any],
    *,
    user_id: str,
    trigger_id: str,
    user_name: str | None = None,
    response_urls: Sequence[Mapping[str, Any]] = (),
    workspace: Workspace = DEFAULT_WORKSPACE,
) -> dict[str, Any]:
    """A ``view_submission`` payload; ``values`` is ``{block_id: {action_id: {...}}}``."""
    return {
        "type": "view_submission",
        "team": workspace.team(),
        "user": _user(user_id, user_name, workspace),
        "api_app_id": workspace.api_app_id,
        "token": workspace.verification_token,
        "trigger_id": trigger_id,
        "view": _full_view(view, values, workspace),
        "response_urls": list(response_urls),
        "is_enterprise_install": False,
        "enterprise": workspace.enterprise(),
    }


def view_closed(
    view: Mapping[str, Any],
    *,
    user_id: str,
    user_name: str | None = None,
    is_cleared: bool = False,
    values: Mapping[str, Any] | None = None,
    workspace: Workspace = DEFAULT_WORKSPACE,
) -> dict[str, Any]:
    """A ``view_closed`` payload (sent only for views with ``notify_on_close``)."""
    return {
        "type": "view_closed",
        "team": workspace.team(),
        "user": _user(user_id, user_name, workspace),
        "api_app_id": workspace.api_app_id,
        "token": workspace.verification_token,
        "view": _full_view(view, values or {}, workspace),
        "is_cleared": is_cleared,
        "is_enterprise_install": False,
        "enterprise": workspace.enterprise(),
    }


def _full_view(
    view: Mapping[str, Any], values: Mapping[str, Any], workspace: Workspace
) -> dict[str, Any]:
    """The view as Slack echoes it: its stored fields, defaults for the rest, and ``state``."""
    view_id = view.get("id") or "V0000000000"
    full: dict[str, Any] = {
        "id": view_id,
        "team_id": workspace.team_id,
        "type": "modal",
        "blocks": [],
        "private_metadata": "",
        "callback_id": "",
        "hash": "1767225600.00000000",
        "title": None,
        "clear_on_close": False,
        "notify_on_close": False,
        "close": None,
        "submit": None,
        "previous_view_id": None,
        "root_view_id": view_id,
        "app_id": workspace.api_app_id,
        "external_id": "",
        "app_installed_team_id": workspace.team_id,
        "bot_id": workspace.bot_id,
    }
    full.update(view)
    full["state"] = {"values": dict(values)}
    return full


# ---------------------------------------------------------------------------- events


def event_callback(
    event: Mapping[str, Any],
    *,
    event_id: str | None = None,
    event_time: int | None = None,
    workspace: Workspace = DEFAULT_WORKSPACE,
) -> dict[str, Any]:
    """An ``event_callback`` envelope around ``event``."""
    when = event_time if event_time is not None else int(_time.time())
    return {
        "token": workspace.verification_token,
        "team_id": workspace.team_id,
        "enterprise_id": workspace.enterprise_id,
        "api_app_id": workspace.api_app_id,
        "event": dict(event),
        "type": "event_callback",
        "event_id": event_id or f"Ev{random.getrandbits(48):012X}",
        "event_time": when,
        "authorizations": [
            {
                "enterprise_id": workspace.enterprise_id,
                "team_id": workspace.team_id,
                "user_id": workspace.bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{random.getrandbits(64):016x}",
    }


def url_verification(
    challenge: str = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
    *,
    workspace: Workspace = DEFAULT_WORKSPACE,
) -> dict[str, Any]:
    """The ``url_verification`` body Slack sends when the request URL is set."""
    return {
        "token": workspace.verification_token,
        "challenge": challenge,
        "type": "url_verification",
    }


def message_event(
    *,
    channel: str,
    user: str,
    text: str,
    ts: str,
    channel_type: str = "channel",
    thread_ts: str | None = None,
    workspace: Workspace = DEFAULT_WORKSPACE,
) -> dict[str, Any]:
    """A ``message`` event (``channel_type`` ``"im"`` for a DM to the app)."""
    event: dict[str, Any] = {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "team": workspace.team_id,
        "channel_type": channel_type,
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event


def app_mention_event(
    *, channel: str, user: str, text: str, ts: str, workspace: Workspace = DEFAULT_WORKSPACE
) -> dict[str, Any]:
    """An ``app_mention`` event."""
    return {
        "type": "app_mention",
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "team": workspace.team_id,
    }


def app_home_opened_event(
    *, user: str, channel: str = "D0LEAKHOME", tab: str = "home", view: Any = None
) -> dict[str, Any]:
    """An ``app_home_opened`` event."""
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user,
        "channel": channel,
        "tab": tab,
        "event_ts": _action_ts(),
    }
    if view is not None:
        event["view"] = view
    return event


# ---------------------------------------------------------------------------- view state


def values_from_answers(
    view: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    answers: Mapping[str, Any],
    *,
    enforce_required: bool = True,
) -> dict[str, dict[str, dict[str, Any]]]:
    """``view.state.values`` for a user who gave ``answers``.

    Keys of ``answers`` are block ids or action ids; values are plain Python:
    ``str`` for text inputs and single selects (an option *value*), a list of option values
    for multi selects and checkboxes, a number for ``number_input``, ``date``/``time``/aware
    ``datetime`` (or their Slack strings / epoch int) for the pickers, user/channel ids for
    those selects. Every input block appears (empty as Slack leaves it); other interactive
    elements appear only when answered. ``ValueError`` for an unknown key, an unknown option,
    or what Slack's client would not let the user submit (a missing required input, a text
    outside ``min_length``/``max_length``, a number outside its bounds).
    """
    blocks = view.get("blocks", []) if isinstance(view, Mapping) else view
    remaining = dict(answers)
    values: dict[str, dict[str, dict[str, Any]]] = {}
    for block, element in iter_elements(blocks):
        block_id, action_id = block.get("block_id"), element.get("action_id")
        if not isinstance(block_id, str) or not isinstance(action_id, str):
            raise ValueError(f"element {element.get('type')} lacks a block_id or action_id")
        key = block_id if block_id in remaining else action_id if action_id in remaining else None
        is_input = block.get("type") == "input"
        if key is None:
            if not is_input:
                continue
            if enforce_required and not block.get("optional", False):
                raise ValueError(f"required input {block_id!r} has no answer")
            values.setdefault(block_id, {})[action_id] = state_value(element, None)
            continue
        answer = remaining.pop(key)
        if (
            is_input
            and enforce_required
            and not block.get("optional", False)
            and answer in (None, "", [])
        ):
            raise ValueError(f"required input {block_id!r} has no answer")
        values.setdefault(block_id, {})[action_id] = state_value(element, answer)
    if remaining:
        raise ValueError(f"no input for answers {sorted(remaining)}")
    return values


def state_value(element: Mapping[str, Any], answer: Any) -> dict[str, Any]:
    """The ``state.values`` entry of one element for ``answer`` (``None``: left empty)."""
    kind = element.get("type")
    out: dict[str, Any] = {"type": kind}
    if kind in ("plain_text_input", "email_text_input", "url_text_input"):
        if answer is not None and not isinstance(answer, str):
            raise ValueError(f"{kind} needs a str, got {answer!r}")
        if answer and kind == "plain_text_input":
            low, high = element.get("min_length", 0), element.get("max_length", 3000)
            if not low <= len(answer) <= high:
                raise ValueError(f"{len(answer)} characters, outside {low}..{high}")
        out["value"] = answer if answer != "" else None
    elif kind == "number_input":
        out["value"] = None if answer is None else _number(element, answer)
    elif kind in ("static_select", "external_select", "radio_buttons"):
        out["selected_option"] = None if answer is None else _resolve_option(element, answer)
    elif kind in ("multi_static_select", "multi_external_select", "checkboxes"):
        out["selected_options"] = [_resolve_option(element, a) for a in _listed(answer)]
    elif kind in ("users_select", "conversations_select", "channels_select"):
        out[_SELECTED[kind]] = answer
    elif kind in ("multi_users_select", "multi_conversations_select", "multi_channels_select"):
        out[_SELECTED[kind]] = list(_listed(answer))
    elif kind == "datepicker":
        out["selected_date"] = answer.isoformat() if isinstance(answer, date) else answer
    elif kind == "timepicker":
        out["selected_time"] = answer.strftime("%H:%M") if isinstance(answer, dtime) else answer
    elif kind == "datetimepicker":
        if isinstance(answer, datetime):
            if answer.tzinfo is None:
                raise ValueError("datetimepicker needs an aware datetime")
            answer = int(answer.timestamp())
        out["selected_date_time"] = answer
    elif kind == "rich_text_input":
        out["rich_text_value"] = _rich_text(answer) if isinstance(answer, str) else answer
    elif kind == "file_input":
        out["files"] = list(_listed(answer))
    else:
        out["value"] = answer
    return out


_SELECTED = {
    "users_select": "selected_user",
    "conversations_select": "selected_conversation",
    "channels_select": "selected_channel",
    "multi_users_select": "selected_users",
    "multi_conversations_select": "selected_conversations",
    "multi_channels_select": "selected_channels",
}


def _listed(answer: Any) -> Sequence[Any]:
    if answer is None:
        return []
    if isinstance(answer, str | Mapping):
        return [answer]
    return list(answer)


def _number(element: Mapping[str, Any], answer: Any) -> str:
    text = str(answer)
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"number_input: {answer!r} is not a number") from exc
    if not element.get("is_decimal_allowed", False) and number != number.to_integral_value():
        raise ValueError(f"number_input: {answer!r} is not a whole number")
    for bound, ok in (("min_value", number.__ge__), ("max_value", number.__le__)):
        if element.get(bound) is not None and not ok(Decimal(str(element[bound]))):
            raise ValueError(f"number_input: {answer!r} breaks {bound}={element[bound]}")
    return text


def _all_options(element: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return options


def _resolve_option(element: Mapping[str, Any], answer: Mapping[str, Any] | str) -> dict[str, Any]:
    """An option object for ``answer`` (an option value, or an option object as is)."""
    if isinstance(answer, Mapping):
        return dict(answer)
    options = _all_options(element)
    if not options:  # external selects, or no element known: make one up
        return {"text": {"type": "plain_text", "text": answer, "emoji": True}, "value": answer}
    for option in options:
        if option.get("value") == answer:
            return dict(option)
    values = [o.get("value") for o in options]
    raise ValueError(f"{answer!r} is not an option of {element.get('action_id')!r}: {values}")


def _rich_text(text: str) -> dict[str, Any]:
    return {
        "type": "rich_text",
        "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
    }


def dumps(payload: Mapping[str, Any]) -> str:
    """JSON as Slack sends it (compact, non-ASCII kept)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
