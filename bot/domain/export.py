"""`leakbot export`: incidents as flat CSV rows or JSON objects (docs/contracts.md).

Pure: the store yields `ExportedIncident`s page by page, this module turns each into one CSV row
(columns flattened and stable for a given playbook) or one JSON object, and writes them to a
text stream as they come, so an export of any size runs in constant memory.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TextIO

from bot.domain.playbook import Playbook

FORMATS: Final[tuple[str, ...]] = ("csv", "json", "jsonl")
# In one CSV cell, the items of a list (several-of answers, approvers).
LIST_SEPARATOR: Final[str] = "; "
# The fixed columns, in order; then `answer.<id>` per playbook question, then
# `deadline.<id>.due_at` / `.status` per playbook deadline, then `deadlines.other`.
BASE_COLUMNS: Final[tuple[str, ...]] = (
    "id",
    "status",
    "partner",
    "reporter_id",
    "team_id",
    "locale",
    "created_at",
    "updated_at",
    "round",
    "recommendation",
    "decided_action",
    "decided_by",
    "decided_at",
    "decision_reason",
    "followed_recommendation",
    "approvals",
    "outcome",
)


@dataclass(frozen=True, slots=True)
class ExportedApproval:
    round: int
    approver_id: str
    action: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ExportedDeadline:
    """A statutory or playbook deadline task (the latest round's, when a round re-created it)."""

    ref: str
    round: int
    due_at: datetime | None
    status: str
    done_at: datetime | None
    owner_id: str | None


@dataclass(frozen=True, slots=True)
class ExportedIncident:
    id: str
    status: str
    partner: str
    reporter_id: str
    team_id: str | None
    locale: str
    created_at: datetime
    updated_at: datetime
    round: int
    recommendation: str
    decided_action: str | None
    decided_by: tuple[str, ...]
    decided_at: datetime | None
    decision_reason: str | None
    outcome: str | None
    answers: dict[str, Any]
    approvals: tuple[ExportedApproval, ...]
    deadlines: tuple[ExportedDeadline, ...]

    @property
    def followed_recommendation(self) -> bool | None:
        """Did the approvers decide what was recommended? None while undecided."""
        return _followed(self.decided_action, self.recommendation)


def _followed(decided_action: str | None, recommendation: str) -> bool | None:
    return None if decided_action is None else decided_action == recommendation


# A typed text that Excel would read as a formula (=, +, -, @, or a tab / CR before one) gets a
# leading apostrophe in CSV: the OWASP advice against formula injection through exports.
_FORMULA_STARTS: Final[tuple[str, ...]] = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_FIRST: Final[frozenset[str]] = frozenset(_FORMULA_STARTS)


def _text(value: str | None) -> str:
    if not value:
        return ""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _time(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def _plain(value: Any) -> str:
    if value.__class__ is str:  # most answers: skip the checks below (exports run per cell)
        return str(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return LIST_SEPARATOR.join(_plain(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _cell(value: Any) -> str:
    """An answer (or other value) as one CSV cell: lists joined, never a formula."""
    if value.__class__ is list:  # most often a list of texts: joined at once
        try:
            joined = LIST_SEPARATOR.join(value)
        except TypeError:  # an item that is not a text: `_plain` of each
            pass
        else:
            return "'" + joined if joined[:1] in _FORMULA_FIRST else joined
    return _text(_plain(value))


class CsvLayout:
    """The CSV columns for one playbook, and each incident as one row of them."""

    def __init__(self, playbook: Playbook) -> None:
        self.question_ids = tuple(question.id for question in playbook.questions)
        self.deadline_ids = tuple(playbook.deadlines)
        self.columns: tuple[str, ...] = (
            *BASE_COLUMNS,
            *(f"answer.{qid}" for qid in self.question_ids),
            *(
                f"deadline.{ref}.{part}"
                for ref in self.deadline_ids
                for part in ("due_at", "status")
            ),
            "deadlines.other",
        )
        self._no_deadlines = ("",) * (2 * len(self.deadline_ids) + 1)
        self._deadline_position: dict[str, int] = {
            ref: 2 * n for n, ref in enumerate(self.deadline_ids)
        }

    def row(self, item: ExportedIncident) -> list[str]:
        followed = item.followed_recommendation
        row = [
            item.id,
            item.status,
            _text(item.partner),
            item.reporter_id,
            item.team_id or "",
            item.locale,
            _time(item.created_at),
            _time(item.updated_at),
            str(item.round),
            item.recommendation,
            item.decided_action or "",
            LIST_SEPARATOR.join(item.decided_by),
            _time(item.decided_at),
            _text(item.decision_reason),
            _cell(followed),
            LIST_SEPARATOR.join(f"{a.approver_id}:{a.action}@{a.round}" for a in item.approvals),
            _text(item.outcome),
        ]
        answers = item.answers
        row += self.answer_cells([answers.get(qid) for qid in self.question_ids])
        row += self.deadline_cells([(d.ref, _time(d.due_at), d.status) for d in item.deadlines])
        return row

    def answer_cells(self, values: Iterable[Any]) -> list[str]:
        """The `answer.<id>` cells from the answers' values in `question_ids` order."""
        # `_cell` inlined for texts, most answers (the export's hottest line), for None (a
        # question not answered) and for integers (counts): three calls fewer each.
        formula = _FORMULA_FIRST
        return [
            (("'" + value) if value[:1] in formula else value)
            if (kind := value.__class__) is str
            else ""
            if value is None
            else (("'" + text) if (text := str(value))[:1] in formula else text)
            if kind is int
            else _cell(value)
            for value in values
        ]

    def deadline_cells(self, deadlines: Iterable[Sequence[str]]) -> list[str]:
        """The `deadline.<id>.*` cells and `deadlines.other` from (ref, due time as text,
        status) (tuples or lists), one per ref (the latest round's), in any order."""
        cells = [*self._no_deadlines]
        other: list[tuple[str, str, str]] = []
        position = self._deadline_position
        for deadline in deadlines:
            index = position.get(deadline[0])
            if index is None:
                other.append((deadline[0], deadline[1], deadline[2]))
            else:
                cells[index] = deadline[1]
                cells[index + 1] = deadline[2]
        if other:
            cells[-1] = LIST_SEPARATOR.join(
                f"{ref}={due} ({status})" for ref, due, status in sorted(other)
            )
        return cells


def incident_json(item: ExportedIncident) -> dict[str, Any]:
    """One incident as a JSON object (JSON and JSONL exports)."""
    return json_record(
        item.id,
        item.status,
        item.partner,
        item.reporter_id,
        item.team_id,
        item.locale,
        _time(item.created_at),
        _time(item.updated_at),
        item.round,
        item.recommendation,
        item.decided_action,
        list(item.decided_by),
        _time(item.decided_at) or None,
        item.decision_reason,
        [(a.round, a.approver_id, a.action, _time(a.at)) for a in item.approvals],
        item.outcome,
        item.answers,
        [
            (
                d.ref,
                d.round,
                _time(d.due_at) or None,
                d.status,
                _time(d.done_at) or None,
                d.owner_id,
            )
            for d in item.deadlines
        ],
    )


def json_record(
    id_: str,
    status: str,
    partner: str,
    reporter_id: str,
    team_id: str | None,
    locale: str,
    created_at: str,
    updated_at: str,
    round_: int,
    recommendation: str,
    decided_action: str | None,
    decided_by: list[str],
    decided_at: str | None,
    decision_reason: str | None,
    approvals: Iterable[Sequence[Any]],
    outcome: str | None,
    answers: Any,
    deadlines: Iterable[Sequence[Any]],
) -> dict[str, Any]:
    """The JSON object of one incident from its values, times already as text: `approvals`
    (round, approver_id, action, at) in order, `deadlines` (ref, round, due_at, status, done_at,
    owner_id) one per ref, sorted by ref. Used by `incident_json` and the store's fast path."""
    return {
        "id": id_,
        "status": status,
        "partner": partner,
        "reporter_id": reporter_id,
        "team_id": team_id,
        "locale": locale,
        "created_at": created_at,
        "updated_at": updated_at,
        "round": round_,
        "recommendation": recommendation,
        "decided_action": decided_action,
        "decided_by": decided_by,
        "decided_at": decided_at,
        "decision_reason": decision_reason,
        "followed_recommendation": _followed(decided_action, recommendation),
        "approvals": [
            {"round": a[0], "approver_id": a[1], "action": a[2], "at": a[3]} for a in approvals
        ],
        "outcome": outcome,
        "answers": answers,
        "deadlines": [
            {
                "ref": d[0],
                "round": d[1],
                "due_at": d[2],
                "status": d[3],
                "done_at": d[4],
                "owner_id": d[5],
            }
            for d in deadlines
        ],
    }


def csv_text(rows: Iterable[Sequence[Any]]) -> str:
    """`rows` (cells: text, int or None) as the CSV lines `write_export` writes for them.

    A row of texts none of which holds a comma, quote, CR or LF is written by joining its cells
    (the csv module writes exactly that); any other row goes through the csv module. On the
    benchmark's rows (41% with a comma) 6.0 µs per row against the csv module's 7.1."""
    lines: list[str] = []
    writer: Any = None
    buffer = io.StringIO()
    for row in rows:
        try:
            line = ",".join(row)
        except TypeError:  # a cell that is not a text (an int, None)
            line = None
        if (
            line is not None
            and len(row) > 1  # a lone empty cell is written quoted
            and line.count(",") == len(row) - 1
            and '"' not in line
            and "\r" not in line
            and "\n" not in line
        ):
            lines.append(line)
            lines.append("\r\n")
            continue
        if writer is None:
            writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(row)
        lines.append(buffer.getvalue())
        buffer.seek(0)
        buffer.truncate()
    return "".join(lines)


async def write_csv_lines(
    pages: AsyncIterable[tuple[int, str]], out: TextIO, *, layout: CsvLayout
) -> int:
    """The CSV export from pages already written as CSV text (how many rows, their lines, as
    `csv_text` writes them): the header, then every page; returns how many rows were written.
    The same bytes as `write_export(..., fmt="csv")` of the same incidents."""
    out.write(csv_text([layout.columns]))
    count = 0
    async for rows, lines in pages:
        out.write(lines)
        count += rows
    return count


async def write_export(
    pages: AsyncIterable[Iterable[ExportedIncident]],
    out: TextIO,
    *,
    fmt: str,
    playbook: Playbook,
) -> int:
    """Write every incident of `pages` to `out` in `fmt`; returns how many were written.

    CSV: a header row, then one row per incident, CRLF line ends (RFC 4180); the caller opens
    `out` as UTF-8 with a BOM (`utf-8-sig`) so that Excel reads Japanese text correctly.
    JSON: one array, one incident per line inside it. JSONL: one object per line."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    count = 0
    if fmt == "csv":
        layout = CsvLayout(playbook)
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(layout.columns)
        async for page in pages:
            rows = [layout.row(item) for item in page]
            writer.writerows(rows)
            count += len(rows)
        return count
    return await write_json_records(_json_pages(pages), out, fmt=fmt)


async def _json_pages(
    pages: AsyncIterable[Iterable[ExportedIncident]],
) -> AsyncIterator[list[dict[str, Any]]]:
    async for page in pages:
        yield [incident_json(item) for item in page]


# Each JSON object as one compact line (the JSON and JSONL exports).
json_text: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def json_separator(fmt: str) -> str:
    """Between two objects' texts in `fmt`: JSON lines, or the items of one JSON array."""
    return ",\n" if fmt == "json" else "\n"


async def write_json_records(
    pages: AsyncIterable[Iterable[dict[str, Any]]], out: TextIO, *, fmt: str
) -> int:
    """The JSON (`fmt` "json": one array, one incident per line inside it) or JSONL export
    ("jsonl": one object per line) of the incidents' JSON objects; returns how many."""
    return await write_json_texts(_texts(pages, json_separator(fmt)), out, fmt=fmt)


async def _texts(
    pages: AsyncIterable[Iterable[dict[str, Any]]], separator: str
) -> AsyncIterator[tuple[int, str]]:
    async for page in pages:
        texts = [json_text(record) for record in page]
        yield len(texts), separator.join(texts)


async def write_json_texts(pages: AsyncIterable[tuple[int, str]], out: TextIO, *, fmt: str) -> int:
    """`write_json_records` from the objects already as text: pages of (how many, their texts
    joined by `json_separator(fmt)`)."""
    count = 0
    # Separators written on their own: a page is MBs, `text + "\n"` would copy it again.
    if fmt == "jsonl":
        async for rows, page in pages:
            if rows:
                out.write(page)
                out.write("\n")
            count += rows
        return count
    out.write("[")
    async for rows, page in pages:
        if rows:
            out.write("\n" if count == 0 else ",\n")
            out.write(page)
            count += rows
    out.write("\n]\n" if count else "]\n")
    return count
