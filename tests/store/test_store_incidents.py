"""Incidents: creation (atomic, idempotent, gapless ids), queries, message refs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.exc import StatementError

from bot.store import NewIncident, NewTask, OutboxMessage, Store

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
Factory = Callable[..., NewIncident]
StoreFactory = Callable[[], Awaitable[Store]]
RawSQL = Callable[[str], Awaitable[list[tuple[Any, ...]]]]


def post(text: str = "hi", dedupe_key: str | None = None) -> OutboxMessage:
    payload = {"channel": "C1", "text": text}
    return OutboxMessage("recommendation", "chat.postMessage", payload, dedupe_key=dedupe_key)


async def test_create_incident_writes_record_audit_and_outbox(
    store: Store, make_new: Factory
) -> None:
    new = make_new(submission_key="view-1")
    record, created = await store.create_incident(new, now=T0, outbox=[post(), post("second")])
    assert created is True
    assert record.id == "LEAK-2026-0001"
    assert (record.year, record.seq, record.round) == (2026, 1, 1)
    assert record.status == "pending"
    assert record.partner == "株式会社アクメ"
    assert record.partner_key == "アクメ"
    assert record.answers == dict(new.answers)
    assert record.assessment == dict(new.assessment)
    assert record.recommendation == "request_report"
    assert record.created_at == record.updated_at == T0
    assert record.created_at.tzinfo is not None and record.created_at.utcoffset() == timedelta(0)
    assert record.decided_by == () and record.decided_at is None
    assert await store.get_incident(record.id) == record
    assert await store.get_incident_by_submission_key("view-1") == record

    [audit] = await store.audit_trail(record.id)
    assert (audit.action, audit.actor_id, audit.at) == ("incident.created", "U_REPORTER", T0)
    assert audit.after["answers"] == dict(new.answers)
    assert audit.after["recommendation"] == "request_report"

    items = await store.outbox_items(record.id)
    assert [i.payload["text"] for i in items] == ["hi", "second"]
    assert {i.incident_id for i in items} == {record.id}
    assert all(i.status == "pending" and i.next_attempt_at == T0 for i in items)


async def test_ids_are_sequential_per_year_and_restart_each_year(
    store: Store, make_new: Factory
) -> None:
    ids = [(await store.create_incident(make_new(), now=T0))[0].id for _ in range(3)]
    assert ids == ["LEAK-2026-0001", "LEAK-2026-0002", "LEAK-2026-0003"]
    next_year = datetime(2027, 1, 1, tzinfo=UTC)
    first_2027, _ = await store.create_incident(make_new(year=2027), now=next_year)
    assert first_2027.id == "LEAK-2027-0001"
    late_2026, _ = await store.create_incident(make_new(year=2026), now=next_year)
    assert late_2026.id == "LEAK-2026-0004"


async def test_submission_key_makes_creation_idempotent(store: Store, make_new: Factory) -> None:
    first, created = await store.create_incident(
        make_new(submission_key="view-9"), now=T0, outbox=[post()]
    )
    assert created
    again, created_again = await store.create_incident(
        make_new(submission_key="view-9", partner="other"),
        now=T0 + timedelta(seconds=3),
        outbox=[post("duplicate")],
    )
    assert created_again is False
    assert again == first
    assert len(await store.outbox_items()) == 1
    assert len(await store.audit_trail(first.id)) == 1
    # the duplicate did not consume a sequence number
    nxt, _ = await store.create_incident(make_new(submission_key="view-10"), now=T0)
    assert nxt.id == "LEAK-2026-0002"


async def test_failure_mid_transaction_leaves_nothing(
    store: Store, make_new: Factory, raw_sql: RawSQL
) -> None:
    unserialisable = OutboxMessage("recommendation", "chat.postMessage", {"when": T0})
    with pytest.raises((TypeError, StatementError)):
        await store.create_incident(
            make_new(submission_key="view-x"),
            now=T0,
            outbox=[post(), unserialisable],
            tasks=[NewTask("checklist", "0", {"ja": "確認", "en": "Check"})],
        )
    assert await store.list_incidents() == []
    assert await store.get_incident("LEAK-2026-0001") is None
    assert await store.get_incident_by_submission_key("view-x") is None
    assert await store.outbox_items() == []
    assert await raw_sql("SELECT count(*) FROM tasks") == [(0,)]
    assert await store.audit_head() == (0, "0" * 64)
    # the number was not consumed
    record, created = await store.create_incident(make_new(submission_key="view-x"), now=T0)
    assert (record.id, created) == ("LEAK-2026-0001", True)
    assert await store.verify_audit_chain() == []


async def test_naive_times_are_refused(store: Store, make_new: Factory) -> None:
    with pytest.raises(ValueError, match="aware"):
        await store.create_incident(make_new(), now=datetime(2026, 5, 1, 9, 0))
    assert await store.list_incidents() == []


async def test_times_in_other_zones_come_back_as_utc(store: Store, make_new: Factory) -> None:
    from zoneinfo import ZoneInfo

    tokyo = datetime(2026, 5, 1, 18, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    record, _ = await store.create_incident(make_new(), now=tokyo)
    assert record.created_at == tokyo
    assert record.created_at.tzinfo == UTC
    stored = await store.get_incident(record.id)
    assert stored is not None
    assert stored.created_at.isoformat() == "2026-05-01T09:00:00+00:00"


async def test_queries(store: Store, make_new: Factory) -> None:
    a, _ = await store.create_incident(make_new(reporter_id="U1"), now=T0)
    b, _ = await store.create_incident(
        make_new(reporter_id="U2", partner="アクメ(株)"), now=T0 + timedelta(days=1)
    )
    c, _ = await store.create_incident(
        make_new(reporter_id="U1", partner="Beta Inc."), now=T0 + timedelta(days=2)
    )
    assert [i.id for i in await store.list_incidents()] == [c.id, b.id, a.id]
    assert [i.id for i in await store.list_incidents(limit=2)] == [c.id, b.id]
    assert [i.id for i in await store.list_incidents(reporter_id="U1")] == [c.id, a.id]
    assert await store.list_incidents(statuses=["decided"]) == []

    assert await store.count_incidents_for_partner("アクメ") == 2
    assert await store.count_incidents_for_partner("ACME") == 0
    assert await store.count_incidents_for_partner("株式会社アクメ", exclude_id=b.id) == 1
    assert await store.count_incidents_for_partner(b.partner_key, created_before=b.created_at) == 1
    assert await store.count_incidents_for_partner("beta") == 1

    # One partner however it was typed: a and b share a key, c has its own.
    assert a.partner_key == b.partner_key != c.partner_key

    outcome = await store.record_approval(
        b.id, approver_id="S1", action="request_report", required=1, now=T0 + timedelta(days=3)
    )
    assert outcome.kind == "decided"
    # A rejection sets decided_at too: only incidents decided now are returned.
    d, _ = await store.create_incident(make_new(), now=T0)
    rejected = await store.reject(d.id, actor_id="S1", reason="no", now=T0 + timedelta(days=3))
    assert rejected.kind == "rejected"
    decided = await store.decided_rounds_between(T0 + timedelta(days=3), T0 + timedelta(days=4))
    assert decided == [(b.id, 1)]
    assert await store.decided_rounds_between(T0, T0 + timedelta(days=3)) == []
    assert (
        await store.decided_rounds_between(
            T0 + timedelta(days=3, microseconds=1), T0 + timedelta(days=4)
        )
        == []
    )
    assert [i.id for i in await store.list_incidents(statuses=["decided"])] == [b.id]
    assert [i.id for i in await store.list_incidents(statuses=["pending", "decided"])] == [
        c.id,
        b.id,
        a.id,
    ]


async def test_set_message_ref_is_idempotent(store: Store, make_new: Factory) -> None:
    record, _ = await store.create_incident(make_new(), now=T0)
    later = T0 + timedelta(minutes=1)
    assert await store.set_message_ref(record.id, "C1", "1714550400.000100", now=later)
    assert await store.set_message_ref(record.id, "C1", "1714550400.000100", now=later)
    stored = await store.get_incident(record.id)
    assert stored is not None
    assert (stored.channel_id, stored.message_ts, stored.updated_at) == (
        "C1",
        "1714550400.000100",
        later,
    )
    assert await store.set_message_ref("LEAK-2026-9999", "C1", "1.2", now=later) is False


async def test_fifty_concurrent_creations_from_several_stores(
    store: Store, open_store: StoreFactory, make_new: Factory
) -> None:
    stores = [store, *[await open_store() for _ in range(4)]]

    async def create(i: int) -> str:
        s = stores[i % len(stores)]
        record, created = await s.create_incident(
            make_new(submission_key=f"k{i}"), now=T0, outbox=[post(f"m{i}")]
        )
        assert created
        return record.id

    ids = await asyncio.gather(*(create(i) for i in range(50)))
    assert sorted(ids) == [f"LEAK-2026-{n:04d}" for n in range(1, 51)]
    assert len(await store.outbox_items()) == 50
    assert await store.verify_audit_chain() == []
    assert (await store.audit_head())[0] == 50


async def test_concurrent_double_submits_create_one_incident(
    store: Store, open_store: StoreFactory, make_new: Factory
) -> None:
    stores = [store, *[await open_store() for _ in range(3)]]
    results = await asyncio.gather(
        *(
            stores[i % len(stores)].create_incident(
                make_new(submission_key="same-view"), now=T0, outbox=[post()]
            )
            for i in range(12)
        )
    )
    assert sum(created for _, created in results) == 1
    assert {record.id for record, _ in results} == {"LEAK-2026-0001"}
    assert len(await store.outbox_items()) == 1
    nxt, _ = await store.create_incident(make_new(), now=T0)
    assert nxt.id == "LEAK-2026-0002"


async def test_many_concurrent_mixed_operations_on_one_store(
    store: Store, make_new: Factory
) -> None:
    """Far more concurrent work than the pool has connections (3 on both databases, on purpose):
    it queues and completes; no operation holds one connection while waiting for another."""

    async def create(i: int) -> str:
        record, _ = await store.create_incident(
            make_new(submission_key=f"mixed{i}"), now=T0, outbox=[post(f"m{i}")]
        )
        assert await store.get_incident(record.id) == record
        return record.id

    async def deliver(worker: str) -> int:
        sent = 0
        for item in await store.claim_outbox(now=T0, worker_id=worker, limit=5):
            sent += await store.mark_sent(item.id, result={"ts": "1.0"}, now=T0, worker_id=worker)
        return sent

    async def read() -> int:
        return len(await store.list_incidents(limit=10)) + int(await store.ping())

    work: list[Awaitable[object]] = []
    for i in range(60):
        work.append(create(i))
        work.append(deliver(f"w{i % 4}") if i % 2 else read())
    await asyncio.wait_for(asyncio.gather(*work), timeout=60)
    while await deliver("w-final"):
        pass
    assert len(await store.list_incidents(limit=100)) == 60
    assert await store.outbox_depth() == 0
    assert await store.verify_audit_chain() == []
