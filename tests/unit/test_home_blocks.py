"""The App Home view builder (bot/slack/blocks/home.py) alone: Slack's limits, the caps with
their counts, escaping, and what approvers and others see."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.domain.playbook import load_playbook
from bot.domain.vocabulary import OPTION_KEYS
from bot.slack.blocks.home import (
    AWAITING_SHOWN,
    HOME_BLOCKS_MAX,
    TASKS_SHOWN,
    home_unavailable_view,
    home_view,
)
from bot.store.home import HomeCounts, HomeIncident, HomeSnapshot, HomeTask

# The e2e suite's Slack emulator holds the Block Kit checks Slack applies to views.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from slackemu import validate_view
from slackemu.blockkit import blocks_text

PLAYBOOK = load_playbook()
TZ = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
WEEK = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
LOUD = "<!channel> Acme & Co " + "長い名前" * 200  # mentions nobody, and is long


def incident(n: int, status: str = "pending", vote: str | None = None) -> HomeIncident:
    return HomeIncident(
        id=f"LEAK-2026-{n:04d}",
        partner=LOUD,
        status=status,
        reporter_id="UREPORTER1",
        recommendation="request_report",
        decided_action="consider_suspension" if status == "decided" else None,
        round=1,
        created_at=NOW - timedelta(hours=n),
        channel_id="CESCALATE1",
        message_ts=f"17000000{n:02d}.000100",
        my_vote=vote,
    )


def task(n: int, due: datetime | None) -> HomeTask:
    return HomeTask(
        id=n,
        incident_id=f"LEAK-2026-{n:04d}",
        partner=LOUD,
        kind="deadline",
        ref="appi_final",
        title={"ja": "確報を提出", "en": "File the final report"},
        due_at=due,
    )


def snapshot(size: int) -> HomeSnapshot:
    return HomeSnapshot(
        awaiting=[incident(n, vote="suspend_and_legal" if n == 1 else None) for n in range(size)],
        incidents=[incident(n, "decided" if n % 2 else "pending") for n in range(size)],
        tasks=[task(n, NOW + timedelta(days=n - 2) if n else None) for n in range(size)],
        counts=HomeCounts(
            awaiting_me=size + 7,
            pending=size + 7,
            decided_open=size,
            my_open_tasks=size + 3,
            my_overdue_tasks=1,
            opened_this_week=4,
            decided_this_week=2,
        ),
    )


def action_values(view: dict[str, Any], action_id: str) -> list[str]:
    values = []
    for block in view["blocks"]:
        elements = [*block.get("elements", []), block.get("accessory") or {}]
        values += [e.get("value") for e in elements if e.get("action_id") == action_id]
    return values


def texts(view: dict[str, Any]) -> str:
    return blocks_text(view["blocks"])  # every text of the blocks, one a line


@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize("approver", [True, False])
def test_a_full_tab_stays_within_slacks_limits(lang: str, approver: bool) -> None:
    view = home_view(
        PLAYBOOK, snapshot(20), lang=lang, tz=TZ, now=NOW, week_start=WEEK, approver=approver
    )
    assert view["type"] == "home"
    assert len(view["blocks"]) <= HOME_BLOCKS_MAX
    assert validate_view(view) == []
    text = texts(view)
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    # Capped lists say how many more there are, and where to see them.
    more = "ほか" if lang == "ja" else "and"
    assert f"{more} {20 + 3 - TASKS_SHOWN}" in text  # tasks
    assert f"{more} {20 + 7 + 20 - 20}" in text  # open incidents (20 listed)
    assert "/leak list" in text
    # The Done buttons carry the task ids; the report button opens the intake.
    assert action_values(view, "leak_task_done") == [str(n) for n in range(TASKS_SHOWN)]
    assert action_values(view, "leak_home_report") == ["intake"]
    if approver:
        ids = [f"LEAK-2026-{n:04d}" for n in range(AWAITING_SHOWN)]
        # Approve carries the round and the action shown, so a stale button cannot vote.
        approve = [value.split(":") for value in action_values(view, "leak_approve")]
        assert [parts[0] for parts in approve] == ids
        assert all(len(parts) == 3 and parts[1].isdigit() for parts in approve)
        assert all(parts[2] in OPTION_KEYS for parts in approve)
        assert action_values(view, "leak_reject") == ids
        assert f"{more} {20 + 7 - AWAITING_SHOWN}" in text
        assert "https://slack.com/archives/CESCALATE1/p1700000001000100" in text
    else:
        assert action_values(view, "leak_approve") == []


def test_words_and_counts() -> None:
    small = snapshot(2)
    view = home_view(PLAYBOOK, small, lang="en", tz=TZ, now=NOW, week_start=WEEK, approver=True)
    text = texts(view)
    assert "Waiting for your approval (9)" in text
    assert "Your choice: *" in text  # the vote already given on LEAK-2026-0001
    assert "Your open tasks (5)" in text and ":warning: overdue" in text
    assert "New incidents: 4" in text and "Decisions: 2" in text
    assert "Awaiting a decision now: 9" in text and "Your overdue tasks: 1" in text
    assert "This week (from Tue 1 Dec 2026)" in text
    ja = texts(
        home_view(PLAYBOOK, small, lang="ja", tz=TZ, now=NOW, week_start=WEEK, approver=False)
    )
    assert "新規インシデント 4件" in ja and "あなたのタスク（5件）" in ja
    assert "あなたの承認待ち" not in ja  # not an approver: no approvals section


def test_an_empty_tab_and_the_unavailable_one() -> None:
    empty = HomeSnapshot(
        awaiting=[], incidents=[], tasks=[], counts=HomeCounts(0, 0, 0, 0, 0, 0, 0)
    )
    view = home_view(PLAYBOOK, empty, lang="en", tz=TZ, now=NOW, week_start=WEEK, approver=True)
    assert validate_view(view) == []
    text = texts(view)
    assert "Nothing is waiting for your approval." in text
    assert "You have no open tasks." in text and "There are no open incidents." in text
    assert "more" not in text
    for lang in ("ja", "en"):
        assert validate_view(home_unavailable_view(lang)) == []


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_task_counts_past_the_cap_say_at_least(lang: str) -> None:
    from dataclasses import replace

    from bot.store.home import TASK_COUNT_CAP

    full = snapshot(20)
    many = replace(
        full,
        counts=replace(
            full.counts, my_open_tasks=TASK_COUNT_CAP + 1, my_overdue_tasks=TASK_COUNT_CAP + 1
        ),
    )
    text = texts(
        home_view(PLAYBOOK, many, lang=lang, tz=TZ, now=NOW, week_start=WEEK, approver=True)
    )
    more = "ほか" if lang == "ja" else "and"
    assert f"{more} {TASK_COUNT_CAP - TASKS_SHOWN}+" in text
    if lang == "en":
        assert f"Your open tasks ({TASK_COUNT_CAP}+)" in text
        assert f"Your overdue tasks: {TASK_COUNT_CAP}+" in text
    else:
        assert f"あなたのタスク（{TASK_COUNT_CAP}+件）" in text
    assert str(TASK_COUNT_CAP + 1) not in text
