"""The weekly summary's added figures and its chart data, from a store with known incidents:
median time to decision, decisions that followed the recommendation, overdue regulator
deadlines (bot/store/reports.py), incidents per week by decided action (bot/store/chart.py),
and the chart drawn from them (bot/summary_chart.py)."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image, ImageColor

from bot.domain.chart import CATEGORIES, chart_weeks, stack
from bot.domain.playbook import load_playbook
from bot.domain.summary import parse_week, summary_text
from bot.store import NewIncident, NewTask, Store
from bot.store.chart import weekly_actions
from bot.store.reports import week_data
from bot.summary_chart import COLOURS, render_chart

JST = ZoneInfo("Asia/Tokyo")
WEEK = parse_week("2026-W48", JST)  # Mon 23 – Sun 29 Nov 2026
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=JST)
PLAYBOOK = load_playbook()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _new(partner: str, recommendation: str = "request_report") -> NewIncident:
    return NewIncident(
        partner=partner,
        reporter_id="UREPORTER1",
        team_id="T1",
        locale="ja",
        answers={"partner": partner},
        assessment={"recommendation": recommendation},
        recommendation=recommendation,
        year=2026,
    )


async def _decided(
    store: Store, partner: str, created: datetime, after: timedelta, action: str
) -> str:
    record, _ = await store.create_incident(_new(partner), now=created)
    outcome = await store.record_approval(
        record.id, approver_id="UAPPROVER1", action=action, required=1, now=created + after
    )
    assert outcome.kind == "decided"
    return record.id


async def _known_weeks(store: Store) -> None:
    day = WEEK.start + timedelta(hours=10)  # Monday 10:00 JST
    # This week: three decisions after 2 h, 10 h and 4 h; two of them as recommended.
    await _decided(store, "株式会社アクメ", day, timedelta(hours=2), "request_report")
    await _decided(
        store, "Globex", day + timedelta(days=1), timedelta(hours=10), "consider_suspension"
    )
    await _decided(store, "山田商事", day + timedelta(days=2), timedelta(hours=4), "request_report")
    pending, _ = await store.create_incident(_new("Initech"), now=day + timedelta(days=3))
    rejected, _ = await store.create_incident(_new("Umbrella"), now=day + timedelta(days=4))
    await store.reject(
        rejected.id, actor_id="UAPPROVER1", reason="dup", now=day + timedelta(days=4)
    )
    # Two weeks earlier (W46), and one too old for the 12-week chart (W36).
    await _decided(store, "Hooli", day - timedelta(weeks=2), timedelta(days=3), "suspend_and_legal")
    await store.create_incident(_new("Old Co."), now=day - timedelta(weeks=12))
    # Deadlines of the pending incident, all past due: GDPR (a regulator's), the partner's
    # report (internal); the APPI preliminary report is overdue only at its own overdue-after
    # moment (5 days from awareness, skipping closed days), a day from now.
    await store.create_tasks(
        pending.id,
        [
            NewTask("deadline", "gdpr_authority", {"en": "GDPR"}, None, NOW - timedelta(hours=1)),
            NewTask("deadline", "partner_report", {"en": "Report"}, None, NOW - timedelta(days=1)),
            NewTask(
                "deadline",
                "appi_preliminary",
                {"en": "PPC"},
                None,
                NOW - timedelta(days=2),
                overdue_after=NOW + timedelta(days=1),
            ),
        ],
        now=day,
    )


async def test_week_figures(store: Store) -> None:
    await _known_weeks(store)
    regulator = [str(ref) for ref, rule in PLAYBOOK.deadlines.items() if rule.regulator]
    data = await week_data(store, WEEK, now=NOW, regulator_refs=regulator)
    assert data.decided.total == 3 and data.decisions == 3
    assert data.decisions_by_action == {"request_report": 2, "consider_suspension": 1}
    assert data.median_decision == timedelta(hours=4)
    assert data.followed_recommendation == 2
    assert data.overdue.total == 2  # GDPR and the partner's report; not the APPI one yet
    assert data.regulator_overdue == 1  # GDPR only
    assert data.upcoming.total == 1  # the APPI one, past due but not yet overdue
    text = summary_text(PLAYBOOK, data, "en", JST)
    assert "Median time to decision: 4 h (this week's 3 decisions)" in text
    assert "Decided as recommended: 2 of this week's 3 decisions" in text
    assert "(regulators, affected persons): 1" in text
    ja = summary_text(PLAYBOOK, data, "ja", JST)
    assert "決定までの時間（中央値）: 4時間（今週の決定 3件）" in ja
    assert "推奨どおりの決定: 今週の決定 3件中 2件" in ja


async def test_median_of_an_even_count_is_the_mean_of_the_middle_two(store: Store) -> None:
    day = WEEK.start + timedelta(hours=9)
    for n, hours in enumerate((1, 3, 5, 50)):
        await _decided(
            store, f"P{n}", day + timedelta(hours=n), timedelta(hours=hours), "request_report"
        )
    data = await week_data(store, WEEK, now=NOW)
    assert data.median_decision == timedelta(hours=4)
    assert data.followed_recommendation == 4


async def test_empty_week_has_no_median(store: Store) -> None:
    data = await week_data(store, WEEK, now=NOW)
    assert data.median_decision is None and data.followed_recommendation == 0
    assert "No decisions this week" in summary_text(PLAYBOOK, data, "en", JST)


async def test_weekly_actions_stack_by_decided_action(store: Store) -> None:
    await _known_weeks(store)
    chart = await weekly_actions(store, WEEK, JST)
    assert [w.label for w in chart.weeks] == [f"2026-W{n}" for n in range(37, 49)]
    this_week, two_weeks_ago = 11, 9
    expected = {key: [0] * 12 for key in CATEGORIES}
    expected["request_report"][this_week] = 2
    expected["consider_suspension"][this_week] = 1
    expected["undecided"][this_week] = 1
    expected["rejected"][this_week] = 1
    expected["suspend_and_legal"][two_weeks_ago] = 1
    assert {key: list(values) for key, values in chart.counts.items()} == expected
    assert chart.decided == {
        "continue_unchanged": 0,
        "continue_with_concern": 0,
        "request_report": 2,
        "consider_suspension": 1,
        "suspend_and_legal": 1,
    }


def test_stack_counts_closed_incidents_by_their_decision() -> None:
    weeks = chart_weeks(WEEK, JST, 2)
    data = stack(
        weeks,
        [
            (0, "request_report", "closed", 3),
            (1, "request_report", "decided", 1),
            (1, None, "pending", 2),
            (1, None, "closed", 1),  # closed without a decision: still undecided
            (5, "request_report", "decided", 9),  # outside the weeks: ignored
        ],
    )
    assert data.counts["request_report"] == (3, 1)
    assert data.counts["undecided"] == (0, 3)
    assert sum(sum(values) for values in data.counts.values()) == 7


@pytest.mark.parametrize("lang", ["ja", "en"])
async def test_chart_png(store: Store, lang: str) -> None:
    await _known_weeks(store)
    data = await weekly_actions(store, WEEK, JST)
    chart = render_chart(PLAYBOOK, data, lang)
    assert chart.png.startswith(PNG_SIGNATURE)
    assert len(chart.png) > 15_000  # bars, labels and legends, not an empty canvas
    width, height = (int.from_bytes(chart.png[16 + 4 * i : 20 + 4 * i], "big") for i in range(2))
    assert (width, height) == (1100, 900)
    with Image.open(io.BytesIO(chart.png)) as image:
        assert image.mode == "P"  # a palette PNG (palette_png)
        colours = {colour for _, colour in image.convert("RGB").getcolors(256) or []}
    drawn = {key for key, counts in data.counts.items() if any(counts)}
    assert drawn  # each category with a bar keeps its exact colour
    assert {ImageColor.getrgb(COLOURS[key]) for key in drawn} <= colours
    if lang == "en":
        assert (chart.lang, chart.font) == ("en", None)


async def test_chart_without_a_japanese_font_falls_back_to_english(store: Store) -> None:
    await _known_weeks(store)
    data = await weekly_actions(store, WEEK, JST)
    chart = render_chart(PLAYBOOK, data, "ja", fonts=("No Such Font JP",))
    assert (chart.lang, chart.font) == ("en", None)
    assert chart.png.startswith(PNG_SIGNATURE)
    assert chart.png == render_chart(PLAYBOOK, data, "en").png  # the English chart exactly
