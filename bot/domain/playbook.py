"""The leak playbook: questions, factor effects, deadline rules, checklists and approval policy.

Everything a company would tune lives in `playbooks/*.yml` as data; this module validates it on
load so that a broken playbook fails at start with the file, the path inside it and what is wrong.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from bot.domain.loading import load_yaml_model
from bot.domain.survey import Survey, load_survey
from bot.domain.text import Localized
from bot.domain.vocabulary import (
    BUCKETED_ANSWERS,
    CORE_ANSWERS,
    OPTION_KEYS,
    AnswerKind,
    OptionKey,
    factor_values,
)

DeadlineId = Literal[
    "partner_initial",
    "partner_report",
    "appi_preliminary",
    "appi_final",
    "appi_notify_persons",
    "gdpr_authority",
    "us_ca_notice",
    "us_ca_ag",
    "gdpr_record",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Choice(_Strict):
    value: str = Field(min_length=1, max_length=150)
    label: Localized


class Question(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    kind: AnswerKind
    label: Localized
    help: Localized | None = None
    placeholder: Localized | None = None
    required: bool = False
    max_length: int | None = Field(default=None, ge=1, le=3000)
    min_value: int | None = None
    max_value: int | None = None
    choices: tuple[Choice, ...] = ()

    @model_validator(mode="after")
    def _matches_vocabulary(self) -> Question:
        if self.kind in ("one_of", "several_of") and not self.choices:
            raise ValueError(f"question {self.id}: kind {self.kind} needs choices")
        if self.kind not in ("one_of", "several_of") and self.choices:
            raise ValueError(f"question {self.id}: kind {self.kind} takes no choices")
        if self.id in CORE_ANSWERS:
            core_kind, core_values = CORE_ANSWERS[self.id]
            if core_kind != self.kind:
                raise ValueError(
                    f"question {self.id}: kind must be {core_kind} (stable vocabulary), "
                    f"not {self.kind}"
                )
            values = [choice.value for choice in self.choices]
            if core_values is not None and sorted(values) != sorted(core_values):
                raise ValueError(
                    f"question {self.id}: choices must be exactly {list(core_values)} "
                    f"(stable vocabulary), got {values}"
                )
        values = [choice.value for choice in self.choices]
        if len(set(values)) != len(values):
            raise ValueError(f"question {self.id}: a choice value is listed twice")
        return self

    def choice(self, value: str) -> Choice:
        for choice in self.choices:
            if choice.value == value:
                return choice
        raise KeyError(value)


class Step(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    title: Localized
    questions: tuple[str, ...] = Field(min_length=1)


class Effect(_Strict):
    """How one answer value moves the five options, and the survey answers that support it."""

    multipliers: dict[OptionKey, float]
    answers: tuple[int, ...] = ()
    why: Localized

    @model_validator(mode="after")
    def _all_options(self) -> Effect:
        missing = [key for key in OPTION_KEYS if key not in self.multipliers]
        if missing:
            raise ValueError(f"multipliers missing for {missing}")
        bad = [key for key, value in self.multipliers.items() if not (0 < value <= 100)]
        if bad:
            raise ValueError(f"multipliers must be > 0 and ≤ 100: {bad}")
        return self

    def log_multiplier(self, key: OptionKey) -> float:
        return math.log(self.multipliers[key])


class Direction(_Strict):
    """A declared monotonic direction that the effects must honour in every context.

    With `order`, moving one step along the order never lowers `raises` (and never raises
    `lowers`); with `value`, adding that value never lowers `raises`.
    """

    factor: str
    order: tuple[str, ...] = ()
    value: str | None = None
    raises: OptionKey | None = None
    lowers: OptionKey | None = None
    note: str = ""

    @model_validator(mode="after")
    def _shape(self) -> Direction:
        if bool(self.order) == (self.value is not None):
            raise ValueError("a direction has either `order` (2+ values) or `value`")
        if self.order and len(self.order) < 2:
            raise ValueError("`order` needs at least two values")
        if (self.raises is None) == (self.lowers is None):
            raise ValueError("a direction names exactly one of `raises` or `lowers`")
        return self


class DeadlineRule(_Strict):
    days: int | None = Field(default=None, ge=0, le=366)
    hours: int | None = Field(default=None, ge=0, le=24 * 366)
    days_wrongful: int | None = Field(default=None, ge=0, le=366)
    overdue_after_days: int | None = Field(default=None, ge=0, le=366)
    # APPI counting: the day of awareness is day 1, and a due day on a weekend, a national
    # holiday or Dec 29–Jan 3 moves to the next day that is none of these.
    day_one_is_awareness: bool = False
    skip_non_business_days: bool = False
    # Counted from another deadline's due day instead of from awareness (e.g. the California
    # Attorney General: 15 days after the notice to residents).
    counted_from: DeadlineId | None = None
    # Never later than `days_before` days before another deadline's due day, where that one
    # applies (e.g. the partner's report in time to feed the final PPC report).
    not_after: DeadlineId | None = None
    days_before: int = Field(default=0, ge=0, le=366)
    label: Localized
    source: Localized
    owner: Literal["reporter", "approver"] = "reporter"
    regulator: bool = False

    @model_validator(mode="after")
    def _has_period(self) -> DeadlineRule:
        if (self.days is None) == (self.hours is None):
            raise ValueError("a deadline has exactly one of `days` or `hours`")
        if self.counted_from is not None and self.days is None:
            raise ValueError("`counted_from` needs `days`")
        return self


class WorkingHours(_Strict):
    start_hour: int = Field(default=9, ge=0, le=23)
    end_hour: int = Field(default=18, ge=1, le=24)
    weekdays_only: bool = True
    skip_holidays: bool = True

    @model_validator(mode="after")
    def _ordered(self) -> WorkingHours:
        if self.end_hour <= self.start_hour:
            raise ValueError("end_hour must be after start_hour")
        return self


class ApprovalPolicy(_Strict):
    required_approvals: dict[OptionKey, int] = Field(default_factory=dict)
    default_required_approvals: int = Field(default=1, ge=1, le=5)
    reporter_may_approve: bool = False
    timeout_hours: float = Field(default=4, gt=0, le=24 * 14)
    timeout_hours_by_recommendation: dict[OptionKey, float] = Field(default_factory=dict)
    escalation_steps: int = Field(default=2, ge=0, le=5)
    working_hours_only: bool = False
    working_hours: WorkingHours = WorkingHours()

    def approvals_needed(self, action: OptionKey) -> int:
        return self.required_approvals.get(action, self.default_required_approvals)

    def timeout_for(self, recommendation: OptionKey) -> float:
        return self.timeout_hours_by_recommendation.get(recommendation, self.timeout_hours)


class Schedules(_Strict):
    weekly_summary_cron: str = "0 9 * * mon"
    reminder_hours_before: tuple[int, ...] = (24, 0)
    partner_report_reassess_response: str = "slow"
    # Checklist tasks are due this long after the decision.
    checklist_due_hours: int = Field(default=24, ge=1, le=24 * 90)
    # How often the follow-through (reminders, escalations, missed reports) is checked.
    follow_through_minutes: int = Field(default=1, ge=1, le=60)


class Limits(_Strict):
    description_max_length: int = Field(default=1000, ge=1, le=3000)
    partner_max_length: int = Field(default=200, ge=1, le=3000)
    max_affected_persons: int = Field(default=1_000_000_000, ge=1)
    max_reason_comments: int = Field(default=3, ge=0, le=10)
    max_reason_factors: int = Field(default=4, ge=1, le=10)


class Playbook(_Strict):
    id: str
    version: int = Field(ge=1)
    title: Localized
    survey_file: str = "survey.yml"
    steps: tuple[Step, ...] = Field(min_length=1)
    questions: tuple[Question, ...] = Field(min_length=1)
    effects: dict[str, dict[str, Effect]]
    directions: tuple[Direction, ...] = ()
    option_labels: dict[OptionKey, Localized]
    deadlines: dict[DeadlineId, DeadlineRule]
    checklists: dict[OptionKey, tuple[Localized, ...]]
    shared_relationship_note: Localized
    # Comments shown when no respondent's conditions match the case (e.g. nothing known yet).
    representative_answers: dict[OptionKey, tuple[int, ...]] = Field(default_factory=dict)
    approval: ApprovalPolicy = ApprovalPolicy()
    schedules: Schedules = Schedules()
    limits: Limits = Limits()

    # Filled in by the validator from the context (the loaded survey).
    survey: Survey | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _cross_checks(self, info: ValidationInfo) -> Playbook:
        ids = [question.id for question in self.questions]
        if len(set(ids)) != len(ids):
            raise ValueError("a question id is listed twice")
        missing = sorted(set(CORE_ANSWERS) - set(ids) - {"prior_incidents"})
        if missing:
            raise ValueError(f"the stable questions {missing} are missing")
        in_steps = [qid for step in self.steps for qid in step.questions]
        for index, step in enumerate(self.steps):
            for qid in step.questions:
                if qid not in ids:
                    raise ValueError(f"steps[{index}].questions: unknown question {qid!r}")
        asked = [qid for qid in ids if qid != "prior_incidents"]
        not_in_steps = sorted(set(asked) - set(in_steps))
        if not_in_steps or len(set(in_steps)) != len(in_steps):
            check = not_in_steps or in_steps
            raise ValueError(f"every asked question belongs to exactly one step; check {check}")
        self._check_effects()
        missing_labels = [key for key in OPTION_KEYS if key not in self.option_labels]
        missing_lists = [key for key in OPTION_KEYS if not self.checklists.get(key)]
        if missing_labels or missing_lists:
            raise ValueError(
                f"option_labels / checklists missing for {missing_labels or missing_lists}"
            )
        survey = (info.context or {}).get("survey")
        if isinstance(survey, Survey):
            self._check_citations(survey)
            object.__setattr__(self, "survey", survey)
        return self

    def _values_of(self, factor: str) -> tuple[str, ...]:
        if factor in BUCKETED_ANSWERS:
            return factor_values(factor)
        question = self.question(factor)
        return tuple(choice.value for choice in question.choices)

    def _check_effects(self) -> None:
        for factor, by_value in self.effects.items():
            if factor not in {q.id for q in self.questions} and factor not in BUCKETED_ANSWERS:
                raise ValueError(f"effects.{factor}: no such question")
            allowed = self._values_of(factor)
            for value in by_value:
                if value not in allowed:
                    raise ValueError(f"effects.{factor}.{value}: not a value of {factor} {allowed}")
        for index, direction in enumerate(self.directions):
            self._check_direction(direction, f"directions[{index}]")

    def multipliers(self, factor: str, value: str) -> dict[OptionKey, float]:
        effect = self.effects.get(factor, {}).get(value)
        return dict(effect.multipliers) if effect else dict.fromkeys(OPTION_KEYS, 1.0)

    def _check_direction(self, direction: Direction, where: str) -> None:
        target = direction.raises or direction.lowers
        assert target is not None
        allowed = self._values_of(direction.factor)
        for value in (*direction.order, *([direction.value] if direction.value else [])):
            if value not in allowed:
                raise ValueError(f"{where}: {direction.factor} has no value {value!r}")
        pairs: list[tuple[dict[OptionKey, float], dict[OptionKey, float], str]] = []
        if direction.value is not None:
            neutral = dict.fromkeys(OPTION_KEYS, 1.0)
            pairs.append((neutral, self.multipliers(direction.factor, direction.value), "adding"))
        for before, after in zip(direction.order, direction.order[1:], strict=False):
            pairs.append(
                (
                    self.multipliers(direction.factor, before),
                    self.multipliers(direction.factor, after),
                    f"{before}→{after}",
                )
            )
        for old, new, what in pairs:
            # A normalised share of `target` cannot fall (or rise) in any context iff its ratio
            # after/before is the largest (or smallest) of the five ratios.
            ratios = {key: new[key] / old[key] for key in OPTION_KEYS}
            mine = ratios[target]
            worst = max(ratios.values()) if direction.raises else min(ratios.values())
            if not math.isclose(mine, worst) and (
                (direction.raises and mine < worst) or (direction.lowers and mine > worst)
            ):
                verb = "raise" if direction.raises else "lower"
                raise ValueError(
                    f"{where}: {direction.factor} {what} must {verb} {target} in every "
                    f"case, but its effect ratios are {ratios}"
                )

    def _check_citations(self, survey: Survey) -> None:
        total = len(survey.answers)
        for factor, by_value in self.effects.items():
            for value, effect in by_value.items():
                for number in effect.answers:
                    if not 1 <= number <= total:
                        raise ValueError(
                            f"effects.{factor}.{value}: survey answer {number} does not exist "
                            f"(1..{total})"
                        )
                    chosen = survey.answer(number).choice
                    if effect.multipliers[chosen] < 1.0 - 1e-9:
                        raise ValueError(
                            f"effects.{factor}.{value}: cites answer {number}, who chose "
                            f"{chosen}, but the effect lowers {chosen} "
                            f"(×{effect.multipliers[chosen]})"
                        )

        for key, numbers in self.representative_answers.items():
            for number in numbers:
                if not 1 <= number <= total or survey.answer(number).choice != key:
                    raise ValueError(
                        f"representative_answers.{key}: answer {number} does not exist or did "
                        f"not choose {key}"
                    )

    @model_validator(mode="after")
    def _deadline_references(self) -> Playbook:
        # One level only: a deadline counted from (or capped by) another is itself counted
        # from awareness, so the order of computation is plain.
        for deadline_id, rule in self.deadlines.items():
            for field, ref in (("counted_from", rule.counted_from), ("not_after", rule.not_after)):
                if ref is None:
                    continue
                other = self.deadlines.get(ref)
                if ref == deadline_id or (
                    other is not None and (other.counted_from or other.not_after)
                ):
                    raise ValueError(
                        f"deadlines.{deadline_id}.{field}: {ref} must be a deadline counted "
                        "from awareness"
                    )
        counted = [i for i, rule in self.deadlines.items() if rule.counted_from]
        for deadline_id in counted:
            if self.deadlines[deadline_id].counted_from not in self.deadlines:
                raise ValueError(
                    f"deadlines.{deadline_id}.counted_from: "
                    f"{self.deadlines[deadline_id].counted_from} is not in the playbook"
                )
        return self

    def question(self, question_id: str) -> Question:
        for question in self.questions:
            if question.id == question_id:
                return question
        raise KeyError(question_id)

    def step_of(self, question_id: str) -> int:
        for index, step in enumerate(self.steps):
            if question_id in step.questions:
                return index
        raise KeyError(question_id)

    @property
    def loaded_survey(self) -> Survey:
        if self.survey is None:
            raise RuntimeError("playbook loaded without its survey")
        return self.survey


DEFAULT_PLAYBOOK_DIR = Path(__file__).resolve().parents[2] / "playbooks"


def load_playbook(path: Path | None = None) -> Playbook:
    """Load and cross-check a playbook and the survey it names (beside it)."""
    from bot.domain.loading import read_yaml

    path = path or DEFAULT_PLAYBOOK_DIR / "leak.yml"
    raw = read_yaml(path)
    survey_name = raw.get("survey_file", "survey.yml") if isinstance(raw, dict) else "survey.yml"
    survey = load_survey(path.parent / str(survey_name))
    return load_yaml_model(path, Playbook, survey=survey)
