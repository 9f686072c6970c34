"""Counts behind the weekly summary's chart: incidents per week by decided action and status.

One grouped query over the weeks' range of `created_at`; with migration 0003's index
(created_at, status, decided_action) it reads the index alone, never an incident row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, literal, select

from bot.domain.chart import CHART_WEEKS, WeeklyActions, chart_weeks, stack
from bot.domain.summary import Week
from bot.store.repository import Store
from bot.store.tables import incidents

from .aio import AsyncConnection

__all__ = ["weekly_action_counts", "weekly_actions"]


async def weekly_action_counts(
    conn: AsyncConnection, starts: Sequence[datetime], end: datetime
) -> list[tuple[int, str | None, str, int]]:
    """(week index, decided action, status, incidents) for incidents created in
    [starts[0], end), the week index being that of the last start at or before creation."""
    if not starts:
        return []
    created = incidents.c.created_at
    week_index = (
        case(
            *((created < start, index) for index, start in enumerate(starts[1:])),
            else_=len(starts) - 1,
        )
        if len(starts) > 1
        else literal(0)
    )
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
    async with store.read() as conn:
        rows = await weekly_action_counts(conn, [w.start for w in shown], shown[-1].end)
    return stack(shown, rows)
