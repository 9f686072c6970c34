"""The weekly summary's pure parts: ISO weeks, "and N more", the text and the Slack message, and
when the scheduler's cron last fired (what a start-up catch-up posts)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.playbook import load_playbook
from bot.domain.summary import (
    Counted,
    DeadlineLine,
    IncidentLine,
    WeekData,
    parse_week,
    previous_week,
    summary_text,
    week_of,
)
from bot.scheduler import CATCH_UP_DAYS, current_week, last_fire_time, summary_trigger
from bot.slack.blocks.common import HEADER_TEXT_MAX, MESSAGE_BLOCKS_MAX, SECTION_TEXT_MAX
from bot.slack.blocks.summary import summary_message

PLAYBOOK = load_playbook()
JST = ZoneInfo("Asia/Tokyo")

# -- ISO weeks ------------------------------------------------------------------------------------


def test_parse_week() -> None:
    week = parse_week("2026-W48", JST)
    assert (week.year, week.number, week.label) == (2026, 48, "2026-W48")
    assert week.start == datetime(2026, 11, 23, tzinfo=JST)  # Monday 00:00 in Tokyo
    assert week.end == datetime(2026, 11, 30, tzinfo=JST)
    assert parse_week(" 2026-W01 ", JST).start == datetime(2025, 12, 29, tzinfo=JST)


def test_parse_week_53() -> None:
    # 2026 starts on a Thursday, so it has an ISO week 53; 2025 does not.
    week = parse_week("2026-W53", JST)
    assert week.start == datetime(2026, 12, 28, tzinfo=JST)
    assert week.end == datetime(2027, 1, 4, tzinfo=JST)
    with pytest.raises(ValueError, match="2025 has no week 53"):
        parse_week("2025-W53", JST)


@pytest.mark.parametrize(
    "text", ["", "2026-48", "2026W48", "2026-w48", "2026-W4", "26-W48", "2026-W48x", "2026-W48-1"]
)
def test_parse_week_refuses_other_text(text: str) -> None:
    with pytest.raises(ValueError, match="ISO week"):
        parse_week(text, JST)


@pytest.mark.parametrize("text", ["2026-W00", "2026-W54", "2026-W99"])
def test_parse_week_refuses_weeks_that_do_not_exist(text: str) -> None:
    with pytest.raises(ValueError, match="has no week"):
        parse_week(text, JST)


def test_week_of_across_the_new_year() -> None:
    assert week_of(date(2026, 12, 31), JST).label == "2026-W53"
    assert week_of(date(2027, 1, 3), JST).label == "2026-W53"
    assert week_of(date(2027, 1, 4), JST).label == "2027-W01"


def test_previous_week() -> None:
    monday = datetime(2026, 11, 30, 9, 0, tzinfo=JST)
    assert previous_week(monday, JST).label == "2026-W48"
    assert previous_week(monday - timedelta(hours=9, seconds=1), JST).label == "2026-W47"
    # The week is the configured time zone's: Sunday 16:00 UTC is Monday 01:00 in Tokyo.
    assert previous_week(datetime(2026, 11, 29, 16, 0, tzinfo=UTC), JST).label == "2026-W48"
    assert previous_week(datetime(2027, 1, 4, 9, 0, tzinfo=JST), JST).label == "2026-W53"
    assert current_week(monday, JST).label == "2026-W49"


def test_counted_more() -> None:
    assert Counted((1, 2, 3), 10).more == 7
    assert Counted((1, 2, 3), 3).more == 0
    assert Counted((), 0).more == 0
    assert Counted((1, 2), 1).more == 0  # never negative


# -- the text ------------------------------------------------------------------------------------

WEEK = parse_week("2026-W48", JST)
AS_OF = datetime(2026, 11, 30, 9, 0, tzinfo=JST)


def incident(
    n: int, *, status: str = "pending", hours_old: int = 5, partner: str = ""
) -> IncidentLine:
    return IncidentLine(
        id=f"LEAK-2026-{n:04d}",
        partner=partner or f"取引先{n}",
        status=status,
        recommendation="request_report",
        decided_action="suspend_and_legal" if status == "decided" else None,
        created_at=AS_OF - timedelta(hours=hours_old),
        permalink=f"https://example.slack.com/archives/C1/p{n}",
    )


def deadline(n: int, *, days: int = -1) -> DeadlineLine:
    return DeadlineLine(
        incident_id=f"LEAK-2026-{n:04d}",
        partner=f"取引先{n}",
        ref="gdpr_authority",
        title={"ja": "EU監督機関への通知（GDPR）", "en": "Notice to the EU authority (GDPR)"},
        due_at=AS_OF + timedelta(days=days),
        owner_id="U1",
    )


def week_data(*, many: bool = False, partner: str = "") -> WeekData:
    size = 25 if many else 2
    shown = min(size, 10)
    incidents = tuple(incident(n, partner=partner) for n in range(1, shown + 1))
    return WeekData(
        week=WEEK,
        as_of=AS_OF,
        opened=Counted(incidents, size),
        decided=Counted((incident(90, status="decided"),), 1),
        decisions_by_action={"suspend_and_legal": 1, "request_report": 3},
        pending=Counted(incidents, size),
        overdue=Counted(tuple(deadline(n) for n in range(shown)), size),
        upcoming=Counted(tuple(deadline(n, days=2) for n in range(shown)), size),
        repeat_partners=Counted(tuple((f"取引先{n}", 3) for n in range(shown)), size),
        open_incidents=Counted(incidents, size + 1),
    )


def test_summary_text_in_japanese() -> None:
    text = summary_text(PLAYBOOK, week_data(), "ja", JST)
    lines = text.splitlines()
    assert lines[0] == "📊 情報漏洩 週次サマリー 2026-W48（2026年11月23日(月)〜2026年11月29日(日)）"
    assert lines[1] == "2026年11月30日(月) 09:00 時点"
    assert "- 新規 2件 ／ 決定 1件 ／ 承認待ち 2件 ／ 期限超過 2件" in lines
    # The decisions beside the survey: one text bar per action, our share then the survey's.
    assert "報告書・改善書の提出を求める ███████████████░░░░░    3 ( 75%) ▏ 43%" in lines
    assert "即時停止・法的措置を検討     █████░░░░░░░░░░░░░░░    1 ( 25%) ▏ 17%" in lines
    assert "取引を継続（変更なし）       ░░░░░░░░░░░░░░░░░░░░    0 (  0%) ▏  1%" in lines
    assert "- LEAK-2026-0001 取引先1 — 承認待ち・報告書・改善書の提出を求める（5時間経過）" in lines
    assert (
        "- LEAK-2026-0001 取引先1：EU監督機関への通知（GDPR） — 期限 2026年11月29日(日) 09:00"
        in lines
    )
    assert "- 取引先0：3件" in lines
    assert "■ 対応中のインシデント（3件）" in lines and "- ほか 1件" in lines
    assert "ほか" not in "\n".join(lines[:-5])  # no other list is cut
    assert lines[-1].startswith("根拠: ")


def test_summary_text_in_english_with_and_n_more() -> None:
    text = summary_text(PLAYBOOK, week_data(many=True), "en", JST)
    assert "- Opened 25 / Decided 1 / Waiting for approval 25 / Overdue 25" in text
    assert "■ Opened this week (25)" in text
    assert text.count("- and 15 more") == 5  # opened, pending, overdue, upcoming, partners
    assert "- and 16 more" in text  # open incidents
    assert "Request a report and improvement plan" in text
    assert "(5 h old)" in text


def test_summary_text_of_an_empty_week() -> None:
    empty = WeekData(
        week=WEEK,
        as_of=AS_OF,
        opened=Counted((), 0),
        decided=Counted((), 0),
        decisions_by_action={},
        pending=Counted((), 0),
        overdue=Counted((), 0),
        upcoming=Counted((), 0),
        repeat_partners=Counted((), 0),
        open_incidents=Counted((), 0),
    )
    text = summary_text(PLAYBOOK, empty, "ja", JST)
    assert text.count("- なし") == 6  # opened, pending, overdue, upcoming, partners, open
    assert "░░░░░░░░░░░░░░░░░░░░    0 (  0%)" in text


def test_ages_in_hours_then_days() -> None:
    lines = [
        incident(1, hours_old=47),
        incident(2, hours_old=48),
        incident(3, hours_old=24 * 9 + 5),
    ]
    data = week_data()
    data = WeekData(**{**data.__dict__, "pending": Counted(tuple(lines), 3)})
    text = summary_text(PLAYBOOK, data, "ja", JST)
    assert "（47時間経過）" in text and "（2日経過）" in text and "（9日経過）" in text


# -- the Slack message ---------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_summary_message_within_block_kit_limits(lang: str) -> None:
    # Long partner names in every list still fit: lists are capped, sections split.
    data = week_data(many=True, partner="長い取引先名" * 40)
    message = summary_message(PLAYBOOK, data, lang, JST)
    blocks = message["blocks"]
    assert len(blocks) <= MESSAGE_BLOCKS_MAX
    assert len(message["text"]) <= 3000
    assert blocks[0]["type"] == "header" and len(blocks[0]["text"]["text"]) <= HEADER_TEXT_MAX
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= SECTION_TEXT_MAX
    text = json.dumps(blocks, ensure_ascii=False)
    assert ("ほか 15件" if lang == "ja" else "and 15 more") in text
    assert ("ほか 15社" if lang == "ja" else "and 15 more") in text
    assert "<https://example.slack.com/archives/C1/p1|LEAK-2026-0001 " in text


def test_summary_message_escapes_partner_names() -> None:
    data = week_data(partner="<!channel> & Co")
    text = json.dumps(summary_message(PLAYBOOK, data, "en", JST)["blocks"], ensure_ascii=False)
    assert "<!channel>" not in text
    assert "&lt;!channel&gt; &amp; Co" in text


# -- when the summary is due ---------------------------------------------------------------------

TRIGGER = summary_trigger(PLAYBOOK, JST)  # "0 9 * * mon"
MONDAY_0900 = datetime(2026, 11, 30, 9, 0, tzinfo=JST)


def test_last_fire_time_of_the_monday_cron() -> None:
    assert last_fire_time(TRIGGER, MONDAY_0900) == MONDAY_0900
    assert last_fire_time(TRIGGER, MONDAY_0900 + timedelta(hours=25)) == MONDAY_0900
    assert last_fire_time(TRIGGER, MONDAY_0900 - timedelta(seconds=1)) == MONDAY_0900 - timedelta(
        days=7
    )
    # Any time zone in, the same instant out.
    assert last_fire_time(TRIGGER, MONDAY_0900.astimezone(UTC) + timedelta(minutes=1)) == (
        MONDAY_0900
    )
    fired = last_fire_time(TRIGGER, MONDAY_0900 + timedelta(days=6, hours=23))
    assert fired == MONDAY_0900
    assert fired is not None and previous_week(fired, JST).label == "2026-W48"


def test_last_fire_time_catch_up_window() -> None:
    monthly = summary_trigger(
        PLAYBOOK.model_copy(
            update={
                "schedules": PLAYBOOK.schedules.model_copy(
                    update={"weekly_summary_cron": "0 9 1 * *"}
                )
            }
        ),
        JST,
    )
    first = datetime(2026, 12, 1, 9, 0, tzinfo=JST)
    assert last_fire_time(monthly, first + timedelta(days=CATCH_UP_DAYS - 1)) == first
    # Longer ago than the window: nothing to catch up.
    assert last_fire_time(monthly, first + timedelta(days=CATCH_UP_DAYS + 1)) is None


def test_summary_trigger_names_a_bad_cron() -> None:
    bad = PLAYBOOK.model_copy(
        update={"schedules": PLAYBOOK.schedules.model_copy(update={"weekly_summary_cron": "9 mon"})}
    )
    with pytest.raises(ValueError, match=r"weekly_summary_cron '9 mon'"):
        summary_trigger(bad, JST)
