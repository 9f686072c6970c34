"""Slack delivery dedupe, follow-up tasks and job claims."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from db_reads import job_claimed_by

from bot.store import IncidentNotFound, NewIncident, NewTask, OutboxMessage, Store

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
Factory = Callable[..., NewIncident]
StoreFactory = Callable[[], Awaitable[Store]]

PARTNER_REPORT = NewTask(
    "deadline",
    "partner_report",
    {"ja": "取引先の報告書", "en": "Partner's report"},
    owner_id="U_REPORTER",
    due_at=T0 + timedelta(days=7),
)
APPI_PRELIM = NewTask(
    "deadline",
    "appi_preliminary",
    {"ja": "速報", "en": "Preliminary report"},
    due_at=T0 + timedelta(days=3),
)
CHECK_0 = NewTask("checklist", "0", {"ja": "事実確認", "en": "Establish the facts"})


async def test_remember_event(store: Store) -> None:
    assert await store.remember_event("Ev123", now=T0) is True
    assert await store.remember_event("Ev123", now=T0) is False
    assert await store.remember_event("Ev124", now=T0) is True
    assert await store.forget_events_before(T0 + timedelta(seconds=1)) == 2
    assert await store.remember_event("Ev123", now=T0) is True


async def test_remember_event_concurrently(store: Store, open_store: StoreFactory) -> None:
    stores = [store, await open_store()]
    results = await asyncio.gather(
        *(stores[i % 2].remember_event("retry-1", now=T0) for i in range(10))
    )
    assert sorted(results) == [False] * 9 + [True]


async def test_tasks(store: Store, make_new: Factory) -> None:
    incident, _ = await store.create_incident(make_new(), now=T0)
    created = await store.create_tasks(incident.id, [PARTNER_REPORT, APPI_PRELIM, CHECK_0], now=T0)
    assert [(t.kind, t.ref, t.status, t.round) for t in created] == [
        ("deadline", "partner_report", "open", 1),
        ("deadline", "appi_preliminary", "open", 1),
        ("checklist", "0", "open", 1),
    ]
    assert created[0].title == {"ja": "取引先の報告書", "en": "Partner's report"}
    assert created[0].due_at == T0 + timedelta(days=7)

    # idempotent: the same refs again give the same tasks and no new audit row
    again = await store.create_tasks(incident.id, [CHECK_0, PARTNER_REPORT], now=T0)
    assert [t.id for t in again] == [created[2].id, created[0].id]
    assert len(await store.tasks_for(incident.id)) == 3
    actions = [a.action for a in await store.audit_trail(incident.id)]
    assert actions.count("tasks.created") == 1

    # (What the minute pass reads: attention.due_attention, tests/store/test_store_attention.py.)
    due = await store.due_attention(T0 + timedelta(days=30), limit=10)
    assert sorted(d.task.ref for d in due) == ["appi_preliminary", "partner_report"]
    assert [(t.ref, t.status) for t in await store.tasks_for(incident.id)] == [
        ("partner_report", "open"),
        ("appi_preliminary", "open"),
        ("0", "open"),
    ]

    done = await store.complete_task(created[1].id, actor_id="U_LEGAL", now=T0 + timedelta(days=2))
    assert done.kind == "done"
    assert done.task is not None
    assert (done.task.status, done.task.done_by, done.task.done_at) == (
        "done",
        "U_LEGAL",
        T0 + timedelta(days=2),
    )
    repeat = await store.complete_task(
        created[1].id, actor_id="U_OTHER", now=T0 + timedelta(days=3)
    )
    assert repeat.kind == "already_done" and repeat.task == done.task
    assert (await store.complete_task(99999, actor_id="U", now=T0)).kind == "not_found"
    assert await store.get_task(created[1].id) == done.task
    assert await store.get_task(99999) is None
    due = await store.due_attention(T0 + timedelta(days=30), limit=10)
    assert [d.task.ref for d in due] == ["partner_report"]
    assert [a.action for a in await store.audit_trail(incident.id)][-1] == "task.done"

    with pytest.raises(IncidentNotFound):
        await store.create_tasks("LEAK-2026-0999", [CHECK_0], now=T0)


async def test_tasks_created_with_the_incident_and_per_round(
    store: Store, make_new: Factory
) -> None:
    incident, _ = await store.create_incident(make_new(), now=T0, tasks=[PARTNER_REPORT])
    assert [t.ref for t in await store.tasks_for(incident.id)] == ["partner_report"]
    await store.reopen_for_new_round(
        incident.id,
        assessment={},
        recommendation="consider_suspension",
        actor_id="leakbot",
        reason="missed",
        now=T0 + timedelta(days=8),
    )
    round2 = await store.create_tasks(incident.id, [PARTNER_REPORT], now=T0 + timedelta(days=8))
    assert round2[0].round == 2
    assert len(await store.tasks_for(incident.id)) == 2


async def test_job_claims(store: Store) -> None:
    key = "weekly-summary:2026-W18"
    assert await job_claimed_by(store, key) is None
    assert await store.claim_job(key, owner="replica-a", now=T0) is True
    assert await store.claim_job(key, owner="replica-b", now=T0) is False
    assert await job_claimed_by(store, key) == "replica-a"
    assert await store.claim_job(key, owner="replica-a", now=T0 + timedelta(days=1)) is False
    assert await job_claimed_by(store, "never-claimed") is None


async def test_concurrent_job_claimers(store: Store, open_store: StoreFactory) -> None:
    stores = [store, *[await open_store() for _ in range(3)]]
    results = await asyncio.gather(
        *(
            stores[i % len(stores)].claim_job(
                "reminder:LEAK-2026-0001:partner_report", owner=f"r{i}", now=T0
            )
            for i in range(16)
        )
    )
    assert results.count(True) == 1


async def test_batch_reads_for_the_follow_through(store: Store, make_new: Factory) -> None:
    """The follow-through pass reads incidents and queued keys for many incidents at once;
    across chunk boundaries (500 ids) each id still gets exactly its own rows."""
    created = [(await store.create_incident(make_new(), now=T0))[0] for _ in range(3)]
    first, _, third = (incident.id for incident in created)
    await store.enqueue(
        [OutboxMessage("tasks", "chat.postMessage", {"text": "t"}, first, f"tasks:{first}:1")],
        now=T0,
    )

    padding = [f"LEAK-2026-{n:05d}" for n in range(10_000, 10_600)]  # unknown ids
    found = await store.get_incidents([*padding, first, third, first])
    assert sorted(found) == sorted([first, third])
    assert found[third] == await store.get_incident(third)

    keys = [f"tasks:{incident.id}:1" for incident in created] + [f"x:{n}" for n in range(600)]
    assert await store.queued_dedupe_keys(keys) == {f"tasks:{first}:1"}
    assert await store.queued_dedupe_keys([]) == set()
