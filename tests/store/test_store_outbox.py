"""The outbox of Slack calls: enqueue, leases, retries, per-incident order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from bot.store import (
    IncidentRecord,
    NewIncident,
    OutboxItem,
    OutboxMessage,
    Store,
)

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
Factory = Callable[..., NewIncident]
StoreFactory = Callable[[], Awaitable[Store]]


def msg(
    text: str,
    incident_id: str | None = None,
    *,
    dedupe_key: str | None = None,
    not_before: datetime | None = None,
) -> OutboxMessage:
    return OutboxMessage(
        kind="note",
        method="chat.postMessage",
        payload={"channel": "C1", "text": text},
        incident_id=incident_id,
        dedupe_key=dedupe_key,
        not_before=not_before,
    )


def texts(items: list[OutboxItem]) -> list[str]:
    return [i.payload["text"] for i in items]


async def two_incidents(store: Store, make_new: Factory) -> tuple[str, str]:
    a, _ = await store.create_incident(make_new(), now=T0)
    b, _ = await store.create_incident(make_new(), now=T0)
    return a.id, b.id


async def test_enqueue_and_dedupe_key(store: Store) -> None:
    ids = await store.enqueue([msg("one", dedupe_key="d1"), msg("two")], now=T0)
    assert len(ids) == 2
    assert await store.enqueue([msg("one again", dedupe_key="d1")], now=T0) == []
    assert await store.enqueue([], now=T0) == []
    items = await store.outbox_items()
    assert texts(items) == ["one", "two"]
    assert items[0].dedupe_key == "d1"
    assert await store.outbox_depth() == 2


async def test_claim_leases_due_items(store: Store) -> None:
    await store.enqueue([msg("now"), msg("later", not_before=T0 + timedelta(minutes=10))], now=T0)
    claimed = await store.claim_outbox(now=T0, worker_id="w1", lease_seconds=30)
    assert texts(claimed) == ["now"]
    [item] = claimed
    assert (item.leased_by, item.lease_until, item.attempts) == (
        "w1",
        T0 + timedelta(seconds=30),
        1,
    )
    # leased: nobody else gets it before the lease expires
    assert await store.claim_outbox(now=T0 + timedelta(seconds=10), worker_id="w2") == []
    # the later one becomes due
    later = await store.claim_outbox(now=T0 + timedelta(minutes=10), worker_id="w2")
    assert "later" in texts(later)


async def test_expired_lease_can_be_taken_over(store: Store) -> None:
    [item_id] = await store.enqueue([msg("x")], now=T0)
    await store.claim_outbox(now=T0, worker_id="w1", lease_seconds=30)
    taken = await store.claim_outbox(now=T0 + timedelta(seconds=31), worker_id="w2")
    assert [(i.id, i.leased_by, i.attempts) for i in taken] == [(item_id, "w2", 2)]
    # the first worker lost its lease
    assert not await store.mark_sent(item_id, result={"ts": "1"}, now=T0, worker_id="w1")
    assert await store.mark_sent(
        item_id, result={"channel": "C1", "ts": "2"}, now=T0, worker_id="w2"
    )
    [done] = await store.outbox_items()
    assert (done.status, done.result, done.sent_at, done.leased_by) == (
        "sent",
        {"channel": "C1", "ts": "2"},
        T0,
        None,
    )
    assert not await store.mark_sent(item_id, result=None, now=T0, worker_id="w2")


async def test_retry_and_dead(store: Store) -> None:
    [item_id] = await store.enqueue([msg("x")], now=T0)
    await store.claim_outbox(now=T0, worker_id="w1")
    retry_at = T0 + timedelta(seconds=30)
    assert await store.mark_retry(
        item_id, error="ratelimited", next_attempt_at=retry_at, worker_id="w1"
    )
    [item] = await store.outbox_items()
    assert (item.status, item.last_error, item.next_attempt_at, item.lease_until) == (
        "pending",
        "ratelimited",
        retry_at,
        None,
    )
    assert await store.claim_outbox(now=T0 + timedelta(seconds=29), worker_id="w1") == []
    [again] = await store.claim_outbox(now=retry_at, worker_id="w1")
    assert again.attempts == 2
    assert not await store.mark_dead(item_id, error="x", now=retry_at, worker_id="other")
    assert await store.mark_dead(item_id, error="channel_not_found", now=retry_at, worker_id="w1")
    assert (await store.outbox_items(status="dead"))[0].last_error == "channel_not_found"
    assert await store.outbox_depth() == 0
    assert await store.claim_outbox(now=T0 + timedelta(days=1), worker_id="w1") == []


async def test_in_order_delivery_per_incident(store: Store, make_new: Factory) -> None:
    a, b = await two_incidents(store, make_new)
    await store.enqueue(
        [msg("a1", a), msg("a2", a), msg("b1", b), msg("free1"), msg("a3", a)], now=T0
    )
    first = await store.claim_outbox(now=T0, worker_id="w")
    assert texts(first) == ["a1", "b1", "free1"]
    items = {i.payload["text"]: i for i in await store.outbox_items()}

    # a1 fails and backs off: a2 must still wait, even when a2 itself is due
    later = T0 + timedelta(minutes=1)
    await store.mark_retry(items["a1"].id, error="5xx", next_attempt_at=later, worker_id="w")
    await store.mark_sent(items["b1"].id, result={"ts": "b"}, now=T0, worker_id="w")
    await store.mark_sent(items["free1"].id, result={"ts": "f"}, now=T0, worker_id="w")
    assert await store.claim_outbox(now=T0 + timedelta(seconds=59), worker_id="w") == []

    assert texts(await store.claim_outbox(now=later, worker_id="w")) == ["a1"]
    await store.mark_sent(items["a1"].id, result={"ts": "a"}, now=later, worker_id="w")
    assert texts(await store.claim_outbox(now=later, worker_id="w")) == ["a2"]
    # a dead item no longer blocks its successors
    await store.mark_dead(items["a2"].id, error="invalid_blocks", now=later, worker_id="w")
    assert texts(await store.claim_outbox(now=later, worker_id="w")) == ["a3"]


async def test_limit(store: Store) -> None:
    await store.enqueue([msg(str(i)) for i in range(7)], now=T0)
    assert texts(await store.claim_outbox(now=T0, worker_id="w", limit=3)) == ["0", "1", "2"]
    assert texts(await store.claim_outbox(now=T0, worker_id="w", limit=10)) == ["3", "4", "5", "6"]


async def test_last_sent_result(store: Store, make_new: Factory) -> None:
    a, _ = await two_incidents(store, make_new)
    rec = OutboxMessage("recommendation", "chat.postMessage", {"text": "rec"}, incident_id=a)
    await store.enqueue([rec], now=T0)
    assert await store.last_sent_result(a, "recommendation") is None
    [item] = await store.claim_outbox(now=T0, worker_id="w")
    await store.mark_sent(
        item.id, result={"channel": "C9", "ts": "171.0001"}, now=T0, worker_id="w"
    )
    assert await store.last_sent_result(a, "recommendation") == {"channel": "C9", "ts": "171.0001"}
    assert await store.last_sent_result(a, "decision") is None


async def test_concurrent_workers_never_claim_the_same_item(
    store: Store, open_store: StoreFactory, make_new: Factory
) -> None:
    incident_ids = [(await store.create_incident(make_new(), now=T0))[0].id for _ in range(5)]
    messages = [msg(f"free{i}") for i in range(40)]
    messages += [msg(f"{iid}-{n}", iid) for iid in incident_ids for n in range(2)]
    await store.enqueue(messages, now=T0)
    workers = [store, *[await open_store() for _ in range(3)]]
    claimed: dict[int, str] = {}

    async def work(index: int) -> None:
        worker = f"w{index}"
        for _ in range(30):
            batch = await workers[index].claim_outbox(now=T0, worker_id=worker, limit=4)
            for item in batch:
                assert item.id not in claimed, "claimed twice"
                claimed[item.id] = worker
                assert await workers[index].mark_sent(
                    item.id, result={"ts": str(item.id)}, now=T0, worker_id=worker
                )
            await asyncio.sleep(0)

    await asyncio.gather(*(work(i) for i in range(len(workers))))
    assert len(claimed) == 50
    assert await store.outbox_depth() == 0
    # order per incident held: each incident's items were sent in id order
    for iid in incident_ids:
        sent = await store.outbox_items(iid)
        sent_order = sorted(sent, key=lambda i: int((i.result or {})["ts"]))
        assert [i.id for i in sent_order] == [i.id for i in sent]


async def test_outbox_rendered_from_the_new_incident(store: Store, make_new: Factory) -> None:
    def render(record: IncidentRecord) -> list[OutboxMessage]:
        return [
            OutboxMessage(
                "recommendation",
                "chat.postMessage",
                {"channel": "C1", "text": record.id, "blocks": [{"value": record.id}]},
                dedupe_key=f"recommendation:{record.id}:{record.round}",
            )
        ]

    record, _ = await store.create_incident(make_new(), now=T0, outbox=render)
    [item] = await store.outbox_items(record.id)
    assert item.payload["blocks"] == [{"value": "LEAK-2026-0001"}]
    assert item.dedupe_key == "recommendation:LEAK-2026-0001:1"
