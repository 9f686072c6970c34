"""The weekly summary over HTTP and the Slack emulator: a week with known incidents, in Japanese
and English, the same text from `leakbot summary --week`, and a week of 500 incidents that still
fits Block Kit's limits.

`scheduler.summary_due()` is what APScheduler runs at the playbook's cron (Monday 09:00 in
LEAKBOT_TIMEZONE); the clock is a FakeClock, so nothing waits.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import (
    APPROVER_1,
    APPROVER_2,
    CHANNEL,
    MILD_STEPS,
    REPORTER,
    STEPS,
    SUMMARY_CHANNEL,
    Leakbot,
    start_leakbot,
    stop_leakbot,
)
from slackemu import FakeClock, SlackEmulator, blockkit

from bot.domain.answers import parse_answers
from bot.domain.engine import assess
from bot.service import assessment_snapshot
from bot.slack.blocks.common import MESSAGE_BLOCKS_MAX
from bot.store import IncidentRecord, NewIncident, NewTask

JST = ZoneInfo("Asia/Tokyo")
MONDAY_0900 = datetime(2026, 11, 30, 9, 0, tzinfo=JST)  # the Monday after ISO week 2026-W48


def jst(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=JST)


def steps_for(partner: str, base: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**base[0], "partner": partner}, *base[1:]]


async def wait_answer(
    bot: Leakbot, action_id: str, user_id: str, record: IncidentRecord, **kw: Any
) -> None:
    before = len(bot.emulator.calls_to("response_url"))
    await bot.click(record, action_id, user_id, **kw)
    await bot.emulator.wait_for_call("response_url", count=before + 1)
    await bot.deliver()


@dataclass
class KnownWeek:
    globex_old: IncidentRecord  # week 47, decided
    acme: IncidentRecord  # decided: suspend_and_legal (two approvals)
    globex: IncidentRecord  # a repeat partner, decided: request_report (chosen)
    initech: IncidentRecord  # pending since Thursday
    umbrella: IncidentRecord  # pending since Saturday


async def known_week(bot: Leakbot) -> KnownWeek:
    """Five incidents: one the week before, four in 2026-W48 (two decided, two pending)."""
    clock = bot.clock
    clock.set(datetime(2026, 11, 20, 10, 0, tzinfo=JST))
    globex_old = await bot.report(REPORTER, MILD_STEPS)
    await wait_answer(bot, "leak_approve", APPROVER_1, globex_old, value=globex_old.id)
    clock.set(jst(23))
    acme = await bot.report(REPORTER, STEPS)
    clock.set(jst(24))
    await wait_answer(bot, "leak_approve", APPROVER_1, acme, value=acme.id)
    await wait_answer(bot, "leak_approve", APPROVER_2, acme, value=acme.id)
    clock.set(jst(25))
    globex = await bot.report(REPORTER, MILD_STEPS)
    await wait_answer(bot, "leak_choose", APPROVER_1, globex, selected_option="request_report")
    clock.set(jst(26))
    initech = await bot.report(REPORTER, steps_for("Initech", MILD_STEPS))
    clock.set(jst(28))
    umbrella = await bot.report(REPORTER, steps_for("Umbrella Corp", STEPS))
    records = [await bot.store.get_incident(r.id) for r in (globex_old, acme, globex)]
    assert [r.status if r else None for r in records] == ["decided"] * 3
    # The mild case's recommendation is the panel's 51st respondent: a report (#33 alone moves
    # to continuing); approving it decides that.
    assert [r.decided_action if r else None for r in records] == [
        "request_report",
        "suspend_and_legal",
        "request_report",
    ]
    return KnownWeek(globex_old, acme, globex, initech, umbrella)


async def post_summary(bot: Leakbot) -> dict[str, Any]:
    bot.clock.set(MONDAY_0900)
    assert await bot.app.scheduler.summary_due() is True
    await bot.deliver()
    posted = bot.emulator.messages(SUMMARY_CHANNEL)
    assert len(posted) == 1
    bot.emulator.assert_no_rejections()
    return posted[0]


def permalink(bot: Leakbot, record: IncidentRecord) -> str:
    ts = bot.recommendation_ts(record)
    return f"https://leakbot-test.slack.com/archives/{CHANNEL}/p{ts.replace('.', '')}"


@pytest.fixture(params=["ja", "en"])
async def bot(
    request: pytest.FixtureRequest, emulator: SlackEmulator, clock: FakeClock, database_url: str
) -> AsyncIterator[Leakbot]:
    started = await start_leakbot(emulator, clock, database_url, LEAKBOT_LANGUAGE=request.param)
    try:
        yield started
    finally:
        await stop_leakbot(started)


EXPECTED = {
    "ja": {
        "title": "📊 情報漏洩 週次サマリー 2026-W48（2026年11月23日(月)〜2026年11月29日(日)）",
        "as_of": "2026年11月30日(月) 09:00 時点",
        "counts": "新規 4件 ／ 決定 2件 ／ 承認待ち 2件 ／ 期限超過 5件",
        "bars": [
            r"報告書・改善書の提出を求める █{10}░{10}\s+1 \( 50%\) ▏ 43%",
            r"即時停止・法的措置を検討\s+█{10}░{10}\s+1 \( 50%\) ▏ 17%",
            r"取引を継続（変更なし）\s+░{20}\s+0 \(  0%\) ▏  1%",
        ],
        "pending": [
            "LEAK-2026-0004 Initech — 承認待ち・報告書・改善書の提出を求める（3日経過）",
            "LEAK-2026-0005 Umbrella Corp — 承認待ち・即時停止・法的措置を検討（47時間経過）",
        ],
        "pending_title": "承認待ち（2件）",
        "overdue_title": "期限を過ぎたもの（5件）",
        "overdue": "LEAK-2026-0002 株式会社アクメ：EU監督機関への通知（GDPR） — "
        "期限 2026年11月26日(木) 10:00",
        # The partners' first facts (2 days) are overdue for all three decided incidents; the
        # 14-day report of last week's incident (aware Fri Nov 20) is due within 7 days, and so
        # is ACME's 速報: past its target (Thu Nov 26) but overdue only after its own moment, 5
        # days from awareness (Mon Nov 23) moved past the weekend to Mon Nov 30 23:59.
        "upcoming_title": "7日以内の期限（2件）",
        "upcoming": "LEAK-2026-0001 Globex Inc.：取引先の事故報告書・再発防止策 — "
        "期限 2026年12月4日(金) 23:59",
        "partners": "Globex Inc.：2件",
        "open_title": "対応中のインシデント（5件）",
        "decided_line": "LEAK-2026-0002 株式会社アクメ — 決定済み・即時停止・法的措置を検討",
    },
    "en": {
        "title": "📊 Partner leaks: weekly summary 2026-W48 (",
        "as_of": "As of ",
        "counts": "Opened 4 / Decided 2 / Waiting for approval 2 / Overdue 5",
        "bars": [
            r"Request a report and improvement plan\s+█{10}░{10}\s+1 \( 50%\) ▏ 43%",
            r"Suspend at once and consider legal action\s+█{10}░{10}\s+1 \( 50%\) ▏ 17%",
        ],
        "pending": [
            "LEAK-2026-0004 Initech — waiting for approval, ",
            "LEAK-2026-0005 Umbrella Corp — waiting for approval, ",
        ],
        "pending_title": "Waiting for approval (2)",
        "overdue_title": "Overdue (5)",
        "overdue": "LEAK-2026-0002 株式会社アクメ: "
        "Notice to the EU supervisory authority (GDPR) — due ",
        "upcoming_title": "Due within 7 days (2)",
        "upcoming": "LEAK-2026-0001 Globex Inc.: "
        "Partner's incident report and prevention plan — due ",
        "partners": "Globex Inc.: 2 incidents",
        "open_title": "Open incidents (5)",
        "decided_line": "LEAK-2026-0002 株式会社アクメ — decided, ",
    },
}


async def test_weekly_summary_of_a_known_week(bot: Leakbot) -> None:
    lang = bot.app.deps.settings.LEAKBOT_LANGUAGE
    week = await known_week(bot)
    message = await post_summary(bot)
    text = blockkit.blocks_text(message["blocks"])
    expected = EXPECTED[lang]
    for key in ("title", "as_of", "counts", "pending_title", "overdue_title", "overdue"):
        assert expected[key] in text, (key, text)
    for key in ("upcoming_title", "upcoming", "partners", "open_title", "decided_line"):
        assert expected[key] in text, (key, text)
    assert message["text"].startswith(expected["title"])
    for pattern in expected["bars"]:
        assert re.search(pattern, text), (pattern, text)
    for line in expected["pending"]:
        assert line in text, (line, text)
    # Every open incident links to its recommendation message (chat.getPermalink).
    for record in (week.globex_old, week.acme, week.globex, week.initech, week.umbrella):
        assert f"<{permalink(bot, record)}|{record.id} " in text, record.id
    assert (
        "LEAK-2026-0001"
        not in text.split(expected["pending_title"])[0].split(expected["counts"])[1]
    ), "last week's incident is not among this week's new ones"
    assert len(message["blocks"]) <= MESSAGE_BLOCKS_MAX
    if lang == "ja":
        print("\n--- the weekly summary as posted (ja) ---\n" + text)


async def test_cli_summary_prints_the_same_text(
    leakbot: Leakbot,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot import cli

    await known_week(leakbot)
    message = await post_summary(leakbot)
    posted = blockkit.blocks_text(message["blocks"])

    monkeypatch.chdir(tmp_path)  # no stray .env
    for name, value in {
        "DATABASE_URL": database_url,
        "LEAKBOT_LANGUAGE": "ja",
        "LEAKBOT_TIMEZONE": "Asia/Tokyo",
        "LEAKBOT_SUMMARY_CHANNEL": SUMMARY_CHANNEL,
        "SLACK_BOT_TOKEN": "xoxb-e2e-token",
        "SLACK_API_URL": leakbot.emulator.api_url,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(cli, "SystemClock", lambda: leakbot.clock)
    capsys.readouterr()
    # The CLI runs its own event loop (asyncio.run): in a thread, as in a terminal.
    code = await asyncio.to_thread(cli.main, ["summary", "--week", "2026-W48"])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = [line.removeprefix("- ").removeprefix("■ ").strip() for line in out.splitlines()]
    lines = [line for line in lines if line]
    assert lines[0] == EXPECTED["ja"]["title"]
    assert len(lines) > 20
    for line in lines:
        assert line in posted, line
    # The same week again, posted from the CLI: the scheduler already did, so nothing new.
    code = await asyncio.to_thread(cli.main, ["summary", "--week", "2026-W48", "--post"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"leakbot: 週次サマリー 2026-W48 は {SUMMARY_CHANNEL} に投稿済みです" in out, out
    assert len(leakbot.emulator.messages(SUMMARY_CHANNEL)) == 1
    # A bad week is one clear line and exit 2.
    code = await asyncio.to_thread(cli.main, ["summary", "--week", "2026-W54"])
    out, err = capsys.readouterr()
    assert code == 2 and err.startswith("leakbot: --week") and "Traceback" not in err


async def test_an_empty_week(leakbot: Leakbot) -> None:
    message = await post_summary(leakbot)
    text = blockkit.blocks_text(message["blocks"])
    assert "新規 0件 ／ 決定 0件 ／ 承認待ち 0件 ／ 期限超過 0件" in text
    assert "対応中のインシデント（0件）" in text and "なし" in text


async def test_500_incidents_in_a_week_fit_block_kit(leakbot: Leakbot) -> None:
    store, playbook, tz = leakbot.store, leakbot.playbook, leakbot.app.deps.settings.tz
    start = datetime(2026, 11, 23, 0, 5, tzinfo=JST)
    variants = []
    for steps in (STEPS, MILD_STEPS):
        raw = {key: value for step in steps for key, value in step.items()}
        answers = parse_answers(raw, playbook, tz=tz, now=start)
        assessment = assess(answers, playbook, tz=tz, now=start)
        variants.append(
            (
                answers.to_json(),
                assessment_snapshot(assessment, playbook, start),
                assessment.recommendation,
            )
        )

    async def create(n: int) -> None:
        answers, snapshot, recommendation = variants[n % 2]
        now = start + timedelta(minutes=20 * n)  # spread over the week
        partner = f"取引先{n % 40:02d}株式会社"  # 40 partners, each more than once
        task = NewTask(
            kind="deadline",
            ref="partner_report",
            title={"ja": "取引先の事故報告書・再発防止策", "en": "Partner's report"},
            owner_id=REPORTER,
            due_at=now + timedelta(days=3),
        )
        new = NewIncident(
            partner=partner,
            reporter_id=REPORTER,
            team_id=None,
            locale="ja",
            answers={**answers, "partner": partner},
            assessment=snapshot,
            recommendation=recommendation,
            year=2026,
        )
        async with writers:
            record, created = await store.create_incident(new, now=now, tasks=[task])
            assert created
            if n % 10 == 0:
                await store.record_approval(
                    record.id, approver_id=APPROVER_1, action="request_report", required=1, now=now
                )

    # Several writers at once, as several people reporting: PostgreSQL overlaps them.
    writers = asyncio.Semaphore(8)
    await asyncio.gather(*(create(n) for n in range(500)))
    message = await post_summary(leakbot)
    blocks = message["blocks"]
    assert len(blocks) <= MESSAGE_BLOCKS_MAX
    text = blockkit.blocks_text(blocks)
    assert "新規 500件 ／ 決定 50件 ／ 承認待ち 450件" in text
    assert "今週の新規インシデント（500件）" in text and "ほか 490件" in text
    assert "承認待ち（450件）" in text and "ほか 440件" in text
    assert "複数回漏洩した取引先（40社）" in text and "ほか 30社" in text
    assert "対応中のインシデント（500件）" in text
    assert re.search(r"報告書・改善書の提出を求める █{20}\s+50 \(100%\) ▏ 43%", text), text
    overdue = re.search(r"期限を過ぎたもの（(\d+)件）", text)
    assert overdue and int(overdue.group(1)) > 10
    assert f"ほか {int(overdue.group(1)) - 10}件" in text
    assert len(message["text"]) <= 3000
    leakbot.emulator.assert_no_rejections()
