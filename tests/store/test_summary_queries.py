"""The weekly summary's and chart's queries (kept hour counts, merged statements, migration 0008)
give exactly what the straightforward queries give, on both databases, after every step of a
random sequence of the application's operations (tests/store/test_summary_kept.py): every
figure and listed line of `week_data` against `reference_week_data` (the code before), and the
chart's series against the grouped count over the incidents, in timezones whose weeks fall on
whole UTC hours (read from the kept rows, DST included) and one whose do not (+05:30, the
fallback), for several weeks and several moments `now`."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from alembic import command
from sqlalchemy import select
from sqlalchemy.engine import Connection
from summary_reference import reference_week_data
from test_summary_kept import OPERATIONS, Run, check, submit

from bot.domain.chart import CATEGORIES, chart_weeks, stack
from bot.domain.summary import Week, week_of
from bot.store import Store
from bot.store.chart import weekly_action_counts, weekly_actions
from bot.store.common import on_the_hour
from bot.store.migrate import alembic_config
from bot.store.reports import week_data
from bot.store.tables import HOUR_COUNT_CATEGORIES, decision_hour_counts, incident_hour_counts

ZONES = [
    ZoneInfo("UTC"),
    ZoneInfo("Asia/Tokyo"),
    ZoneInfo("America/New_York"),  # DST: a week of 167 or 169 hours
    ZoneInfo("Asia/Kolkata"),  # +05:30: weeks not on the hour, counted from the index
]
REGULATOR = ("appi_preliminary", "gdpr_authority")


def _weeks(run: Run, tz: ZoneInfo) -> list[Week]:
    """The weeks of the run so far, and the next one."""
    first = week_of(datetime(2026, 11, 2, tzinfo=UTC).astimezone(tz).date(), tz)
    weeks = [first]
    while weeks[-1].start <= run.now:
        weeks.append(week_of(weeks[-1].end.date(), tz))
    return weeks


def _moments(run: Run) -> list[datetime]:
    """Now, and moments on and around UTC midnight and the hour, when the deadline ranges'
    edges fall."""
    midnight = run.now.replace(hour=0, minute=0, second=0, microsecond=0)
    return [
        run.now,
        midnight,
        midnight - timedelta(microseconds=1),
        midnight + timedelta(hours=23, minutes=59),
        run.now - timedelta(days=3, minutes=17),
        run.now + timedelta(days=2, hours=5),
    ]


async def compare(run: Run, rng: random.Random, zones: list[ZoneInfo]) -> None:
    for tz in zones:
        weeks = _weeks(run, tz)
        week = rng.choice(weeks)
        now = rng.choice(_moments(run))
        got = await week_data(run.store, week, now=now, regulator_refs=REGULATOR)
        want = await reference_week_data(run.store, week, now=now, regulator_refs=REGULATOR)
        assert got == want, (tz, week, now, run.log)
        week = weeks[-1]
        shown = chart_weeks(week, tz)
        async with run.store.read() as conn:
            rows = await weekly_action_counts(conn, [w.start for w in shown], shown[-1].end)
        assert await weekly_actions(run.store, week, tz) == stack(shown, rows), (tz, run.log)


async def test_summary_and_chart_equal_the_straightforward_queries(store: Store) -> None:
    seed = 11
    run = Run(store, random.Random(seed))
    rng = random.Random(seed * 7)
    for _ in range(10):
        await submit(run)
    await compare(run, rng, ZONES)
    for _ in range(50):
        await run.step()
        await compare(run, rng, rng.sample(ZONES, 2))
    await compare(run, rng, ZONES)
    assert set(run.log) == set(OPERATIONS), run.log


def test_the_kept_columns_are_the_charts_categories() -> None:
    # Migration 0008 spells them out; a new category needs a migration of its own.
    assert HOUR_COUNT_CATEGORIES == CATEGORIES


def test_whole_hour_weeks() -> None:
    tokyo = week_of(datetime(2026, 11, 2).date(), ZoneInfo("Asia/Tokyo"))
    kolkata = week_of(datetime(2026, 11, 2).date(), ZoneInfo("Asia/Kolkata"))
    new_york = week_of(datetime(2026, 11, 2).date(), ZoneInfo("America/New_York"))
    assert on_the_hour(tokyo.start, tokyo.end)
    assert on_the_hour(new_york.start, new_york.end)
    assert new_york.end - new_york.start == timedelta(hours=168)
    assert not on_the_hour(kolkata.start, kolkata.end)
    assert not on_the_hour(datetime(2026, 11, 2, 9, 0, 1, tzinfo=UTC))
    assert not on_the_hour(datetime(2026, 11, 2, 9, 0))  # naive: never


def _downgrade_to_0007(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, "0007")


async def test_migration_0008_fills_the_hour_counts_from_existing_rows(
    database_url: str,
) -> None:
    """Incidents in every state at 0007 (the hour counts dropped), upgraded: the backfill equals
    the recount, and the triggers keep them from there on."""
    store = await Store.open(database_url)
    run = Run(store, random.Random(5))
    try:
        for _ in range(8):
            await submit(run)
        for _ in range(40):
            await run.step()
        await submit(run)  # and one decided incident at least
        await store.record_approval(
            run.ids[-1],
            approver_id="UAPPROVER1",
            action="request_report",
            required=1,
            now=run.tick(),
        )
        async with store._writer.begin() as conn:
            await conn.run_sync(_downgrade_to_0007)
        assert (await store.migration_status()).current == "0007"
    finally:
        await store.close()
    reopened = await Store.open(database_url)  # upgraded to head: the backfill
    try:
        run.store = reopened
        async with reopened.read() as conn:
            assert (await conn.execute(select(incident_hour_counts))).first() is not None
            assert (await conn.execute(select(decision_hour_counts))).first() is not None
        await check(run)
        await compare(run, random.Random(1), ZONES)
        for _ in range(10):
            await run.step()
        await check(run)
    finally:
        await reopened.close()
