"""Reads for `leakbot export`: every incident with its approvals and deadlines, page by page.

Keyset pagination over the incidents' (year, seq) — the unique index behind the incident ids,
so each page is one index range however deep into the table it is, and memory stays constant.
Each page's approvals and deadline tasks come in one query each (`IN` the page's ids).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, Text, bindparam, null, select, text, tuple_, type_coerce
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.export import ExportedApproval, ExportedDeadline, ExportedIncident
from bot.store.repository import Store
from bot.store.tables import UTCDateTime, approvals, incidents, tasks

__all__ = ["EXPORT_PAGE_SIZE", "csv_rows_sql", "export_page", "iter_csv_rows", "iter_export"]

EXPORT_PAGE_SIZE: Final[int] = 2000

# `outcome` (how a closed incident ended) exists once the close-with-outcome migration is in;
# until then the column is exported empty.
_outcome: ColumnElement[Any] = (
    incidents.c["outcome"] if "outcome" in incidents.c else null().label("outcome")
)


# Times and JSON come raw (SQLite: text; PostgreSQL: what asyncpg returns) and are converted by
# `_utc` / `_json` below: SQLAlchemy's per-value type processing was ~3/4 of an export's time.
def _raw(column: ColumnElement[Any]) -> ColumnElement[Any]:
    return type_coerce(column, Text).label(column.key)


def _utc(value: Any) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite stores naive UTC text)."""
    if value is None:
        return None
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


_INCIDENT_COLUMNS = (
    incidents.c.id,
    incidents.c.year,
    incidents.c.seq,
    incidents.c.status,
    incidents.c.partner,
    incidents.c.reporter_id,
    incidents.c.team_id,
    incidents.c.locale,
    _raw(incidents.c.created_at),
    _raw(incidents.c.updated_at),
    incidents.c.round,
    incidents.c.recommendation,
    incidents.c.decided_action,
    _raw(incidents.c.decided_by),
    _raw(incidents.c.decided_at),
    incidents.c.decision_reason,
    _outcome,
    _raw(incidents.c.answers),
)


async def export_page(
    conn: AsyncConnection,
    *,
    after: tuple[int, int] | None,
    since: datetime | None,
    limit: int = EXPORT_PAGE_SIZE,
) -> tuple[list[ExportedIncident], tuple[int, int] | None]:
    """The next `limit` incidents after the (year, seq) key `after` (None: from the first),
    created at or after `since`; and the key to continue from (None when this was the last)."""
    query = select(*_INCIDENT_COLUMNS)
    if after is not None:
        query = query.where(tuple_(incidents.c.year, incidents.c.seq) > tuple_(*after))
    if since is not None:
        query = query.where(incidents.c.created_at >= since)
    query = query.order_by(incidents.c.year, incidents.c.seq).limit(limit)
    rows = (await conn.execute(query)).all()
    if not rows:
        return [], None
    page = await _items(conn, rows)
    last = rows[-1]
    return page, ((last.year, last.seq) if len(rows) == limit else None)


async def _export_items(
    conn: AsyncConnection, where: ColumnElement[bool]
) -> list[ExportedIncident]:
    query = select(*_INCIDENT_COLUMNS).where(where).order_by(incidents.c.year, incidents.c.seq)
    return await _items(conn, (await conn.execute(query)).all())


async def _items(conn: AsyncConnection, rows: Sequence[Any]) -> list[ExportedIncident]:
    """The incidents of `rows` (`_INCIDENT_COLUMNS`) with their approvals and deadlines."""
    ids = [row.id for row in rows]

    votes: dict[str, list[ExportedApproval]] = {}
    approval_rows = await conn.execute(
        select(
            approvals.c.incident_id,
            approvals.c.round,
            approvals.c.approver_id,
            approvals.c.action,
            _raw(approvals.c.created_at),
        )
        .where(approvals.c.incident_id.in_(ids))
        .order_by(
            approvals.c.incident_id, approvals.c.round, approvals.c.created_at, approvals.c.id
        )
    )
    for incident_id, round_, approver_id, action, at in approval_rows:
        votes.setdefault(incident_id, []).append(
            ExportedApproval(round_, approver_id, action, _utc(at))  # type: ignore[arg-type]
        )

    # A deadline a later round re-created is exported once: the latest round's task.
    deadlines: dict[str, dict[str, ExportedDeadline]] = {}
    task_rows = await conn.execute(
        select(
            tasks.c.incident_id,
            tasks.c.ref,
            tasks.c.round,
            _raw(tasks.c.due_at),
            tasks.c.status,
            _raw(tasks.c.done_at),
            tasks.c.owner_id,
        ).where(tasks.c.incident_id.in_(ids), tasks.c.kind == "deadline")
    )
    for incident_id, ref, round_, due_at, status, done_at, owner_id in task_rows:
        by_ref = deadlines.setdefault(incident_id, {})
        known = by_ref.get(ref)
        if known is None or known.round < round_:
            by_ref[ref] = ExportedDeadline(
                ref, round_, _utc(due_at), status, _utc(done_at), owner_id
            )

    return [
        ExportedIncident(
            id=row.id,
            status=row.status,
            partner=row.partner,
            reporter_id=row.reporter_id,
            team_id=row.team_id,
            locale=row.locale,
            created_at=_utc(row.created_at),  # type: ignore[arg-type]
            updated_at=_utc(row.updated_at),  # type: ignore[arg-type]
            round=row.round,
            recommendation=row.recommendation,
            decided_action=row.decided_action,
            decided_by=tuple(_json(row.decided_by) or ()),
            decided_at=_utc(row.decided_at),
            decision_reason=row.decision_reason,
            outcome=row.outcome,
            answers=_json(row.answers),
            approvals=tuple(votes.get(row.id, ())),
            deadlines=tuple(sorted(deadlines.get(row.id, {}).values(), key=lambda d: d.ref)),
        )
        for row in rows
    ]


async def iter_export(
    store: Store, *, since: datetime | None = None, page_size: int = EXPORT_PAGE_SIZE
) -> AsyncGenerator[list[ExportedIncident], None]:
    """Every incident (created at or after `since`), in id order, a page at a time.

    One read connection for the whole export: on SQLite one snapshot; on PostgreSQL each page
    is its own statement (an incident changing meanwhile is exported as it was at its page)."""
    async with store.read() as conn:
        key: tuple[int, int] | None = None
        while True:
            page, key = await export_page(conn, after=key, since=since, limit=page_size)
            if page:
                yield page
            if key is None:
                return


# -- CSV rows flattened by the database ------------------------------------------------------
#
# `leakbot export --format csv` at ~8,000 incidents per CPU second was all Python: decoding each
# row's answers, building the record, flattening ~50 cells. Here one statement per page returns
# every CSV cell already in its final text (`CsvLayout.row`'s rules: times as ISO 8601 UTC,
# lists joined with "; ", a formula-like text behind an apostrophe, the latest round's deadline
# per playbook deadline), so Python only hands the rows to the CSV writer. The database does
# that work in its own thread (SQLite) or process (PostgreSQL), beside the writing.
#
# What SQL does not reproduce exactly is flagged per row (`needs_python`: an answer that is a
# JSON object, an array of non-texts, a time stored in another format, a deadline re-created by
# a later round or not in the playbook, a NUL character); such rows are read and flattened by the
# Python path above (`export_page` + the `flatten` given), so the output is the same either way.

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,63}$")  # playbook ids (validated on load)
_FORMULA_CHARS_SQLITE = "('=', '+', '-', '@', char(9), char(13))"
_FORMULA_CHARS_PG = "('=', '+', '-', '@', E'\\t', E'\\r')"
_FIRST_KEY: Final[tuple[int, int]] = (-(2**31), -(2**31))


def _check_ids(ids: Sequence[str]) -> None:
    for value in ids:
        if not _IDENTIFIER.match(value):  # inlined into SQL below: never anything else
            raise ValueError(f"unexpected playbook id {value!r}")


class _Sql:
    """The few expressions that differ between SQLite and PostgreSQL."""

    def __init__(self, dialect: str) -> None:
        self.pg = dialect == "postgresql"

    def formula_safe(self, value: str) -> str:
        """`_text`: a value starting like a formula gets a leading apostrophe (value is a column
        or a cheap expression: it is repeated)."""
        first = f"left({value}, 1)" if self.pg else f"substr({value}, 1, 1)"
        chars = _FORMULA_CHARS_PG if self.pg else _FORMULA_CHARS_SQLITE
        return f"CASE WHEN {first} IN {chars} THEN '''' || {value} ELSE {value} END"

    def time(self, column: str) -> str:
        """A stored time as `datetime.isoformat()` of it in UTC (no fraction when it is 0)."""
        if self.pg:
            return (
                f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
                f"CASE WHEN extract(microseconds FROM {column}) % 1000000 = 0 THEN '' "
                f"ELSE to_char({column} AT TIME ZONE 'UTC', '.US') END || '+00:00'"
            )
        # SQLite holds naive UTC text: 'YYYY-MM-DD HH:MM:SS.ffffff' (SQLAlchemy) or without the
        # fraction; anything else is flagged by `time_unusual`.
        return (
            f"substr({column}, 1, 10) || 'T' || substr({column}, 12, 8) || "
            f"CASE WHEN substr({column}, 21) IN ('', '000000') THEN '' "
            f"ELSE substr({column}, 20) END || '+00:00'"
        )

    def time_unusual(self, column: str) -> str:
        if self.pg:
            return "false"
        return (
            f"({column} IS NOT NULL AND NOT (length({column}) = 26 "
            f"AND substr({column}, 20, 1) = '.' OR length({column}) = 19))"
        )

    def joined(self, array: str) -> str:
        """A JSON array of texts (its text, as `array` gives it) joined with '; '. Valid only when
        `array_plain(array)`."""
        sep = "'\", \"'" if self.pg else "'\",\"'"
        return f"replace(substr({array}, 3, length({array}) - 4), {sep}, '; ')"

    def array_plain(self, array: str) -> str:
        """The array's items are texts without escapes (so `joined` is exact)."""
        pos = "strpos" if self.pg else "instr"
        return (
            f"({array} = '[]' OR ({array} LIKE '[\"%\"]' AND {pos}({array}, '\\') = 0 "
            f"AND {pos}({self.joined(array)}, '\"') = 0))"
        )

    def concat(self, expression: str, order: str) -> str:
        if self.pg:
            return f"string_agg({expression}, '; ' ORDER BY {order})"
        return f"group_concat({expression}, '; ')"

    def text(self, value: str) -> str:
        return f"CAST({value} AS TEXT)"


def csv_rows_sql(
    dialect: str, question_ids: Sequence[str], deadline_ids: Sequence[str], *, since: bool
) -> str:
    """One page of CSV rows: `year, seq, needs_python, cell, cell, …` in `CsvLayout`'s column
    order, for incidents after (:after_year, :after_seq) (and created at or after :since with
    `since`), at most :limit of them. A statement per playbook; its plans are index range scans."""
    _check_ids(question_ids)
    _check_ids(deadline_ids)
    sql = _Sql(dialect)
    safe = sql.formula_safe
    known = ", ".join(f"'{ref}'" for ref in deadline_ids) or "''"
    if sql.pg:
        json_value = "CASE WHEN strpos(i.answers::text, '\\u0000') = 0 THEN i.answers::jsonb END"
        decided_by = (
            "CASE WHEN strpos(i.decided_by::text, '\\u0000') = 0 THEN i.decided_by::jsonb::text END"
        )
        nul = "(i.aj IS NULL OR i.decided_by IS NOT NULL AND i.db_j IS NULL)"
        answer_columns = [
            f"jsonb_typeof(i.aj -> '{qid}') AS t_{qid}, i.aj ->> '{qid}' AS v_{qid}"
            for qid in question_ids
        ]
    else:
        json_value = "i.answers"
        decided_by = "json(i.decided_by)"
        nul = "instr(i.aj, '\\u0000') > 0"
        answer_columns = [
            f"json_type(i.aj, '$.{qid}') AS t_{qid}, json_extract(i.aj, '$.{qid}') AS v_{qid}"
            for qid in question_ids
        ]
    outcome = "i.outcome" if "outcome" in incidents.c else "NULL"
    page = f"""
    SELECT i.id, i.year, i.seq, i.status, i.partner, i.reporter_id, i.team_id, i.locale,
           i.created_at, i.updated_at, i.round, i.recommendation, i.decided_action, i.db_j,
           i.decided_at, i.decision_reason, {outcome} AS outcome, {nul} AS nul
           {"".join(", " + column for column in answer_columns)}
    FROM (
        SELECT i.*, {json_value} AS aj, {decided_by} AS db_j
        FROM incidents i
        WHERE (i.year, i.seq) > (:after_year, :after_seq)
          {"AND i.created_at >= :since" if since else ""}
        ORDER BY i.year, i.seq
        LIMIT :limit
    ) i"""

    pivot = "".join(
        f", max(CASE WHEN t.ref = '{ref}' THEN t.due_at END) AS due_{ref}"
        f", max(CASE WHEN t.ref = '{ref}' THEN t.status END) AS status_{ref}"
        for ref in deadline_ids
    )
    deadlines = f"""
    SELECT t.incident_id, count(*) AS tasks, count(DISTINCT t.ref) AS refs,
           sum(CASE WHEN t.ref IN ({known}) THEN 0 ELSE 1 END) AS other{pivot}
    FROM tasks t
    WHERE t.incident_id IN (SELECT id FROM page) AND t.kind = 'deadline'
    GROUP BY t.incident_id"""

    approval = "a.approver_id || ':' || a.action || '@' || a.round"
    order = "a.round, a.created_at, a.id"
    if sql.pg:
        approvals_cell = (
            f"(SELECT {sql.concat(approval, order)} FROM approvals a WHERE a.incident_id = p.id)"
        )
    else:  # group_concat keeps the order of the rows it is given
        approvals_cell = (
            "(SELECT group_concat(x, '; ') FROM "
            f"(SELECT {approval} AS x FROM approvals a WHERE a.incident_id = p.id "
            f"ORDER BY {order}))"
        )

    def answer_cell(qid: str) -> str:
        kind, value = f"p.t_{qid}", f"p.v_{qid}"
        plain, joined = sql.array_plain(value), safe(sql.joined(value))
        array = f"WHEN 'array' THEN CASE WHEN {plain} THEN {joined} END"
        if sql.pg:
            return (
                f"CASE {kind} WHEN 'string' THEN {safe(value)} "
                f"WHEN 'number' THEN {safe(value)} WHEN 'boolean' THEN {value} {array} END"
            )
        return (
            f"CASE {kind} WHEN 'text' THEN {safe(value)} "
            f"WHEN 'integer' THEN {safe(sql.text(value))} WHEN 'true' THEN 'true' "
            f"WHEN 'false' THEN 'false' {array} END"
        )

    def answer_unusual(qid: str) -> str:
        kind, value = f"p.t_{qid}", f"p.v_{qid}"
        array = f"{kind} = 'array' AND NOT {sql.array_plain(value)}"
        if sql.pg:  # a JSON number that is not an integer: Python writes it its own way
            number = f"{kind} = 'number' AND {value} !~ '^-?[0-9]+$'"
            return f"{kind} = 'object' OR {number} OR {array}"
        number = f"{kind} = 'integer' AND typeof({value}) <> 'integer'"
        return f"{kind} IN ('object', 'real') OR {number} OR {array}"

    def time(column: str) -> str:
        return f"CASE WHEN {column} IS NOT NULL THEN {sql.time(column)} END"

    cells = [
        "p.id",
        "p.status",
        safe("p.partner"),
        "p.reporter_id",
        "p.team_id",
        "p.locale",
        time("p.created_at"),
        time("p.updated_at"),
        "p.round",
        "p.recommendation",
        "p.decided_action",
        f"CASE WHEN p.db_j IS NOT NULL AND {sql.array_plain('p.db_j')} "
        f"THEN {sql.joined('p.db_j')} END",
        time("p.decided_at"),
        safe("p.decision_reason"),
        "CASE WHEN p.decided_action IS NULL THEN NULL "
        "WHEN p.decided_action = p.recommendation THEN 'true' ELSE 'false' END",
        approvals_cell,
        safe("p.outcome"),
        *(answer_cell(qid) for qid in question_ids),
    ]
    for ref in deadline_ids:
        cells += [time(f"d.due_{ref}"), f"d.status_{ref}"]
    cells.append("NULL")  # deadlines.other: rows that have one are flagged below
    unusual = [
        "p.nul",
        "d.tasks <> d.refs",  # a deadline a later round re-created: the latest one is exported
        "d.other > 0",
        f"p.db_j IS NOT NULL AND NOT {sql.array_plain('p.db_j')}",
        *(sql.time_unusual(f"p.{c}") for c in ("created_at", "updated_at", "decided_at")),
        *(sql.time_unusual(f"d.due_{ref}") for ref in deadline_ids),
        *(answer_unusual(qid) for qid in question_ids),
    ]
    flag = " OR ".join(f"({condition})" for condition in unusual if condition != "false")
    materialized = "MATERIALIZED "
    return f"""
    WITH page AS {materialized}({page}),
    deadlines AS ({deadlines})
    SELECT p.year, p.seq, CASE WHEN {flag} THEN 1 ELSE 0 END AS needs_python,
           {", ".join(cells)}
    FROM page p LEFT JOIN deadlines d ON d.incident_id = p.id
    ORDER BY p.year, p.seq"""


async def iter_csv_rows(
    store: Store,
    *,
    question_ids: Sequence[str],
    deadline_ids: Sequence[str],
    flatten: Callable[[ExportedIncident], Sequence[Any]],
    since: datetime | None = None,
    page_size: int = EXPORT_PAGE_SIZE,
) -> AsyncGenerator[list[Sequence[Any]], None]:
    """Every incident (created at or after `since`) as one CSV row (cells in `CsvLayout`'s
    order: text, int or None), in id order, a page at a time. The few rows the database cannot
    flatten exactly are read as `ExportedIncident`s and given to `flatten`.

    The next page is read while the caller writes this one (one read connection; on SQLite one
    snapshot, on PostgreSQL one statement per page, as in `iter_export`)."""
    statement = text(
        csv_rows_sql(store.dialect, question_ids, deadline_ids, since=since is not None)
    )
    if since is not None:
        statement = statement.bindparams(bindparam("since", type_=UTCDateTime()))
    params: dict[str, Any] = {"limit": page_size}
    if since is not None:
        params["since"] = since

    async def fetch(after: tuple[int, int]) -> list[Any]:
        year, seq = after
        result = await conn.execute(statement, {**params, "after_year": year, "after_seq": seq})
        return list(result.tuples())

    async with store.read() as conn:
        rows = await fetch(_FIRST_KEY)
        while rows:
            page = [row[3:] for row in rows]
            if any(row[2] for row in rows):
                await _flatten_in_python(conn, rows, page, flatten)
            last = rows[-1]
            following = (
                asyncio.ensure_future(fetch((last[0], last[1]))) if len(rows) == page_size else None
            )
            try:
                yield page
            except BaseException:
                if following is not None:
                    following.cancel()
                    with suppress(BaseException):
                        await following
                raise
            rows = await following if following is not None else []


async def _flatten_in_python(
    conn: AsyncConnection,
    rows: list[Any],
    page: list[Sequence[Any]],
    flatten: Callable[[ExportedIncident], Sequence[Any]],
) -> None:
    """Replace the flagged rows of `page` with `flatten` of the incidents the Python path reads."""
    positions = {row[3]: index for index, row in enumerate(rows) if row[2]}
    items = await _export_items(conn, incidents.c.id.in_(list(positions)))
    for item in items:
        page[positions[item.id]] = flatten(item)
