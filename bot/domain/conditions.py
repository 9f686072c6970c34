"""Conditions on a case's answers, shared by the survey's stances and the playbook's policies.

A condition maps answer ids to what must hold, all of them at once:
`{cause: [intentional]}` (the answer is one of these values; for a several-of answer, it contains
one of them), `{prior_incidents: {at_least: 2}}` (an integer answer within bounds). An unknown
(absent) answer meets no condition.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.domain.vocabulary import CORE_ANSWERS


class Threshold(BaseModel):
    """Bounds on an integer answer, both inclusive."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at_least: int | None = Field(default=None, ge=0)
    at_most: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bounded(self) -> Threshold:
        if self.at_least is None and self.at_most is None:
            raise ValueError("a threshold needs at_least and/or at_most")
        if self.at_least is not None and self.at_most is not None and self.at_most < self.at_least:
            raise ValueError("at_most is below at_least")
        return self

    def holds(self, number: int) -> bool:
        return (self.at_least is None or number >= self.at_least) and (
            self.at_most is None or number <= self.at_most
        )

    def breakpoints(self) -> set[int]:
        """Numbers on both sides of each bound (to test a condition at its edges)."""
        points = {0}
        for bound in (self.at_least, self.at_most):
            if bound is not None:
                points |= {max(0, bound - 1), bound, bound + 1}
        return points


ValueSet = Annotated[tuple[str, ...], Field(min_length=1)]
Requirement = ValueSet | Threshold
Condition = dict[str, Requirement]

# What a value in a case can be: a choice, several choices, a number (datetimes meet nothing).
CaseValues = Mapping[str, object]


def requirement_holds(requirement: Requirement, value: object) -> bool:
    if value is None:
        return False  # unknown answers trigger nothing
    if isinstance(requirement, Threshold):
        return isinstance(value, int) and not isinstance(value, bool) and requirement.holds(value)
    if isinstance(value, str):
        return value in requirement
    if isinstance(value, tuple):
        return any(item in requirement for item in value)
    return False


def holds(condition: Mapping[str, Requirement], case: CaseValues) -> bool:
    return all(requirement_holds(req, case.get(answer_id)) for answer_id, req in condition.items())


def matched_facts(
    condition: Mapping[str, Requirement], case: CaseValues
) -> tuple[tuple[str, str], ...]:
    """The case's own answers that meet the condition, as (id, value): ("prior_incidents", "2")."""
    facts: list[tuple[str, str]] = []
    for answer_id, requirement in condition.items():
        value = case.get(answer_id)
        if isinstance(requirement, Threshold) or isinstance(value, int | str):
            facts.append((answer_id, str(value)))
        elif isinstance(value, tuple):
            facts += [(answer_id, item) for item in value if item in requirement]
    return tuple(facts)


def vocabulary_values(answer_id: str) -> tuple[str, ...] | None:
    """The stable values of a choice answer; None for an integer answer.

    Raises KeyError for an id that is not in the stable vocabulary or cannot carry a condition.
    """
    kind, values = CORE_ANSWERS[answer_id]
    if kind in ("one_of", "several_of"):
        assert values is not None
        return values
    if kind in ("integer", "counted"):
        return None
    raise KeyError(answer_id)


def check_condition(
    condition: Mapping[str, Requirement],
    values_of: Callable[[str], tuple[str, ...] | None],
    where: str,
) -> None:
    """Raise ValueError naming `where` for an unknown id, an unknown value or a wrong shape.

    `values_of(id)` gives an answer's values (None for an integer answer) or raises KeyError.
    """
    if not condition:
        raise ValueError(f"{where}: `when` names no answer")
    for answer_id, requirement in condition.items():
        try:
            allowed = values_of(answer_id)
        except KeyError:
            raise ValueError(f"{where}: unknown answer id {answer_id!r}") from None
        if allowed is None:
            if not isinstance(requirement, Threshold):
                raise ValueError(
                    f"{where}: {answer_id} is a number; use {{at_least: N}} or {{at_most: N}}"
                )
            continue
        if isinstance(requirement, Threshold):
            raise ValueError(f"{where}: {answer_id} takes a list of values, not a threshold")
        unknown = [value for value in requirement if value not in allowed]
        if unknown:
            raise ValueError(
                f"{where}: {answer_id} has no value {', '.join(map(repr, unknown))} "
                f"(allowed: {', '.join(allowed)})"
            )
