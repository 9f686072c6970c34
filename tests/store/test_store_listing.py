"""`/leak list`'s reads and the kept counts behind its totals (bot/store/listing.py, migration
0007), on both databases: every page equals a plain reading of all incidents."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import case, func, select, text
from sqlalchemy.engine import Connection

from bot.domain.partners import normalize_partner
from bot.store import IncidentRecord, NewIncident, NewTask, Store
from bot.store import listing as listing_queries
from bot.store.tables import (
    incident_viewers,
    incidents,
    partner_status_counts,
    reporter_status_counts,
    tasks,
)

T0 = datetime(2026, 5, 6, 9, 0, tzinfo=UTC)
Factory = Callable[..., NewIncident]
APPROVER = "U_APPROVER"
PARTNERS = ("株式会社アクメ", "アクメ商事", "Globex Corporation", "globex corp.", "Initech")
REPORTERS = ("U_R1", "U_R2", "U_R3")
SCOPES: dict[str, tuple[str, ...] | None] = {
    "open": ("pending", "decided"),
    "closed": ("closed",),
    "all": None,
}


async def kept_and_counted(store: Store) -> tuple[dict[Any, int], dict[Any, int], dict[Any, int]]:
    """(kept per reporter, counted per reporter, kept per partner minus counted per partner)."""
    async with store.read() as conn:
        kept = {
            (r, s): n
            for r, s, n in await conn.execute(select(reporter_status_counts))
            if n  # rows that went to 0 stay
        }
        counted = {
            (r, s): n
            for r, s, n in await conn.execute(
                select(incidents.c.reporter_id, incidents.c.status, func.count()).group_by(
                    incidents.c.reporter_id, incidents.c.status
                )
            )
        }
        partners: dict[Any, int] = {}
        for p, k, s, n in await conn.execute(select(partner_status_counts)):
            partners[(p, k, s)] = partners.get((p, k, s), 0) + n
        for p, k, s, n in await conn.execute(
            select(
                incidents.c.partner, incidents.c.partner_key, incidents.c.status, func.count()
            ).group_by(incidents.c.partner, incidents.c.partner_key, incidents.c.status)
        ):
            partners[(p, k, s)] = partners.get((p, k, s), 0) - n
    return kept, counted, {key: n for key, n in partners.items() if n}


async def assert_counts_kept(store: Store) -> None:
    kept, counted, partner_difference = await kept_and_counted(store)
    assert kept == counted
    assert partner_difference == {}
    await assert_viewers_kept(store)


async def assert_viewers_kept(store: Store) -> None:
    """incident_viewers holds each incident's reporter and task owners, with its status,
    creation time and decision time (when it has a decided action: migration 0008)."""
    decided = case((incidents.c.decided_action.is_not(None), incidents.c.decided_at))
    state = (incidents.c.id, incidents.c.status, incidents.c.created_at, decided)
    async with store.read() as conn:
        kept = {tuple(row) for row in await conn.execute(select(incident_viewers))}
        expected = {
            tuple(row) for row in await conn.execute(select(incidents.c.reporter_id, *state))
        }
        expected |= {
            tuple(row)
            for row in await conn.execute(
                select(tasks.c.owner_id, *state)
                .select_from(tasks.join(incidents, incidents.c.id == tasks.c.incident_id))
                .where(tasks.c.owner_id.is_not(None))
            )
        }
    assert kept == expected


async def fill(store: Store, make_new: Factory, n: int = 30) -> list[IncidentRecord]:
    """`n` incidents over three reporters and five partner spellings, in every status; two
    created at the same moment (the id breaks the tie)."""
    made: list[IncidentRecord] = []
    for i in range(n):
        partner = PARTNERS[i % len(PARTNERS)]
        record, _ = await store.create_incident(
            make_new(reporter_id=REPORTERS[i % 3], partner=partner),
            now=T0 + timedelta(minutes=i if i != 7 else 6),
        )
        made.append(record)
    for i, record in enumerate(made):
        later = T0 + timedelta(hours=1, minutes=i)
        if i % 4 == 1:
            await store.reject(record.id, actor_id=APPROVER, reason="no", now=later)
        elif i % 4 in (2, 3):
            await store.record_approval(
                record.id, approver_id=APPROVER, action="request_report", required=1, now=later
            )
            if i % 4 == 3:
                await store.close_with_outcome(
                    record.id,
                    actor_id=APPROVER,
                    outcome="continued",
                    note=None,
                    regulator=[],
                    done_task_ids=[],
                    now=later,
                )
    return made


async def test_counts_follow_every_change(store: Store, make_new: Factory) -> None:
    await assert_counts_kept(store)
    made = await fill(store, make_new)
    await assert_counts_kept(store)
    async with store.read() as conn:
        decided = await listing_queries.incident_total(conn, ("decided",))
        mine = await listing_queries.incident_total(conn, ("closed",), reporter_id="U_R1")
    assert (decided, mine) == (7, 3)  # i % 4 == 2 of 30; closed: i = 3, 15, 27
    # Reopened, closed again, sent to a new round, its partner spelled anew by hand.
    closed = made[3]
    await store.reopen_closed(closed.id, actor_id=APPROVER, now=T0 + timedelta(days=1))
    await assert_counts_kept(store)
    await store.reopen_for_new_round(
        closed.id,
        assessment={"recommendation": "consider_suspension"},
        recommendation="consider_suspension",
        actor_id=APPROVER,
        reason="new facts",
        now=T0 + timedelta(days=2),
    )
    await assert_counts_kept(store)
    async with store._writer.begin() as conn:
        await conn.execute(
            incidents.update()
            .where(incidents.c.id == made[0].id)
            .values(partner="Umbrella", partner_key=normalize_partner("Umbrella"))
        )
        await conn.execute(
            incidents.update().where(incidents.c.id == made[4].id).values(reporter_id="U_R9")
        )
        # The decision's time or action changed alone (not through the app).
        await conn.execute(
            incidents.update()
            .where(incidents.c.id == made[2].id)
            .values(decided_at=T0 + timedelta(days=3))
        )
        await conn.execute(
            incidents.update().where(incidents.c.id == made[6].id).values(decided_action=None)
        )
    await assert_counts_kept(store)
    # Tasks: owners added, one moved to someone else, one removed, one without an owner.
    step = {"ja": "作業", "en": "Step"}
    await store.create_tasks(
        made[2].id,
        [
            NewTask("checklist", "a", step, "U_R3", T0),
            NewTask("checklist", "b", step, "U_OWNER", T0),
            NewTask("checklist", "c", step, "U_OWNER", T0),
            NewTask("checklist", "d", step, None, T0),
        ],
        now=T0,
    )
    await assert_viewers_kept(store)
    async with store._writer.begin() as conn:
        await conn.execute(
            tasks.update()
            .where(tasks.c.incident_id == made[2].id, tasks.c.ref == "b")
            .values(owner_id="U_OTHER")
        )
    await assert_viewers_kept(store)  # U_OWNER still owns "c"
    async with store._writer.begin() as conn:
        await conn.execute(
            tasks.delete().where(tasks.c.incident_id == made[2].id, tasks.c.ref.in_(["a", "c"]))
        )
    await assert_viewers_kept(store)  # U_OWNER and U_R3 (not its reporter) gone
    async with store.read() as conn:
        assert await listing_queries.incident_total(conn, ("pending", "decided")) == sum(
            1 for r in await store.list_incidents(limit=100) if r.status in ("pending", "decided")
        )


def _to_0005(connection: Connection) -> None:
    from alembic import command

    from bot.store.migrate import alembic_config

    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, "0005")


async def test_the_migration_counts_what_is_there(database_url: str, make_new: Factory) -> None:
    store = await Store.open(database_url)
    try:
        made = await fill(store, make_new, 12)
        step = {"ja": "作業", "en": "Step"}
        await store.create_tasks(
            made[2].id,
            [
                NewTask("checklist", "a", step, "U_OWNER", T0),
                NewTask("checklist", "b", step, "U_OWNER", T0),
            ],
            now=T0,
        )
        async with store._writer.begin() as conn:
            await conn.run_sync(_to_0005)
            # Changed while nothing kept the counts: the backfill must still see it.
            await conn.execute(
                text("UPDATE incidents SET status = 'decided' WHERE status = 'pending'")
            )
    finally:
        await store.close()
    store = await Store.open(database_url)  # upgraded to head again
    try:
        await assert_counts_kept(store)
        kept, _, _ = await kept_and_counted(store)
        assert sum(kept.values()) == 12 and not any(s == "pending" for _, s in kept)
    finally:
        await store.close()


def _reference(
    records: list[IncidentRecord],
    scope: str,
    reporter_id: str | None,
    partner_text: str | None,
) -> list[str]:
    """What the list shows, read plainly: newest first (created_at, then id)."""
    wanted = SCOPES[scope]
    chosen = []
    for record in records:
        if wanted is not None and record.status not in wanted:
            continue
        if reporter_id is not None and record.reporter_id != reporter_id:
            continue
        if partner_text and not (
            normalize_partner(partner_text) in normalize_partner(record.partner)
            or partner_text.lower() in record.partner.lower()
        ):
            continue
        chosen.append(record)
    chosen.sort(key=lambda r: (r.created_at, r.id), reverse=True)
    return [r.id for r in chosen]


@pytest.mark.parametrize("few", [0, 10_000], ids=["walked", "by-partner"])
async def test_every_page_equals_a_plain_reading(
    store: Store, make_new: Factory, monkeypatch: pytest.MonkeyPatch, few: int
) -> None:
    # few=0: every partner filter walks the newest incidents; 10,000: reads them by partner.
    monkeypatch.setattr(listing_queries, "FEW_PARTNER_INCIDENTS", few)
    await fill(store, make_new)
    everything = await store.list_incidents(limit=1000)
    assert len(everything) == 30
    for scope, statuses in SCOPES.items():
        for reporter_id in (None, "U_R2"):
            for partner_text in (None, "アクメ", "GLOBEX", "globex corp", "Umbrella", "%"):
                expected = _reference(everything, scope, reporter_id, partner_text)
                for limit, offset in ((30, 0), (4, 0), (4, 4), (4, 8), (4, 40)):
                    page, total = await store.list_incidents_page(
                        statuses=statuses,
                        partner_text=partner_text,
                        reporter_id=reporter_id,
                        limit=limit,
                        offset=offset,
                    )
                    where = (scope, reporter_id, partner_text, limit, offset)
                    assert total == len(expected), where
                    assert [r.id for r in page] == expected[offset : offset + limit], where
                    assert all(r == next(e for e in everything if e.id == r.id) for r in page)
