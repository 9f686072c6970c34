"""Faults injected in-process: a flaky Slack, a busy SQLite, a PostgreSQL that goes away.

Everything runs in the test's event loop on the FakeClock: Slack's faults are the emulator's
(seeded), SQLite's write lock is held by a raw connection on a thread and released from the event
loop once the writers are waiting, and PostgreSQL's connections are cut from an admin connection.
Nothing sleeps.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import asyncpg  # type: ignore[import-untyped]
import pytest
from conftest import (
    APPROVER_1,
    APPROVER_2,
    APPROVER_3,
    CHANNEL,
    MILD_STEPS,
    REPORTER,
    REPORTER_EN,
    STEPS,
    T0,
    Leakbot,
    start_leakbot,
    stop_leakbot,
)
from e2e_support import (
    assert_no_traceback,
    decision_blocks,
    recommendation,
    text_of,
    walk_to_confirm,
)
from slackemu import FAULT_KINDS, FakeClock, RecordedCall, SlackEmulator
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url

from bot.store import IncidentRecord, NewIncident, OutboxMessage, Store

# The outbox's own Web API methods. The interactive client (views.open, users.info, response_url
# posts) carries slack-sdk's retry handlers, which really sleep on a 429's Retry-After; failing
# only the outbox's methods keeps every wait on the FakeClock, so no test sleeps.
OUTBOX_METHODS = ("chat.postMessage", "chat.update")
LONGEST_BACKOFF = 300.0  # OutboxSender.max_backoff


# -- helpers ----------------------------------------------------------------------------------


def _outbox_id(call: RecordedCall) -> int | None:
    metadata = call.args.get("metadata") or {}
    if metadata.get("event_type") != "leakbot_outbox":
        return None
    return int((metadata.get("event_payload") or {})["outbox_id"])


async def _delivered_kinds(bot: Leakbot) -> dict[str, list[str]]:
    """For each incident, the kinds of its outbox items in the order Slack accepted them
    (chat.postMessage found by the outbox id in its metadata, chat.update by the message ts)."""
    items = {item.id: item for item in await bot.store.outbox_items()}
    by_ts = {
        record.message_ts: record.id
        for record in await bot.store.list_incidents(limit=1000)
        if record.message_ts
    }
    seen: dict[str, list[str]] = {}
    for call in bot.emulator.calls:
        if call.method not in OUTBOX_METHODS or not call.ok:
            continue
        if call.method == "chat.postMessage":
            outbox_id = _outbox_id(call)
            assert outbox_id is not None, call.args
            item = items[outbox_id]
            assert item.incident_id is not None
            seen.setdefault(item.incident_id, []).append(item.kind)
        else:
            incident_id = by_ts[str(call.args["ts"])]
            seen.setdefault(incident_id, []).append("decided")
    return seen


def _top_level_posts(emu: SlackEmulator, incident_id: str) -> list[RecordedCall]:
    return [
        c
        for c in emu.successful_calls_to("chat.postMessage")
        if c.args["channel"] == CHANNEL
        and not c.args.get("thread_ts")
        and incident_id in str(c.args.get("text") or "")
    ]


def _posted(emu: SlackEmulator, incident_id: str) -> bool:
    return any(
        incident_id in str(m.get("text") or "") and not m.get("thread_ts")
        for m in emu.messages(CHANNEL)
    )


async def _click(bot: Leakbot, record: IncidentRecord, action_id: str, user: str, **kw: Any) -> str:
    before = len(bot.emulator.calls_to("response_url"))
    reply = await bot.click(record, action_id, user, **kw)
    await bot.emulator.wait_for_call("response_url", count=before + 1)
    return " ".join(
        str(b.get("text") or "") for b in bot.emulator.responses(reply.response_url or "")
    )


# -- (a) a flaky Slack --------------------------------------------------------------------------


async def test_a_flaky_slack_for_a_minute_still_delivers_everything_once_in_order(
    leakbot: Leakbot,
) -> None:
    emu, clock = leakbot.emulator, leakbot.clock
    assert "disconnect" in FAULT_KINDS  # the "timeout": the connection drops unanswered
    emu.set_failure_rate(0.3, kinds=FAULT_KINDS, seed=20261126, methods=OUTBOX_METHODS)

    cases = [
        (REPORTER, STEPS),
        (REPORTER, MILD_STEPS),
        (REPORTER_EN, MILD_STEPS),
        (REPORTER_EN, STEPS),
        (REPORTER, MILD_STEPS),
        (REPORTER_EN, MILD_STEPS),
    ]
    incidents: list[IncidentRecord] = []
    for user, steps in cases:
        incidents.append(await leakbot.report(user, steps))  # delivers once, with faults
        clock.advance(seconds=1)
    assert [r.id for r in incidents] == [f"LEAK-2026-{n:04d}" for n in range(1, 7)]

    # Decided while Slack is still failing, so that their decision updates, DMs and task
    # lists go through the faults too: who clicks what, for which incident.
    decisions: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
        incidents[0].id: [  # suspend_and_legal: two approvers
            ("leak_approve", APPROVER_1, {"value": incidents[0].id}),
            ("leak_approve", APPROVER_2, {"value": incidents[0].id}),
        ],
        incidents[1].id: [("leak_approve", APPROVER_3, {"value": incidents[1].id})],
        incidents[4].id: [
            ("leak_choose", APPROVER_1, {"selected_option": "consider_suspension"}),
        ],
    }
    by_id = {r.id: r for r in incidents}
    pending = dict(decisions)
    for _ in range(12):  # 60 s of fake time
        await leakbot.deliver()
        for incident_id in list(pending):
            if not _posted(emu, incident_id):
                continue
            for action_id, user, options in pending.pop(incident_id):
                await _click(leakbot, by_id[incident_id], action_id, user, **options)
        clock.advance(seconds=5)
    assert not pending, f"never posted within the minute: {sorted(pending)} (pick another seed)"
    faults = [c.fault for c in emu.calls if c.method in OUTBOX_METHODS and c.fault]
    assert {"ratelimited", "disconnect"} <= set(faults), faults
    assert {"internal_error", "service_unavailable"} & set(faults), faults

    retried = {item.kind for item in await leakbot.store.outbox_items() if item.attempts > 1}
    assert "recommendation" in retried, retried  # a retried post was looked up, not repeated
    assert retried & {"decided", "reporter_decided", "tasks"}, retried

    emu.set_failure_rate(0)
    clock.advance(seconds=LONGEST_BACKOFF + 1)
    await leakbot.deliver()

    assert await leakbot.store.outbox_depth() == 0
    assert await leakbot.store.outbox_items(status="pending") == []
    assert await leakbot.store.outbox_items(status="dead") == []
    for record in incidents:
        assert len(_top_level_posts(emu, record.id)) == 1, record.id
    assert len([m for m in emu.messages(CHANNEL) if not m.get("thread_ts")]) == len(incidents)

    order = await _delivered_kinds(leakbot)
    for record in incidents:
        expected = ["recommendation", "reporter_receipt"]
        if record.id in decisions:
            expected += ["decided", "reporter_decided", "tasks"]
        assert order[record.id] == expected, (record.id, order[record.id])
        stored = await leakbot.store.get_incident(record.id)
        assert stored is not None
        assert stored.status == ("decided" if record.id in decisions else "pending")
        message = recommendation(emu, record.id)
        assert stored.message_ts == message["ts"]
        # Decided: the decision buttons are gone; pending: still there.
        assert bool(decision_blocks(message)) == (record.id not in decisions), text_of(message)
    emu.assert_no_rejections()


# -- (b) concurrent writers against a write lock held elsewhere -------------------------------


def _new_incident(n: int) -> NewIncident:
    return NewIncident(
        partner=f"Partner {n}",
        reporter_id=REPORTER,
        team_id="T0001",
        locale="ja",
        answers={"partner": f"Partner {n}"},
        assessment={"recommendation": "request_report"},
        recommendation="request_report",
        year=2026,
        submission_key=f"busy:{n}",
    )


def _message(kind: str, **payload: Any) -> OutboxMessage:
    return OutboxMessage(
        kind=kind, method="chat.postMessage", payload={"channel": CHANNEL, **payload}
    )


def _on_write_begin(store: Store, started: asyncio.Event) -> None:
    """Set `started` when a write transaction of `store` sends its first statement (on SQLite
    that is the BEGIN IMMEDIATE which then waits for the write lock)."""

    def before(conn: Connection, *_: Any) -> None:
        if not conn.get_execution_options().get("leakbot_read_only"):
            started.set()

    event.listen(store._engine.sync_engine, "before_cursor_execute", before)


class _SqliteLockHolder:
    """A raw sqlite3 connection on a thread holding the write lock (BEGIN IMMEDIATE, one row
    written) until `release()`; `locked` is set in the event loop once it holds it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.locked = asyncio.Event()
        self._release = threading.Event()
        self._loop = asyncio.get_running_loop()

    def _hold(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=5)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO processed_events (key, at) VALUES (?, ?)",
                ("raw-writer", "2026-11-26 01:00:00.000000"),
            )
            self._loop.call_soon_threadsafe(self.locked.set)
            if not self._release.wait(timeout=30):
                raise TimeoutError("never released")
            conn.execute("COMMIT")
        finally:
            conn.close()

    async def __aenter__(self) -> _SqliteLockHolder:
        self._task = asyncio.create_task(asyncio.to_thread(self._hold))
        waiter = asyncio.create_task(self.locked.wait())
        await asyncio.wait({self._task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if not self.locked.is_set():
            waiter.cancel()
            await self._task  # raises what went wrong
        return self

    def release(self) -> None:
        self._release.set()

    async def __aexit__(self, *exc: object) -> None:
        self._release.set()
        await self._task


class _PgLockHolder:
    """The same on PostgreSQL: a transaction holding EXCLUSIVE locks on the written tables
    (plain reads still pass) until `release()` commits it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._commit: asyncio.Task[None] | None = None

    async def __aenter__(self) -> _PgLockHolder:
        self.conn = await asyncpg.connect(_libpq(self.url), timeout=10)
        self.tx = self.conn.transaction()
        await self.tx.start()
        await self.conn.execute(
            "LOCK TABLE incident_counters, incidents, approvals, outbox, audit_log "
            "IN EXCLUSIVE MODE"
        )
        await self.conn.execute(
            "INSERT INTO processed_events (key, at) VALUES ('raw-writer', now())"
        )
        return self

    def release(self) -> None:
        if self._commit is None:
            self._commit = asyncio.create_task(self.tx.commit())

    async def __aexit__(self, *exc: object) -> None:
        try:
            self.release()
            assert self._commit is not None
            await self._commit
        finally:
            await self.conn.close()


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def test_concurrent_writers_wait_for_a_write_lock_held_elsewhere(
    database_url: str, open_store: Callable[[], Any], db_kind: str
) -> None:
    """Two stores (separate engines, like two processes) and a raw connection that holds the
    write lock: 30 concurrent creations, approvals and enqueues all succeed once it lets go."""
    first: Store = await open_store()
    second: Store = await open_store()
    observer: Store = await open_store()  # reads while the writers hold every pooled connection
    now = T0
    for n in range(1, 6):
        await first.create_incident(_new_incident(n), now=now)

    started = {id(first): asyncio.Event(), id(second): asyncio.Event()}
    _on_write_begin(first, started[id(first)])
    _on_write_begin(second, started[id(second)])
    holder = (
        _SqliteLockHolder(str(make_url(database_url).database))
        if db_kind == "sqlite"
        else _PgLockHolder(database_url)
    )

    def decided(record: IncidentRecord) -> list[OutboxMessage]:
        return [_message("decided", text=f"{record.id} decided")]

    async with holder:
        work: list[Any] = []
        for n in range(6, 26):  # 20 new incidents, alternately on each store
            store = first if n % 2 else second
            work.append(
                store.create_incident(
                    _new_incident(n),
                    now=now,
                    outbox=lambda r: [_message("recommendation", text=r.id)],
                )
            )
        for n in range(1, 6):  # 5 approvals of the earlier incidents
            store = second if n % 2 else first
            work.append(
                store.record_approval(
                    f"LEAK-2026-{n:04d}",
                    approver_id=APPROVER_1,
                    action="request_report",
                    required=1,
                    now=now,
                    on_decided=decided,
                )
            )
        for n in range(5):  # 5 plain enqueues
            store = first if n % 2 else second
            work.append(store.enqueue([_message("note", text=f"note {n}")], now=now))
        assert len(work) == 30
        running = asyncio.gather(*work)
        waiting = asyncio.gather(*(e.wait() for e in started.values()))
        async with asyncio.timeout(10):
            await asyncio.wait({running, waiting}, return_when=asyncio.FIRST_COMPLETED)
        assert waiting.done() and not running.done(), "the writers did not wait for the lock"
        # While the lock is held nothing of theirs is committed (readers are not blocked).
        assert len(await observer.list_incidents(limit=100)) == 5
        assert await observer.outbox_items() == []
        holder.release()
        async with asyncio.timeout(20):
            results = await running

    created = results[:20]
    assert all(was_new for _, was_new in created)
    approvals = results[20:25]
    assert [outcome.kind for outcome in approvals] == ["decided"] * 5
    assert all(len(ids) == 1 for ids in results[25:])
    records = await second.list_incidents(limit=100)
    assert sorted(r.seq for r in records) == list(range(1, 26))  # gapless
    assert sorted(r.id for r in records) == [f"LEAK-2026-{n:04d}" for n in range(1, 26)]
    assert sorted(r.id for r in records if r.status == "decided") == [
        f"LEAK-2026-{n:04d}" for n in range(1, 6)
    ]
    kinds = [item.kind for item in await first.outbox_items()]
    assert sorted(kinds) == sorted(["recommendation"] * 20 + ["decided"] * 5 + ["note"] * 5)
    assert not await first.verify_audit_chain()
    assert not await first.remember_event("raw-writer", now=now)  # the raw write committed too


async def test_two_replicas_take_intake_submissions_concurrently(
    emulator: SlackEmulator, clock: FakeClock, database_url: str, store: Store
) -> None:
    first = await start_leakbot(emulator, clock, database_url)
    second = await start_leakbot(emulator, clock, database_url)
    try:
        bots = [first, second]
        views: list[tuple[Leakbot, str, str]] = []
        for n in range(8):
            bot = bots[n % 2]
            user = (REPORTER, REPORTER_EN)[n // 2 % 2]
            steps = [dict(STEPS[0], partner=f"並行 {n}"), *STEPS[1:]] if n % 3 else MILD_STEPS
            view_id, _ = await walk_to_confirm(bot, user, steps)
            # The confirmation arrives at the other replica (a load balancer between them).
            views.append((bots[(n + 1) % 2], view_id, user))
        replies = await asyncio.gather(
            *(bot.submit_step(view_id, user, {}) for bot, view_id, user in views)
        )
        records = await store.list_incidents(limit=100)
        assert sorted(r.id for r in records) == [f"LEAK-2026-{n:04d}" for n in range(1, 9)]
        by_view = {r.submission_key: r.id for r in records}
        for (_, view_id, _), reply in zip(views, replies, strict=True):
            assert by_view[f"view:{view_id}"] in reply.text
        # Both senders drain at once: each message still goes out once.
        await asyncio.gather(first.deliver(), second.deliver())
        for record in records:
            assert len(_top_level_posts(emulator, record.id)) == 1, record.id
        assert await store.outbox_depth() == 0
        emulator.assert_no_rejections()
    finally:
        await stop_leakbot(second)
        await stop_leakbot(first)


# -- (c) PostgreSQL goes away and comes back --------------------------------------------------


def _pg_only(db_kind: str) -> None:
    if db_kind != "postgresql":
        pytest.skip("server connections to drop exist on PostgreSQL only (SQLite is a file)")


def _database_name(database_url: str) -> str:
    name = make_url(database_url).database
    assert name
    return name


async def _pg_admin(database_url: str) -> Any:
    """A connection outside the app's pool, to the admin database of the test setup
    (LEAKBOT_TEST_PG_URL, as tests/conftest.py), else `postgres` on the test's server."""
    admin = os.environ.get("LEAKBOT_TEST_PG_URL") or make_url(database_url).set(
        database="postgres"
    ).render_as_string(hide_password=False)
    return await asyncpg.connect(_libpq(admin), timeout=10)


async def _terminate_backends(admin: Any, database: str) -> int:
    """Cut every connection to `database` and wait (up to 5 s each) until they are gone."""
    rows = await admin.fetch(
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
        "WHERE datname = $1 AND pid <> pg_backend_pid()",
        database,
    )
    return sum(1 for row in rows if row[0])


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _healthz(http: aiohttp.ClientSession, bot: Leakbot) -> tuple[int, dict[str, Any]]:
    async with http.get(f"{bot.server.url}/healthz") as response:
        return response.status, await response.json()


async def test_postgres_connections_dropped_and_restored(
    leakbot: Leakbot, db_kind: str, database_url: str, http: aiohttp.ClientSession
) -> None:
    _pg_only(db_kind)
    first = await leakbot.report(REPORTER, MILD_STEPS)  # the pool now holds live connections
    admin = await _pg_admin(database_url)
    try:
        assert await _terminate_backends(admin, _database_name(database_url)) >= 1
    finally:
        await admin.close()

    # Every pooled connection is dead: pool_pre_ping replaces them, nothing surfaces.
    second = await leakbot.report(REPORTER, MILD_STEPS)
    assert (first.id, second.id) == ("LEAK-2026-0001", "LEAK-2026-0002")
    text = await _click(leakbot, second, "leak_approve", APPROVER_1, value=second.id)
    assert second.id in text
    await leakbot.deliver()
    stored = await leakbot.store.get_incident(second.id)
    assert stored is not None and stored.status == "decided"
    assert await leakbot.store.outbox_depth() == 0
    status, body = await _healthz(http, leakbot)
    assert (status, body["ok"], body["database"]) == (200, True, "up")


async def test_postgres_unreachable_then_back(
    leakbot: Leakbot, db_kind: str, database_url: str, http: aiohttp.ClientSession
) -> None:
    """No new connection is accepted (ALLOW_CONNECTIONS false stops superusers too, unlike
    REVOKE CONNECT) and the open ones are cut: health says so, and a person who confirms a
    report in the meantime gets a clear message in the modal, not an error from Slack."""
    _pg_only(db_kind)
    emu = leakbot.emulator
    view_id, _ = await walk_to_confirm(leakbot, REPORTER, MILD_STEPS)
    database = _database_name(database_url)
    admin = await _pg_admin(database_url)
    try:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        try:
            await _terminate_backends(admin, database)
            status, body = await _healthz(http, leakbot)
            assert status == 503
            assert body["ok"] is False and body["database"] == "down"

            reply = await leakbot.slack.view_submission(view_id, user_id=REPORTER, answers={})
            assert_no_traceback(reply.text)
            assert reply.status == 200, reply.text
            ack = reply.json or {}
            assert ack.get("response_action") == "update", ack
            shown = text_of(ack["view"])
            assert "まだ報告されていません" in shown and "もう一度「報告する」" in shown, shown
            assert ack["view"]["submit"]["text"] == "報告する"  # the summary, still submittable
            assert "株式会社" not in shown and "Globex Inc." in shown
        finally:
            await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
    finally:
        await admin.close()

    status, body = await _healthz(http, leakbot)
    assert (status, body["ok"]) == (200, True)
    # The same modal, submitted again once the database is back, is reported (once).
    reply = await leakbot.submit_step(view_id, REPORTER, {})
    assert "LEAK-2026-0001" in reply.text
    await leakbot.deliver()
    assert len(_top_level_posts(emu, "LEAK-2026-0001")) == 1
    emu.assert_no_rejections()


async def test_a_replica_whose_database_is_unreachable(
    emulator: SlackEmulator,
    clock: FakeClock,
    db_kind: str,
    tmp_path: Any,
    http: aiohttp.ClientSession,
) -> None:
    """A second app pointed at a database that is not there (a dead port; a SQLite file whose
    folder is gone): unhealthy, and an intake confirmation gets the clear modal message."""
    folder = tmp_path / "gone"
    dead = (
        "postgresql://postgres@127.0.0.1:1/leakbot"
        if db_kind == "postgresql"
        else f"sqlite:///{folder / 'leakbot.db'}"
    )
    store = await Store.open(dead, migrate=False)  # opening does not connect yet
    if db_kind == "sqlite":
        folder.rmdir()  # created by Store.open; without it SQLite cannot open the file
    bot = await start_leakbot(emulator, clock, dead, store=store)
    try:
        status, body = await _healthz(http, bot)
        assert (status, body) == (503, {"ok": False, "database": "down", "outbox_depth": None})
        view_id, _ = await walk_to_confirm(bot, REPORTER_EN, MILD_STEPS)
        reply = await bot.slack.view_submission(view_id, user_id=REPORTER_EN, answers={})
        assert reply.status == 200, reply.text
        assert_no_traceback(reply.text)
        ack = reply.json or {}
        assert ack.get("response_action") == "update", ack
        shown = text_of(ack["view"])
        assert "Not reported yet" in shown and "press Report again" in shown, shown
        assert "Traceback" not in shown and "Error" not in shown
        assert emulator.calls_to("chat.postMessage") == []
        emulator.assert_no_rejections()
    finally:
        await stop_leakbot(bot)
