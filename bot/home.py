"""The App Home tab, as the application sees it: what one person may see, and when to show it
again.

Reading: `HomeService.snapshot` — pending approvals (approvers only), open incidents the person
may see (the reporter, its tasks' owners; approvers see all), their open tasks and this week's
counts, in a few indexed queries (bot/store/home.py). Telling: after every change a person
sees, `IncidentService.refresh_homes` enqueues `home` notifications through the outbox for
those who opened their tab lately (coalesced per person, `bot.notifications.home_refresh`);
the Slack edge renders them from the database when it sends them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.service import store_errors_unavailable
from bot.store import Store
from bot.store.home import HomeSnapshot

# Rows fetched per list; the tab shows at most this many and counts the rest.
HOME_LIST_LIMIT: Final = 20
# How often an open is written down (see `HomeService.snapshot`); well within HOME_VIEWER_TTL.
VIEWER_NOTE_EVERY: Final = timedelta(hours=1)


def week_start(now: datetime, tz: ZoneInfo) -> datetime:
    """Monday 00:00 of `now`'s week in `tz` (ISO weeks, as the weekly summary counts them)."""
    local = now.astimezone(tz)
    monday = (local - timedelta(days=local.weekday())).date()
    return datetime(monday.year, monday.month, monday.day, tzinfo=tz)


class HomeService:
    def __init__(self, store: Store, tz: ZoneInfo, clock: Clock) -> None:
        self.store = store
        self.tz = tz
        self.clock = clock

    @store_errors_unavailable
    async def snapshot(self, user_id: str, *, approver: bool, opened: bool) -> HomeSnapshot:
        """What the person's tab shows now. `opened`: they are opening it (the event), which
        makes changes publish their tab again for a while (`HOME_VIEWER_TTL`); written at most
        once per `VIEWER_NOTE_EVERY`, so that most opens only read."""
        now = self.clock.now()
        snapshot = await self.store.home_snapshot(
            user_id,
            everyone=approver,
            week_start=week_start(now, self.tz),
            now=now,
            limit=HOME_LIST_LIMIT,
        )
        viewer = snapshot.viewer
        if opened and (
            viewer is None
            or viewer.approver != approver
            or now - viewer.opened_at >= VIEWER_NOTE_EVERY
        ):
            await self.store.note_home_opened(user_id, approver=approver, now=now)
        return snapshot
