"""Scheduling: replicas on one database, restarts, a Monday missed while down, and APScheduler
itself triggering the jobs.

Every run is settled in the database (outbox dedupe keys, job claims), so two app instances on
one PostgreSQL (or one SQLite file) never send anything twice, and a restart never re-sends.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from conftest import CHANNEL, SUMMARY_CHANNEL, Leakbot, start_leakbot, stop_leakbot
from slackemu import FakeClock, SlackEmulator, blockkit

JST = ZoneInfo("Asia/Tokyo")
MONDAY_0900 = datetime(2026, 11, 30, 9, 0, tzinfo=JST)  # after ISO week 2026-W48
TUESDAY_1000 = datetime(2026, 12, 1, 10, 0, tzinfo=JST)


def summaries(emulator: SlackEmulator) -> list[str]:
    return [blockkit.blocks_text(m.get("blocks") or []) for m in emulator.messages(SUMMARY_CHANNEL)]


async def test_two_instances_on_one_database_post_one_summary(
    leakbot: Leakbot, emulator: SlackEmulator, clock: FakeClock, database_url: str
) -> None:
    incident = await leakbot.report()  # Thursday of 2026-W48; suspend_and_legal, undecided
    other = await start_leakbot(emulator, clock, database_url)
    try:
        clock.set(MONDAY_0900)
        posted = await asyncio.gather(
            leakbot.app.scheduler.summary_due(), other.app.scheduler.summary_due()
        )
        assert sorted(posted) == [False, True]
        # Both replicas also run the follow-through at the same minute.
        await asyncio.gather(
            leakbot.app.scheduler.follow_through(), other.app.scheduler.follow_through()
        )
        await asyncio.gather(leakbot.deliver(), other.deliver())
        await asyncio.gather(leakbot.app.scheduler.summary_due(), other.app.scheduler.summary_due())
        await asyncio.gather(leakbot.deliver(), other.deliver())
    finally:
        await stop_leakbot(other)
    texts = summaries(emulator)
    assert len(texts) == 1
    assert "2026-W48" in texts[0] and incident.id in texts[0]
    # With one chart in it, uploaded once.
    [(ts, file_id)] = emulator.images_shown(SUMMARY_CHANNEL)
    assert emulator.messages(SUMMARY_CHANNEL)[0]["ts"] == ts
    [upload] = emulator.successful_calls_to("files.getUploadURLExternal")
    assert upload.args["filename"] == "leakbot-summary-2026-W48.png"
    assert upload.response is not None and upload.response["file_id"] == file_id
    # The escalation (undecided for days) went out once per step, not once per replica.
    escalations = [
        c
        for c in emulator.successful_calls_to("chat.postMessage")
        if c.args["channel"] == CHANNEL and "判断されていません" in str(c.args.get("text"))
    ]
    assert len(escalations) == 1  # no second level configured
    emulator.assert_no_rejections()


async def test_a_monday_missed_while_down_is_posted_once_on_start(
    emulator: SlackEmulator, clock: FakeClock, database_url: str
) -> None:
    first = await start_leakbot(emulator, clock, database_url)
    try:
        incident = await first.report()  # Thursday of 2026-W48
    finally:
        await stop_leakbot(first)

    # Down over the weekend and Monday 09:00; back on Tuesday at 10:00.
    clock.set(TUESDAY_1000)
    second = await start_leakbot(emulator, clock, database_url)
    try:
        assert await second.app.scheduler.summary_due() is True
        await second.deliver()
        clock.set(TUESDAY_1000.replace(minute=1))
        assert await second.app.scheduler.summary_due() is False
        await second.deliver()
    finally:
        await stop_leakbot(second)
    texts = summaries(emulator)
    assert len(texts) == 1
    assert "2026-W48" in texts[0]  # the week before the missed Monday
    assert "2026年12月1日(火) 10:00 時点" in texts[0]
    assert incident.id in texts[0]

    # Another restart, the same day and on Wednesday: still once.
    for moment in (TUESDAY_1000.replace(hour=15), datetime(2026, 12, 2, 9, 0, tzinfo=JST)):
        clock.set(moment)
        again = await start_leakbot(emulator, clock, database_url)
        try:
            assert await again.app.scheduler.summary_due() is False
            await again.deliver()
        finally:
            await stop_leakbot(again)
    assert len(summaries(emulator)) == 1

    # The next Monday brings the next week's summary.
    clock.set(datetime(2026, 12, 7, 9, 0, tzinfo=JST))
    later = await start_leakbot(emulator, clock, database_url)
    try:
        assert await later.app.scheduler.summary_due() is True
        await later.deliver()
    finally:
        await stop_leakbot(later)
    texts = summaries(emulator)
    assert len(texts) == 2 and "2026-W49" in texts[1]
    emulator.assert_no_rejections()


async def test_processed_events_are_pruned_daily_by_one_replica(
    leakbot: Leakbot, emulator: SlackEmulator, clock: FakeClock, database_url: str
) -> None:
    store = leakbot.store
    clock.set(MONDAY_0900)
    assert await store.remember_event("event:Ev-old", now=clock.now())
    clock.set(MONDAY_0900 + timedelta(days=7, hours=-1))
    assert await store.remember_event("event:Ev-recent", now=clock.now())
    other = await start_leakbot(emulator, clock, database_url)
    try:
        # Eight days later both replicas run the daily job: one prunes, the other finds it
        # claimed for the day.
        clock.set(MONDAY_0900 + timedelta(days=8))
        pruned = await asyncio.gather(
            leakbot.app.scheduler.prune_events(), other.app.scheduler.prune_events()
        )
        assert sorted(pruned) == [0, 1]
        assert await store.remember_event("event:Ev-old", now=clock.now())  # forgotten
        assert not await store.remember_event("event:Ev-recent", now=clock.now())  # kept
        # Later the same day: already done. The next day: the week-old id goes too.
        clock.set(MONDAY_0900 + timedelta(days=8, hours=10))
        assert await other.app.scheduler.prune_events() == 0
        clock.set(MONDAY_0900 + timedelta(days=15, hours=1))
        assert await other.app.scheduler.prune_events() == 2
    finally:
        await stop_leakbot(other)
    assert await store.remember_event("event:Ev-recent", now=clock.now())


async def test_apscheduler_runs_the_jobs(leakbot: Leakbot) -> None:
    """The real AsyncIOScheduler: on start every job runs at once (the catch-up), the outbox
    delivers what they queued, the summary job keeps the playbook's Monday 09:00 cron and the
    pruning of processed events runs daily at 04:00."""
    emulator, clock = leakbot.emulator, leakbot.clock
    incident = await leakbot.report()
    parent = leakbot.recommendation_ts(incident)
    clock.set(MONDAY_0900.replace(minute=5))
    scheduler = leakbot.app.scheduler
    leakbot.app.deps.outbox.start()
    scheduler.start()
    try:
        summary = await emulator.wait_for_call(
            "chat.postMessage",
            where=lambda c: c.args.get("channel") == SUMMARY_CHANNEL,
            timeout=30,  # a bound: its chart is drawn by a child process first (seconds of CPU)
        )
        escalation = await emulator.wait_for_call(
            "chat.postMessage",
            where=lambda c: c.args.get("channel") == CHANNEL and c.args.get("thread_ts") == parent,
        )
        jobs = {job.id: job for job in scheduler._scheduler.get_jobs()}  # type: ignore[union-attr]
    finally:
        scheduler.stop()
        await leakbot.app.deps.outbox.stop()
    assert summary.ok and "2026-W48" in blockkit.blocks_text(summary.args["blocks"])
    assert escalation.ok and "判断されていません" in escalation.args["text"]
    assert set(jobs) == {"follow_through", "weekly_summary", "prune_events"}
    next_summary = jobs["weekly_summary"].next_run_time.astimezone(JST)
    assert (next_summary.weekday(), next_summary.hour, next_summary.minute) == (0, 9, 0)
    next_prune = jobs["prune_events"].next_run_time.astimezone(JST)
    assert (next_prune.hour, next_prune.minute) == (4, 0)
    assert scheduler._scheduler is None
    emulator.assert_no_rejections()
