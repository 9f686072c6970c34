"""The recommendation engine against docs/contracts.md: scenarios, invariants and declared
directions.

Real data: the shipped playbook and survey from playbooks/. No mocks.
"""

from __future__ import annotations

import itertools
import math
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.answers import Answers, parse_answers
from bot.domain.engine import Assessment, assess, distribution_for
from bot.domain.explain import reasons
from bot.domain.playbook import Playbook, load_playbook
from bot.domain.vocabulary import CORE_ANSWERS, OPTION_KEYS, OptionKey

TZ = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=TZ)
SURVEY_SHARES: dict[OptionKey, float] = {
    "continue_unchanged": 0.01,
    "continue_with_concern": 0.14,
    "request_report": 0.43,
    "consider_suspension": 0.25,
    "suspend_and_legal": 0.17,
}
EPS = 1e-12

PLAYBOOK = load_playbook()


@pytest.fixture(scope="module")
def playbook() -> Playbook:
    return PLAYBOOK


def _answers(raw: dict[str, Any], playbook: Playbook = PLAYBOOK) -> Answers:
    return parse_answers(raw, playbook, tz=TZ, now=NOW, partial=True)


def _assess(raw: dict[str, Any], playbook: Playbook = PLAYBOOK) -> Assessment:
    return assess(_answers(raw, playbook), playbook, tz=TZ, now=NOW)


def _suspend(raw: dict[str, Any]) -> float:
    return distribution_for(_answers(raw), PLAYBOOK)["suspend_and_legal"]


# --- the scenarios of docs/contracts.md ----------------------------------------------------------

SCENARIOS: dict[str, tuple[dict[str, Any], set[OptionKey]]] = {
    "nothing": ({}, {"request_report"}),
    "intentional_critical_confirmed": (
        {"cause": "intentional", "data_kinds": ["management_critical"], "damage": "confirmed"},
        {"suspend_and_legal"},
    ),
    "minor_negligence": (
        {
            "cause": "negligence",
            "data_kinds": ["internal_minor"],
            "damage": "none",
            "partner_response": "cooperative",
            "dependency": "high",
        },
        {"continue_with_concern", "request_report"},
    ),
    "repeat_and_slow": (
        {"prior_incidents": 2, "partner_response": "slow"},
        {"consider_suspension", "suspend_and_legal"},
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_top(playbook: Playbook, name: str) -> None:
    raw, allowed = SCENARIOS[name]
    result = _assess(raw, playbook)
    assert result.recommendation in allowed
    assert result.recommendation == max(result.distribution, key=lambda k: result.distribution[k])


def test_nothing_known_is_the_survey(playbook: Playbook) -> None:
    result = _assess({}, playbook)
    assert result.recommendation == "request_report"
    assert set(result.distribution) == set(OPTION_KEYS)
    for key, share in SURVEY_SHARES.items():
        assert abs(result.distribution[key] - share) < 1e-9, key
        assert abs(result.survey[key] - share) < 1e-9, key
    assert result.factors == ()
    # Nothing to match: the representative comments of the recommended option are shown.
    assert not result.quotes_match_case
    assert [q.number for q in result.quotes] == list(
        playbook.representative_answers["request_report"][: playbook.limits.max_reason_comments]
    )
    assert all(q.choice == "request_report" for q in result.quotes)


def test_minor_negligence_keeps_suspension_below_ten_percent(playbook: Playbook) -> None:
    result = _assess(SCENARIOS["minor_negligence"][0], playbook)
    assert result.distribution["suspend_and_legal"] < 0.10


def test_intentional_critical_confirmed_reasons(playbook: Playbook) -> None:
    result = _assess(SCENARIOS["intentional_critical_confirmed"][0], playbook)
    assert {(r.factor, r.value) for r in result.factors} == {
        ("cause", "intentional"),
        ("data_kinds", "management_critical"),
        ("damage", "confirmed"),
    }
    assert all(r.delta > 0 for r in result.factors)
    assert result.quotes and all(q.choice == "suspend_and_legal" for q in result.quotes)
    assert result.checklist == playbook.checklists["suspend_and_legal"]


def test_prior_incidents_is_accepted_and_bucketed(playbook: Playbook) -> None:
    answers = _answers({"prior_incidents": 2, "partner_response": "slow"}, playbook)
    assert answers.integer("prior_incidents") == 2
    assert ("prior_incidents", "several") in answers.factor_values()
    result = assess(answers, playbook, tz=TZ, now=NOW)
    assert ("prior_incidents", "several") in {(r.factor, r.value) for r in result.factors}


def test_shared_relationship_adds_the_counsel_note(playbook: Playbook) -> None:
    result = _assess({"relationship": "shared"}, playbook)
    assert result.notes == (playbook.shared_relationship_note,)
    assert playbook.shared_relationship_note.en in reasons(playbook, result, "en")
    assert _assess({"relationship": "entrusted"}, playbook).notes == ()


def test_prevention_plan_in_contract_favours_request_report(playbook: Playbook) -> None:
    base = _assess({}, playbook).distribution["request_report"]
    with_plan = _assess({"contract": ["prevention_plan_required"]}, playbook)
    assert with_plan.distribution["request_report"] > base
    assert with_plan.recommendation == "request_report"


# --- hypothesis: arbitrary valid answer sets ----------------------------------------------------


def _value_strategy(question_id: str) -> st.SearchStrategy[Any]:
    question = PLAYBOOK.question(question_id)
    values = [choice.value for choice in question.choices]
    if question.kind == "one_of":
        return st.sampled_from(values)
    if question.kind == "several_of":
        return st.lists(st.sampled_from(values), unique=True, max_size=len(values))
    raise AssertionError(question.kind)


FACTOR_QUESTIONS = [q.id for q in PLAYBOOK.questions if q.kind in ("one_of", "several_of")]

raw_answers = st.fixed_dictionaries(
    {},
    optional={
        **{qid: _value_strategy(qid) for qid in FACTOR_QUESTIONS},
        "affected_persons": st.one_of(
            st.none(), st.integers(0, 2000), st.integers(0, 1_000_000_000)
        ),
        "prior_incidents": st.integers(0, 5),
    },
)

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _independent_distribution(raw: dict[str, Any]) -> dict[str, float]:
    """The engine's model computed plainly: survey shares times every effect, normalised."""
    weights = dict(SURVEY_SHARES)
    pairs: list[tuple[str, str]] = []
    for answer_id, value in raw.items():
        if isinstance(value, list):
            pairs += [(answer_id, item) for item in value]
        elif isinstance(value, str):
            pairs.append((answer_id, value))
        elif answer_id == "affected_persons" and isinstance(value, int):
            bucket = "small" if value <= 100 else "medium" if value <= 1000 else "large"
            pairs.append((answer_id, bucket))
        elif answer_id == "prior_incidents" and isinstance(value, int):
            pairs.append((answer_id, {0: "none", 1: "one"}.get(value, "several")))
    for factor, value in pairs:
        effect = PLAYBOOK.effects.get(factor, {}).get(value)
        if effect is not None:
            for key in OPTION_KEYS:
                weights[key] *= effect.multipliers[key]
    total = sum(weights.values())
    return {key: weight / total for key, weight in weights.items()}


@SETTINGS
@given(raw=raw_answers)
def test_distribution_invariants(raw: dict[str, Any]) -> None:
    result = _assess(raw)
    assert list(result.distribution) == list(OPTION_KEYS)
    assert math.isclose(sum(result.distribution.values()), 1.0, abs_tol=1e-9)
    assert all(0.0 <= share <= 1.0 for share in result.distribution.values())
    assert result.distribution[result.recommendation] >= max(result.distribution.values()) - 1e-9
    expected = _independent_distribution(raw)
    for key in OPTION_KEYS:
        assert math.isclose(result.distribution[key], expected[key], abs_tol=1e-9), key
    assert result.checklist == PLAYBOOK.checklists[result.recommendation]


@SETTINGS
@given(raw=raw_answers)
def test_deterministic(raw: dict[str, Any]) -> None:
    first = _assess(raw)
    second = _assess(dict(raw))
    assert first == second
    for lang in ("ja", "en"):
        assert reasons(PLAYBOOK, first, lang) == reasons(PLAYBOOK, second, lang)


@SETTINGS
@given(raw=raw_answers)
def test_reasons_shape(raw: dict[str, Any]) -> None:
    answers = _answers(raw)
    result = assess(answers, PLAYBOOK, tz=TZ, now=NOW)
    limits = PLAYBOOK.limits
    active = [
        (factor, value)
        for factor, value in answers.factor_values()
        if value in PLAYBOOK.effects.get(factor, {})
    ]
    assert len(result.factors) == min(len(active), limits.max_reason_factors)
    deltas = [abs(reason.delta) for reason in result.factors]
    assert deltas == sorted(deltas, reverse=True)
    top = result.recommendation

    def delta_of(factor: str, value: str) -> float:
        # The recommended option's share with the factor minus its share without it.
        without = dict(answers.values)
        current = without[factor]
        if isinstance(current, tuple):
            without[factor] = tuple(v for v in current if v != value)
        else:
            del without[factor]
        return result.distribution[top] - distribution_for(Answers(without), PLAYBOOK)[top]

    deltas_by_factor = {pair: delta_of(*pair) for pair in active}
    shown = {(reason.factor, reason.value) for reason in result.factors}
    for reason in result.factors:
        assert (reason.factor, reason.value) in active
        expected = deltas_by_factor[(reason.factor, reason.value)]
        assert math.isclose(reason.delta, expected, abs_tol=1e-9)
    # Every factor left out moved the result no more than the weakest one shown.
    for pair, delta in deltas_by_factor.items():
        if pair not in shown:
            assert abs(delta) <= min(deltas) + 1e-9

    assert len(result.quotes) <= min(3, limits.max_reason_comments)
    assert all(quote.choice == top for quote in result.quotes)
    assert len({q.number for q in result.quotes}) == len(result.quotes)
    case_tags = {f"{factor}:{value}" for factor, value in answers.factor_values()}
    matching_exists = any(
        a.choice == top and a.factor_tags & case_tags for a in PLAYBOOK.loaded_survey.answers
    )
    assert result.quotes_match_case == matching_exists
    if matching_exists:
        assert result.quotes
        assert all(quote.factor_tags & case_tags for quote in result.quotes)
    else:
        representative = PLAYBOOK.representative_answers.get(top, ())
        assert [q.number for q in result.quotes] == list(
            representative[: limits.max_reason_comments]
        )
    texts = reasons(PLAYBOOK, result, "en")
    assert all(isinstance(text, str) and text for text in texts)


# --- directions, all else equal ----------------------------------------------------------------


def _not_lower(before: float, after: float) -> bool:
    return after >= before - EPS


def _chain(raw: dict[str, Any], factor: str, order: list[Any]) -> list[float]:
    return [_suspend({**raw, factor: value}) for value in order]


def _assert_non_decreasing(values: list[float]) -> None:
    for before, after in itertools.pairwise(values):
        assert _not_lower(before, after), values


@SETTINGS
@given(raw=raw_answers)
def test_more_damage_never_lowers_suspension(raw: dict[str, Any]) -> None:
    _assert_non_decreasing(_chain(raw, "damage", ["none", "possible", "confirmed"]))


@SETTINGS
@given(raw=raw_answers)
def test_high_dependency_never_suspends_more_than_low(raw: dict[str, Any]) -> None:
    high, low = _chain(raw, "dependency", ["high", "low"])
    assert high <= low + EPS


@SETTINGS
@given(raw=raw_answers)
def test_intent_never_lowers_suspension(raw: dict[str, Any]) -> None:
    _assert_non_decreasing(_chain(raw, "cause", ["negligence", "intentional"]))
    _assert_non_decreasing(_chain(raw, "cause", ["external_attack", "intentional"]))


@SETTINGS
@given(raw=raw_answers)
def test_worse_response_never_lowers_suspension(raw: dict[str, Any]) -> None:
    _assert_non_decreasing(_chain(raw, "partner_response", ["cooperative", "slow", "concealing"]))


@SETTINGS
@given(raw=raw_answers)
def test_recurrence_never_lowers_suspension(raw: dict[str, Any]) -> None:
    _assert_non_decreasing(_chain(raw, "prior_incidents", [0, 1, 3]))


def _with_kind(raw: dict[str, Any], kind: str, present: bool) -> dict[str, Any]:
    kinds = [k for k in raw.get("data_kinds", []) if k != kind]
    return {**raw, "data_kinds": [*kinds, kind] if present else kinds}


@SETTINGS
@given(raw=raw_answers)
def test_management_critical_never_lowers_suspension(raw: dict[str, Any]) -> None:
    without = _suspend(_with_kind(raw, "management_critical", False))
    with_it = _suspend(_with_kind(raw, "management_critical", True))
    assert _not_lower(without, with_it)


@SETTINGS
@given(raw=raw_answers)
def test_internal_minor_never_raises_suspension(raw: dict[str, Any]) -> None:
    without = _suspend(_with_kind(raw, "internal_minor", False))
    with_it = _suspend(_with_kind(raw, "internal_minor", True))
    assert with_it <= without + EPS


@SETTINGS
@given(raw=raw_answers)
def test_prevention_plan_never_lowers_request_report(raw: dict[str, Any]) -> None:
    terms = [c for c in raw.get("contract", []) if c != "prevention_plan_required"]
    without = distribution_for(_answers({**raw, "contract": terms}), PLAYBOOK)
    with_it = distribution_for(
        _answers({**raw, "contract": [*terms, "prevention_plan_required"]}), PLAYBOOK
    )
    assert _not_lower(without["request_report"], with_it["request_report"])


def test_strategy_covers_every_core_factor() -> None:
    covered = set(FACTOR_QUESTIONS) | {"affected_persons", "prior_incidents"}
    expected = {qid for qid, (kind, _) in CORE_ANSWERS.items() if kind not in ("text", "datetime")}
    assert expected <= covered
