"""The survey behind every recommendation: 100 employees' answers, validated from data.

Each respondent keeps the reaction they chose; where their own comment states a condition and
what they would do under it, that is a *stance* (coding rules: the top of playbooks/survey.yml).
The loader refuses a quote that is not in the comment, an unknown answer id, value or reaction,
and stances that would move one respondent to a milder reaction for a more severe fact.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.domain.conditions import (
    CaseValues,
    Condition,
    Threshold,
    check_condition,
    holds,
    vocabulary_values,
)
from bot.domain.text import Localized
from bot.domain.vocabulary import (
    CORE_ANSWERS,
    OPTION_KEYS,
    SEVERITY_BY_ADDING,
    SEVERITY_BY_NUMBER,
    SEVERITY_CHAINS,
    OptionKey,
    known_tags,
    severity,
)

AgeBand = Literal["20s", "30s", "40s", "50s", "60s"]
Gender = Literal["female", "male"]
Occupation = Literal["contract_temporary", "company_employee", "executive", "civil_servant"]


class SurveyChoice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: OptionKey
    label: Localized
    count: int = Field(ge=0)


class Stance(BaseModel):
    """What the respondent says they would do when the condition holds, in their own words."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    when: Condition
    then: OptionKey
    quote: str = Field(min_length=1)  # the exact words of comment_ja
    quote_en: str = Field(min_length=1)  # the same words in English

    def words(self, lang: str) -> str:
        return self.quote if lang == "ja" else self.quote_en


class Caveat(BaseModel):
    """A condition under which the respondent says they would act differently, without saying
    how: no stance, but their comment never supports the recommendation when it holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    when: Condition
    quote: str = Field(min_length=1)
    quote_en: str = Field(min_length=1)


def _case_options(answer_id: str, stances: tuple[Stance, ...]) -> list[object]:
    """The values of one answer worth trying against these stances: unknown, then each value
    (several-of answers: each combination of the values the stances name; integers: both sides
    of every bound)."""
    kind, values = CORE_ANSWERS[answer_id]
    requirements = [s.when[answer_id] for s in stances if answer_id in s.when]
    if kind == "one_of":
        return [None, *(values or ())]
    if kind == "several_of":
        named = sorted({v for r in requirements if not isinstance(r, Threshold) for v in r})
        subsets = itertools.chain.from_iterable(
            itertools.combinations(named, size) for size in range(len(named) + 1)
        )
        return [None, *subsets]
    points: set[int] = set()
    for requirement in requirements:
        if isinstance(requirement, Threshold):
            points |= requirement.breakpoints()
    return [None, *sorted(points)]


def _more_severe(answer_id: str, value: object, options: list[object]) -> Iterator[object]:
    """Each value among `options` that the directions call more severe than `value`."""
    if value is None:
        return
    for chain in SEVERITY_CHAINS.get(answer_id, ()):
        if value in chain:
            yield from (later for later in chain[chain.index(str(value)) + 1 :] if later in options)
    if answer_id in SEVERITY_BY_NUMBER and isinstance(value, int):
        yield from (o for o in options if isinstance(o, int) and o > value)
    if answer_id in SEVERITY_BY_ADDING and isinstance(value, tuple):
        yield from (o for o in options if isinstance(o, tuple) and set(value) < set(o))


class SurveyAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    number: int = Field(ge=1)
    choice: OptionKey
    age_band: AgeBand
    gender: Gender
    occupation: Occupation
    comment_ja: str = Field(min_length=1)
    comment_en: str = Field(min_length=1)
    tags: tuple[str, ...] = ()
    stances: tuple[Stance, ...] = ()
    caveats: tuple[Caveat, ...] = ()

    @field_validator("tags")
    @classmethod
    def _tags_are_known(cls, tags: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(tags) - known_tags())
        if unknown:
            raise ValueError(
                f"unknown tag(s) {unknown}; allowed: the themes {sorted(known_tags())} "
                "(a condition the respondent decides on is a stance, not a tag)"
            )
        if len(set(tags)) != len(tags):
            raise ValueError("a tag is listed twice")
        return tags

    @model_validator(mode="after")
    def _stances_hold_up(self) -> SurveyAnswer:
        coded: list[tuple[str, Condition, str]] = [
            *((f"stances[{i}]", s.when, s.quote) for i, s in enumerate(self.stances)),
            *((f"caveats[{i}]", c.when, c.quote) for i, c in enumerate(self.caveats)),
        ]
        for where, condition, quote in coded:
            check_condition(condition, vocabulary_values, where)
            if quote not in self.comment_ja:
                raise ValueError(f"{where}.quote {quote!r} is not in comment_ja")
        self._check_directions()
        return self

    def _check_directions(self) -> None:
        """Try every combination of the facts the stances name: a more severe value of one
        answer, the others unchanged, must never give this respondent a milder reaction."""
        ids = sorted({answer_id for stance in self.stances for answer_id in stance.when})
        options = {answer_id: _case_options(answer_id, self.stances) for answer_id in ids}
        for combination in itertools.product(*(options[i] for i in ids)):
            case = dict(zip(ids, combination, strict=True))
            before = self.reaction(case)
            for answer_id in ids:
                for worse in _more_severe(answer_id, case[answer_id], options[answer_id]):
                    after = self.reaction({**case, answer_id: worse})
                    if severity(after) < severity(before):
                        others = {k: v for k, v in case.items() if k != answer_id}
                        raise ValueError(
                            f"stances break a direction: {answer_id} {case[answer_id]!r} → "
                            f"{worse!r} moves this respondent from {before} to the milder "
                            f"{after} (other facts: {others})"
                        )

    def applicable_stance(self, case: CaseValues) -> Stance | None:
        """The most severe stance whose condition holds in this case (the first on a tie)."""
        applicable = [stance for stance in self.stances if holds(stance.when, case)]
        if not applicable:
            return None
        return max(applicable, key=lambda stance: severity(stance.then))

    def reaction(self, case: CaseValues) -> OptionKey:
        """Their reaction in the case: their stance where one applies, else their choice."""
        stance = self.applicable_stance(case)
        return stance.then if stance is not None else self.choice

    def has_caveat(self, case: CaseValues) -> bool:
        return any(holds(caveat.when, case) for caveat in self.caveats)

    def comment(self, lang: str) -> str:
        return self.comment_ja if lang == "ja" else self.comment_en


class Survey(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    question: Localized
    source: str
    respondents: Localized
    choices: tuple[SurveyChoice, ...]
    answers: tuple[SurveyAnswer, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Survey:
        keys = [choice.key for choice in self.choices]
        if sorted(keys) != sorted(OPTION_KEYS):
            raise ValueError(f"choices must be exactly the five option keys {list(OPTION_KEYS)}")
        numbers = [answer.number for answer in self.answers]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError("answers must be numbered 1..N in order, without gaps")
        counted = Counter(answer.choice for answer in self.answers)
        for choice in self.choices:
            if counted[choice.key] != choice.count:
                raise ValueError(
                    f"choice {choice.key} declares count {choice.count} "
                    f"but {counted[choice.key]} answers chose it"
                )
        return self

    @cached_property
    def counts(self) -> dict[OptionKey, int]:
        """How many respondents chose each reaction, in the stable option order."""
        by_key = {choice.key: choice.count for choice in self.choices}
        return {key: by_key[key] for key in OPTION_KEYS}

    @cached_property
    def shares(self) -> dict[OptionKey, float]:
        """Each option's share of all answers (count / number of respondents)."""
        total = len(self.answers)
        return {key: count / total for key, count in self.counts.items()}

    @cached_property
    def stance_facts(self) -> frozenset[str]:
        """The answer ids and "id:value" pairs some respondent's stance names."""
        facts: set[str] = set()
        for answer in self.answers:
            for stance in answer.stances:
                for answer_id, requirement in stance.when.items():
                    facts.add(answer_id)
                    if not isinstance(requirement, Threshold):
                        facts.update(f"{answer_id}:{value}" for value in requirement)
        return frozenset(facts)

    def answer(self, number: int) -> SurveyAnswer:
        return self.answers[number - 1]

    def choice_label(self, key: OptionKey, lang: str) -> str:
        for choice in self.choices:
            if choice.key == key:
                return choice.label.get(lang)
        raise KeyError(key)


def load_survey(path: Path) -> Survey:
    from bot.domain.loading import load_yaml_model

    return load_yaml_model(path, Survey)
