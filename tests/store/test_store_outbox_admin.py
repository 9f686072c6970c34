"""The outbox for operators (bot/store/outbox_admin.py): list, requeue, free a dead dedupe key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.store import OutboxMessage, Store
from bot.store.outbox_admin import (
    find_by_dedupe_key,
    get_item,
    list_items,
    release_dedupe_key,
    requeue,
    requeue_dead,
)

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
WORKER = "host:1:test"


def msg(text: str, *, dedupe_key: str | None = None) -> OutboxMessage:
    return OutboxMessage(
        kind="note",
        method="chat.postMessage",
        payload={"channel": "C1", "text": text},
        dedupe_key=dedupe_key,
    )


async def _claim_all(store: Store, now: datetime) -> list[int]:
    return [item.id for item in await store.claim_outbox(now=now, worker_id=WORKER, limit=50)]


async def three_fates(store: Store) -> tuple[int, int, int]:
    """One sent, one dead (after 3 attempts), one waiting for a retry."""
    sent, dead, waiting = await store.enqueue([msg("sent"), msg("dead"), msg("waiting")], now=T0)
    assert await _claim_all(store, T0) == [sent, dead, waiting]
    assert await store.mark_sent(
        sent, result={"channel": "C1", "ts": "1.1"}, now=T0, worker_id=WORKER
    )
    assert await store.mark_dead(dead, error="channel_not_found", now=T0, worker_id=WORKER)
    later = T0 + timedelta(hours=1)
    assert await store.mark_retry(
        waiting, error="ratelimited", next_attempt_at=later, worker_id=WORKER
    )
    return sent, dead, waiting


async def test_list_shows_what_is_not_delivered_oldest_first(store: Store) -> None:
    _, dead, waiting = await three_fates(store)
    listed = await list_items(store)
    assert [(i.id, i.status, i.last_error) for i in listed] == [
        (dead, "dead", "channel_not_found"),
        (waiting, "pending", "ratelimited"),
    ]
    assert [i.id for i in await list_items(store, dead_only=True)] == [dead]
    assert [i.id for i in await list_items(store, limit=1)] == [dead]


async def test_retry_puts_a_dead_item_back_due_now_with_fresh_attempts(store: Store) -> None:
    sent, dead, _ = await three_fates(store)
    now = T0 + timedelta(minutes=5)
    results = await requeue(store, [dead, sent, 999_999], now=now)
    assert [(r.item_id, r.outcome) for r in results] == [
        (sent, "already_sent"),
        (dead, "requeued"),
        (999_999, "not_found"),
    ]
    item = await get_item(store, dead)
    assert item is not None
    assert (item.status, item.attempts, item.next_attempt_at) == ("pending", 0, now)
    assert (await get_item(store, sent)).status == "sent"  # type: ignore[union-attr]
    # Due now: the sender claims it on its next round.
    assert await _claim_all(store, now) == [dead]


async def test_retry_moves_a_waiting_item_to_now_but_leaves_one_in_flight(store: Store) -> None:
    _, _, waiting = await three_fates(store)
    now = T0 + timedelta(minutes=5)
    [result] = await requeue(store, [waiting], now=now)
    assert result.outcome == "requeued"
    assert await _claim_all(store, now) == [waiting]  # leased now, lease running
    [again] = await requeue(store, [waiting], now=now)
    assert again.outcome == "in_flight"
    item = await get_item(store, waiting)
    assert item is not None and item.leased_by == WORKER


async def test_retry_dead_requeues_every_dead_item_in_order(store: Store) -> None:
    ids = await store.enqueue([msg("a"), msg("b"), msg("c")], now=T0)
    await _claim_all(store, T0)
    for item_id in ids[:2]:
        assert await store.mark_dead(item_id, error="x", now=T0, worker_id=WORKER)
    now = T0 + timedelta(minutes=1)
    assert await requeue_dead(store, now=now) == ids[:2]
    assert await list_items(store, dead_only=True) == []
    assert await requeue_dead(store, now=now) == []


async def test_a_dead_items_dedupe_key_can_be_taken_by_a_new_message(store: Store) -> None:
    [first] = await store.enqueue([msg("summary", dedupe_key="summary:2026-W18")], now=T0)
    # While it lives, the key keeps a second copy out.
    assert await store.enqueue([msg("again", dedupe_key="summary:2026-W18")], now=T0) == []
    assert not await release_dedupe_key(store, first)  # only a dead item gives its key up
    await _claim_all(store, T0)
    assert await store.mark_dead(first, error="channel_not_found", now=T0, worker_id=WORKER)

    assert await release_dedupe_key(store, first)
    [second] = await store.enqueue([msg("again", dedupe_key="summary:2026-W18")], now=T0)
    found = await find_by_dedupe_key(store, "summary:2026-W18")
    assert found is not None and found.id == second and found.status == "pending"
    old = await get_item(store, first)
    assert old is not None and old.dedupe_key == f"summary:2026-W18#dead-{first}"
    assert old.status == "dead"
    # The old one is never sent again: not by id, not with every dead item.
    [result] = await requeue(store, [first], now=T0)
    assert result.outcome == "superseded"
    assert await requeue_dead(store, now=T0) == []
