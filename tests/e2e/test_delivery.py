"""The outbox from Slack's side: failures retried on the clock, permanent errors, restarts."""

from __future__ import annotations

import pytest
from conftest import (
    CHANNEL,
    MILD_STEPS,
    REPORTER,
    STEPS,
    Leakbot,
    start_leakbot,
    stop_leakbot,
)
from e2e_support import channel_posts, dm_posts, walk_to_confirm
from slackemu import FakeClock, SlackEmulator

from bot.store import Store

pytestmark = pytest.mark.usefixtures("no_rejections")


def _attempts_to_channel(emu: SlackEmulator) -> int:
    return len([c for c in emu.calls_to("chat.postMessage") if c.args.get("channel") == CHANNEL])


async def test_rate_limit_then_server_error_is_retried_on_the_clock(leakbot: Leakbot) -> None:
    emu, clock = leakbot.emulator, leakbot.clock
    emu.fail_next("chat.postMessage", status=429, retry_after=3)
    emu.fail_next("chat.postMessage", status=500)
    record = await leakbot.report(REPORTER)  # the first attempt: 429
    assert channel_posts(emu) == [] and dm_posts(emu, REPORTER) == []
    [item, receipt] = await leakbot.store.outbox_items(record.id)
    assert (item.kind, item.status, item.attempts) == ("recommendation", "pending", 1)
    assert item.last_error is not None and "429" in item.last_error
    assert (item.next_attempt_at - clock.now()).total_seconds() == 3  # Retry-After
    assert receipt.status == "pending"  # in order: the receipt waits for the recommendation

    clock.advance(2)
    assert await leakbot.deliver() == 0  # not due yet
    clock.advance(1.5)
    assert await leakbot.deliver() == 1  # the second attempt: 500
    assert channel_posts(emu) == []
    [item, _] = await leakbot.store.outbox_items(record.id)
    assert item.status == "pending" and item.attempts == 2 and "500" in (item.last_error or "")
    backoff = item.next_attempt_at - clock.now()
    assert backoff.total_seconds() >= 2
    clock.advance(backoff.total_seconds() - 1)
    assert await leakbot.deliver() == 0
    clock.advance(1)
    await leakbot.deliver()

    [post] = channel_posts(emu)
    assert record.id in post.args["text"]
    assert _attempts_to_channel(emu) == 3
    assert len(emu.messages(CHANNEL)) == 1
    [item, receipt] = await leakbot.store.outbox_items(record.id)
    assert item.status == receipt.status == "sent"
    assert len(dm_posts(emu, REPORTER)) == 1
    stored = await leakbot.store.get_incident(record.id)
    assert stored is not None and post.response is not None
    assert stored.message_ts == post.response["ts"]
    clock.advance(600)
    assert await leakbot.deliver() == 0
    assert len(channel_posts(emu)) == 1
    emu.assert_no_rejections()


async def test_an_html_error_page_is_retried_and_said_to_be_no_slack_answer(
    leakbot: Leakbot,
) -> None:
    """A load balancer's HTML 502 page instead of Slack's JSON: retried on the clock like
    Slack's own 5xx; the outbox says the page was not Slack's."""
    emu, clock = leakbot.emulator, leakbot.clock
    emu.fail_next("chat.postMessage", html=True)
    record = await leakbot.report(REPORTER)
    assert channel_posts(emu) == []
    [item, _] = await leakbot.store.outbox_items(record.id)
    assert (item.status, item.attempts) == ("pending", 1)
    assert item.last_error == "HTTP 502, not a Slack answer"
    clock.advance((item.next_attempt_at - clock.now()).total_seconds())
    await leakbot.deliver()
    [post] = channel_posts(emu)
    assert record.id in post.args["text"]
    assert [c.status for c in emu.calls_to("chat.postMessage")][:2] == [502, 200]
    assert [i.status for i in await leakbot.store.outbox_items(record.id)] == ["sent", "sent"]


async def test_random_faults_still_deliver_exactly_once(leakbot: Leakbot) -> None:
    emu, clock = leakbot.emulator, leakbot.clock
    emu.set_failure_rate(0.5, seed=7, methods=["chat.postMessage"])
    first = await leakbot.report(REPORTER)
    second = await leakbot.report(REPORTER, MILD_STEPS)
    for _ in range(40):
        if await leakbot.store.outbox_depth() == 0:
            break
        clock.advance(301)  # past the longest backoff
        await leakbot.deliver()
    assert await leakbot.store.outbox_depth() == 0
    assert [f for f in (c.fault for c in emu.calls_to("chat.postMessage")) if f]  # faults seen
    posts = channel_posts(emu)
    assert sorted(p.args["text"].split("（")[0] for p in posts) == [first.id, second.id]
    assert len(emu.messages(CHANNEL)) == 2
    assert len(dm_posts(emu, REPORTER)) == 2
    assert not await leakbot.store.outbox_items(status="dead")


async def test_channel_not_found_is_dead_and_later_incidents_deliver(leakbot: Leakbot) -> None:
    emu = leakbot.emulator
    emu.fail_next("chat.postMessage", error="channel_not_found")
    lost = await leakbot.report(REPORTER)
    [item, receipt] = await leakbot.store.outbox_items(lost.id)
    assert (item.kind, item.status, item.last_error) == (
        "recommendation",
        "dead",
        "channel_not_found",
    )
    # A dead item does not hold back the rest of its incident: the reporter still hears.
    assert receipt.status == "sent"
    assert len(dm_posts(emu, REPORTER)) == 1
    assert channel_posts(emu) == []

    later = await leakbot.report(REPORTER, MILD_STEPS)
    [post] = channel_posts(emu)
    assert later.id in post.args["text"]
    assert [i.status for i in await leakbot.store.outbox_items(later.id)] == ["sent", "sent"]
    # The dead one is not retried.
    leakbot.clock.advance(3600)
    assert await leakbot.deliver() == 0
    assert len(channel_posts(emu)) == 1
    emu.assert_no_rejections()


async def test_stopped_between_commit_and_post_delivers_on_restart(
    emulator: SlackEmulator, clock: FakeClock, database_url: str, store: Store
) -> None:
    first = await start_leakbot(emulator, clock, database_url)
    try:
        view_id, _ = await walk_to_confirm(first, REPORTER, STEPS)
        reply = await first.submit_step(view_id, REPORTER, {})
        assert "LEAK-2026-0001" in reply.text
        # Committed, not posted: the process stops here.
    finally:
        await stop_leakbot(first)
    assert channel_posts(emulator) == []
    assert await store.outbox_depth() == 2

    second = await start_leakbot(emulator, clock, database_url)
    try:
        assert await second.deliver() == 2
        [post] = channel_posts(emulator)
        assert "LEAK-2026-0001" in post.args["text"]
        assert len(dm_posts(emulator, REPORTER)) == 1
        clock.advance(3600)
        assert await second.deliver() == 0
        assert len(channel_posts(emulator)) == 1
        [record] = await second.store.list_incidents()
        assert post.response is not None and record.message_ts == post.response["ts"]
    finally:
        await stop_leakbot(second)


async def test_stopped_while_holding_a_lease_delivers_after_it_expires(
    emulator: SlackEmulator, clock: FakeClock, database_url: str, store: Store
) -> None:
    first = await start_leakbot(emulator, clock, database_url)
    try:
        view_id, _ = await walk_to_confirm(first, REPORTER, MILD_STEPS)
        await first.submit_step(view_id, REPORTER, {})
        # Another host's worker took the recommendation and died before calling Slack.
        [claimed] = await first.store.claim_outbox(
            now=clock.now(), worker_id="gone-host:1:dead", limit=1, lease_seconds=60
        )
        assert claimed.kind == "recommendation"
    finally:
        await stop_leakbot(first)

    second = await start_leakbot(emulator, clock, database_url)
    try:
        assert await second.deliver() == 0  # leased (and it holds back the receipt)
        clock.advance(61)
        assert await second.deliver() == 2
        assert len(channel_posts(emulator)) == 1
        assert len(dm_posts(emulator, REPORTER)) == 1
    finally:
        await stop_leakbot(second)


async def test_background_sender_delivers_without_being_asked(
    emulator: SlackEmulator, clock: FakeClock, database_url: str, store: Store
) -> None:
    bot = await start_leakbot(emulator, clock, database_url, run_outbox=True)
    try:
        view_id, _ = await walk_to_confirm(bot, REPORTER, STEPS)
        await bot.submit_step(view_id, REPORTER, {})
        post = await emulator.wait_for_call(
            "chat.postMessage", where=lambda c: c.args.get("channel") == CHANNEL and c.ok
        )
        assert "LEAK-2026-0001" in post.args["text"]
        receipt = await emulator.wait_for_call(
            "chat.postMessage", where=lambda c: c.args.get("channel") == REPORTER and c.ok
        )
        assert "LEAK-2026-0001" in receipt.args["text"]
        assert len(channel_posts(emulator)) == 1
        emulator.assert_no_rejections()
    finally:
        await stop_leakbot(bot)
