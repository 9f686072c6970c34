"""The App Home tab end to end (docs/contracts.md, "App Home"): signed `app_home_opened` events
and clicks to the real server, the emulator's views.publish, both databases, the fake clock.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import (
    APPROVER_1,
    APPROVER_2,
    MILD_STEPS,
    REPORTER,
    REPORTER_EN,
    STEPS,
    STRANGER,
    Leakbot,
)
from e2e_support import incident, text_of
from slackemu import RecordedCall
from slackemu.blockkit import find_element
from slackemu.payloads import app_home_opened_event

from bot.notifications import HOME_WINDOW_SECONDS
from bot.store import IncidentRecord

pytestmark = pytest.mark.usefixtures("no_rejections")


def _buttons(view: dict[str, Any], action_id: str) -> list[str]:
    """The values of the view's elements with this action id."""
    values = []
    for block in view.get("blocks") or []:
        elements = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        values += [str(e.get("value")) for e in elements if e.get("action_id") == action_id]
    return values


def _publishes(bot: Leakbot, user_id: str) -> list[RecordedCall]:
    return [
        call
        for call in bot.emulator.successful_calls_to("views.publish")
        if call.args.get("user_id") == user_id
    ]


async def open_home(bot: Leakbot, user_id: str) -> dict[str, Any]:
    """The person opens the Home tab: the app publishes it (after its ack)."""
    before = len(_publishes(bot, user_id))
    reply = await bot.slack.event_callback(app_home_opened_event(user=user_id))
    assert reply.status == 200, reply.text
    await bot.emulator.wait_for_call(
        "views.publish", count=before + 1, where=lambda c: c.args.get("user_id") == user_id
    )
    view = bot.emulator.home_view(user_id)
    assert view is not None and view["type"] == "home"
    return view


async def next_window(bot: Leakbot) -> int:
    """Let the coalescing window end and send what is due; how many calls were made."""
    bot.clock.advance(HOME_WINDOW_SECONDS)
    return await bot.deliver()


async def decide_with_tasks(bot: Leakbot, approver: str) -> IncidentRecord:
    """An incident the approver decided (request_report): its deadlines are their tasks."""
    record = await bot.report(REPORTER, STEPS)
    before = len(bot.emulator.calls_to("response_url"))
    await bot.click(record, "leak_choose", approver, selected_option="request_report")
    await bot.emulator.wait_for_call("response_url", count=before + 1)
    assert (await incident(bot.store, record.id)).status == "decided"
    await bot.deliver()
    return record


async def test_home_shows_my_approval_and_task_and_approving_elsewhere_removes_it(
    leakbot: Leakbot,
) -> None:
    emu = leakbot.emulator
    decided = await decide_with_tasks(leakbot, APPROVER_1)
    pending = await leakbot.report(REPORTER, MILD_STEPS)
    tasks = [t for t in await leakbot.store.tasks_for(decided.id) if t.owner_id == APPROVER_1]
    assert tasks, "the approver owns the regulator deadlines"

    view = await open_home(leakbot, APPROVER_1)
    # The pending approval with the recommendation message's own controls and values.
    shown = f"{pending.id}:{pending.round}:{pending.recommendation}"  # round and action shown
    assert _buttons(view, "leak_approve") == [shown]
    assert _buttons(view, "leak_reject") == [pending.id]
    assert (
        find_element(view["blocks"], "leak_choose", f"leak_decision:{pending.id}:{pending.round}")
        is not None
    )
    # A link to the message itself, from the stored message ref.
    stored = await incident(leakbot.store, pending.id)
    assert stored.message_ts is not None
    assert f"/archives/{stored.channel_id}/p{stored.message_ts.replace('.', '')}" in text_of(view)
    # Their open tasks with the tasks message's Done action, and the week's counts.
    assert sorted(_buttons(view, "leak_task_done")) == sorted(str(t.id) for t in tasks)
    text = text_of(view)
    assert "承認待ち" in text and "新規インシデント 2件" in text  # APPROVER_1 reads Japanese
    assert decided.id in text and pending.id in text

    # Another approver approves in the channel: APPROVER_1's tab is published again (once the
    # coalescing window ends), without the approval.
    before = len(_publishes(leakbot, APPROVER_1))
    answered = len(emu.calls_to("response_url"))
    await leakbot.click(pending, "leak_approve", APPROVER_2, value=shown)
    await emu.wait_for_call("response_url", count=answered + 1)
    assert (await incident(leakbot.store, pending.id)).status == "decided"
    await leakbot.deliver()
    assert len(_publishes(leakbot, APPROVER_1)) == before  # not before the window ends
    await next_window(leakbot)
    assert len(_publishes(leakbot, APPROVER_1)) == before + 1
    view = emu.home_view(APPROVER_1)
    assert view is not None
    assert _buttons(view, "leak_approve") == []
    assert "あなたの承認を待っているインシデントはありません" in text_of(view)
    # Ticking a task in the tab (no response_url there) completes it and refreshes the tab.
    published = len(_publishes(leakbot, APPROVER_1))
    await leakbot.slack.block_actions(
        "leak_task_done", user_id=APPROVER_1, view=view, value=str(tasks[0].id)
    )
    await emu.wait_for_call(
        "views.publish",
        count=published + 1,
        where=lambda c: c.args.get("user_id") == APPROVER_1,
    )
    done = await leakbot.store.get_task(tasks[0].id)
    assert done is not None and done.status == "done"
    view = emu.home_view(APPROVER_1)
    assert view is not None and str(tasks[0].id) not in _buttons(view, "leak_task_done")


async def test_approving_in_the_home_tab(leakbot: Leakbot) -> None:
    emu = leakbot.emulator
    pending = await leakbot.report(REPORTER, MILD_STEPS)
    view = await open_home(leakbot, APPROVER_1)
    before = len(_publishes(leakbot, APPROVER_1))
    reply = await leakbot.slack.block_actions(
        "leak_approve",
        user_id=APPROVER_1,
        view=view,
        value=f"{pending.id}:{pending.round}:{pending.recommendation}",
    )
    assert reply.status == 200
    # A click in the tab has no response_url: the tab itself shows the outcome at once.
    await emu.wait_for_call(
        "views.publish", count=before + 1, where=lambda c: c.args.get("user_id") == APPROVER_1
    )
    assert (await incident(leakbot.store, pending.id)).status == "decided"
    refreshed = emu.home_view(APPROVER_1)
    assert refreshed is not None and _buttons(refreshed, "leak_approve") == []
    assert pending.id in text_of(refreshed)  # still open, decided: in the list of incidents


async def test_a_non_approver_sees_only_their_own_incidents(leakbot: Leakbot) -> None:
    mine = await leakbot.report(REPORTER_EN, MILD_STEPS)
    theirs = await leakbot.report(REPORTER, MILD_STEPS)
    view = await open_home(leakbot, REPORTER_EN)
    text = text_of(view)
    assert mine.id in text and theirs.id not in text
    assert "Open incidents (1)" in text and "Report a leak" in text  # their locale: English
    assert "New incidents: 1" in text  # counts over what they may see
    assert _buttons(view, "leak_approve") == []  # nothing to approve

    stranger = text_of(await open_home(leakbot, STRANGER))
    assert mine.id not in stranger and theirs.id not in stranger
    assert "There are no open incidents." in stranger


async def test_report_a_leak_opens_the_intake(leakbot: Leakbot) -> None:
    view = await open_home(leakbot, REPORTER_EN)
    opened = len(leakbot.emulator.calls_to("views.open"))
    reply = await leakbot.slack.block_actions("leak_home_report", user_id=REPORTER_EN, view=view)
    assert reply.status == 200
    call = await leakbot.emulator.wait_for_call("views.open", count=opened + 1)
    assert call.ok and call.response is not None
    modal = call.response["view"]
    assert modal["type"] == "modal" and modal["callback_id"] == "leak_intake"
    # The same intake as /leak: its first step asks for the partner.
    assert find_element(modal["blocks"], "value", "partner") is not None


async def test_changes_within_the_window_publish_once(leakbot: Leakbot) -> None:
    await open_home(leakbot, REPORTER)
    before = len(_publishes(leakbot, REPORTER))
    # Three changes REPORTER sees, at the same moment: two new incidents and a decision.
    first = await leakbot.report(REPORTER, MILD_STEPS)
    await leakbot.report(REPORTER, MILD_STEPS)
    answered = len(leakbot.emulator.calls_to("response_url"))
    await leakbot.click(first, "leak_approve", APPROVER_1, value=first.id)
    await leakbot.emulator.wait_for_call("response_url", count=answered + 1)
    homes = [item for item in await leakbot.store.outbox_items() if item.kind == "home"]
    assert [item.payload["notification"]["channel"] for item in homes] == [REPORTER]
    assert len(_publishes(leakbot, REPORTER)) == before  # due when the window ends

    await next_window(leakbot)
    assert len(_publishes(leakbot, REPORTER)) == before + 1
    view = leakbot.emulator.home_view(REPORTER)
    assert view is not None and "（2件）" in text_of(
        view
    )  # both incidents, as the database has them
    leakbot.clock.advance(minutes=5)
    await leakbot.deliver()
    assert len(_publishes(leakbot, REPORTER)) == before + 1  # nothing more to tell

    # A change in a later window publishes again; people who never opened the tab get none.
    await leakbot.report(REPORTER, MILD_STEPS)
    await next_window(leakbot)
    assert len(_publishes(leakbot, REPORTER)) == before + 2
    assert _publishes(leakbot, APPROVER_2) == []


async def test_the_messages_tab_publishes_nothing(leakbot: Leakbot) -> None:
    reply = await leakbot.slack.event_callback(app_home_opened_event(user=REPORTER, tab="messages"))
    assert reply.status == 200
    await open_home(leakbot, REPORTER_EN)  # a later event is handled: the first was, too
    assert _publishes(leakbot, REPORTER) == []
