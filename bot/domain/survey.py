"""The survey behind every recommendation: 100 employees' answers, validated from data."""

from __future__ import annotations

from collections import Counter
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.domain.text import Localized
from bot.domain.vocabulary import OPTION_KEYS, OptionKey, known_tags

AgeBand = Literal["20s", "30s", "40s", "50s", "60s"]
Gender = Literal["female", "male"]
Occupation = Literal["contract_temporary", "company_employee", "executive", "civil_servant"]


class SurveyChoice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: OptionKey
    label: Localized
    count: int = Field(ge=0)


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

    @field_validator("tags")
    @classmethod
    def _tags_are_known(cls, tags: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(tags) - known_tags())
        if unknown:
            raise ValueError(f"unknown tag(s) {unknown}; allowed: factor tags and themes")
        if len(set(tags)) != len(tags):
            raise ValueError("a tag is listed twice")
        return tags

    @property
    def factor_tags(self) -> frozenset[str]:
        """The tags that name a case condition ("cause:intentional"), not a theme."""
        return frozenset(tag for tag in self.tags if ":" in tag)

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
    def shares(self) -> dict[OptionKey, float]:
        """Each option's share of all answers, in the stable option order."""
        total = sum(choice.count for choice in self.choices)
        by_key = {choice.key: choice.count for choice in self.choices}
        return {key: by_key[key] / total for key in OPTION_KEYS}

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
