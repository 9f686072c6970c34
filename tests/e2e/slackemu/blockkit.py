"""Block Kit checks, as pure functions: what Slack refuses with ``invalid_blocks``.

``validate_message(text, blocks)`` and ``validate_view(view)`` return one string per problem, in
Slack's own style: ``"must be less than 3001 characters [json-pointer:/blocks/0/text/text]"``.
An empty list means Slack would accept it (as far as these checks go: they cover the limits in
``LIMITS`` and the required fields, block and element types, and property names; they do not
check every format Slack checks, e.g. URLs or mrkdwn).

``action_id`` must be unique within its block (Slack's documented rule); pass
``action_id_scope="surface"`` to demand uniqueness in the whole message or view.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

__all__ = [
    "BLOCK_TYPES",
    "ELEMENT_TYPES",
    "INPUT_ELEMENT_TYPES",
    "LIMITS",
    "ActionIdScope",
    "blocks_text",
    "find_element",
    "iter_elements",
    "validate_blocks",
    "validate_message",
    "validate_view",
]

ActionIdScope = Literal["block", "surface"]

#: The numbers checked here (characters or items).
LIMITS: Final[Mapping[str, int]] = {
    "message_text": 40000,
    "message_blocks": 50,
    "view_blocks": 100,
    "section_text": 3000,
    "section_fields": 10,
    "section_field_text": 2000,
    "header_text": 150,
    "block_id": 255,
    "action_id": 255,
    "button_text": 75,
    "button_value": 2000,
    "url": 3000,
    "accessibility_label": 75,
    "option_text": 75,
    "option_value": 150,
    "option_description": 75,
    "select_options": 100,
    "option_groups": 100,
    "option_group_label": 75,
    "checkbox_options": 10,
    "radio_options": 10,
    "overflow_options": 5,
    "placeholder": 150,
    "actions_elements": 25,
    "context_elements": 10,
    "confirm_title": 100,
    "confirm_text": 300,
    "confirm_button": 30,
    "view_title": 24,
    "view_submit": 24,
    "view_close": 24,
    "private_metadata": 3000,
    "callback_id": 255,
    "external_id": 255,
    "input_label": 2000,
    "input_hint": 2000,
    "plain_text_input_length": 3000,
    "image_alt_text": 2000,
    "image_title": 2000,
}

_BLOCK_KEYS: Final[Mapping[str, frozenset[str]]] = {
    "section": frozenset({"type", "block_id", "text", "fields", "accessory", "expand"}),
    "header": frozenset({"type", "block_id", "text"}),
    "divider": frozenset({"type", "block_id"}),
    "context": frozenset({"type", "block_id", "elements"}),
    "actions": frozenset({"type", "block_id", "elements"}),
    "input": frozenset(
        {"type", "block_id", "label", "element", "dispatch_action", "hint", "optional"}
    ),
    "rich_text": frozenset({"type", "block_id", "elements"}),
    "image": frozenset({"type", "block_id", "image_url", "slack_file", "alt_text", "title"}),
}
#: Block types this validator knows; any other type is refused.
BLOCK_TYPES: Final[frozenset[str]] = frozenset(_BLOCK_KEYS)

_COMMON = frozenset({"type", "action_id"})
_FOCUS = frozenset({"focus_on_load"})
_SELECT = _COMMON | _FOCUS | {"placeholder", "confirm"}
_MULTI = frozenset({"max_selected_items"})
_TEXT_INPUT = _COMMON | _FOCUS | {"placeholder", "initial_value", "dispatch_action_config"}

_ELEMENT_KEYS: Final[Mapping[str, frozenset[str]]] = {
    "button": _COMMON | {"text", "url", "value", "style", "confirm", "accessibility_label"},
    "workflow_button": _COMMON | {"text", "workflow", "style", "accessibility_label"},
    "static_select": _SELECT | {"options", "option_groups", "initial_option"},
    "multi_static_select": _SELECT | _MULTI | {"options", "option_groups", "initial_options"},
    "external_select": _SELECT | {"initial_option", "min_query_length"},
    "multi_external_select": _SELECT | _MULTI | {"initial_options", "min_query_length"},
    "users_select": _SELECT | {"initial_user"},
    "multi_users_select": _SELECT | _MULTI | {"initial_users"},
    "conversations_select": _SELECT
    | {
        "initial_conversation",
        "default_to_current_conversation",
        "response_url_enabled",
        "filter",
    },
    "multi_conversations_select": _SELECT
    | _MULTI
    | {"initial_conversations", "default_to_current_conversation", "filter"},
    "channels_select": _SELECT | {"initial_channel", "response_url_enabled"},
    "multi_channels_select": _SELECT | _MULTI | {"initial_channels"},
    "overflow": _COMMON | {"options", "confirm"},
    "checkboxes": _COMMON | _FOCUS | {"options", "initial_options", "confirm"},
    "radio_buttons": _COMMON | _FOCUS | {"options", "initial_option", "confirm"},
    "datepicker": _COMMON | _FOCUS | {"initial_date", "confirm", "placeholder"},
    "timepicker": _COMMON | _FOCUS | {"initial_time", "confirm", "placeholder", "timezone"},
    "datetimepicker": _COMMON | _FOCUS | {"initial_date_time", "confirm"},
    "plain_text_input": _TEXT_INPUT | {"multiline", "min_length", "max_length"},
    "email_text_input": _TEXT_INPUT,
    "url_text_input": _TEXT_INPUT,
    "number_input": _TEXT_INPUT | {"is_decimal_allowed", "min_value", "max_value"},
    "rich_text_input": _TEXT_INPUT,
    "file_input": _COMMON | {"filetypes", "max_files"},
    "image": frozenset({"type", "image_url", "slack_file", "alt_text"}),
}
#: Element types this validator knows.
ELEMENT_TYPES: Final[frozenset[str]] = frozenset(_ELEMENT_KEYS)
#: Elements an ``input`` block may hold.
INPUT_ELEMENT_TYPES: Final[frozenset[str]] = frozenset(
    {
        "plain_text_input",
        "email_text_input",
        "url_text_input",
        "number_input",
        "rich_text_input",
        "file_input",
        "checkboxes",
        "radio_buttons",
        "datepicker",
        "timepicker",
        "datetimepicker",
        "static_select",
        "multi_static_select",
        "external_select",
        "multi_external_select",
        "users_select",
        "multi_users_select",
        "conversations_select",
        "multi_conversations_select",
        "channels_select",
        "multi_channels_select",
    }
)
_TEXT_TYPES: Final = frozenset({"plain_text", "mrkdwn"})
_TEXT_KEYS: Final = frozenset({"type", "text", "emoji", "verbatim"})
_VIEW_TYPES: Final = frozenset({"modal", "home"})
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@dataclass
class _Check:
    scope: ActionIdScope
    problems: list[str] = field(default_factory=list)
    block_ids: set[str] = field(default_factory=set)
    surface_action_ids: set[str] = field(default_factory=set)
    focus_paths: list[str] = field(default_factory=list)

    def err(self, path: str, message: str) -> None:
        self.problems.append(f"{message} [json-pointer:{path}]")


# ---------------------------------------------------------------------------- public API


def validate_message(
    text: Any, blocks: Any, *, action_id_scope: ActionIdScope = "block"
) -> list[str]:
    """Problems with a message's ``text`` and ``blocks`` (either may be ``None``)."""
    check = _Check(action_id_scope)
    if text is not None:
        if not isinstance(text, str):
            check.err("/text", "must be a string")
        elif len(text) > LIMITS["message_text"]:
            check.err("/text", f"must be less than {LIMITS['message_text'] + 1} characters")
    if blocks is not None:
        _blocks(check, blocks, "/blocks", LIMITS["message_blocks"])
    return check.problems


def validate_view(view: Any, *, action_id_scope: ActionIdScope = "block") -> list[str]:
    """Problems with a view (``type`` ``modal`` or ``home``), paths under ``/view``."""
    check = _Check(action_id_scope)
    if not isinstance(view, Mapping):
        check.err("/view", "must provide an object")
        return check.problems
    kind = view.get("type")
    if kind not in _VIEW_TYPES:
        check.err("/view/type", f"must be a valid enum value (modal, home), got {kind!r}")
    if kind == "modal":
        _text(check, view.get("title"), "/view/title", LIMITS["view_title"], plain=True)
        for name in ("submit", "close"):
            if view.get(name) is not None:
                _text(check, view[name], f"/view/{name}", LIMITS[f"view_{name}"], plain=True)
    blocks = view.get("blocks")
    if blocks is None:
        check.err("/view", "missing required field: blocks")
    else:
        _blocks(check, blocks, "/view/blocks", LIMITS["view_blocks"])
    for name in ("private_metadata", "callback_id", "external_id"):
        _string(check, view.get(name), f"/view/{name}", LIMITS[name], required=False)
    for name in ("clear_on_close", "notify_on_close", "submit_disabled"):
        _boolean(check, view.get(name), f"/view/{name}")
    if (
        kind == "modal"
        and view.get("submit") is None
        and isinstance(blocks, list)
        and any(isinstance(b, Mapping) and b.get("type") == "input" for b in blocks)
    ):
        check.err("/view/submit", "must provide `submit` when the view has input blocks")
    return check.problems


def validate_blocks(
    blocks: Any,
    *,
    max_blocks: int = LIMITS["message_blocks"],
    path: str = "/blocks",
    action_id_scope: ActionIdScope = "block",
) -> list[str]:
    """Problems with a bare list of blocks."""
    check = _Check(action_id_scope)
    _blocks(check, blocks, path, max_blocks)
    return check.problems


def iter_elements(blocks: Any) -> Iterator[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """Every interactive element as ``(block, element)``, in order."""
    if not isinstance(blocks, Sequence):
        return
    for block in blocks:
        if not isinstance(block, Mapping):
            continue
        candidates: list[Any] = []
        if block.get("type") == "actions":
            candidates.extend(block.get("elements") or [])
        elif block.get("type") == "section" and block.get("accessory") is not None:
            candidates.append(block["accessory"])
        elif block.get("type") == "input" and block.get("element") is not None:
            candidates.append(block["element"])
        for element in candidates:
            if isinstance(element, Mapping) and element.get("type") != "image":
                yield block, element


def find_element(
    blocks: Any, action_id: str, block_id: str | None = None
) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
    """The first ``(block, element)`` whose element has ``action_id`` (and block ``block_id``)."""
    for block, element in iter_elements(blocks):
        if element.get("action_id") != action_id:
            continue
        if block_id is None or block.get("block_id") == block_id:
            return block, element
    return None


def blocks_text(blocks: Any) -> str:
    """Every text string in the blocks, in order, one per line (for "contains" assertions)."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            if node.get("type") in _TEXT_TYPES and isinstance(node.get("text"), str):
                out.append(node["text"])
                return
            if node.get("type") == "text" and isinstance(node.get("text"), str):
                out.append(node["text"])  # rich_text leaf
                return
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return "\n".join(out)


# ---------------------------------------------------------------------------- blocks


def _blocks(check: _Check, blocks: Any, path: str, max_blocks: int) -> None:
    if not isinstance(blocks, list):
        check.err(path, "must be an array")
        return
    if len(blocks) > max_blocks:
        check.err(path, f"no more than {max_blocks} items allowed")
    for index, block in enumerate(blocks):
        _block(check, block, f"{path}/{index}")
    if len(check.focus_paths) > 1:
        for focus in check.focus_paths[1:]:
            check.err(focus, "only one element can have focus_on_load set to true")


def _block(check: _Check, block: Any, path: str) -> None:
    if not isinstance(block, Mapping):
        check.err(path, "must provide an object")
        return
    kind = block.get("type")
    if kind not in BLOCK_TYPES:
        check.err(f"{path}/type", f"invalid block type {kind!r}")
        return
    _unknown_keys(check, block, _BLOCK_KEYS[kind], path)
    block_id = block.get("block_id")
    if block_id is not None and _string(check, block_id, f"{path}/block_id", LIMITS["block_id"]):
        if block_id in check.block_ids:
            check.err(f"{path}/block_id", f"duplicate block_id {block_id!r}")
        check.block_ids.add(block_id)
    action_ids: set[str] = set()
    if kind == "section":
        _section(check, block, path, action_ids)
    elif kind == "header":
        _text(check, block.get("text"), f"{path}/text", LIMITS["header_text"], plain=True)
    elif kind == "context":
        elements = _array(check, block, "elements", path, LIMITS["context_elements"])
        for index, element in enumerate(elements):
            epath = f"{path}/elements/{index}"
            if isinstance(element, Mapping) and element.get("type") in _TEXT_TYPES:
                _text(check, element, epath, None)
            elif isinstance(element, Mapping) and element.get("type") == "image":
                _element(check, element, epath, action_ids)
            else:
                check.err(epath, "must be a text object or an image element")
    elif kind == "actions":
        elements = _array(check, block, "elements", path, LIMITS["actions_elements"])
        for index, element in enumerate(elements):
            epath = f"{path}/elements/{index}"
            if isinstance(element, Mapping) and element.get("type") == "image":
                check.err(f"{epath}/type", "an actions block cannot hold an image")
                continue
            _element(check, element, epath, action_ids)
    elif kind == "input":
        _text(check, block.get("label"), f"{path}/label", LIMITS["input_label"], plain=True)
        if block.get("hint") is not None:
            _text(check, block["hint"], f"{path}/hint", LIMITS["input_hint"], plain=True)
        _boolean(check, block.get("optional"), f"{path}/optional")
        _boolean(check, block.get("dispatch_action"), f"{path}/dispatch_action")
        element = block.get("element")
        if element is None:
            check.err(path, "missing required field: element")
        elif isinstance(element, Mapping) and element.get("type") not in INPUT_ELEMENT_TYPES:
            check.err(f"{path}/element/type", f"{element.get('type')!r} cannot be in an input")
        else:
            _element(check, element, f"{path}/element", action_ids)
    elif kind == "rich_text":
        _array(check, block, "elements", path, None)
    elif kind == "image":
        _image(check, block, path, title=True)


def _section(check: _Check, block: Mapping[str, Any], path: str, action_ids: set[str]) -> None:
    text, fields = block.get("text"), block.get("fields")
    if text is None and fields is None:
        check.err(path, "must provide either `text` or `fields`")
    if text is not None:
        _text(check, text, f"{path}/text", LIMITS["section_text"])
    if fields is not None:
        items = _array(check, block, "fields", path, LIMITS["section_fields"])
        for index, item in enumerate(items):
            _text(check, item, f"{path}/fields/{index}", LIMITS["section_field_text"])
    _boolean(check, block.get("expand"), f"{path}/expand")
    if block.get("accessory") is not None:
        _element(check, block["accessory"], f"{path}/accessory", action_ids)


# ---------------------------------------------------------------------------- elements


def _element(check: _Check, element: Any, path: str, action_ids: set[str]) -> None:
    if not isinstance(element, Mapping):
        check.err(path, "must provide an object")
        return
    kind = element.get("type")
    if kind not in ELEMENT_TYPES:
        check.err(f"{path}/type", f"invalid element type {kind!r}")
        return
    _unknown_keys(check, element, _ELEMENT_KEYS[kind], path)
    if kind == "image":
        _image(check, element, path, title=False)
        return
    action_id = element.get("action_id")
    if action_id is not None and _string(
        check, action_id, f"{path}/action_id", LIMITS["action_id"]
    ):
        seen = check.surface_action_ids if check.scope == "surface" else action_ids
        if action_id in seen:
            check.err(f"{path}/action_id", f"duplicate action_id {action_id!r}")
        seen.add(action_id)
    if element.get("focus_on_load") is True:
        check.focus_paths.append(f"{path}/focus_on_load")
    if element.get("confirm") is not None:
        _confirm(check, element["confirm"], f"{path}/confirm")
    if element.get("placeholder") is not None:
        _text(check, element["placeholder"], f"{path}/placeholder", LIMITS["placeholder"], True)
    if kind in ("button", "workflow_button"):
        _text(check, element.get("text"), f"{path}/text", LIMITS["button_text"], plain=True)
        _string(check, element.get("value"), f"{path}/value", LIMITS["button_value"], False)
        _string(check, element.get("url"), f"{path}/url", LIMITS["url"], required=False)
        _string(
            check,
            element.get("accessibility_label"),
            f"{path}/accessibility_label",
            LIMITS["accessibility_label"],
            required=False,
        )
        _enum(check, element.get("style"), f"{path}/style", ("primary", "danger"))
    elif kind in ("static_select", "multi_static_select"):
        _select_options(check, element, path)
    elif kind == "overflow":
        options = _array(check, element, "options", path, LIMITS["overflow_options"])
        _options(check, options, f"{path}/options", plain=True, urls=True)
    elif kind in ("checkboxes", "radio_buttons"):
        limit = LIMITS["checkbox_options" if kind == "checkboxes" else "radio_options"]
        options = _array(check, element, "options", path, limit)
        _options(check, options, f"{path}/options", plain=False, urls=False)
        _initial_options(check, element, options, path)
    elif kind == "plain_text_input":
        _plain_text_input(check, element, path)
    elif kind == "number_input":
        if not isinstance(element.get("is_decimal_allowed"), bool):
            check.err(path, "missing required field: is_decimal_allowed")
    elif kind == "datepicker":
        value = element.get("initial_date")
        if value is not None and not (isinstance(value, str) and _DATE.match(value)):
            check.err(f"{path}/initial_date", "must match the format YYYY-MM-DD")
    elif kind == "timepicker":
        value = element.get("initial_time")
        if value is not None and not (isinstance(value, str) and _TIME.match(value)):
            check.err(f"{path}/initial_time", "must match the format HH:mm")
    elif kind == "datetimepicker":
        value = element.get("initial_date_time")
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            check.err(f"{path}/initial_date_time", "must be an integer")
    if kind.startswith("multi_"):
        value = element.get("max_selected_items")
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            check.err(f"{path}/max_selected_items", "must be an integer")
        elif value is not None and value < 1:
            check.err(f"{path}/max_selected_items", "must be at least 1")


def _select_options(check: _Check, element: Mapping[str, Any], path: str) -> None:
    has_options = element.get("options") is not None
    has_groups = element.get("option_groups") is not None
    if has_options == has_groups:
        check.err(path, "must provide exactly one of `options` or `option_groups`")
    options: list[Any] = []
    if has_options:
        options = _array(check, element, "options", path, LIMITS["select_options"])
        _options(check, options, f"{path}/options", plain=True, urls=False)
    if has_groups:
        groups = _array(check, element, "option_groups", path, LIMITS["option_groups"])
        for index, group in enumerate(groups):
            gpath = f"{path}/option_groups/{index}"
            if not isinstance(group, Mapping):
                check.err(gpath, "must provide an object")
                continue
            _text(check, group.get("label"), f"{gpath}/label", LIMITS["option_group_label"], True)
            items = _array(check, group, "options", gpath, LIMITS["select_options"])
            _options(check, items, f"{gpath}/options", plain=True, urls=False)
            options.extend(items)
    _initial_options(check, element, options, path)


def _options(check: _Check, options: list[Any], path: str, *, plain: bool, urls: bool) -> None:
    for index, option in enumerate(options):
        opath = f"{path}/{index}"
        if not isinstance(option, Mapping):
            check.err(opath, "must provide an object")
            continue
        allowed = {"text", "value", "description"} | ({"url"} if urls else set())
        _unknown_keys(check, option, frozenset(allowed), opath)
        _text(check, option.get("text"), f"{opath}/text", LIMITS["option_text"], plain=plain)
        _string(check, option.get("value"), f"{opath}/value", LIMITS["option_value"])
        if option.get("description") is not None:
            _text(
                check, option["description"], f"{opath}/description", LIMITS["option_description"]
            )
        if urls:
            _string(check, option.get("url"), f"{opath}/url", LIMITS["url"], required=False)


def _initial_options(
    check: _Check, element: Mapping[str, Any], options: list[Any], path: str
) -> None:
    known = {_option_key(o) for o in options if isinstance(o, Mapping)}
    initial: list[tuple[str, Any]] = []
    if element.get("initial_option") is not None:
        initial.append(("initial_option", element["initial_option"]))
    if element.get("initial_options") is not None:
        values = element["initial_options"]
        if not isinstance(values, list):
            check.err(f"{path}/initial_options", "must be an array")
        else:
            initial.extend((f"initial_options/{i}", o) for i, o in enumerate(values))
    for name, option in initial:
        if not isinstance(option, Mapping) or _option_key(option) not in known:
            check.err(f"{path}/{name}", "must match one of the provided options")


def _option_key(option: Mapping[str, Any]) -> tuple[Any, Any]:
    text = option.get("text")
    return option.get("value"), text.get("text") if isinstance(text, Mapping) else text


def _plain_text_input(check: _Check, element: Mapping[str, Any], path: str) -> None:
    limit = LIMITS["plain_text_input_length"]
    bounds: dict[str, int] = {}
    for name, low in (("min_length", 0), ("max_length", 1)):
        value = element.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            check.err(f"{path}/{name}", "must be an integer")
        elif not low <= value <= limit:
            check.err(f"{path}/{name}", f"must be between {low} and {limit}")
        else:
            bounds[name] = value
    if bounds.get("min_length", 0) > bounds.get("max_length", limit):
        check.err(f"{path}/min_length", "must not be more than max_length")
    _string(check, element.get("initial_value"), f"{path}/initial_value", None, required=False)
    _boolean(check, element.get("multiline"), f"{path}/multiline")


def _confirm(check: _Check, confirm: Any, path: str) -> None:
    if not isinstance(confirm, Mapping):
        check.err(path, "must provide an object")
        return
    _unknown_keys(check, confirm, frozenset({"title", "text", "confirm", "deny", "style"}), path)
    _text(check, confirm.get("title"), f"{path}/title", LIMITS["confirm_title"], plain=True)
    _text(check, confirm.get("text"), f"{path}/text", LIMITS["confirm_text"])
    for name in ("confirm", "deny"):
        _text(check, confirm.get(name), f"{path}/{name}", LIMITS["confirm_button"], plain=True)
    _enum(check, confirm.get("style"), f"{path}/style", ("primary", "danger"))


def _image(check: _Check, node: Mapping[str, Any], path: str, *, title: bool) -> None:
    if node.get("image_url") is None and node.get("slack_file") is None:
        check.err(path, "must provide either `image_url` or `slack_file`")
    _string(check, node.get("image_url"), f"{path}/image_url", LIMITS["url"], required=False)
    _string(check, node.get("alt_text"), f"{path}/alt_text", LIMITS["image_alt_text"])
    if title and node.get("title") is not None:
        _text(check, node["title"], f"{path}/title", LIMITS["image_title"], plain=True)


# ---------------------------------------------------------------------------- primitives


def _text(check: _Check, obj: Any, path: str, max_len: int | None, plain: bool = False) -> None:
    """A text object: ``{"type": "plain_text"|"mrkdwn", "text": "..."}``."""
    if obj is None:
        check.err(path.rsplit("/", 1)[0] or "/", f"missing required field: {_leaf(path)}")
        return
    if not isinstance(obj, Mapping):
        check.err(path, "must provide an object")
        return
    _unknown_keys(check, obj, _TEXT_KEYS, path)
    kind = obj.get("type")
    if plain and kind != "plain_text":
        check.err(f"{path}/type", f"must be plain_text, got {kind!r}")
    elif kind not in _TEXT_TYPES:
        check.err(f"{path}/type", f"must be plain_text or mrkdwn, got {kind!r}")
    text = obj.get("text")
    if not isinstance(text, str):
        check.err(f"{path}/text", "must be a string")
    elif not text:
        check.err(f"{path}/text", "must be more than 0 characters")
    elif max_len is not None and len(text) > max_len:
        check.err(f"{path}/text", f"must be less than {max_len + 1} characters")


def _string(
    check: _Check, value: Any, path: str, max_len: int | None, required: bool = True
) -> bool:
    """True when ``value`` is a usable string."""
    if value is None:
        if required:
            check.err(path.rsplit("/", 1)[0] or "/", f"missing required field: {_leaf(path)}")
        return False
    if not isinstance(value, str):
        check.err(path, "must be a string")
        return False
    if required and not value:
        check.err(path, "must be more than 0 characters")
        return False
    if max_len is not None and len(value) > max_len:
        check.err(path, f"must be less than {max_len + 1} characters")
        return False
    return True


def _array(
    check: _Check, node: Mapping[str, Any], name: str, path: str, max_items: int | None
) -> list[Any]:
    value = node.get(name)
    if value is None:
        check.err(path, f"missing required field: {name}")
        return []
    if not isinstance(value, list):
        check.err(f"{path}/{name}", "must be an array")
        return []
    if not value:
        check.err(f"{path}/{name}", "must provide at least 1 item")
    if max_items is not None and len(value) > max_items:
        check.err(f"{path}/{name}", f"no more than {max_items} items allowed")
    return value


def _boolean(check: _Check, value: Any, path: str) -> None:
    if value is not None and not isinstance(value, bool):
        check.err(path, "must be a boolean")


def _enum(check: _Check, value: Any, path: str, allowed: Sequence[str]) -> None:
    if value is not None and value not in allowed:
        check.err(path, f"must be a valid enum value ({', '.join(allowed)}), got {value!r}")


def _unknown_keys(
    check: _Check, node: Mapping[str, Any], allowed: frozenset[str], path: str
) -> None:
    for key in node:
        if key not in allowed:
            check.err(f"{path}/{key}", f"invalid additional property: {key}")


def _leaf(path: str) -> str:
    return path.rsplit("/", 1)[-1]
