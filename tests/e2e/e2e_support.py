"""Small readers shared by the end-to-end tests (no fixtures here: see conftest.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from conftest import CHANNEL, Leakbot
from slackemu import RecordedCall, SlackEmulator, SlackReply, blockkit

from bot.store import IncidentRecord, Store

TRACEBACK_MARKERS = ("Traceback", 'File "')


def text_of(surface: Mapping[str, Any]) -> str:
    """A message's or view's text and every text in its blocks."""
    parts = [str(surface.get("text") or ""), blockkit.blocks_text(surface.get("blocks") or [])]
    for key in ("title", "submit", "close"):
        node = surface.get(key)
        if isinstance(node, Mapping):
            parts.append(str(node.get("text") or ""))
    return "\n".join(p for p in parts if p)


def inputs(view: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The view's input blocks by block_id."""
    return {
        str(block["block_id"]): block
        for block in view.get("blocks") or []
        if block.get("type") == "input"
    }


def first_context(view: Mapping[str, Any]) -> str:
    for block in view.get("blocks") or []:
        if block.get("type") == "context":
            return blockkit.blocks_text([block])
    raise AssertionError("the view has no context block")


def actions_blocks(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [b for b in message.get("blocks") or [] if b.get("type") == "actions"]


def decision_blocks(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The recommendation's decision controls (Approve, Choose, Send back), not the incident's
    own Update facts / Close / Reopen."""
    return [
        b for b in actions_blocks(message) if str(b.get("block_id", "")).startswith("leak_decision")
    ]


def channel_posts(emu: SlackEmulator, channel: str = CHANNEL) -> list[RecordedCall]:
    """Successful chat.postMessage calls to `channel` (top level, not thread replies)."""
    return [
        c
        for c in emu.successful_calls_to("chat.postMessage")
        if c.args["channel"] == channel and not c.args.get("thread_ts")
    ]


def dm_posts(emu: SlackEmulator, user_id: str) -> list[RecordedCall]:
    """Successful chat.postMessage calls to a user's DM (the app posts to the user id)."""
    dm = emu.dm_channel(user_id)
    return [
        c for c in emu.successful_calls_to("chat.postMessage") if c.args["channel"] in (user_id, dm)
    ]


def recommendation(emu: SlackEmulator, incident_id: str) -> dict[str, Any]:
    """The current recommendation message of an incident in the escalation channel."""
    found = [
        m
        for m in emu.messages(CHANNEL)
        if incident_id in str(m.get("text", "")) and not m.get("thread_ts")
    ]
    assert len(found) == 1, f"{len(found)} messages for {incident_id} in {CHANNEL}"
    return found[0]


def response_texts(emu: SlackEmulator, response_url: str | None) -> list[str]:
    assert response_url is not None
    return [str(body.get("text") or "") for body in emu.responses(response_url)]


@dataclass(frozen=True)
class Footprint:
    """Everything a request could have written."""

    incidents: int
    outbox: int
    audit: int
    api_calls: int


async def footprint(store: Store, emu: SlackEmulator) -> Footprint:
    incidents = await store.list_incidents(limit=10_000)
    outbox = await store.outbox_items()
    audit, _ = await store.audit_head()
    # Calls that change something in Slack (reads and modal acks left out).
    writes = [
        c
        for c in emu.calls
        if c.method.startswith(("chat.", "views.")) or c.method == "response_url"
    ]
    return Footprint(len(incidents), len(outbox), audit, len(writes))


async def incident(store: Store, incident_id: str) -> IncidentRecord:
    record = await store.get_incident(incident_id)
    assert record is not None, incident_id
    return record


def assert_no_traceback(text: str) -> None:
    for marker in TRACEBACK_MARKERS:
        assert marker not in text, text[:2000]


async def walk_to_confirm(
    bot: Leakbot, user_id: str, steps: list[dict[str, Any]]
) -> tuple[str, list[dict[str, Any]]]:
    """Open the modal and answer every step; returns the view id and each view seen."""
    view_id = await bot.open_modal(user_id)
    seen = [bot.emulator.view(view_id)]
    for answers in steps:
        reply = await bot.submit_step(view_id, user_id, answers)
        assert (reply.json or {}).get("response_action") == "update", reply.json
        seen.append(bot.emulator.view(view_id))
    return view_id, seen


def mrkdwn_texts(message: Mapping[str, Any]) -> list[str]:
    """Every text Slack reads as mrkdwn: the top-level `text` and the blocks' mrkdwn objects."""
    found = [str(message.get("text") or "")]

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            if node.get("type") == "mrkdwn":
                found.append(str(node.get("text") or ""))
                return
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.get("blocks") or [])
    return found


async def command_answer(
    bot: Leakbot, text: str, user_id: str
) -> tuple[SlackReply, dict[str, Any]]:
    """`/leak <text>`: acked at once with an empty body, answered through the response_url
    (the app looks up the user's locale and the approvers only after its ack)."""
    before = len(bot.emulator.calls_to("response_url"))
    reply = await bot.slack.slash_command("/leak", text, user_id=user_id)
    assert reply.status == 200, reply.text
    assert reply.text == "", reply.text  # the ack itself carries nothing
    await bot.emulator.wait_for_call("response_url", count=before + 1)
    [body] = bot.emulator.responses(reply.response_url or "")
    return reply, body
