"""Timing for the follow-through and the weekly summary (APScheduler 3).

APScheduler only decides *when*; *whether* something is sent is settled in the database (the
outbox's dedupe keys and job claims), because every replica runs every job and the scheduler's
memory forgets everything on restart. On start, every job runs once at once, so a reminder or a
Monday summary that fell due while the bot was down is sent then — once. A daily job prunes the
remembered Slack deliveries (`processed_events`), claimed once per day across replicas.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import Clock
from bot.domain.chart import WeeklyActions
from bot.domain.playbook import Playbook
from bot.domain.summary import Week, WeekData, previous_week, week_of
from bot.followthrough import FollowThrough
from bot.slack.blocks.summary import summary_message
from bot.store import SYSTEM_ACTOR
from bot.summary_chart import chart_input, draw_in_child

log = logging.getLogger(__name__)
CATCH_UP_DAYS = 8
# Slack retries a delivery within minutes; a week of event ids is ample to drop retries.
EVENT_RETENTION = timedelta(days=7)
PRUNE_HOUR = 4  # local time: a quiet hour


def summary_trigger(playbook: Playbook, tz: ZoneInfo) -> CronTrigger:
    """The playbook's cron; ValueError with the cron text when it is not valid."""
    cron = playbook.schedules.weekly_summary_cron
    try:
        return CronTrigger.from_crontab(cron, timezone=tz)
    except ValueError as exc:
        raise ValueError(f"playbook schedules.weekly_summary_cron {cron!r}: {exc}") from exc


def last_fire_time(trigger: CronTrigger, now: datetime) -> datetime | None:
    """The latest time the cron fired at or before `now` (within the catch-up window)."""
    cursor = now - timedelta(days=CATCH_UP_DAYS)
    last: datetime | None = None
    previous: datetime | None = None
    for _ in range(10_000):
        fire = trigger.get_next_fire_time(previous, cursor)
        if fire is None or fire > now:
            return last
        last, previous = fire, fire
        cursor = fire + timedelta(seconds=1)
    return last


async def add_permalinks(client: AsyncWebClient, data: WeekData) -> WeekData:
    """Links to the open incidents shown (the recommendation message of each)."""
    lines = []
    for line in data.open_incidents.items:
        link = None
        record_ts = data.extra.get(line.id)
        if record_ts:
            channel, _, ts = record_ts.partition(":")
            try:
                response = await client.chat_getPermalink(channel=channel, message_ts=ts)
                link = str(response.get("permalink") or "") or None
            except Exception:  # a missing link is not worth failing the summary
                link = None
        lines.append(replace(line, permalink=link))
    return replace(data, open_incidents=replace(data.open_incidents, items=tuple(lines)))


class Scheduler:
    def __init__(
        self,
        follow: FollowThrough,
        client: AsyncWebClient,
        playbook: Playbook,
        tz: ZoneInfo,
        clock: Clock,
        *,
        on_enqueued: Any = None,
        playbook_path: Path | None = None,
    ) -> None:
        self.follow = follow
        # Where `playbook` was read from: the chart's drawing process reads it too.
        self.playbook_path = playbook_path
        self.client = client
        self.playbook = playbook
        self.tz = tz
        self.clock = clock
        self.trigger = summary_trigger(playbook, tz)
        self.on_enqueued = on_enqueued
        self._scheduler: AsyncIOScheduler | None = None
        self._running: set[asyncio.Task[object]] = set()  # job runs in progress
        self._stopping = asyncio.Event()  # set by aclose: a job in progress ends early
        self._settings_followed = False  # FollowThrough.follow_settings, once per process

    def start(self) -> None:
        scheduler = AsyncIOScheduler(timezone=self.tz)
        now = datetime.now(self.tz)
        minutes = self.playbook.schedules.follow_through_minutes
        common: dict[str, Any] = {"next_run_time": now, "max_instances": 1, "coalesce": True}
        scheduler.add_job(
            self.follow_through, IntervalTrigger(minutes=minutes), id="follow_through", **common
        )
        scheduler.add_job(
            self.summary_due, self.trigger, id="weekly_summary", misfire_grace_time=3600, **common
        )
        scheduler.add_job(
            self.prune_events,
            CronTrigger(hour=PRUNE_HOUR, timezone=self.tz),
            id="prune_events",
            misfire_grace_time=3600,
            **common,
        )
        scheduler.start()
        self._scheduler = scheduler

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None

    async def aclose(self, timeout: float) -> None:
        """Start no more jobs, let a running one finish (up to `timeout`), then shut down: a stop
        right after start must not cancel a job mid-query (APScheduler logs that as a failure)."""
        self._stopping.set()
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is None:
            return
        scheduler.pause()
        running = {task for task in self._running if not task.done()}
        if running:
            await asyncio.wait(running, timeout=timeout)
        scheduler.shutdown(wait=False)

    def _track(self) -> asyncio.Task[object] | None:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        return task

    def _wake(self) -> None:
        if self.on_enqueued is not None:
            self.on_enqueued()

    async def follow_through(self) -> None:
        task = self._track()
        try:
            if not self._settings_followed:
                # Before the first pass, so that it computes every changed time afresh.
                await self._follow_settings()
            await self.follow.run()
        except Exception:
            log.exception("follow-through run failed")
        finally:
            if task is not None:
                self._running.discard(task)
        self._wake()

    async def _follow_settings(self) -> None:
        try:
            await self.follow.follow_settings()
            self._settings_followed = True
        except Exception:  # the pass still runs on the stored times; tried again next minute
            log.exception("checking the escalation and reminder settings failed")

    async def prune_events(self) -> int:
        """Forget Slack deliveries older than EVENT_RETENTION, once per local day (of all
        replicas). Returns how many were forgotten."""
        now = self.clock.now()
        day = now.astimezone(self.tz).date().isoformat()
        store = self.follow.store
        # Tracked as the other jobs are: it runs at start too (catch-up), and a stop then must
        # let it finish rather than cancel it mid-commit (logged by APScheduler as a failure).
        task = self._track()
        try:
            if not await store.claim_job(f"prune_events:{day}", owner=SYSTEM_ACTOR, now=now):
                return 0
            # Should this fail after the claim, tomorrow's cutoff covers today's rows too.
            return await store.forget_events_before(now - EVENT_RETENTION)
        except Exception:
            log.exception("pruning processed events failed")
            return 0
        finally:
            if task is not None:
                self._running.discard(task)

    async def summary_due(self) -> bool:
        """Post the summary of the week before the latest scheduled time, once."""
        now = self.clock.now()
        fired = last_fire_time(self.trigger, now)
        if fired is None:
            return False
        task = self._track()
        try:
            posted = await self.post_summary(previous_week(fired, self.tz), now=now)
        except Stopping:
            log.info("stopping before the weekly summary was queued; the next start queues it")
            return False
        except Exception:
            log.exception("weekly summary failed")
            return False
        finally:
            if task is not None:
                self._running.discard(task)
        self._wake()
        return posted

    async def build_summary(self, week: Week, *, now: datetime) -> WeekData:
        data = await self.follow.summary_data(week, now=now)
        refs = {}
        for line in data.open_incidents.items:
            record = await self.follow.store.get_incident(line.id)
            if record and record.channel_id and record.message_ts:
                refs[line.id] = f"{record.channel_id}:{record.message_ts}"
        return await add_permalinks(self.client, replace(data, extra=refs))

    async def post_summary(self, week: Week, *, now: datetime) -> bool:
        if not self.follow.config.summary_channel or await self.follow.summary_queued(week):
            return False  # nowhere to post, or queued before (by this or another replica)
        data = await self.build_summary(week, now=now)
        lang = self.follow.config.channel_lang
        chart = await self.follow.summary_chart(week)
        png = await self.draw_chart(chart, lang) if chart is not None else None
        return await self.follow.post_summary(
            data, summary_message(self.playbook, data, lang, self.tz, chart, png)
        )

    async def draw_chart(self, chart: WeeklyActions, lang: str) -> bytes | None:
        """The chart's PNG, drawn now (in a child process, off the outbox's way), so that the
        outbox only uploads it; None (logged) when it cannot be drawn: the summary goes
        without it."""
        try:
            drawing = asyncio.create_task(
                draw_in_child(
                    chart_input(chart, lang), playbook_path=self.playbook_path, tz=self.tz
                )
            )
            stopping = asyncio.create_task(self._stopping.wait())
            await asyncio.wait({drawing, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not drawing.done():  # the process stops: end the job now, nothing queued
                drawing.cancel()  # (the drawing process is killed)
                await asyncio.gather(drawing, return_exceptions=True)
                raise Stopping
            return drawing.result()
        except Stopping:
            raise
        except Exception as exc:
            log.error(
                "the weekly summary's chart could not be drawn; posting the summary without it",
                extra={"error": f"{type(exc).__name__}: {exc}"},
            )
            return None


class Stopping(Exception):
    """The scheduler stops (aclose) while a job waits for something slow (the chart)."""


def current_week(now: datetime, tz: ZoneInfo) -> Week:
    return week_of(now.astimezone(tz).date(), tz)
