"""The recommendation engine: the survey's shares times the playbook's declared effects.

Transparent and deterministic: a distribution over the five options that sums to 1, the top
option, the factors that moved it most, and respondents' comments from the survey whose
conditions match this case and who chose the recommended action.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.answers import Answers
from bot.domain.deadlines import Deadline, compute_deadlines
from bot.domain.playbook import Effect, Playbook
from bot.domain.survey import SurveyAnswer
from bot.domain.text import Localized
from bot.domain.vocabulary import OPTION_KEYS, OptionKey

Distribution = dict[OptionKey, float]


@dataclass(frozen=True)
class FactorReason:
    """One stated fact and how much it moved the recommended option's share (in points)."""

    factor: str
    value: str
    effect: Effect
    delta: float


@dataclass(frozen=True)
class Assessment:
    recommendation: OptionKey
    distribution: Distribution
    survey: Distribution
    factors: tuple[FactorReason, ...]
    quotes: tuple[SurveyAnswer, ...]
    quotes_match_case: bool
    deadlines: tuple[Deadline, ...]
    checklist: tuple[Localized, ...]
    notes: tuple[Localized, ...]


def _combine(prior: Distribution, effects: list[Effect]) -> Distribution:
    # Work in logs: many factors multiply without under- or overflow.
    logs = {key: math.log(prior[key]) if prior[key] > 0 else -math.inf for key in OPTION_KEYS}
    for effect in effects:
        for key in OPTION_KEYS:
            logs[key] += effect.log_multiplier(key)
    top = max(logs.values())
    weights = {key: math.exp(logs[key] - top) for key in OPTION_KEYS}
    total = sum(weights.values())
    return {key: weights[key] / total for key in OPTION_KEYS}


def _top(distribution: Distribution, prior: Distribution) -> OptionKey:
    # Ties (rare, but possible with equal effects) go to the survey's more common answer, then to
    # the milder option: deterministic and explainable.
    return max(
        OPTION_KEYS,
        key=lambda key: (round(distribution[key], 12), prior[key], -OPTION_KEYS.index(key)),
    )


def active_effects(answers: Answers, playbook: Playbook) -> list[tuple[str, str, Effect]]:
    found: list[tuple[str, str, Effect]] = []
    for factor, value in answers.factor_values():
        effect = playbook.effects.get(factor, {}).get(value)
        if effect is not None:
            found.append((factor, value, effect))
    return found


def distribution_for(answers: Answers, playbook: Playbook) -> Distribution:
    prior = playbook.loaded_survey.shares
    return _combine(prior, [effect for _, _, effect in active_effects(answers, playbook)])


def _quotes(
    answers: Answers, playbook: Playbook, top: OptionKey
) -> tuple[tuple[SurveyAnswer, ...], bool]:
    survey = playbook.loaded_survey
    limit = playbook.limits.max_reason_comments
    case_tags = {f"{factor}:{value}" for factor, value in answers.factor_values()}
    scored = [
        (len(answer.factor_tags & case_tags), answer)
        for answer in survey.answers
        if answer.choice == top
    ]
    matching = sorted(
        ((score, answer) for score, answer in scored if score > 0),
        key=lambda pair: (-pair[0], pair[1].number),
    )
    if matching:
        return tuple(answer for _, answer in matching[:limit]), True
    representative = playbook.representative_answers.get(top, ())
    return tuple(survey.answer(number) for number in representative[:limit]), False


def assess(answers: Answers, playbook: Playbook, *, tz: ZoneInfo, now: datetime) -> Assessment:
    prior = playbook.loaded_survey.shares
    active = active_effects(answers, playbook)
    distribution = _combine(prior, [effect for _, _, effect in active])
    top = _top(distribution, prior)
    reasons: list[FactorReason] = []
    for index, (factor, value, effect) in enumerate(active):
        without = _combine(prior, [e for i, (_, _, e) in enumerate(active) if i != index])
        reasons.append(FactorReason(factor, value, effect, distribution[top] - without[top]))
    reasons.sort(key=lambda r: (-abs(r.delta), r.factor, r.value))
    quotes, matched = _quotes(answers, playbook, top)
    notes: list[Localized] = []
    if answers.choice("relationship") == "shared":
        notes.append(playbook.shared_relationship_note)
    return Assessment(
        recommendation=top,
        distribution=distribution,
        survey=dict(prior),
        factors=tuple(reasons[: playbook.limits.max_reason_factors]),
        quotes=quotes,
        quotes_match_case=matched,
        deadlines=tuple(compute_deadlines(answers, playbook, tz=tz, now=now)),
        checklist=playbook.checklists[top],
        notes=tuple(notes),
    )
