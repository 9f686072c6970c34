"""Parsing and validating answers (the same for Slack and the CLI), with the shipped playbook."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.answers import (
    AnswerProblem,
    Answers,
    AnswersError,
    contradictions,
    parse_answers,
    parse_datetime,
)
from bot.domain.i18n import t
from bot.domain.playbook import load_playbook

TZ = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=TZ)
PLAYBOOK = load_playbook()


def parse(raw: dict[str, Any], *, partial: bool = True) -> Answers:
    return parse_answers(raw, PLAYBOOK, tz=TZ, now=NOW, partial=partial)


def problems(raw: dict[str, Any], *, partial: bool = True) -> list[AnswerProblem]:
    with pytest.raises(AnswersError) as excinfo:
        parse(raw, partial=partial)
    found = excinfo.value.problems
    for problem in found:  # every problem has words in both languages
        for lang in ("ja", "en"):
            assert t(lang, problem.key, **problem.params)
    return found


def one_problem(raw: dict[str, Any], *, partial: bool = True) -> AnswerProblem:
    found = problems(raw, partial=partial)
    assert len(found) == 1, found
    return found[0]


# --- valid answers ------------------------------------------------------------------------------

FULL = {
    "partner": "  株式会社サンプル ",
    "aware_at": "2026-11-25T18:30",
    "source": "partner_notice",
    "relationship": "entrusted",
    "data_kinds": ["financial", "customer_personal"],
    "affected_persons": 1200,
    "encrypted": "no",
    "regions": ["jp", "eu"],
    "cause": "external_attack",
    "damage": "possible",
    "partner_response": "slow",
    "dependency": "medium",
    "contract": ["prevention_plan_required"],
    "prior_incidents": 1,
    "description": "委託先のサーバーに不正アクセス",
}


def test_every_answer_valid() -> None:
    answers = parse(FULL, partial=False)
    assert answers.text("partner") == "株式会社サンプル"
    assert answers.moment("aware_at") == datetime(2026, 11, 25, 18, 30, tzinfo=TZ)
    assert answers.choice("source") == "partner_notice"
    # Several-of answers keep the playbook's order, so equal answers compare equal.
    assert answers.several("data_kinds") == ("customer_personal", "financial")
    assert answers.integer("affected_persons") == 1200
    assert answers.integer("prior_incidents") == 1
    assert answers.several("regions") == ("jp", "eu")
    assert answers.text("description") == "委託先のサーバーに不正アクセス"
    pairs = set(answers.factor_values())
    assert ("affected_persons", "large") in pairs
    assert ("prior_incidents", "one") in pairs
    assert ("data_kinds", "financial") in pairs
    assert not any(factor in ("partner", "description", "aware_at") for factor, _ in pairs)


def test_json_round_trip() -> None:
    answers = parse(FULL)
    again = parse(answers.to_json())
    assert again == answers
    assert answers.to_json()["aware_at"] == "2026-11-25T18:30:00+09:00"
    assert answers.to_json()["data_kinds"] == ["customer_personal", "financial"]


def test_empty_is_all_unknown() -> None:
    answers = parse({})
    assert answers.values == {}
    assert answers.integer("affected_persons") is None
    assert answers.several("data_kinds") == ()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"affected_persons": None}, {}),
        ({"affected_persons": 0}, {"affected_persons": 0}),
        ({"affected_persons": "42"}, {"affected_persons": 42}),
        ({"affected_persons": " 7 "}, {"affected_persons": 7}),
        ({"prior_incidents": 0}, {"prior_incidents": 0}),
        ({"prior_incidents": "3"}, {"prior_incidents": 3}),
        ({"data_kinds": "trade_secret"}, {"data_kinds": ("trade_secret",)}),
        ({"data_kinds": []}, {"data_kinds": ()}),
        ({"description": "   "}, {}),
        ({"cause": None}, {}),
    ],
)
def test_values_normalised(raw: dict[str, Any], expected: dict[str, Any]) -> None:
    assert dict(parse(raw).values) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-26T09:00", datetime(2026, 11, 26, 9, 0, tzinfo=TZ)),
        ("2026-11-26 09:00", datetime(2026, 11, 26, 9, 0, tzinfo=TZ)),
        ("2026-11-26", datetime(2026, 11, 26, 0, 0, tzinfo=TZ)),
        ("2026-11-26T00:00:00Z", datetime(2026, 11, 26, 9, 0, tzinfo=TZ)),
        ("2026-11-25T19:00-05:00", datetime(2026, 11, 26, 9, 0, tzinfo=TZ)),
    ],
)
def test_aware_at_formats(text: str, expected: datetime) -> None:
    moment = parse({"aware_at": text}).moment("aware_at")
    assert moment == expected
    assert moment is not None and moment.utcoffset() == timedelta(hours=9)


def test_aware_at_as_datetime_object() -> None:
    naive = datetime(2026, 11, 26, 9, 0)
    assert parse({"aware_at": naive}).moment("aware_at") == naive.replace(tzinfo=TZ)


def test_aware_at_exactly_now_is_accepted() -> None:
    assert parse({"aware_at": NOW.isoformat()}).moment("aware_at") == NOW


def test_parse_datetime_keeps_the_instant() -> None:
    moment = parse_datetime("2026-11-26T01:00:00+00:00", TZ)
    assert moment.isoformat() == "2026-11-26T10:00:00+09:00"


# --- wrong answers ------------------------------------------------------------------------------


def test_unknown_id() -> None:
    problem = one_problem({"colour": "red"})
    assert (problem.answer_id, problem.key) == ("colour", "answer.unknown_id")
    allowed = problem.params["allowed"]
    assert "cause" in allowed and "prior_incidents" in allowed


@pytest.mark.parametrize(
    ("raw", "answer_id"),
    [
        ({"cause": "sabotage"}, "cause"),
        ({"cause": "Intentional"}, "cause"),
        ({"cause": ""}, "cause"),
        ({"data_kinds": ["customer_personal", "passwords"]}, "data_kinds"),
        ({"regions": ["jp", "mars"]}, "regions"),
    ],
)
def test_unknown_value(raw: dict[str, Any], answer_id: str) -> None:
    problem = one_problem(raw)
    assert (problem.answer_id, problem.key) == (answer_id, "answer.not_a_choice")
    allowed = [c.value for c in PLAYBOOK.question(answer_id).choices]
    assert problem.params["allowed"] == ", ".join(allowed)


def test_unknown_value_names_only_the_wrong_items() -> None:
    problem = one_problem({"data_kinds": ["customer_personal", "passwords", "dna"]})
    assert problem.params["value"] == "passwords, dna"


@pytest.mark.parametrize(
    ("raw", "answer_id", "key"),
    [
        ({"cause": ["intentional"]}, "cause", "answer.not_one_string"),
        ({"cause": 3}, "cause", "answer.not_one_string"),
        ({"encrypted": True}, "encrypted", "answer.not_one_string"),
        ({"data_kinds": 5}, "data_kinds", "answer.not_a_list"),
        ({"data_kinds": {"a": 1}}, "data_kinds", "answer.not_a_list"),
        ({"data_kinds": [1, 2]}, "data_kinds", "answer.not_a_list"),
        ({"partner": 42}, "partner", "answer.not_text"),
        ({"description": ["a"]}, "description", "answer.not_text"),
        ({"aware_at": 1764115200}, "aware_at", "answer.not_datetime"),
        ({"affected_persons": True}, "affected_persons", "answer.not_integer"),
        ({"affected_persons": 3.5}, "affected_persons", "answer.not_integer"),
        ({"affected_persons": [3]}, "affected_persons", "answer.not_integer"),
        ({"prior_incidents": "two"}, "prior_incidents", "answer.not_integer"),
    ],
)
def test_wrong_type(raw: dict[str, Any], answer_id: str, key: str) -> None:
    problem = one_problem(raw)
    assert (problem.answer_id, problem.key) == (answer_id, key)


@pytest.mark.parametrize("value", [-1, "-5", -1_000_000])
def test_negative_affected_persons(value: Any) -> None:
    problem = one_problem({"affected_persons": value})
    assert (problem.answer_id, problem.key) == ("affected_persons", "answer.out_of_range")
    assert problem.params["min"] == "0"


def test_too_many_affected_persons() -> None:
    problem = one_problem({"affected_persons": 1_000_000_001})
    assert problem.key == "answer.out_of_range"
    assert problem.params["max"] == "1000000000"


@pytest.mark.parametrize("value", ["many", "1.5", "1e3", "²", "", "12 persons"])
def test_non_numeric_affected_persons(value: str) -> None:
    problem = one_problem({"affected_persons": value})
    assert (problem.answer_id, problem.key) == ("affected_persons", "answer.not_integer")


def test_negative_prior_incidents() -> None:
    problem = one_problem({"prior_incidents": -1})
    assert (problem.answer_id, problem.key) == ("prior_incidents", "answer.out_of_range")


@pytest.mark.parametrize("value", ["2026-11-26T10:01", "2027-01-01", "2026-11-26T01:01:00Z"])
def test_aware_at_in_the_future(value: str) -> None:
    problem = one_problem({"aware_at": value})
    assert (problem.answer_id, problem.key) == ("aware_at", "answer.in_future")


@pytest.mark.parametrize(
    "value",
    ["yesterday", "2026-13-01", "2026-11-31T10:00", "26/11/2026", "", "0001-01-01T00:00+14:00"],
)
def test_bad_datetime(value: str) -> None:
    problem = one_problem({"aware_at": value})
    assert (problem.answer_id, problem.key) == ("aware_at", "answer.not_datetime")


def test_too_long_description() -> None:
    limit = PLAYBOOK.question("description").max_length
    assert limit == 1000
    assert parse({"description": "あ" * limit}).text("description") == "あ" * limit
    problem = one_problem({"description": "あ" * (limit + 1)})
    assert (problem.answer_id, problem.key) == ("description", "answer.too_long")
    assert problem.params == {"max": str(limit), "length": str(limit + 1)}


def test_too_long_partner() -> None:
    problem = one_problem({"partner": "x" * 201})
    assert (problem.answer_id, problem.key) == ("partner", "answer.too_long")


def test_required_partner_missing_when_not_partial() -> None:
    problem = one_problem({"cause": "negligence"}, partial=False)
    assert (problem.answer_id, problem.key) == ("partner", "answer.required")
    for blank in ("", "   ", None):
        problem = one_problem({"partner": blank}, partial=False)
        assert (problem.answer_id, problem.key) == ("partner", "answer.required")


def test_partner_not_needed_when_partial() -> None:
    assert parse({"cause": "negligence"}, partial=True).text("partner") is None


def test_every_problem_is_reported_at_once() -> None:
    found = problems(
        {
            "colour": "red",
            "cause": "sabotage",
            "affected_persons": -3,
            "aware_at": "2099-01-01",
            "description": "x" * 1001,
        },
        partial=False,
    )
    assert {(p.answer_id, p.key) for p in found} == {
        ("colour", "answer.unknown_id"),
        ("cause", "answer.not_a_choice"),
        ("affected_persons", "answer.out_of_range"),
        ("aware_at", "answer.in_future"),
        ("description", "answer.too_long"),
        ("partner", "answer.required"),
    }


@settings(max_examples=200, deadline=None)
@given(
    raw=st.dictionaries(
        st.sampled_from([q.id for q in PLAYBOOK.questions] + ["prior_incidents", "other"]),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.floats(allow_nan=False),
            st.text(max_size=30),
            st.lists(st.text(max_size=10), max_size=3),
        ),
    )
)
def test_never_crashes(raw: dict[str, Any]) -> None:
    """Any JSON-like input either parses or lists problems; nothing else escapes."""
    try:
        parse(raw)
    except AnswersError as exc:
        assert exc.problems
        assert {p.answer_id for p in exc.problems} <= set(raw)


# --- issue 10: values written the Python way, and answers that contradict each other -----------


@pytest.mark.parametrize(
    ("raw", "key", "shown"),
    [
        # A JSON value of the wrong type is shown as JSON (true, ["no"]), never as Python prints it.
        ({"encrypted": True}, "answer.not_one_string", "true"),
        ({"encrypted": ["no"]}, "answer.not_one_string", '["no"]'),
        ({"encrypted": None}, None, None),  # null = unknown
        # Strings that look like Python values.
        ({"encrypted": "True"}, "answer.python_choice", "True"),
        ({"encrypted": "None"}, "answer.python_choice", "None"),
        ({"cause": "('negligence',)"}, "answer.python_choice", "('negligence',)"),
        ({"data_kinds": "['customer_personal']"}, "answer.python_list", "['customer_personal']"),
        ({"regions": "['jp', 'eu']"}, "answer.python_list", "['jp', 'eu']"),
        ({"affected_persons": "None"}, "answer.python_integer", "None"),
        ({"affected_persons": "True"}, "answer.python_integer", "True"),
    ],
)
def test_python_looking_values(raw: dict[str, Any], key: str | None, shown: str | None) -> None:
    if key is None:
        assert parse(raw).get(next(iter(raw))) is None
        return
    problem = one_problem(raw)
    assert (problem.answer_id, problem.key) == (next(iter(raw)), key)
    assert problem.params["value"] == shown
    answer_id = next(iter(raw))
    if answer_id != "affected_persons":
        allowed = [c.value for c in PLAYBOOK.question(answer_id).choices]
        assert problem.params["allowed"] == ", ".join(allowed)
    for lang in ("ja", "en"):
        text = t(lang, problem.key, **problem.params)
        assert shown in text
        assert ("Python" in text) is key.startswith("answer.python_")


def test_python_looking_text_is_fine_as_text() -> None:
    assert parse({"description": "True"}).text("description") == "True"


@pytest.mark.parametrize(
    ("answer_id", "values", "first", "second"),
    [
        (
            "data_kinds",
            ["internal_minor", "management_critical"],
            "internal_minor",
            "management_critical",
        ),
        (
            "data_kinds",
            ["customer_personal", "management_critical", "internal_minor"],
            "internal_minor",
            "management_critical",
        ),
        ("contract", ["none", "confidentiality_remedies"], "none", "confidentiality_remedies"),
        ("contract", ["prevention_plan_required", "none"], "none", "prevention_plan_required"),
        ("contract", ["none", "unknown"], "none", "unknown"),
    ],
)
def test_contradictory_answers(answer_id: str, values: list[str], first: str, second: str) -> None:
    (problem,) = contradictions({answer_id: values})
    assert (problem.answer_id, problem.key) == (answer_id, "answer.contradiction")
    assert problem.params == {"first": first, "second": second}
    assert "contradict" in t("en", problem.key, **problem.params)
    assert "矛盾" in t("ja", problem.key, **problem.params)
    assert parse({answer_id: values}).several(answer_id)  # parseable: the CLI reports it


def test_one_contradiction_line_per_answer() -> None:
    found = contradictions({"contract": ["none", "unknown", "confidentiality_remedies"]})
    assert [p.answer_id for p in found] == ["contract"]
    assert contradictions({"contract": "none", "data_kinds": 5}) == []


def test_compatible_answers_are_accepted() -> None:
    answers = parse(
        {
            "data_kinds": ["internal_minor", "customer_personal"],
            "contract": ["confidentiality_remedies", "prevention_plan_required"],
        }
    )
    assert answers.several("contract") == ("confidentiality_remedies", "prevention_plan_required")
    assert contradictions(answers.to_json()) == []
    assert parse({"contract": ["none"]}).several("contract") == ("none",)
