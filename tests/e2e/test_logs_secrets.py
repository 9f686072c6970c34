"""What leakbot logs during a whole flow: JSON lines, with the incident id, and no secrets.

The flow runs with `bot.logs.setup_logging("DEBUG", …)` (what `leakbot run` installs), so every
library's DEBUG output goes through the same handler: Bolt, slack_sdk, aiohttp, SQLAlchemy and
the database drivers. Sensitive here: the bot token and the signing secret, and what people
typed — the partner's name, the description (which may quote the leaked data itself), the
reason for sending an incident back. None of it may appear in any log line.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from conftest import (
    APPROVER_1,
    APPROVER_2,
    CHANNEL,
    MILD_STEPS,
    REPORTER,
    SECRET,
    STEPS,
    Leakbot,
)
from e2e_support import command_answer

from bot.logs import setup_logging

BOT_TOKEN = "xoxb-e2e-token"
PARTNER = "株式会社ゼータ機密商事"
DESCRIPTION = "社外秘-XYZZY-顧客名簿"
MILD_PARTNER = "Plugh Widgets KK"
MILD_DESCRIPTION = "internal memo FROBOZZ leaked"
REASON = "差し戻し理由-QUUXWORD"
SENSITIVE = (BOT_TOKEN, SECRET, PARTNER, DESCRIPTION, "XYZZY", MILD_PARTNER, "FROBOZZ", REASON)
# How the typed texts look once JSON- or URL-encoded (a body logged as it went over the wire).
ENCODED_MARKERS = ("XYZZY", "FROBOZZ", "QUUXWORD", "Plugh", "%E7%A4%BE%E5%A4%96%E7%A7%98")
_NOISY = ("slack_bolt", "slack_sdk", "aiohttp.access", "apscheduler")


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """leakbot's logging set up as in production, at DEBUG, into a buffer; undone afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved = {name: logging.getLogger(name).level for name in _NOISY}
    stream = io.StringIO()
    setup_logging("DEBUG", stream=stream)
    try:
        yield stream
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def _steps(partner: str, description: str, base: list[dict[str, Any]]) -> list[dict[str, Any]]:
    steps = [dict(step) for step in base]
    steps[0]["partner"] = partner
    steps[-1]["description"] = description
    return steps


async def _run_flow(bot: Leakbot) -> tuple[str, str]:
    emu = bot.emulator
    # Reported; the first delivery meets a 429 and a 500 and is retried from the outbox.
    emu.fail_next("chat.postMessage", status=429, retry_after=1)
    emu.fail_next("chat.postMessage", status=500, times=1)
    severe = await bot.report(REPORTER, _steps(PARTNER, DESCRIPTION, STEPS))
    for _ in range(10):
        bot.clock.advance(minutes=10)
        await bot.deliver()
        if not [i for i in await bot.store.outbox_items() if i.status == "pending"]:
            break
    faults = [c.fault for c in emu.calls if c.fault]
    assert len(faults) >= 2, faults
    # Two approvals decide the severe case; its follow-up tasks are posted; one is ticked.
    for approver in (APPROVER_1, APPROVER_2):
        before = len(emu.calls_to("response_url"))
        await bot.click(severe, "leak_approve", approver, value=severe.id)
        await emu.wait_for_call("response_url", count=before + 1)
    await bot.deliver()
    record = await bot.store.get_incident(severe.id)
    assert record is not None and record.status == "decided"
    tasks = await bot.store.tasks_for(severe.id)
    assert tasks
    parent = bot.recommendation_ts(severe)
    [message] = [
        m
        for m in emu.messages(CHANNEL)
        if m.get("thread_ts") == parent and m["ts"] != parent and "blocks" in m
    ]
    block_id = next(
        str(b["block_id"])
        for b in message["blocks"]
        if (b.get("accessory") or {}).get("value") == str(tasks[0].id)
    )
    before = len(emu.calls_to("response_url"))
    await bot.slack.block_actions(
        "leak_task_done",
        user_id=REPORTER,
        channel_id=CHANNEL,
        message_ts=str(message["ts"]),
        message=message,
        block_id=block_id,
    )
    await emu.wait_for_call("response_url", count=before + 1)
    await bot.deliver()
    # Another incident, sent back with a reason.
    mild = await bot.report(REPORTER, _steps(MILD_PARTNER, MILD_DESCRIPTION, MILD_STEPS))
    opens = len(emu.calls_to("views.open"))
    await bot.click(mild, "leak_reject", APPROVER_1, value=mild.id)
    call = await emu.wait_for_call("views.open", count=opens + 1)
    assert call.response is not None
    reply = await bot.slack.view_submission(
        str(call.response["view"]["id"]), user_id=APPROVER_1, answers={"reason": REASON}
    )
    assert reply.json == {"response_action": "clear"}
    await bot.deliver()
    # A forged request, a stale one, and one that cannot be parsed.
    assert (
        await bot.slack.slash_command("/leak", "list", user_id=REPORTER, forge=True)
    ).status == 401
    stale = await bot.slack.slash_command("/leak", "help", user_id=REPORTER, timestamp_offset=-600)
    assert stale.status == 401
    garbage = await bot.slack.post(
        b"payload=%7B" + DESCRIPTION.encode(), "application/x-www-form-urlencoded"
    )
    assert garbage.status == 400
    # /leak status shows the description and partner to the person — but not to the logs.
    _, status = await command_answer(bot, f"status {severe.id}", REPORTER)
    assert PARTNER in json.dumps(status, ensure_ascii=False)
    return severe.id, mild.id


def _forms(secret: str) -> set[str]:
    """`secret` as it could appear in a log line: as is, JSON-escaped, URL-encoded."""
    return {
        secret,
        json.dumps(secret)[1:-1],  # ASCII-escaped, as in a logged JSON body
        quote(secret),
        quote_plus(secret),
    }


def _lines(text: str) -> list[dict[str, Any]]:
    lines = text.splitlines()
    assert lines, "nothing was logged"
    parsed = []
    for number, line in enumerate(lines, start=1):
        try:
            data = json.loads(line)
        except ValueError:
            pytest.fail(f"log line {number} is not JSON: {line[:300]!r}")
        assert isinstance(data, dict), line[:300]
        assert {"time", "level", "logger", "message"} <= data.keys(), line[:300]
        parsed.append(data)
    return parsed


async def test_logs_of_a_whole_flow_are_json_with_no_secrets(
    captured_logs: io.StringIO, leakbot: Leakbot
) -> None:
    severe_id, mild_id = await _run_flow(leakbot)
    text = captured_logs.getvalue()
    lines = _lines(text)
    # Nothing sensitive, in any form, in the lines as written or in their decoded values.
    decoded = "\n".join(str(value) for line in lines for value in line.values())
    for secret in SENSITIVE:
        for form in _forms(secret):
            for where in (text, decoded):
                assert form not in where, [x for x in where.splitlines() if form in x][:3]
    for marker in ENCODED_MARKERS:
        assert marker not in text, [line for line in text.splitlines() if marker in line][:3]
    # No request or response body of any library (Bolt at DEBUG logs every ack's body).
    assert not re.search(r"body: (?!\[omitted\])\S", text), [
        line for line in text.splitlines() if "body: " in line
    ][:3]
    # The flow was logged, and what is about an incident says which.
    reported = [line for line in lines if line["message"] == "incident reported"]
    assert [line.get("incident_id") for line in reported] == [severe_id, mild_id]
    delivered = [line for line in lines if line["message"] == "slack call delivered"]
    assert {line.get("incident_id") for line in delivered} == {severe_id, mild_id}
    retried = [line for line in lines if line["message"] == "slack call failed, will retry"]
    assert len(retried) == 2 and {line.get("incident_id") for line in retried} == {severe_id}
    for line in lines:
        mentioned = set(re.findall(r"LEAK-\d{4}-\d{4,}", json.dumps(line, ensure_ascii=False)))
        mentioned.discard(str(line.get("incident_id")))
        assert not mentioned, line  # an incident named in a line is the line's incident_id
        if line["logger"].startswith("bot.slack.outbox") and line.get("method"):
            assert line.get("incident_id") in (severe_id, mild_id), line
    # The refused requests are logged, without their bodies.
    refused = [line for line in lines if "Invalid request signature" in line["message"]]
    assert len(refused) == 2
    assert all(line["message"].endswith("body: [omitted]") for line in refused), refused
    assert any(line["message"].startswith("unparseable request refused") for line in lines)
    # No library chatter below INFO made it through (the database drivers' SQL with values).
    for line in lines:
        library = line["logger"].partition(".")[0]
        if library in ("slack_bolt", "slack_sdk", "aiohttp", "aiosqlite", "asyncpg"):
            assert line["level"] != "debug", line
        if library == "sqlalchemy":
            assert line["level"] in ("warning", "error", "critical"), line


def test_library_lines_are_filtered_whatever_their_logger_level() -> None:
    """Bolt sets its loggers' levels itself; the handler still drops their DEBUG lines and the
    body Bolt logs for a request with a bad signature."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved = {name: logging.getLogger(name).level for name in (*_NOISY, "slack_bolt.AsyncApp")}
    try:
        setup_logging("DEBUG", stream=stream)
        bolt = logging.getLogger("slack_bolt.AsyncApp")
        bolt.setLevel(logging.DEBUG)  # what slack_bolt.logger._configure_from_root does
        bolt.debug('Responding with status: 200 body: "%s"', DESCRIPTION)
        logging.getLogger("slack_bolt.RequestVerification").info(
            "Invalid request signature detected (signature: v0=%s, timestamp: 1, body: %s)",
            "ab" * 32,
            "text=" + quote_plus(DESCRIPTION),
        )
        logging.getLogger("aiosqlite").debug("executing INSERT ... (%r,)", PARTNER)
        logging.getLogger("sqlalchemy.engine.Engine").info("[generated] (%r,)", PARTNER)
        logging.getLogger("bot.test").debug("our own debug line stays")
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
    lines = _lines(stream.getvalue())
    assert [(line["logger"], line["message"]) for line in lines] == [
        (
            "slack_bolt.RequestVerification",
            "Invalid request signature detected (signature: [redacted], timestamp: 1, "
            "body: [omitted]",
        ),
        ("bot.test", "our own debug line stays"),
    ]
