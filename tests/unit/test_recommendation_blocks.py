"""The Slack recommendation message, built alone (a pure builder): counts of the 100
respondents, policy labelled as policy, a split panel said so, and Block Kit's limits."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.domain.answers import parse_answers
from bot.domain.engine import Assessment, assess, median_reaction, split_of
from bot.domain.explain import quote_sections, reasons
from bot.domain.playbook import load_playbook
from bot.domain.vocabulary import OPTION_KEYS, OptionKey
from bot.slack.blocks.recommendation import IncidentView, decided_message, recommendation_message

TZ = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=TZ)
PLAYBOOK = load_playbook()
REPEAT = {
    "partner": "株式会社アクメ",
    "prior_incidents": 4,
    "cause": "negligence",
    "data_kinds": ["internal_minor"],
    "damage": "none",
    "partner_response": "cooperative",
    "dependency": "high",
}


def _view(raw: dict[str, Any]) -> IncidentView:
    answers = parse_answers(raw, PLAYBOOK, tz=TZ, now=NOW, partial=True)
    return IncidentView(
        incident_id="LEAK-2026-0007",
        partner=str(raw.get("partner", "")),
        reporter_id="U0REPORTER",
        answers=answers,
        assessment=assess(answers, PLAYBOOK, tz=TZ, now=NOW),
    )


def _texts(message: dict[str, Any]) -> str:
    return json.dumps(message["blocks"], ensure_ascii=False)


def _check_limits(message: dict[str, Any]) -> None:
    blocks = message["blocks"]
    assert len(blocks) <= 50
    for block in blocks:
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_counts_and_policy_labelled_as_policy(lang: str) -> None:
    view = _view(REPEAT)
    message = recommendation_message(PLAYBOOK, view, lang)
    _check_limits(message)
    text = _texts(message)
    assert "%" not in text and "points" not in text and "ポイント" not in text
    if lang == "en":
        assert "*Recommended: Consider suspending trading* (83 of 100 respondents" in text
        assert "Company policy: “A partner with 2 or more earlier incidents" in text
        assert "lifts 57 of 100" in text and "(a rule, not the respondents' view)" in text
        assert "Respondents who take this action under the same conditions" in text
    else:
        assert "*推奨対応: 取引停止を検討する*（100人中83人がこの対応）" in text
        assert "社内方針「過去に2件以上の漏洩がある取引先には" in text
        assert "100人中57人を「取引停止を検討する」まで引き上げています" in text
        assert "同じ条件でこの対応をとる回答者の声" in text
    # Quotes come from respondents whose reaction here is the recommendation: #53 said so under
    # this very condition; #33, who would keep trading, is a reason, never a supporting quote.
    quoted = [q.answer.number for q in view.assessment.quotes]
    assert quoted[0] == 53 and 33 not in quoted
    # Reasons: the median, then who moves to the recommendation (#53), then who moves elsewhere
    # (#33, whom the company rule puts back), then the rule.
    why = reasons(PLAYBOOK, view.assessment, lang)
    assert "#53" in why[1] and "#33" in why[2]
    assert why[3].startswith("Company policy:" if lang == "en" else "社内方針「")


def test_nothing_known_is_not_called_the_same_conditions() -> None:
    message = recommendation_message(PLAYBOOK, _view({"partner": "Globex"}), "en")
    text = _texts(message)
    assert "43 of 100" in text
    assert "Respondents who take this action in this case" in text
    assert "under the same conditions" not in text


def _split(view: IncidentView) -> IncidentView:
    final: dict[OptionKey, int] = {
        "continue_unchanged": 20,
        "continue_with_concern": 20,
        "request_report": 20,
        "consider_suspension": 25,
        "suspend_and_legal": 15,
    }
    top = median_reaction([key for key in OPTION_KEYS for _ in range(final[key])])
    assessment: Assessment = dataclasses.replace(
        view.assessment, final=final, recommendation=top, split=split_of(final, top, 100)
    )
    return dataclasses.replace(view, assessment=assessment)


@pytest.mark.parametrize(
    ("lang", "words"),
    [("en", "The panel is split: 25 of 100"), ("ja", "回答者の意見は割れています")],
)
def test_a_split_panel_is_said_so(lang: str, words: str) -> None:
    view = _split(_view({"partner": "Globex"}))
    assert words in _texts(recommendation_message(PLAYBOOK, view, lang))
    decided = decided_message(PLAYBOOK, view, lang, status_line="decided")
    assert words in _texts(decided)
    assert "The panel is split" not in _texts(recommendation_message(PLAYBOOK, _view(REPEAT), "en"))


def test_a_case_with_every_fact_fits_block_kit() -> None:
    big = {
        "partner": "株式会社アクメ" * 10,
        "data_kinds": [c.value for c in PLAYBOOK.question("data_kinds").choices],
        "regions": ["jp", "eu", "us_ca", "other"],
        "contract": ["confidentiality_remedies", "prevention_plan_required"],
        "cause": "intentional",
        "damage": "confirmed",
        "partner_response": "concealing",
        "source": "media",
        "relationship": "shared",
        "encrypted": "no",
        "dependency": "low",
        "prior_incidents": 3,
        "report_quality": "missing",
        "affected_persons": 5000,
        "description": "x" * 1000,
    }
    for lang in ("ja", "en"):
        message = recommendation_message(PLAYBOOK, _view(big), lang)
        _check_limits(message)
        assert "100" in _texts(message)


def test_quotes_are_titled_by_whether_their_condition_holds() -> None:
    view = _view(
        {
            "data_kinds": ["customer_personal", "employee_personal", "trade_secret"],
            "cause": "negligence",
            "partner_response": "cooperative",
        }
    )
    sections = quote_sections(view.assessment, "en")
    assert [title for title, _ in sections] == [
        "Respondents who take this action under the same conditions",
        "Respondents who take this action in this case",
    ]
    (same,) = sections[0][1]
    # #34 「故意ではなくとも再発の防止を強く求める」: negligence holds here.
    assert same.endswith("answer #34)")
    assert all("answer #34)" not in line for line in sections[1][1])
