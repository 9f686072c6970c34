"""Counts behind the weekly summary's chart: incidents per week by decided action and status.

From the kept `incident_hour_counts` (migration 0008: incidents per UTC hour of creation and
chart category, ~2,000 rows for 12 weeks) when every week boundary is a whole UTC hour (any
whole-hour timezone); otherwise one grouped query over the weeks' range of `created_at`, which
reads the (created_at, status, decided_action, …) index alone (~115,000 entries at 1M).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, literal, select

from bot.domain.chart import CHART_WEEKS, REJECTED, UNDECIDED, WeeklyActions, chart_weeks, stack
from bot.domain.summary import Week
from bot.store.common import on_the_hour
from bot.store.repository import Store
from bot.store.tables import HOUR_COUNT_CATEGORIES, incident_hour_counts, incidents

from .aio import AsyncConnection

__all__ = ["kept_weekly_action_counts", "weekly_action_counts", "weekly_actions"]

# What each kept column stands for as a (decided action, status) pair that bot.domain.chart's
# `category` maps back to that same column.
_AS_ROW: dict[str, tuple[str | None, str]] = {
    REJECTED: (None, "rejected"),
    UNDECIDED: (None, "pending"),
}


def _week_index(column: Any, starts: Sequence[datetime]) -> Any:
    """The index of the last start at or before `column`."""
    if len(starts) == 1:
        return literal(0)
    return case(
        *((column < start, index) for index, start in enumerate(starts[1:])),
        else_=len(starts) - 1,
    )


async def kept_weekly_action_counts(
    conn: AsyncConnection, starts: Sequence[datetime], end: datetime
) -> list[tuple[int, str | None, str, int]]:
    """`weekly_action_counts` from the kept hour rows (every start and `end` on the hour, see
    `on_the_hour`): one row per week and category, as a (decided action, status) pair of that
    category; the stacked series are the same."""
    if not starts:
        return []
    hour = incident_hour_counts.c.hour
    week_index = _week_index(hour, starts)
    columns = [incident_hour_counts.c[name] for name in HOUR_COUNT_CATEGORIES]
    rows = await conn.execute(
        select(week_index, *(func.sum(column) for column in columns))
        .where(hour >= starts[0], hour < end)
        .group_by(week_index)
    )
    found: list[tuple[int, str | None, str, int]] = []
    for index, *sums in rows:
        for name, total in zip(HOUR_COUNT_CATEGORIES, sums, strict=True):
            if total:
                action, status = _AS_ROW.get(name, (name, "decided"))
                found.append((int(index), action, status, int(total)))
    return found


async def weekly_action_counts(
    conn: AsyncConnection, starts: Sequence[datetime], end: datetime
) -> list[tuple[int, str | None, str, int]]:
    """(week index, decided action, status, incidents) for incidents created in
    [starts[0], end), the week index being that of the last start at or before creation."""
    if not starts:
        return []
    created = incidents.c.created_at
    week_index = _week_index(created, starts)
    rows = await conn.execute(
        select(week_index, incidents.c.decided_action, incidents.c.status, func.count())
        .where(created >= starts[0], created < end)
        .group_by(week_index, incidents.c.decided_action, incidents.c.status)
    )
    return [(int(index), action, str(status), int(count)) for index, action, status, count in rows]


async def weekly_actions(
    store: Store, week: Week, tz: ZoneInfo, *, weeks: int = CHART_WEEKS
) -> WeeklyActions:
    """The `weeks` ISO weeks ending with `week`, stacked by decided action."""
    shown = chart_weeks(week, tz, weeks)
    starts = [w.start for w in shown]
    count = (
        kept_weekly_action_counts if on_the_hour(*starts, shown[-1].end) else weekly_action_counts
    )
    async with store.read() as conn:
        rows = await count(conn, starts, shown[-1].end)
    return stack(shown, rows)
