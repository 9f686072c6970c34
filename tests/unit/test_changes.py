"""What new facts changed (bot/domain/changes.py), and its JSON form: the audit row and the
`facts_note` notification's facts, read back when the outbox words the note."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.domain.changes import (
    AnswerChange,
    DeadlineChange,
    FactChanges,
    changed_answers,
    changed_deadlines,
)

DAY_1 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
DAY_3 = datetime(2026, 12, 3, 14, 59, 59, tzinfo=UTC)
DAY_30 = datetime(2026, 12, 30, 14, 59, 59, tzinfo=UTC)


def test_changed_answers_in_question_order_without_the_counted_ones() -> None:
    before = {"partner": "Acme", "regions": ["jp", "eu"], "prior_incidents": 0, "cause": "unknown"}
    after = {"partner": "Acme", "regions": ["eu", "jp"], "prior_incidents": 2, "damage": "none"}
    assert changed_answers(before, after, ["damage", "cause", "regions"]) == (
        AnswerChange("damage", None, "none"),
        AnswerChange("cause", "unknown", None),
    )


def test_changed_deadlines_appeared_moved_and_gone() -> None:
    changes = changed_deadlines(
        [("appi_preliminary", DAY_1), ("partner_report", DAY_3)],
        [("appi_preliminary", DAY_3), ("appi_final", DAY_30)],
    )
    assert changes == (
        DeadlineChange("appi_preliminary", DAY_1, DAY_3),
        DeadlineChange("appi_final", None, DAY_30),
        DeadlineChange("partner_report", DAY_3, None),
    )


def test_json_round_trip_keeps_every_change() -> None:
    changes = FactChanges(
        answers=(
            AnswerChange("affected_persons", 500, 5000),
            AnswerChange("regions", ["jp"], ["jp", "eu"]),
        ),
        deadlines=(
            DeadlineChange("gdpr_authority", None, DAY_3),
            DeadlineChange("appi_final", DAY_3, DAY_30),
            DeadlineChange("partner_report", DAY_1, None),
        ),
        recommendation_before="request_report",
        recommendation_after="consider_suspension",
    )
    stored = json.loads(json.dumps(changes.to_json()))  # as the outbox row holds it
    assert FactChanges.from_json(stored) == changes
    assert FactChanges.from_json(stored).recommendation_changed


def test_unchanged_recommendation_reads_back_as_unchanged() -> None:
    changes = FactChanges(
        answers=(AnswerChange("description", "a", "b"),),
        recommendation_before="request_report",
        recommendation_after="request_report",
    )
    back = FactChanges.from_json(changes.to_json())
    assert back == changes and not back.recommendation_changed and back.any
