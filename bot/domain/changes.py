"""What new facts changed in an incident: answers, deadlines, the recommendation (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Counted by the app, never typed by a person: not a "changed answer".
COUNTED_ANSWERS = frozenset({"prior_incidents"})


@dataclass(frozen=True)
class AnswerChange:
    answer_id: str
    before: Any
    after: Any


@dataclass(frozen=True)
class DeadlineChange:
    deadline_id: str
    before: datetime | None  # None: it appeared
    after: datetime | None  # None: it no longer applies


@dataclass(frozen=True)
class FactChanges:
    answers: tuple[AnswerChange, ...] = ()
    deadlines: tuple[DeadlineChange, ...] = field(default_factory=tuple)
    recommendation_before: str = ""
    recommendation_after: str = ""

    @property
    def recommendation_changed(self) -> bool:
        return self.recommendation_before != self.recommendation_after

    @property
    def any(self) -> bool:
        return bool(self.answers or self.deadlines or self.recommendation_changed)

    def to_json(self) -> dict[str, Any]:
        """For the audit trail."""
        return {
            "answers": [
                {"id": c.answer_id, "before": c.before, "after": c.after} for c in self.answers
            ],
            "deadlines": [
                {
                    "id": c.deadline_id,
                    "before": c.before.isoformat() if c.before else None,
                    "after": c.after.isoformat() if c.after else None,
                }
                for c in self.deadlines
            ],
            "recommendation": {
                "before": self.recommendation_before,
                "after": self.recommendation_after,
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FactChanges:
        """Read back `to_json` (a notification's facts)."""

        def moment(value: Any) -> datetime | None:
            return datetime.fromisoformat(value) if isinstance(value, str) else None

        recommendation = data.get("recommendation") or {}
        return cls(
            answers=tuple(
                AnswerChange(str(c["id"]), c.get("before"), c.get("after"))
                for c in data.get("answers") or ()
            ),
            deadlines=tuple(
                DeadlineChange(str(c["id"]), moment(c.get("before")), moment(c.get("after")))
                for c in data.get("deadlines") or ()
            ),
            recommendation_before=str(recommendation.get("before", "")),
            recommendation_after=str(recommendation.get("after", "")),
        )


def _comparable(value: Any) -> Any:
    return sorted(value) if isinstance(value, list) else value


def changed_answers(
    before: Mapping[str, Any], after: Mapping[str, Any], order: Iterable[str]
) -> tuple[AnswerChange, ...]:
    """Answers (stored JSON) that differ, in the playbook's question order."""
    ids = [i for i in dict.fromkeys([*order, *before, *after]) if i not in COUNTED_ANSWERS]
    return tuple(
        AnswerChange(i, before.get(i), after.get(i))
        for i in ids
        if _comparable(before.get(i)) != _comparable(after.get(i))
    )


def changed_deadlines(
    before: Iterable[tuple[str, datetime]], after: Iterable[tuple[str, datetime]]
) -> tuple[DeadlineChange, ...]:
    """Deadlines that appeared, moved or no longer apply (by id and due time)."""
    old, new = dict(before), dict(after)
    return tuple(
        DeadlineChange(i, old.get(i), new.get(i))
        for i in dict.fromkeys([*new, *old])
        if old.get(i) != new.get(i)
    )
