"""The outbox under faults of its own: a database failure while a message is built, two senders
sharing the outbox, and the look-up of an earlier post in a busy channel.

Time is the FakeClock's; the database failure is real: on PostgreSQL the connection that reads
the incident is terminated by the server (`pg_terminate_backend` of its own backend), on SQLite
the driver raises its own I/O error for that read. Nothing sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from conftest import APPROVER_1, APPROVER_2, CHANNEL, MILD_STEPS, REPORTER, STRANGER, Leakbot
from e2e_support import walk_to_confirm
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import event
from sqlalchemy.engine import Connection

from bot.slack.outbox import LOOKUP_PAGE, OutboxSender
from bot.store import OutboxMessage, Store
from bot.store.tables import outbox


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


# -- two senders, one outbox ----------------------------------------------------------------

LEASE = 60
SLOW_CALL = 40  # seconds each of the first sender's calls takes, on the FakeClock


class SlowClient(AsyncWebClient):
    """The first replica's Slack client: each call takes SLOW_CALL seconds of the clock, and
    while it is in flight the other replica runs its outbox round."""

    def __init__(self, bot: Leakbot, other: list[OutboxSender]) -> None:
        super().__init__(token="xoxb-e2e-token", base_url=bot.emulator.api_url, timeout=10)
        self.bot = bot
        self.other = other

    async def api_call(self, api_method: str, **kwargs: Any) -> Any:  # type: ignore[override]
        self.bot.clock.advance(seconds=SLOW_CALL)
        for sender in self.other:
            await sender.run_once()
        return await super().api_call(api_method, **kwargs)


async def test_a_slow_batch_outliving_its_lease_never_sends_a_dm_twice(leakbot: Leakbot) -> None:
    emu = leakbot.emulator
    users = [APPROVER_1, APPROVER_2, STRANGER]
    await leakbot.store.enqueue(
        [
            OutboxMessage(
                kind="dm",
                method="chat.postMessage",
                payload={"channel": user, "text": f"hello {user}"},
                dedupe_key=f"lease-test:{user}",
            )
            for user in users
        ],
        now=leakbot.clock.now(),
    )
    renderer = leakbot.app.deps.outbox.renderer
    other: list[OutboxSender] = []
    first = OutboxSender(
        leakbot.store,
        renderer,
        SlowClient(leakbot, other),
        leakbot.clock,
        worker_id="replica-a",
        lease_seconds=LEASE,
    )
    second = OutboxSender(
        leakbot.store,
        renderer,
        AsyncWebClient(token="xoxb-e2e-token", base_url=emu.api_url, timeout=10),
        leakbot.clock,
        worker_id="replica-b",
        lease_seconds=LEASE,
    )
    other.append(second)

    # The first replica leases all three; its calls take 40 s each, so the third item's lease
    # (60 s from the claim) runs out while it is still busy with the second.
    assert await first.run_once() == 3
    for user in users:
        dms = [
            c for c in emu.successful_calls_to("chat.postMessage") if c.args.get("channel") == user
        ]
        assert len(dms) == 1, (user, len(dms))
    items = await leakbot.store.outbox_items()
    assert [i.status for i in items] == ["sent"] * 3
    # The second replica took over what the first could no longer hold, and nothing else.
    assert first.stats.sent + second.stats.sent == 3
    assert second.stats.sent >= 1


# -- the look-up of an earlier post -----------------------------------------------------------


async def test_an_earlier_post_is_found_behind_more_than_a_page_of_messages(
    leakbot: Leakbot,
) -> None:
    """The recommendation was posted, but the process stopped before recording it; meanwhile
    people wrote 250 messages in the channel. The look-up pages through them (cursor) and
    records the earlier post instead of posting again."""
    emu = leakbot.emulator
    record = await leakbot.report(REPORTER, MILD_STEPS)
    [item, _receipt] = await leakbot.store.outbox_items(record.id)
    [post] = [
        c for c in emu.successful_calls_to("chat.postMessage") if c.args["channel"] == CHANNEL
    ]
    assert post.response is not None
    ts = post.response["ts"]
    for n in range(LOOKUP_PAGE + 50):
        emu.add_message(CHANNEL, f"chatter {n}", user=STRANGER)
    # As if the process had stopped between Slack's answer and recording it.
    await leakbot.store.write(
        lambda conn: conn.execute(
            outbox.update()
            .where(outbox.c.id == item.id)
            .values(status="pending", sent_at=None, result=None, lease_until=None, leased_by=None)
        )
    )
    posts_before = len(emu.calls_to("chat.postMessage"))
    assert await leakbot.deliver() == 1

    lookups = emu.calls_to("conversations.history")
    assert len(lookups) == 2 and all(c.ok for c in lookups)
    assert not lookups[0].args.get("cursor") and lookups[1].args.get("cursor")
    assert len(emu.calls_to("chat.postMessage")) == posts_before  # not posted again
    [again, _] = await leakbot.store.outbox_items(record.id)
    assert (again.status, again.attempts) == ("sent", 2)
    assert again.result == {"channel": CHANNEL, "ts": ts}


class _Parking(asyncio.Event):
    """The sender's wake-up event, telling when the sender waits on it (has nothing to do)."""

    def __init__(self) -> None:
        super().__init__()
        self.parked = asyncio.Event()

    async def wait(self) -> Literal[True]:
        self.parked.set()
        return await super().wait()


async def test_the_running_sender_claims_again_only_after_a_full_claim(leakbot: Leakbot) -> None:
    """The background loop (OutboxSender._run_forever): a claim that returned a whole batch is
    followed by another at once; a shorter one by the wait, which notify() ends at once. So a
    wake-up costs one claim, not a second that finds nothing. (The poll is made 60 s long: what
    arrives here arrives without it.)"""
    emu, store = leakbot.emulator, leakbot.store
    sender = leakbot.app.deps.outbox
    sender.batch, sender.poll_seconds = 2, 60.0
    wake = sender._wake = _Parking()
    claims: list[int] = []
    claim = store.claim_outbox

    async def counted(**kwargs: Any) -> Any:
        items = await claim(**kwargs)
        claims.append(len(items))
        return items

    store.claim_outbox = counted  # type: ignore[method-assign]
    notes = [
        OutboxMessage("note", "chat.postMessage", {"channel": CHANNEL, "text": f"n{n}"})
        for n in range(4)
    ]
    await store.enqueue(notes[:3], now=leakbot.clock.now())
    sender.start()
    try:
        await asyncio.wait_for(wake.parked.wait(), 10)
        assert claims == [2, 1]  # a full batch, then at once the rest; then the wait
        wake.parked.clear()
        await store.enqueue(notes[3:], now=leakbot.clock.now())
        sender.notify()
        await asyncio.wait_for(wake.parked.wait(), 10)
        assert claims == [2, 1, 1]  # the notify's claim, none that found nothing
    finally:
        await sender.stop()
    assert [c.args["text"] for c in emu.successful_calls_to("chat.postMessage")] == [
        "n0",
        "n1",
        "n2",
        "n3",
    ]
