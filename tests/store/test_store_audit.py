"""The append-only, hash-chained audit trail."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.store import GENESIS_HASH, AuditProblem, NewIncident, Store, audit_hash

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
Factory = Callable[..., NewIncident]
StoreFactory = Callable[[], Awaitable[Store]]
RawSQL = Callable[[str], Awaitable[list[tuple[Any, ...]]]]


async def _some_history(store: Store, make_new: Factory) -> str:
    incident, _ = await store.create_incident(make_new(), now=T0)
    await store.record_approval(
        incident.id, approver_id="S1", action="request_report", required=1, now=T0
    )
    await store.append_audit(
        "U9", "summary.posted", after={"week": "2026-W18", "注": "日本語"}, now=T0
    )
    return incident.id


async def test_chain_links_and_verifies(store: Store, make_new: Factory) -> None:
    incident_id = await _some_history(store, make_new)
    assert await store.verify_audit_chain() == []
    trail = await store.audit_trail(incident_id)
    assert [a.action for a in trail] == [
        "incident.created",
        "approval.recorded",
        "incident.decided",
    ]
    assert trail[0].prev_hash == GENESIS_HASH
    for earlier, later in itertools.pairwise(trail):
        assert later.prev_hash == earlier.hash
    for row in trail:
        assert row.hash == audit_hash(
            row.prev_hash,
            incident_id=row.incident_id,
            actor_id=row.actor_id,
            action=row.action,
            before=row.before,
            after=row.after,
            at=row.at,
        )
    count, head = await store.audit_head()
    assert count == 4
    assert head != trail[-1].hash  # the summary row is last, outside the incident's trail


async def test_public_append_audit(store: Store) -> None:
    row = await store.append_audit("U1", "settings.viewed", now=T0 + timedelta(hours=1))
    assert (row.incident_id, row.before, row.after, row.prev_hash) == (
        None,
        None,
        None,
        GENESIS_HASH,
    )
    assert row.at == T0 + timedelta(hours=1)
    assert await store.verify_audit_chain() == []
    with pytest.raises(ValueError):
        await store.append_audit("U1", "x", now=datetime(2026, 1, 1))
    tokyo = datetime(2026, 5, 1, 18, 30, 0, 123456, tzinfo=ZoneInfo("Asia/Tokyo"))
    local = await store.append_audit("U1", "local.time", after={"n": 1.5}, now=tokyo)
    assert local.at == tokyo and local.at.tzinfo == UTC
    assert await store.verify_audit_chain() == []


def test_store_has_no_public_way_to_change_audit_rows() -> None:
    public = [name for name in dir(Store) if not name.startswith("_")]
    assert [n for n in public if "update" in n.lower() or "delete" in n.lower()] == []
    assert [n for n in public if "audit" in n] == [
        "append_audit",
        "audit_head",
        "audit_trail",
        "verify_audit_chain",
    ]


async def test_trigger_refuses_update_and_delete(
    store: Store, make_new: Factory, raw_sql: RawSQL
) -> None:
    await _some_history(store, make_new)
    with pytest.raises(Exception, match="append-only"):
        await raw_sql("UPDATE audit_log SET actor_id = 'mallory' WHERE id = 1")
    with pytest.raises(Exception, match="append-only"):
        await raw_sql("DELETE FROM audit_log WHERE id = 2")
    if store.dialect == "postgresql":
        with pytest.raises(Exception, match="append-only"):
            await raw_sql("TRUNCATE audit_log")
    assert (await store.audit_head())[0] == 4
    assert await store.verify_audit_chain() == []


async def _drop_triggers(store: Store, raw_sql: RawSQL) -> None:
    if store.dialect == "postgresql":
        await raw_sql("DROP TRIGGER audit_log_append_only ON audit_log")
    else:
        await raw_sql("DROP TRIGGER audit_log_no_update")
        await raw_sql("DROP TRIGGER audit_log_no_delete")


async def test_verify_detects_a_changed_row(
    store: Store, make_new: Factory, raw_sql: RawSQL
) -> None:
    await _some_history(store, make_new)
    await _drop_triggers(store, raw_sql)
    await raw_sql("UPDATE audit_log SET actor_id = 'mallory' WHERE id = 2")
    problems = await store.verify_audit_chain()
    assert problems == [AuditProblem(2, "hash")]


async def test_verify_detects_a_rewritten_row_with_a_fresh_hash(
    store: Store, make_new: Factory, raw_sql: RawSQL
) -> None:
    await _some_history(store, make_new)
    await _drop_triggers(store, raw_sql)
    [(prev_hash,)] = await raw_sql("SELECT prev_hash FROM audit_log WHERE id = 2")
    # a forger recomputes row 2's own hash — the next row's prev_hash gives it away
    [row2] = [a for a in await store.audit_trail("LEAK-2026-0001") if a.id == 2]
    forged = audit_hash(
        prev_hash,
        incident_id=row2.incident_id,
        actor_id="mallory",
        action=row2.action,
        before=row2.before,
        after=row2.after,
        at=row2.at,
    )
    await raw_sql(f"UPDATE audit_log SET actor_id = 'mallory', hash = '{forged}' WHERE id = 2")
    problems = await store.verify_audit_chain()
    assert problems == [AuditProblem(3, "prev_hash")]


async def test_verify_detects_a_deleted_row(
    store: Store, make_new: Factory, raw_sql: RawSQL
) -> None:
    await _some_history(store, make_new)
    await _drop_triggers(store, raw_sql)
    await raw_sql("DELETE FROM audit_log WHERE id = 2")
    problems = await store.verify_audit_chain()
    assert problems == [AuditProblem(3, "prev_hash")]


async def test_concurrent_appends_do_not_fork_the_chain(
    store: Store, open_store: StoreFactory
) -> None:
    stores = [store, *[await open_store() for _ in range(3)]]
    await asyncio.gather(
        *(
            stores[i % len(stores)].append_audit(f"U{i}", "test.event", after={"i": i}, now=T0)
            for i in range(40)
        )
    )
    assert await store.verify_audit_chain() == []
    count, _ = await store.audit_head()
    assert count == 40
