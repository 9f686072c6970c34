"""The outbox under faults of its own: a database failure while a message is built, two senders
sharing the outbox, and the look-up of an earlier post in a busy channel.

Time is the FakeClock's; the database failure is real: on PostgreSQL the connection that reads
the incident is terminated by the server (`pg_terminate_backend` of its own backend), on SQLite
the driver raises its own I/O error for that read. Nothing sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from conftest import CHANNEL, MILD_STEPS, REPORTER, Leakbot
from e2e_support import walk_to_confirm
from sqlalchemy import event
from sqlalchemy.engine import Connection

from bot.store import Store


@contextmanager
def incident_read_fails_once(store: Store) -> Iterator[list[str]]:
    """The next read of an incident on a read connection fails as a dropped connection does;
    yields the statements that failed."""
    failed: list[str] = []

    def before(conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if failed or not conn.get_execution_options().get("leakbot_read_only"):
            return
        if "FROM incidents" not in statement or "pg_terminate_backend" in statement:
            return
        failed.append(statement)
        if conn.dialect.name == "postgresql":
            # The server ends this very connection; the read then fails as after a restart.
            conn.exec_driver_sql("SELECT pg_terminate_backend(pg_backend_pid())")
        raise conn.dialect.loaded_dbapi.OperationalError("disk I/O error")

    engine = store._engine.sync_engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield failed
    finally:
        event.remove(engine, "before_cursor_execute", before)


async def test_a_query_failure_while_building_is_retried_then_sent_once(
    leakbot: Leakbot,
) -> None:
    emu = leakbot.emulator
    view_id, _ = await walk_to_confirm(leakbot, REPORTER, MILD_STEPS)
    reply = await leakbot.submit_step(view_id, REPORTER, {})  # filed, nothing delivered yet
    assert "LEAK-2026-0001" in reply.text
    sender = leakbot.app.deps.outbox

    with incident_read_fails_once(leakbot.store) as failed:
        await sender.run_once()
    assert len(failed) == 1
    items = await leakbot.store.outbox_items("LEAK-2026-0001")
    assert [(i.kind, i.status) for i in items] == [
        ("recommendation", "pending"),
        ("reporter_receipt", "pending"),  # waits behind it, in order; not dead
    ]
    assert items[0].attempts == 1 and "building the message failed" in str(items[0].last_error)
    assert emu.successful_calls_to("chat.postMessage") == []
    assert sender.stats.dead == 0

    # Retried after its back-off, on the clock: sent, and only once.
    leakbot.clock.advance(minutes=1)
    await leakbot.deliver()
    items = await leakbot.store.outbox_items("LEAK-2026-0001")
    assert [(i.kind, i.status) for i in items] == [
        ("recommendation", "sent"),
        ("reporter_receipt", "sent"),
    ]
    posts = emu.successful_calls_to("chat.postMessage")
    tops = [c for c in posts if c.args.get("channel") == CHANNEL]
    assert len(tops) == 1 and "LEAK-2026-0001" in str(tops[0].args.get("text"))
    assert len([c for c in posts if c.args.get("channel") == REPORTER]) == 1
    assert sender.stats.dead == 0
    emu.assert_no_rejections()
