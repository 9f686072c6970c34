"""The weekly summary's chart as Slack sees it (pure builders): the chart part of the summary's
outbox item, its image block put in place within Block Kit's 50 blocks, its text alternative in
the channel's language, and the chart's input for the drawing process, there and back."""

from __future__ import annotations

import base64
import json
from zoneinfo import ZoneInfo

import pytest

from bot.domain.chart import CATEGORIES, chart_weeks, stack
from bot.domain.playbook import load_playbook
from bot.domain.summary import parse_week
from bot.slack.blocks.common import MESSAGE_BLOCKS_MAX
from bot.slack.blocks.summary import (
    CHART_KEY,
    CHART_POSITION,
    chart_spec,
    summary_message,
    with_chart,
)
from bot.summary_chart import actions_from_input, chart_input

from .test_summary import week_data

PLAYBOOK = load_playbook()
JST = ZoneInfo("Asia/Tokyo")
WEEK = parse_week("2026-W48", JST)
# Week index 11 is 2026-W48; 10 is W47.
CHART = stack(
    chart_weeks(WEEK, JST),
    [
        (11, "request_report", "decided", 3),
        (11, None, "pending", 2),
        (10, "suspend_and_legal", "closed", 1),
        (10, None, "rejected", 1),
    ],
)
RESPONDENTS = sum(choice.count for choice in PLAYBOOK.loaded_survey.choices)
PNG = b"\x89PNG\r\n\x1a\n(a drawing)"


def test_chart_spec_in_english_says_what_the_bars_count() -> None:
    spec = chart_spec(PLAYBOOK, CHART, "en", PNG)
    assert spec["filename"] == "leakbot-summary-2026-W48.png"
    assert spec["title"] == "Incidents per week by decision, and our decisions beside the survey"
    assert spec["alt_text"] == (
        "Chart of the weekly summary. Top: incidents reported each week from 2026-W37 to "
        "2026-W48 (12 weeks), bars stacked by decision; incidents in all: 7. Bottom: the shares "
        "of this company's decisions in those weeks by action (decisions: 4) beside the shares "
        f"of the survey's answers (respondents: {RESPONDENTS})."
    )
    assert spec["position"] == CHART_POSITION
    assert base64.b64decode(spec["png"]) == PNG
    json.dumps(spec)  # JSON values only: it is stored in the outbox item


def test_chart_spec_in_japanese() -> None:
    spec = chart_spec(PLAYBOOK, CHART, "ja", PNG)
    assert spec["alt_text"].startswith(
        "週次サマリーのグラフ。上: 2026-W37〜2026-W48（12週）に報告されたインシデントの件数を"
        "週ごとに決定別に積み上げた棒グラフ（計7件）。"
    )
    assert f"当社の決定4件の対応別の割合と、調査の回答者{RESPONDENTS}人の回答" in spec["alt_text"]


def test_chart_input_round_trips_through_json() -> None:
    spec = json.loads(json.dumps(chart_input(CHART, "ja")))
    assert spec["week"] == "2026-W48" and spec["weeks"] == 12 and spec["lang"] == "ja"
    assert set(spec["counts"]) == set(CATEGORIES)
    assert actions_from_input(spec, JST) == CHART


@pytest.mark.parametrize(
    "broken",
    [
        {"weeks": 0},
        {"week": "last week"},
        {"counts": {"request_report": [1, 2]}},  # not one count per week
        {"counts": "none"},
    ],
)
def test_chart_input_that_is_not_one_is_refused(broken: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        actions_from_input({**chart_input(CHART, "en"), **broken}, JST)


def test_message_with_chart_keeps_a_block_for_the_image() -> None:
    data = week_data(many=True, partner="長い取引先名" * 400)  # the most blocks a week has
    plain = summary_message(PLAYBOOK, data, "en", JST)
    body = summary_message(PLAYBOOK, data, "en", JST, CHART, PNG)
    assert CHART_KEY not in plain
    assert CHART_KEY not in summary_message(PLAYBOOK, data, "en", JST, CHART)  # not drawn
    spec = body.pop(CHART_KEY)
    assert spec == chart_spec(PLAYBOOK, CHART, "en", PNG)
    shown = with_chart(body, spec, "F0123456789")
    assert body["blocks"] == plain["blocks"]
    assert len(shown["blocks"]) == len(body["blocks"]) + 1 <= MESSAGE_BLOCKS_MAX
    image = shown["blocks"][CHART_POSITION]
    assert image == {
        "type": "image",
        "slack_file": {"id": "F0123456789"},
        "alt_text": spec["alt_text"],
        "title": {"type": "plain_text", "text": spec["title"]},
    }
    assert shown["blocks"][:CHART_POSITION] == body["blocks"][:CHART_POSITION]
    assert shown["blocks"][CHART_POSITION + 1 :] == body["blocks"][CHART_POSITION:]
    assert shown["text"] == body["text"]


def test_message_without_weeks_has_no_chart() -> None:
    empty = stack((), [])
    assert CHART_KEY not in summary_message(PLAYBOOK, week_data(), "en", JST, empty, PNG)
