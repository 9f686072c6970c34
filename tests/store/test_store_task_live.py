"""`tasks.live` after a later round re-creates only some of an earlier round's deadlines: the
ones it re-created stop running, the others keep running (legal clocks do not stop because a
re-assessment asked for a new decision), as `live_condition` says. A regression test: the
refresh's EXISTS once took a `tasks` of its own inside the UPDATE, so any later-round task of
the same kind and ref anywhere made every earlier-round deadline count as re-created."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from bot.store import NewIncident, NewTask, Store
from bot.store.migrate import alembic_config
from bot.store.tables import deadline_counts, tasks

NewIncidentFactory = Callable[..., NewIncident]  # the `make_new` fixture (tests/store/conftest.py)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _deadline(ref: str, due: datetime) -> NewTask:
    return NewTask("deadline", ref, {"en": ref}, "UOWNER1", due, None)


async def _decided_with(store: Store, incident_id: str, refs: list[str], at: datetime) -> None:
    outcome = await store.record_approval(
        incident_id, approver_id="UAPPROVER1", action="request_report", required=1, now=at
    )
    assert outcome.kind == "decided"
    await store.create_tasks(
        incident_id,
        [_deadline(ref, at + timedelta(days=3)) for ref in refs],
        now=at,
        actor_id="UAPPROVER1",
    )


async def _new_round(store: Store, incident_id: str, at: datetime) -> None:
    """A re-assessment asks for a new decision (round + 1), as bot/lifecycle.py does."""
    await store.reopen_for_new_round(
        incident_id,
        assessment={"recommendation": "request_report"},
        recommendation="request_report",
        actor_id="leakbot",
        reason="reassessed",
        now=at,
    )


async def _live(store: Store, incident_id: str) -> dict[tuple[int, str], bool]:
    async with store.read() as conn:
        rows = await conn.execute(
            select(tasks.c.round, tasks.c.ref, tasks.c.live).where(
                tasks.c.incident_id == incident_id
            )
        )
        return {(row.round, row.ref): bool(row.live) for row in rows}


async def _two_incidents_with_new_rounds(
    store: Store, make_new: NewIncidentFactory
) -> tuple[str, str]:
    # Another incident with a round 2 that re-created partner_report: it must not matter here.
    other, _ = await store.create_incident(make_new(partner="Globex"), now=T0)
    await _decided_with(store, other.id, ["partner_report"], T0)
    await _new_round(store, other.id, T0 + timedelta(hours=1))
    await _decided_with(store, other.id, ["partner_report"], T0 + timedelta(hours=2))

    record, _ = await store.create_incident(make_new(partner="Acme"), now=T0)
    await _decided_with(store, record.id, ["appi_preliminary", "partner_report"], T0)
    assert await _live(store, record.id) == {
        (1, "appi_preliminary"): True,
        (1, "partner_report"): True,
    }
    await _new_round(store, record.id, T0 + timedelta(hours=3))
    # Waiting for the new decision: both round-1 clocks keep running.
    assert await _live(store, record.id) == {
        (1, "appi_preliminary"): True,
        (1, "partner_report"): True,
    }
    await _decided_with(store, record.id, ["partner_report"], T0 + timedelta(hours=4))
    return record.id, other.id


async def test_a_later_round_stops_only_the_deadlines_it_re_creates(
    store: Store, make_new: NewIncidentFactory
) -> None:
    record_id, other_id = await _two_incidents_with_new_rounds(store, make_new)
    assert await _live(store, record_id) == {
        (1, "appi_preliminary"): True,  # not re-created: still runs
        (1, "partner_report"): False,  # re-created by round 2
        (2, "partner_report"): True,
    }
    assert await _live(store, other_id) == {
        (1, "partner_report"): False,
        (2, "partner_report"): True,
    }
    assert await _kept_deadlines(store) == await _recounted_deadlines(store)


async def _kept_deadlines(store: Store) -> dict[tuple[str, str, str], int]:
    async with store.read() as conn:
        rows = await conn.execute(select(deadline_counts))
        return {
            (row.ref, str(row.due_day), str(row.overdue_day)): row.open for row in rows if row.open
        }


async def _recounted_deadlines(store: Store) -> dict[tuple[str, str, str], int]:
    counts: dict[tuple[str, str, str], int] = {}
    async with store.read() as conn:
        rows = await conn.execute(
            select(tasks).where(
                tasks.c.status == "open", tasks.c.kind == "deadline", tasks.c.live.is_(True)
            )
        )
        for row in rows:
            due, overdue = row.due_at, row.overdue_after or row.due_at
            key = (row.ref, str(_utc_day(due)), str(_utc_day(overdue)))
            counts[key] = counts.get(key, 0) + 1
    return counts


def _utc_day(moment: datetime) -> object:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).date()


def _downgrade_to_0009(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, "0009")


async def test_migration_0010_repairs_what_the_old_refresh_left(
    database_url: str, make_new: NewIncidentFactory
) -> None:
    """Rows as the old refresh left them (an earlier-round deadline no later round re-created
    marked as not running, its count gone): upgrading to 0010 puts both right."""
    store = await Store.open(database_url)
    try:
        record_id, _ = await _two_incidents_with_new_rounds(store, make_new)
        async with store._writer.begin() as conn:
            await conn.execute(
                update(tasks)
                .where(tasks.c.incident_id == record_id, tasks.c.ref == "appi_preliminary")
                .values(live=False)
            )
            await conn.execute(delete(deadline_counts))
            await conn.run_sync(_downgrade_to_0009)
        assert (await store.migration_status()).current == "0009"
        assert (await _live(store, record_id))[(1, "appi_preliminary")] is False
    finally:
        await store.close()
    reopened = await Store.open(database_url)  # upgraded to head: the repair
    try:
        assert await _live(reopened, record_id) == {
            (1, "appi_preliminary"): True,
            (1, "partner_report"): False,
            (2, "partner_report"): True,
        }
        kept = await _kept_deadlines(reopened)
        assert kept == await _recounted_deadlines(reopened)
        assert sum(kept.values()) == 3  # Acme's two running, Globex's round 2
    finally:
        await reopened.close()
