"""Answers to the playbook's questions: parsed and validated the same way for Slack and the CLI."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from bot.domain.playbook import Playbook, Question
from bot.domain.text import Localized
from bot.domain.vocabulary import BUCKETED_ANSWERS, CORE_ANSWERS, bucket_of

AnswerValue = str | int | datetime | tuple[str, ...] | None


@dataclass(frozen=True)
class AnswerProblem:
    """One wrong answer: which one, a catalog key for the message, and its parameters."""

    answer_id: str
    key: str
    params: Mapping[str, str]


class AnswersError(Exception):
    def __init__(self, problems: list[AnswerProblem]) -> None:
        super().__init__(problems)
        self.problems = problems


def parse_datetime(text: str, tz: ZoneInfo) -> datetime:
    """ISO 8601; a time without offset is in the configured timezone."""
    parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=tz)
    try:
        return parsed.astimezone(tz)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00+14:00
        raise ValueError(f"{text!r} is out of range") from exc


def _choices(question: Question) -> str:
    return ", ".join(choice.value for choice in question.choices)


# Values that cannot be answered together: (answer id, value, value).
CONTRADICTIONS: Final[tuple[tuple[str, str, str], ...]] = (
    # Minor internal information and management-critical information describe the same data.
    ("data_kinds", "internal_minor", "management_critical"),
    # "No contract terms" next to a named term (or "unknown").
    ("contract", "none", "confidentiality_remedies"),
    ("contract", "none", "prevention_plan_required"),
    ("contract", "none", "unknown"),
)


def contradictions(raw: Mapping[str, Any]) -> list[AnswerProblem]:
    """Answers that cannot both be true (e.g. `contract: [none, confidentiality_remedies]`).

    Kept apart from parse_answers so that random cases in property tests stay parseable; the
    CLI reports these with the other problems (a wrong type here is parse_answers' to report).
    """
    found: list[AnswerProblem] = []
    for answer_id, first, second in CONTRADICTIONS:
        values = raw.get(answer_id)
        if isinstance(values, list | tuple) and first in values and second in values:
            if any(p.answer_id == answer_id for p in found):
                continue  # one line per answer
            found.append(
                AnswerProblem(answer_id, "answer.contradiction", {"first": first, "second": second})
            )
    return found


_PYTHON_WORDS: Final = frozenset({"True", "False", "None"})
_BRACKETS: Final = frozenset({("[", "]"), ("(", ")"), ("{", "}")})


def looks_like_python(text: str) -> bool:
    """A value written the way Python prints it (`True`, `None`, `['x']`), not as JSON."""
    stripped = text.strip()
    if stripped in _PYTHON_WORDS:
        return True
    return len(stripped) >= 2 and (stripped[0], stripped[-1]) in {
        ("[", "]"),
        ("(", ")"),
        ("{", "}"),
    }


def shown(raw: Any) -> str:
    """A wrong value as the person wrote it in JSON (`true`, `["x"]`), never Python's repr."""
    if isinstance(raw, str):
        return raw
    try:
        return json.dumps(raw, ensure_ascii=False, default=str)
    except ValueError:  # an integer too long to print (Python's digit limit)
        return "…"


def _parse_one(
    question: Question, raw: Any, playbook: Playbook, tz: ZoneInfo, now: datetime
) -> tuple[AnswerValue, AnswerProblem | None]:
    qid = question.id

    def problem(key: str, **params: object) -> tuple[None, AnswerProblem]:
        return None, AnswerProblem(qid, key, {k: shown(v) for k, v in params.items()})

    if raw is None:
        if question.required:
            return problem("answer.required")
        return None, None
    if question.kind == "text":
        if not isinstance(raw, str):
            return problem("answer.not_text")
        text = raw.strip()
        if question.required and not text:
            return problem("answer.required")
        limit = question.max_length or 3000
        if len(text) > limit:
            return problem("answer.too_long", max=limit, length=len(text))
        return (text or None), None
    if question.kind == "datetime":
        if isinstance(raw, datetime):
            moment = raw if raw.tzinfo else raw.replace(tzinfo=tz)
        elif isinstance(raw, str):
            try:
                moment = parse_datetime(raw, tz)
            except ValueError:
                return problem("answer.not_datetime")
        else:
            return problem("answer.not_datetime")
        if moment > now:
            return problem("answer.in_future")
        return moment.astimezone(tz), None
    if question.kind in ("integer", "counted"):
        if isinstance(raw, bool) or not isinstance(raw, int):
            if not isinstance(raw, str):
                return problem("answer.not_integer")
            if looks_like_python(raw):
                return problem("answer.python_integer", value=raw)
            try:
                raw = int(raw.strip())
            except ValueError:  # "abc", "1.5", "²"
                return problem("answer.not_integer")
        low = question.min_value if question.min_value is not None else 0
        high = question.max_value or playbook.limits.max_affected_persons
        if raw < low or raw > high:
            return problem("answer.out_of_range", min=low, max=high)
        return raw, None
    allowed = {choice.value for choice in question.choices}
    if question.kind == "one_of":
        if not isinstance(raw, str):
            return problem("answer.not_one_string", value=raw, allowed=_choices(question))
        if raw not in allowed:
            key = "answer.python_choice" if looks_like_python(raw) else "answer.not_a_choice"
            return problem(key, value=raw, allowed=_choices(question))
        return raw, None
    # several_of
    if isinstance(raw, str):
        if looks_like_python(raw) and raw not in allowed:
            return problem("answer.python_list", value=raw, allowed=_choices(question))
        raw = [raw]
    if not isinstance(raw, list | tuple) or not all(isinstance(item, str) for item in raw):
        return problem("answer.not_a_list", allowed=_choices(question))
    wrong = [item for item in raw if item not in allowed]
    if wrong:
        return problem("answer.not_a_choice", value=", ".join(wrong), allowed=_choices(question))

    # Keep the playbook's order so that equal answers compare equal.
    ordered = tuple(c.value for c in question.choices if c.value in set(raw))
    return ordered, None


@dataclass(frozen=True)
class Answers:
    """Validated answers by id; an absent id is unknown."""

    values: Mapping[str, AnswerValue]

    def get(self, answer_id: str) -> AnswerValue:
        return self.values.get(answer_id)

    def text(self, answer_id: str) -> str | None:
        value = self.values.get(answer_id)
        return value if isinstance(value, str) else None

    def choice(self, answer_id: str) -> str | None:
        return self.text(answer_id)

    def several(self, answer_id: str) -> tuple[str, ...]:
        value = self.values.get(answer_id)
        return value if isinstance(value, tuple) else ()

    def integer(self, answer_id: str) -> int | None:
        value = self.values.get(answer_id)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def moment(self, answer_id: str) -> datetime | None:
        value = self.values.get(answer_id)
        return value if isinstance(value, datetime) else None

    def factor_values(self) -> list[tuple[str, str]]:
        """Every (factor, value) pair this case states, with integers turned into buckets."""
        pairs: list[tuple[str, str]] = []
        for answer_id, value in self.values.items():
            if isinstance(value, str) and answer_id not in ("partner", "description"):
                pairs.append((answer_id, value))
            elif isinstance(value, tuple):
                pairs.extend((answer_id, item) for item in value)
            elif isinstance(value, int) and answer_id in BUCKETED_ANSWERS:
                pairs.append((answer_id, bucket_of(answer_id, value)))
        return pairs

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (datetimes as ISO 8601, lists for several-of), absent answers left out."""
        out: dict[str, Any] = {}
        for answer_id, value in self.values.items():
            if value is None:
                continue
            if isinstance(value, datetime):
                out[answer_id] = value.isoformat()
            elif isinstance(value, tuple):
                out[answer_id] = list(value)
            else:
                out[answer_id] = value
        return out

    def with_values(self, **changes: AnswerValue) -> Answers:
        merged = dict(self.values)
        merged.update(changes)
        return Answers({k: v for k, v in merged.items() if v is not None})


# `counted` answers (`prior_incidents`) are not asked in the playbook: the app counts them from the
# database, and `leakbot assess` takes them from the answers file.
_COUNTED_QUESTIONS: tuple[Question, ...] = tuple(
    Question(id=answer_id, kind="counted", label=Localized(ja=answer_id, en=answer_id))
    for answer_id, (kind, _) in CORE_ANSWERS.items()
    if kind == "counted"
)


def parse_answers(
    raw: Mapping[str, Any],
    playbook: Playbook,
    *,
    tz: ZoneInfo,
    now: datetime,
    partial: bool = False,
) -> Answers:
    """Validate raw answers (JSON or modal values) against the playbook.

    Raises AnswersError listing every wrong answer. `partial` skips the required check, for a
    modal step or `assess` where the partner's name is not needed to recommend.
    """
    problems: list[AnswerProblem] = []
    known = {question.id: question for question in playbook.questions}
    for counted in _COUNTED_QUESTIONS:
        known.setdefault(counted.id, counted)
    for answer_id in raw:
        if answer_id not in known:
            problems.append(
                AnswerProblem(answer_id, "answer.unknown_id", {"allowed": ", ".join(known)})
            )
    values: dict[str, AnswerValue] = {}
    for question in known.values():
        if question.id not in raw and (partial or not question.required):
            continue
        value, problem = _parse_one(question, raw.get(question.id), playbook, tz, now)
        if problem:
            problems.append(problem)
        elif value is not None:
            values[question.id] = value
    if problems:
        raise AnswersError(problems)
    return Answers(values)
