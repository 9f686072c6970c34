"""Reads for `leakbot export`: every incident with its approvals and deadlines, page by page.

Keyset pagination over the incidents' (year, seq) — the unique index behind the incident ids,
so each page is one index range however deep into the table it is, and memory stays constant.
Each page's approvals and deadline tasks come in one query each (`IN` the page's ids).

`leakbot export` itself reads through the fast paths below: `iter_csv_lines` /
`iter_json_lines`. On PostgreSQL the server builds each incident's CSV line or JSON text around
its answers (`csv_lines_sql`, `json_lines_sql`), a page comes as one row of arrays, and the
client puts in the answers (CSV: their cells, `csv_answer_lines`; JSON: their text compacted,
`_compact_answers`). On SQLite each page is one row: for CSV its rows as one JSON text
(`_sqlite_page_sql`), one statement doing most of the flattening (`csv_rows_sql`, the first
cells already written as CSV) and Python the rest (`_sqlite_csv_lines`); for JSON its
objects' texts, built and joined by SQLite (`sqlite_json_lines_sql`, `_sqlite_text_pages`),
which Python only writes. On both the pages are read over two connections at once (SQLite's on
one snapshot), beside the Python that writes them. `export_page` stays the reference they are
tested against (tests/unit/test_export_fast_paths.py: the same bytes) and the path for the rows
they flag.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from sqlalchemy import (
    ColumnElement,
    Text,
    TextClause,
    bindparam,
    select,
    text,
    tuple_,
    type_coerce,
)

from bot.domain.export import (
    CsvLayout,
    ExportedApproval,
    ExportedDeadline,
    ExportedIncident,
    csv_text,
    incident_json,
    json_text,
)
from bot.store.repository import Store
from bot.store.tables import UTCDateTime, approvals, incident_closures, incidents, tasks

from .aio import AsyncConnection

__all__ = [
    "EXPORT_PAGE_SIZE",
    "SQLITE_EXPORT_PAGE_SIZE",
    "csv_answer_lines",
    "csv_lines_sql",
    "csv_rows_sql",
    "export_page",
    "iter_csv_lines",
    "iter_export",
    "iter_json_lines",
    "json_line_text",
    "json_lines_sql",
    "sqlite_json_lines_sql",
]

EXPORT_PAGE_SIZE: Final[int] = 2000
# SQLite's fast paths (`_pages`, page_size None): each page is one text, decoded at once, with two
# more in flight; at 2,000 the JSON export's RSS grew by up to ~47 MB (100,000 incidents), at
# 1,000 by 13-18 MB, for the same CPU (bench/README.md).
SQLITE_EXPORT_PAGE_SIZE: Final[int] = 1000
_T = TypeVar("_T")
_P = TypeVar("_P")

# `outcome`: how a closed incident ended, from its current closure (the latest, not reopened);
# empty for an incident that is not closed, or whose current closure is missing or has no outcome.
_CURRENT_CLOSURE_OUTCOME_SQL: Final[str] = (
    "(SELECT c.outcome FROM incident_closures c WHERE c.incident_id = p.id "
    "AND c.reopened_at IS NULL ORDER BY c.id DESC LIMIT 1)"
)
_outcome: ColumnElement[Any] = (
    select(incident_closures.c.outcome)
    .where(incident_closures.c.incident_id == incidents.c.id)
    .where(incident_closures.c.reopened_at.is_(None))
    .order_by(incident_closures.c.id.desc())
    .limit(1)
    .scalar_subquery()
    .label("outcome")
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


# -- CSV rows, flattened mostly by the database ----------------------------------------------
#
# `leakbot export --format csv` through `export_page` + `CsvLayout.row` was ~8,000 incidents per
# CPU second: per incident a record, datetimes and answers decoded and encoded again, ~50 cells
# through several functions. Here one statement per page returns each incident's fixed cells in
# their final text (`CsvLayout.row`'s rules: times as ISO 8601 UTC, lists joined with "; ", a
# formula-like text behind an apostrophe), its answers as one JSON text and its deadline tasks as
# one delimited text; `CsvLayout` makes the answer and deadline cells from those (the same code
# as for `row`), and the next page is read while this one is written: the database works in its
# own thread (SQLite) or process (PostgreSQL) beside the Python.
#
# A row whose fixed cells SQL would not give exactly (a time stored in another format, a
# `decided_by` that is not a plain list of ids) is flagged and goes through the Python path
# above (`export_page` + `CsvLayout.row`): the output is the same bytes either way.

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,63}$")  # playbook ids (validated on load)
_FIRST_KEY: Final[tuple[int, int]] = (-(2**31), -(2**31))
_LAST_KEY: Final[tuple[int, int]] = (2**31 - 1, 2**31 - 1)
# Every :size-th incident's key, in order: the pages' upper bounds (`_pages`, PostgreSQL).
_PAGE_BOUNDS_SQL: Final[str] = (
    "SELECT year, seq FROM (SELECT year, seq, row_number() OVER (ORDER BY year, seq) AS n "
    "FROM incidents {since}) k WHERE n % :limit = 0 ORDER BY year, seq"
)
# Between a deadline task's fields, and between tasks, in the statement's deadlines column.


class _Sql:
    """The expressions that differ between SQLite and PostgreSQL."""

    def __init__(self, dialect: str) -> None:
        self.pg = dialect == "postgresql"

    def formula_safe(self, value: str) -> str:
        """`_text`: a value starting like a formula gets a leading apostrophe (`value` is a
        column: it is repeated)."""
        if self.pg:
            first, chars = f"left({value}, 1)", r"('=', '+', '-', '@', E'\t', E'\r')"
        else:
            first, chars = f"substr({value}, 1, 1)", "('=', '+', '-', '@', char(9), char(13))"
        return f"CASE WHEN {first} IN {chars} THEN '''' || {value} ELSE {value} END"

    def time(self, column: str) -> str:
        """A stored time as `datetime.isoformat()` of it in UTC (no fraction when it is 0)."""
        if self.pg:
            return (
                f"""replace(to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') """
                "|| '+00:00', '.000000+', '+')"
            )
        # SQLite holds naive UTC text, 'YYYY-MM-DD HH:MM:SS.ffffff' (SQLAlchemy) or without the
        # fraction; anything else is flagged by `time_unusual`. (replace: two string functions
        # instead of four; ~1-2 us per CSV row, a time per deadline task.)
        return (
            f"CASE WHEN substr({column}, 21) = '000000' "
            f"THEN replace(substr({column}, 1, 19), ' ', 'T') "
            f"ELSE replace({column}, ' ', 'T') END || '+00:00'"
        )

    def time_unusual(self, column: str) -> str | None:
        if self.pg:
            return None
        return (
            f"{column} IS NOT NULL AND NOT (length({column}) = 26 "
            f"AND substr({column}, 20, 1) = '.' OR length({column}) = 19)"
        )

    def joined(self, array: str) -> str:
        """A JSON array of texts (its text as stored: Python's ", " between items) joined with
        '; '; exact when `plain` (an array stored otherwise is not)."""
        return (
            f"CASE WHEN {array} = '[]' THEN '' "
            f"""ELSE replace(substr({array}, 3, length({array}) - 4), '", "', '; ') END"""
        )

    def plain(self, array: str) -> str:
        """The array's items are all texts without escapes."""
        find = "strpos" if self.pg else "instr"
        return (
            f"""({array} = '[]' OR ({array} LIKE '["%"]' AND {find}({array}, '\\') = 0 """
            f"""AND {find}({self.joined(array)}, '"') = 0))"""
        )


def _page_of_incidents(*, since: bool) -> str:
    """What every export statement reads of `incidents p`: the keys after (:after_year,
    :after_seq) up to (:upto_year, :upto_seq), created at or after :since with `since`, at most
    :limit, in key order (the (year, seq) index gives the order and the limit: no sort)."""
    created = "AND p.created_at >= :since" if since else ""
    return f"""WHERE (p.year, p.seq) > (:after_year, :after_seq)
    AND (p.year, p.seq) <= (:upto_year, :upto_seq) {created}
    ORDER BY p.year, p.seq
    LIMIT :limit"""


def csv_rows_sql(dialect: str, question_ids: Sequence[str], *, since: bool) -> str:
    """SQLite: one page of CSV rows for incidents after (:after_year, :after_seq) (and created
    at or after :since with `since`), at most :limit of them, in id order: `year, seq,
    needs_python`, the id, the first 15 `BASE_COLUMNS` cells as one CSV text, the approvals and
    outcome, the answers (a JSON array of the `question_ids`' values) and the deadline tasks (a
    JSON array of (ref, due time as exported, status) in round order). The plan: an index range
    scan of the incidents by (year, seq); per incident, its tasks and approvals by index.
    (PostgreSQL builds whole lines: `csv_lines_sql`.)"""
    if dialect == "postgresql":
        raise ValueError("csv_rows_sql is SQLite's: PostgreSQL's export is csv_lines_sql")
    for value in question_ids:
        if not _IDENTIFIER.match(value):  # written into the statement: never anything else
            raise ValueError(f"unexpected playbook id {value!r}")
    sql = _Sql(dialect)
    safe = sql.formula_safe
    # json_extract with several paths: one JSON array of their values (null if missing).
    paths = ", ".join(f"'$.{qid}'" for qid in question_ids)
    # inside json_array: a JSON value (the page's text holds it decoded)
    answers = {
        0: "json_array()",
        1: f"json_array(p.answers -> {paths})",
    }.get(len(question_ids), f"json_extract(p.answers, {paths})")
    # as stored (json() of it, to minify, was called ~10 times per row: ~5 us)
    decided_by = "p.decided_by"
    # group_concat keeps the order of the rows it is given
    approvals = (
        "(SELECT group_concat(x, '; ') FROM (SELECT a.approver_id || ':' || a.action || '@' "
        "|| a.round AS x FROM approvals a WHERE a.incident_id = p.id "
        "ORDER BY a.round, a.created_at, a.id))"
    )
    # (ref, due time as exported, status) per task in round order (the unique index's, no
    # sort), so that a later round's overwrites its ref; NULL when a due time is stored
    # in another format (the Python path).
    due = f"CASE WHEN t.due_at IS NULL THEN '' ELSE {sql.time('t.due_at')} END"
    deadlines = (
        "json((SELECT CASE WHEN max(bad) THEN NULL ELSE "
        "json_group_array(json_array(ref, due, status)) END "
        f"FROM (SELECT t.ref, {due} AS due, t.status, ({sql.time_unusual('t.due_at')}) AS bad "
        "FROM tasks t WHERE t.incident_id = p.id AND t.kind = 'deadline' "
        "ORDER BY t.round)))"
    )
    outcome = _CURRENT_CLOSURE_OUTCOME_SQL  # a closed vocabulary: never a formula
    listed = decided_by

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
        f"CASE WHEN {sql.plain(listed)} THEN {sql.joined(listed)} END",
        time("p.decided_at"),
        safe("p.decision_reason"),
        "CASE WHEN p.decided_action IS NULL THEN NULL "
        "WHEN p.decided_action = p.recommendation THEN 'true' ELSE 'false' END",
        approvals,
        outcome,
        answers,
        deadlines,
    ]
    unusual = [
        f"{listed} IS NOT NULL AND NOT {sql.plain(listed)}",
        *(sql.time_unusual(f"p.{column}") for column in ("created_at", "updated_at", "decided_at")),
    ]
    # The 15 cells before the approvals as one text, as the csv module writes them (the
    # approvals, outcome and answers are Python's to check): the free texts quoted where
    # they need it; ids and closed vocabularies checked at once, a row where one would
    # need quoting flagged (the Python path); times, round and followed never need it.
    # One text instead of 15 saves Python decoding and joining them (bench/README.md).
    cells[8] = "CAST(p.round AS TEXT)"
    cells[:17] = [f"ifnull({cell}, '')" for cell in cells[:17]]
    for n, column in ((2, "p.partner"), (13, "p.decision_reason")):
        quoted = f"""'"' || replace({cells[n]}, '"', '""') || '"'"""
        cells[n] = f"CASE WHEN {_sqlite_special(column)} THEN {quoted} ELSE {cells[n]} END"
    plain = " || ".join(cells[n] for n in (0, 1, 3, 4, 5, 9, 10))  # 11: decided_by
    unusual.append(_sqlite_special(f"({plain})"))
    unusual.append(f"instr({sql.joined(listed)}, ',')")  # decided_by's cell
    cells[:15] = ["p.id", " || ',' || ".join(cells[:15])]
    flag = " OR ".join(f"({condition})" for condition in unusual if condition)
    values = ["p.year", "p.seq", f"CASE WHEN {flag} THEN 1 ELSE 0 END", *cells]
    return _sqlite_page_sql(values, since=since)


def _sqlite_special(value: str) -> str:
    """SQLite: `value` (NULL: false) holds a character the csv module quotes for (GLOB: `value`
    evaluated once; a constant pattern, made once per statement)."""
    return f"""({value} GLOB '*[,"\r\n]*')"""


def _rows_sql(values: Sequence[str], *, since: bool) -> str:
    # One level, so that the index on (year, seq) gives the order and the limit (no sort).
    return f"""
    SELECT {", ".join(values)}
    FROM incidents p
    {_page_of_incidents(since=since)}"""


def _sqlite_page_sql(values: Sequence[str], *, since: bool) -> str:
    """SQLite: the page of `_rows_sql(values)` as one row, the JSON text of an array of its rows
    (each the array of its values; a value from a JSON function is nested as JSON).

    Why one row: the driver's thread steps the statement without Python's lock and takes the
    lock back to hand over each row; with a row per incident it waited for the lock behind the
    main thread at every row, so the next page was hardly read while this one was written (wall
    time was the sum of both). One step per page lets SQLite's work run on the other core, and
    `json.loads` of the page (C) decodes every row and its nested JSON at once."""
    return f"""
    SELECT '[' || group_concat(r, ',') || ']'
    FROM (SELECT json_array({", ".join(values)}) AS r
          FROM incidents p
          {_page_of_incidents(since=since)})"""


async def _sqlite_read_ahead(
    store: Store,
    bounds_statement: TextClause,
    params: dict[str, Any],
    fetch: Callable[[AsyncConnection, tuple[int, int], tuple[int, int], int], Awaitable[_P]],
) -> AsyncGenerator[tuple[AsyncConnection, _P, Callable[[], Awaitable[None]]], None]:
    """SQLite: `fetch(conn, after, upto, limit)` of every page's key range, in key order, with
    its connection and an `idle()` to await before using that connection for a statement of
    one's own (its next range may be in flight).

    Two read connections on one snapshot, each with its next range in flight while a page is
    used (SQLite's work for two pages on the other core, beside this thread's); the pages'
    bounds first (every :limit-th key)."""
    async with store.read() as conn, store.read() as other:
        connections = (conn, other)
        first = text("SELECT 1 FROM incidents LIMIT 1")  # starts a connection's snapshot

        # Both snapshots start while this holds the write lock (its first statement takes
        # it: a transaction without one never begins): no commit between them, so the two
        # connections read the same database (as one connection would).
        async def start(writer: AsyncConnection) -> None:
            await writer.execute(first)
            for each in connections:
                await each.execute(first)

        await store.write(start)
        bounds = [(row[0], row[1]) for row in await conn.execute(bounds_statement, params)]
        ranges = deque(zip([_FIRST_KEY, *bounds], [*bounds, _LAST_KEY], strict=True))
        reading: dict[AsyncConnection, asyncio.Future[_P]] = {}
        pending: deque[tuple[AsyncConnection, asyncio.Future[_P]]] = deque()

        def launch(on: AsyncConnection) -> None:
            if ranges:
                after, upto = ranges.popleft()
                reading[on] = asyncio.ensure_future(fetch(on, after, upto, params["limit"]))
                pending.append((on, reading[on]))

        try:
            for each in connections:
                launch(each)
            while pending:
                on, future = pending.popleft()
                fetched = await future
                launch(on)
                following = reading[on]

                async def idle(following: asyncio.Future[_P] = following) -> None:
                    await asyncio.wait([following])

                yield on, fetched, idle
        finally:
            for _, future in pending:  # stopped early: let the reads end first
                future.cancel()
                with suppress(BaseException):
                    await future


async def _complete(
    conn: AsyncConnection,
    ids: Sequence[str],
    page: list[Any],
    fallback: Callable[[ExportedIncident], Any],
) -> None:
    """The Python path's items (`fallback` of the incident as `export_page` reads it) in the
    page's gaps (None)."""
    positions = {ids[n]: n for n, item in enumerate(page) if item is None}
    where = incidents.c.id.in_(list(positions))
    for item in await _export_items(conn, where):
        page[positions[item.id]] = fallback(item)


def _since_bound(statement: TextClause, since: datetime | None) -> TextClause:
    if since is None:
        return statement
    return statement.bindparams(bindparam("since", type_=UTCDateTime()))


async def _sqlite_text_pages(
    store: Store,
    rows_sql: str,
    since: datetime | None,
    page_size: int | None,
    fallback: Callable[[ExportedIncident], str],
    separator: str,
) -> AsyncGenerator[tuple[int, str], None]:
    """SQLite: every incident's line of `rows_sql` (`year, seq, needs_python, id, line`; a line
    NULL or flagged is `fallback`'s), a page at a time: (how many, the page's lines joined by
    `separator`). `page_size` None: `SQLITE_EXPORT_PAGE_SIZE`.

    Each page is one row: SQLite joins its lines (`group_concat`, in the rows' order), so that
    Python does nothing per incident but write the text. The driver's thread steps a page's
    statement without Python's lock: SQLite's work, almost all of it, runs on both cores
    (`_sqlite_read_ahead`: two pages in flight). A page with a line to make in Python (rare:
    stored shapes SQL does not read) is read again row by row."""
    params: dict[str, Any] = {"limit": page_size or SQLITE_EXPORT_PAGE_SIZE}
    if since is not None:
        params["since"] = since
    bounds_sql = _PAGE_BOUNDS_SQL.format(since="WHERE created_at >= :since" if since else "")
    rows_statement = _since_bound(text(rows_sql), since)
    page_statement = _since_bound(
        text(
            f"SELECT group_concat(line, :separator), count(*), "
            f"count(*) - count(CASE WHEN needs_python = 0 THEN line END) "
            f"FROM ({rows_sql}) page_rows"
        ),
        since,
    )

    def key(after: tuple[int, int], upto: tuple[int, int], limit: int) -> dict[str, Any]:
        return params | {
            "after_year": after[0],
            "after_seq": after[1],
            "upto_year": upto[0],
            "upto_seq": upto[1],
            "limit": limit,
        }

    async def fetch(
        conn: AsyncConnection, after: tuple[int, int], upto: tuple[int, int], limit: int
    ) -> tuple[dict[str, Any], Any]:
        keys = key(after, upto, limit)
        result = await conn.execute(page_statement, keys | {"separator": separator})
        return keys, result.one()

    bounds_statement = _since_bound(text(bounds_sql), since)
    async for on, (keys, page), idle in _sqlite_read_ahead(store, bounds_statement, params, fetch):
        joined, count, gaps = page
        if gaps:
            await idle()  # one statement at a time on `on`
            rows = (await on.execute(rows_statement, keys)).all()
            lines: list[Any] = [None if row[2] else row[4] for row in rows]
            await _complete(on, [row[3] for row in rows], lines, fallback)
            joined = separator.join(lines)
        yield count, joined or ""


async def _pages(
    store: Store,
    statement: TextClause,
    since: datetime | None,
    page_size: int | None,
    make: Callable[[Any], _T | None],
    fallback: Callable[[ExportedIncident], _T],
    *,
    columns: Sequence[str] = (),
    make_all: Callable[[Sequence[list[Any]]], list[_T | None]] | None = None,
    paged: bool = False,
) -> AsyncGenerator[list[_T], None]:
    """`make` of each row of `statement` (`year, seq, needs_python, id, …`), page by page by
    keyset (`paged`: each page is one row, `_sqlite_page_sql`'s); a row flagged or that `make`
    declines (None) is `fallback` of the incident as `export_page` reads it. `page_size` None:
    `EXPORT_PAGE_SIZE` (PostgreSQL) or `SQLITE_EXPORT_PAGE_SIZE`.

    SQLite, `paged`: two read connections on one snapshot, each with its next range in flight
    while a page is made (the pages' bounds first, as below); not `paged`: one connection, the
    next page read while this one is used. PostgreSQL: each page is its own statement (as in
    `iter_export`), over two connections, so that the server builds two pages at once (its work
    per row is most of an export's time there): the pages' bounds first (every `page_size`-th
    key, one index-only scan), then each range on the next free connection, yielded in order.

    With `make_all` (PostgreSQL; a statement whose rows are never flagged), a page comes as one
    row of arrays, one per column of `columns` (`array_agg`), and `make_all` of those arrays
    gives the page's items (None: `fallback`'s): a row per incident cost the client ~4 us of
    CPU (the driver's record, SQLAlchemy's row, a call of `make`), three quarters of its work."""
    pg = store.dialect == "postgresql"
    if page_size is None:
        page_size = EXPORT_PAGE_SIZE if pg else SQLITE_EXPORT_PAGE_SIZE
    params: dict[str, Any] = {"limit": page_size}
    bounds_sql = _PAGE_BOUNDS_SQL.format(since="WHERE created_at >= :since" if since else "")
    bounds_statement = text(bounds_sql)
    if since is not None:
        statement = statement.bindparams(bindparam("since", type_=UTCDateTime()))
        bounds_statement = bounds_statement.bindparams(bindparam("since", type_=UTCDateTime()))
        params["since"] = since
    loads = json.loads

    async def fetch(
        conn: AsyncConnection, after: tuple[int, int], upto: tuple[int, int], limit: int
    ) -> list[Any]:
        key = {"after_year": after[0], "after_seq": after[1], "limit": limit}
        key |= {"upto_year": upto[0], "upto_seq": upto[1]}
        result = await conn.execute(statement, params | key)
        if not paged:
            return list(result.all())
        page = result.scalar()  # `_sqlite_page_sql`: the page as one JSON text (NULL: none)
        return loads(page) if page is not None else []

    if paged:
        async for on, rows, idle in _sqlite_read_ahead(store, bounds_statement, params, fetch):
            page = [None if row[2] else make(row) for row in rows]
            if None in page:
                await idle()  # one statement at a time on `on`
                await _complete(on, [row[3] for row in rows], page, fallback)
            yield page  # type: ignore[misc]
        return

    async with store.read() as conn:
        # The page's rows in the subquery's order (the (year, seq) index's): array_agg takes
        # them so; OFFSET 0 keeps each column computed once.
        arrays = ", ".join(f"array_agg({column})" for column in ("year", "seq", "id", *columns))
        aggregated = text(f"SELECT {arrays} FROM ({statement.text} OFFSET 0) page_rows")
        if since is not None:
            aggregated = aggregated.bindparams(bindparam("since", type_=UTCDateTime()))

        async def fetch_page(
            conn: AsyncConnection, after: tuple[int, int], upto: tuple[int, int], limit: int
        ) -> tuple[Sequence[int], Sequence[int], Sequence[str], list[Any]]:
            """The range's keys (years, seqs), ids and items (None: the Python path's)."""
            if make_all is None:
                rows = await fetch(conn, after, upto, limit)
                items = [None if row[2] else make(row) for row in rows]
                return [r[0] for r in rows], [r[1] for r in rows], [r[3] for r in rows], items
            key = {"after_year": after[0], "after_seq": after[1], "limit": limit}
            key |= {"upto_year": upto[0], "upto_seq": upto[1]}
            row = (await conn.execute(aggregated, params | key)).one()
            if row[0] is None:  # no rows
                return [], [], [], []
            keys = list(zip(row[0], row[1], strict=True))
            if keys != sorted(keys):  # (a guard: ~0.1 us per row) not the subquery's order
                raise RuntimeError("export page out of key order")
            return row[0], row[1], row[2], make_all(row[3:])

        async with store.read() as other:
            connections = (conn, other)
            # Its cost estimate makes PostgreSQL compile the statement (JIT) for every page:
            # ~0.35 s each, for nothing. A connection setting, reset below.
            for each in connections:
                await each.execute(text("SET jit = off"))
            inflight: deque[tuple[AsyncConnection, tuple[int, int], asyncio.Future[Any]]]
            inflight = deque()
            try:
                bound_rows = await conn.execute(bounds_statement, params)
                bounds = [(row[0], row[1]) for row in bound_rows]
                ranges = deque(zip([_FIRST_KEY, *bounds], [*bounds, _LAST_KEY], strict=True))

                def launch(on: AsyncConnection) -> None:
                    if ranges:
                        after, upto = ranges.popleft()
                        # One row more than a page: a range that grew since its bounds
                        # were read (incidents created meanwhile) goes on by keyset.
                        future = asyncio.ensure_future(fetch_page(on, after, upto, page_size + 1))
                        inflight.append((on, upto, future))

                for each in connections:
                    launch(each)
                while inflight:
                    on, upto, future = inflight.popleft()
                    years, seqs, ids, page = await future
                    while True:
                        more = len(page) > page_size
                        if more:
                            del page[page_size:]
                        if None in page:
                            await _complete(on, ids, page, fallback)
                        yield page  # type: ignore[misc]
                        if not more:
                            break
                        last = (years[page_size - 1], seqs[page_size - 1])
                        years, seqs, ids, page = await fetch_page(on, last, upto, page_size + 1)
                    launch(on)
            finally:
                for _, _, future in inflight:  # stopped early: let the reads end first
                    future.cancel()
                    with suppress(BaseException):
                        await future
                for each in connections:
                    await each.execute(text("RESET jit"))


# -- Whole lines, built by the database -------------------------------------------------------
#
# Rows of cells and JSON records decoded in Python (the first fast paths) spent ~3/4 of an export's
# CPU in Python per row. Here the statement returns each incident's whole CSV line (RFC 4180
# quoting as the csv module does it: a cell holding `,` `"` CR or LF is quoted) or whole JSON
# object, and Python only joins a page's texts and writes them; a NULL line is the Python path's
# (`export_page`), in its place. On PostgreSQL, where the server's CPU is the limit (two backends
# on two cores, the client lighter), the answers are the client's: the statement gives the line
# before and after them and their stored JSON text; their cells in SQL (`json_to_record`, a CASE
# per question) were ~40% of the server's time per row (~17 us), more than Python spends on them
# (~10 us). On SQLite whole CSV lines took ~80 us of CPU per row (the answers' cells most of it):
# its CSV rows are `_sqlite_csv_lines`'; its JSON texts are SQLite's (`sqlite_json_lines_sql`).

_BACKSLASH: Final[str] = "'\\'"  # an SQL literal


class _Lines(_Sql):
    """`_Sql` plus the text expressions that build PostgreSQL's CSV lines."""

    def special(self, value: str) -> str:
        """`value` holds a character the csv module quotes for (NULL stays NULL): one regex
        match, for an expression (evaluated once)."""
        return f"({value} ~ E'[,\"\\\\r\\\\n]')"

    def special_column(self, column: str) -> str:
        """`special` of a column (repeated: it is read, not computed): four LIKEs, each a
        byte scan, ~0.8 us less per value than a regex match (bench/README.md)."""
        likes = ("'%,%'", "'%\"%'", "E'%\\r%'", "E'%\\n%'")
        return "(" + " OR ".join(f"{column} LIKE {like}" for like in likes) + ")"

    def quoted(self, value: str, shown: str | None = None) -> str:
        """`shown` (default `value`, a column) as one CSV cell, quoted when `value` needs it
        (`shown` adds at most a leading apostrophe to `value`, which never does)."""
        shown = shown or value
        special = self.special_column(value)
        return (
            f"""CASE WHEN {special} THEN '"' || replace({shown}, '"', '""') || '"' """
            f"ELSE {shown} END"
        )

    def text_cell(self, value: str) -> str:
        """`CsvLayout`'s `_text`: formula-safe, then quoted."""
        return self.quoted(value, self.formula_safe(value))


def csv_lines_sql(deadline_ids: Sequence[str], *, since: bool) -> str:
    """PostgreSQL: one page of CSV lines (`CsvLayout.row` quoted as the csv module writes it,
    CRLF at the end) for incidents after (:after_year, :after_seq) (and created at or after
    :since with `since`), at most :limit of them, in id order: `year, seq, 0, id, head,
    answers, tail`, the line being head, the answers' cells (`csv_answer_lines`) and tail;
    head is NULL for an incident the Python path must flatten (and `csv_answer_lines` leaves
    to it a row whose tail needs quoting: a deadline ref). The plan: an index range scan
    of the incidents by (year, seq); per incident, its tasks, approvals and closures by
    index."""
    for value in deadline_ids:
        if not _IDENTIFIER.match(value):  # written into the statement: never anything else
            raise ValueError(f"unexpected playbook id {value!r}")
    sql = _Lines("postgresql")
    q = sql.quoted
    nl = "chr(13) || chr(10)"

    def time(column: str) -> str:
        return f"CASE WHEN {column} IS NOT NULL THEN {sql.time(column)} ELSE '' END"

    # Per incident its deadlines' cells, from the latest round's task per ref: the playbook's
    # refs in their columns, the others in `deadlines.other` (sorted by ref). A ref or status
    # that would need quoting is found by the client in the tail (`_plain_tails`): a regex per
    # task and `bool_or` were ~2 us of server CPU per row.
    due = time("t.due_at")
    refs = ", ".join(f"'{ref}'" for ref in deadline_ids) or "''"
    pivot = " || ',' || ".join(
        f"coalesce(max(CASE WHEN ref = '{ref}' THEN cell END), ',')" for ref in deadline_ids
    )
    other = f"CASE WHEN ref NOT IN ({refs}) THEN ref || '=' || due || ' (' || status || ')' END"
    # In "C" order (the Python path's sort): string_agg takes the rows in this order,
    # one sort per incident instead of a second one in the aggregate.
    latest = (
        f"""SELECT DISTINCT ON (t.ref COLLATE "C") t.ref, {due} AS due, t.status """
        "FROM tasks t WHERE t.incident_id = p.id AND t.kind = 'deadline' "
        """ORDER BY t.ref COLLATE "C", t.round DESC"""
    )
    others = f"coalesce(string_agg({other}, '; '), '')"
    source = f"(SELECT ref, due, status, due || ',' || status AS cell FROM ({latest}) l)"
    deadlines = (
        f"(SELECT {pivot + ' || ' + repr(',') + ' || ' if pivot else ''}{others} FROM {source} d)"
    )

    # The answers' cells are Python's (`csv_answer_lines`): the statement gives their JSON
    # text (escapes and all).
    answer_values = ["p.answers::text AS answers"]
    answers_ok = "json_typeof(p.answers) = 'object'"
    decided_by = "p.decided_by::text"
    # decided_by's cell before quoting, NULL for a stored shape the Python path writes; here
    # in the inner query, so that the outer one's three uses of it do not compute it again.
    decided = (
        f"CASE WHEN {decided_by} IS NULL THEN '' "
        f"WHEN {sql.plain(decided_by)} THEN {sql.joined(decided_by)} END"
    )
    approvals = (
        "(SELECT string_agg(a.approver_id || ':' || a.action || '@' || a.round, '; ' "
        "ORDER BY a.round, a.created_at, a.id) FROM approvals a WHERE a.incident_id = p.id)"
    )
    inner = [
        "p.year",
        "p.seq",
        "p.id",
        "p.status",
        "p.partner",
        "p.reporter_id",
        "coalesce(p.team_id, '') AS team_id",
        "p.locale",
        f"{time('p.created_at')} AS created_at",
        f"{time('p.updated_at')} AS updated_at",
        "p.round",
        "p.recommendation",
        "coalesce(p.decided_action, '') AS decided_action",
        f"{decided} AS decided",
        f"{time('p.decided_at')} AS decided_at",
        "coalesce(p.decision_reason, '') AS decision_reason",
        "CASE WHEN p.decided_action IS NULL THEN '' "
        "WHEN p.decided_action = p.recommendation THEN 'true' ELSE 'false' END AS followed",
        f"coalesce({approvals}, '') AS approvals",
        f"coalesce({_CURRENT_CLOSURE_OUTCOME_SQL}, '') AS outcome",
        f"CASE WHEN {answers_ok} THEN 1 ELSE 0 END AS answers_ok",
        *answer_values,
        f"{deadlines} AS deadlines",
    ]
    # Cells that never need quoting from the app's own values (ids, closed vocabularies): one
    # check of them all; a row where one would is the Python path's.
    plain_cells = " || ".join(
        [
            "id",
            "status",
            "reporter_id",
            "team_id",
            "locale",
            "recommendation",
            "decided_action",
            "approvals",
            "outcome",
        ]
    )
    cells = [
        "id",
        "status",
        sql.text_cell("partner"),
        "reporter_id",
        "team_id",
        "locale",
        "created_at",
        "updated_at",
        "round",
        "recommendation",
        "decided_action",
        q("decided"),
        "decided_at",
        sql.text_cell("decision_reason"),
        "followed",
        "approvals",
        sql.text_cell("outcome"),
        "deadlines",
    ]
    # The line is head, then the answers' cells (each after a comma), then tail.
    head = " || ',' || ".join(cells[: cells.index("deadlines")])
    return f"""
    SELECT year, seq, 0 AS needs_python, id,
           CASE WHEN answers_ok = 0 OR {sql.special(plain_cells)}
           THEN NULL ELSE {head} END AS head,
           answers,
           ',' || deadlines || {nl} AS tail
    FROM (SELECT {", ".join(inner)}
          FROM incidents p
          {_page_of_incidents(since=since)} OFFSET 0) page"""


async def iter_csv_lines(
    store: Store,
    *,
    layout: CsvLayout,
    since: datetime | None = None,
    page_size: int | None = None,
) -> AsyncGenerator[tuple[int, str], None]:
    """Every incident (created at or after `since`) as its CSV line of `layout`, in id order, a
    page at a time: (how many, the page's lines); the next page is read while this one is
    written. PostgreSQL builds the lines (`csv_lines_sql`; its work is in its own process);
    on SQLite, where whole lines in SQL took ~80 us of CPU per row, the statement writes the
    cells before the approvals and Python the rest (`_sqlite_csv_lines`)."""
    if store.dialect != "postgresql":
        async for page in _sqlite_csv_lines(store, layout, since, page_size):
            yield len(page), "".join(page)
        return
    statement = text(csv_lines_sql(layout.deadline_ids, since=since is not None))

    def line(row: Any) -> str | None:
        return row[4]  # type: ignore[no-any-return]

    def python_line(item: ExportedIncident) -> str:
        return csv_text([layout.row(item)])

    def lines(arrays: Sequence[list[Any]]) -> list[str | None]:
        return csv_answer_lines(layout, *arrays)

    async for page in _pages(
        store,
        statement,
        since,
        page_size,
        line,
        python_line,
        columns=["head", "answers", "tail"],
        make_all=lines,
    ):
        yield len(page), "".join(page)


async def _sqlite_csv_lines(
    store: Store, layout: CsvLayout, since: datetime | None, page_size: int | None
) -> AsyncGenerator[list[str], None]:
    """SQLite: the CSV lines of every incident (created at or after `since`), a page at a time.
    `csv_rows_sql` gives each row's first 15 cells as one text already written, then the
    approvals, the outcome, the answers' values and the deadlines (ref, due time as exported,
    status) in round order; Python writes the rest of the line."""
    statement = text(csv_rows_sql(store.dialect, layout.question_ids, since=since is not None))
    answer_cells, deadline_cells = layout.answer_cells, layout.deadline_cells

    def line(row: Any) -> str | None:
        deadlines = row[8]
        if deadlines is None:  # a due time stored in another format
            return None
        if len(deadlines) > 1:  # the latest round's per ref is the last
            deadlines = {deadline[0]: deadline for deadline in deadlines}.values()
        cells = [row[5], row[6], *answer_cells(row[7]), *deadline_cells(deadlines)]
        rest = ",".join(cells)
        if (
            rest.count(",") == len(cells) - 1
            and '"' not in rest
            and "\r" not in rest
            and "\n" not in rest
        ):
            return f"{row[4]},{rest}\r\n"
        head: str = row[4]
        return head + csv_text([["", *cells]])  # quoted by the csv module: ",…\r\n"

    def python_line(item: ExportedIncident) -> str:
        return csv_text([layout.row(item)])

    async for page in _pages(store, statement, since, page_size, line, python_line, paged=True):
        yield page


def csv_answer_lines(
    layout: CsvLayout, heads: list[str | None], answers: list[str], tails: list[str]
) -> list[str | None]:
    """PostgreSQL's CSV lines (`csv_lines_sql`: head, answers, tail; None where the head is)
    with the answers' cells made by `CsvLayout.answer_cells` and quoted by the csv module, a
    page at once: in SQL they were ~40% of the server's time per row, here less CPU in all.
    The page's rows are split at CRLF (an empty first cell gives each its leading comma); if
    a cell holds a CRLF too (one more piece), each row is written on its own. A tail whose
    deadline refs or statuses would need quoting (`_plain_tails`) leaves its row to Python."""
    heads = _plain_tails(layout, heads, tails)
    # A playbook has at least one question (bot/domain/playbook.py), so every row has cells here.
    question_ids, cells = layout.question_ids, layout.answer_cells
    built_answers = [text for head, text in zip(heads, answers, strict=True) if head is not None]
    # One `json.loads` of the page's objects as one array: ~1/4 less CPU than one call each.
    page = json.loads("[" + ",".join(built_answers) + "]")
    rows = [["", *cells(map(values.get, question_ids))] for values in page]
    segments = csv_text(rows).split("\r\n")
    if len(segments) != len(rows) + 1:  # a cell with a line break after all: each on its own
        segments = [csv_text([row])[:-2] for row in rows]
    built = iter(segments)
    return [
        None if head is None else head + next(built) + tail
        for head, tail in zip(heads, tails, strict=True)
    ]


def _plain_tails(layout: CsvLayout, heads: list[str | None], tails: list[str]) -> list[str | None]:
    """`heads`, None where the tail (`csv_lines_sql`: ",", the deadlines' cells, CRLF) holds a
    character the csv module quotes for: more commas than its cells' separators (a due time
    never holds one), a quote, or a CR / LF before its end. One check of the page's tails
    joined (each has at least its separators and one CRLF: equal totals mean every tail is
    plain), row by row only when that fails."""
    commas = 1 + 2 * len(layout.deadline_ids)
    joined = "".join(tails)
    rows = len(tails)
    if (
        joined.count(",") == commas * rows
        and '"' not in joined
        and joined.count("\r") == rows
        and joined.count("\n") == rows
    ):
        return heads

    def plain(tail: str) -> bool:
        end = len(tail) - 2
        return (
            tail.count(",") == commas
            and '"' not in tail
            and tail.find("\r") == end
            and tail.find("\n") == end + 1
        )

    return [head if plain(tail) else None for head, tail in zip(heads, tails, strict=True)]


# JSON objects as compact text (Python's `json` with ensure_ascii=False, separators "," ":"):
# the database builds each object's text around its answers, and Python puts in the answers
# (`_compact_answers`), which PostgreSQL did in ~40% of its time per row (split at '"', the
# spaces dropped from every other part, joined again: an array per row).


def _compact_answers(stored: str) -> str:
    """The answers' stored JSON text as `json_text` writes the object it holds. The app
    stores them with `json.dumps` (", " and ": " between items): without a backslash, every
    '"' starts or ends a string, so the text split at '"' alternates between outside (even
    places) and inside, and only the spaces outside go; anything else (escapes, other
    whitespace outside strings) is decoded and encoded again."""
    if "\\" in stored or "\n" in stored or "\t" in stored or "\r" in stored:
        return json_text(json.loads(stored))
    parts = stored.split('"')
    # the outside parts joined by NUL (never in a PostgreSQL text): one replace, not one each
    parts[0::2] = "\0".join(parts[0::2]).replace(" ", "").split("\0")
    return '"'.join(parts)


def json_lines_sql(*, since: bool) -> str:
    """PostgreSQL: one page of incidents as the compact text of `incident_json`'s object, like
    `csv_lines_sql`: `year, seq, 0, id, head, answers, tail`, the object's text being head, the
    answers compacted (`_compact_answers` of their stored text) and tail; head is NULL for the
    Python path."""
    sql = _Lines("postgresql")

    def text_(value: str) -> str:
        return f"coalesce(to_json(({value})::text)::text, 'null')"

    def time(column: str) -> str:
        return f"CASE WHEN {column} IS NOT NULL THEN {sql.time(column)} END"

    def members(*pairs: tuple[str, str]) -> str:
        return " || ',' || ".join(f"'\"{k}\":' || {v}" for k, v in pairs)

    # Each approval's object is `row_to_json` of its subquery's row (its columns are the keys,
    # in order; texts escaped as `to_json` does, compact). string_agg takes the rows in the
    # subquery's order.
    approvals = (
        "coalesce((SELECT '[' || string_agg(row_to_json(x)::text, ',') || ']' "
        "FROM (SELECT a.round, a.approver_id, a.action, "
        f"coalesce({time('a.created_at')}, '') AS at FROM approvals a "
        "WHERE a.incident_id = p.id ORDER BY a.round, a.created_at, a.id) x), '[]')"
    )
    # A deadline task's object member by member: `to_json` only for the two free texts (ref,
    # owner_id); its status is a closed vocabulary (`TASK_STATUSES`, checked by the table) and
    # its times need no escape, so they are quoted as they are. `row_to_json` looked up each
    # column's type for every row (~1/7 of the statement's CPU).
    deadline = (
        """'{"ref":' || to_json(d.ref)::text || ',"round":' || d.round """
        """|| ',"due_at":' || coalesce('"' || d.due_at || '"', 'null') """
        """|| ',"status":"' || d.status || '","done_at":' """
        """|| coalesce('"' || d.done_at || '"', 'null') """
        """|| ',"owner_id":' || coalesce(to_json(d.owner_id)::text, 'null') || '}'"""
    )
    deadlines = (
        # by ref in "C" order, the order of the index migration 0012 made for this: no sort
        f"coalesce((SELECT '[' || string_agg({deadline}, ',') || ']' "
        f"""FROM (SELECT DISTINCT ON (t.ref COLLATE "C") t.ref, t.round, """
        f"{time('t.due_at')} AS due_at, t.status, {time('t.done_at')} AS done_at, t.owner_id "
        "FROM tasks t WHERE t.incident_id = p.id AND t.kind = 'deadline' "
        """ORDER BY t.ref COLLATE "C", t.round DESC) d), '[]')"""
    )
    decided_by = "p.decided_by::text"
    head = members(
        ("id", text_("p.id")),
        ("status", text_("p.status")),
        ("partner", text_("p.partner")),
        ("reporter_id", text_("p.reporter_id")),
        ("team_id", text_("p.team_id")),
        ("locale", text_("p.locale")),
        # The times are quoted as they are: their text never needs an escape (digits, '-', ':',
        # '.', 'T', '+'), and `to_json` looks its argument's type up at every call.
        ("created_at", f"""'"' || coalesce({time("p.created_at")}, '') || '"'"""),
        ("updated_at", f"""'"' || coalesce({time("p.updated_at")}, '') || '"'"""),
        ("round", "p.round"),
        ("recommendation", text_("p.recommendation")),
        ("decided_action", text_("p.decided_action")),
        (
            "decided_by",
            f"CASE WHEN {decided_by} IS NULL THEN '[]' "
            f"""ELSE replace({decided_by}, '", "', '","') END""",
        ),
        ("decided_at", f"""coalesce('"' || {time("p.decided_at")} || '"', 'null')"""),
        ("decision_reason", text_("p.decision_reason")),
        (
            "followed_recommendation",
            "CASE WHEN p.decided_action IS NULL THEN 'null' "
            "WHEN p.decided_action = p.recommendation THEN 'true' ELSE 'false' END",
        ),
        ("approvals", approvals),
        ("outcome", text_(_CURRENT_CLOSURE_OUTCOME_SQL)),
    )
    python_only = f"{decided_by} IS NOT NULL AND NOT {sql.plain(decided_by)}"
    return f"""
    SELECT p.year, p.seq, 0 AS needs_python, p.id,
           CASE WHEN {python_only} THEN NULL ELSE '{{' || {head} || ',"answers":' END AS head,
           p.answers::text AS answers,
           ',"deadlines":' || {deadlines} || '}}' AS tail
    FROM incidents p
    {_page_of_incidents(since=since)}"""


def json_line_text(head: str | None, answers: str, tail: str) -> str | None:
    """A `json_lines_sql` line from its parts (None: the Python path's)."""
    return None if head is None else head + _compact_answers(answers) + tail


def sqlite_json_lines_sql(*, since: bool) -> str:
    """SQLite: one page of incidents as the compact text of `incident_json`'s object:
    `year, seq, needs_python (0), id, line`, the line NULL for the Python path.

    The answers and decided_by are the stored JSON text minified by `json()` (kept as written:
    key order, number literals, string escapes), which is Python's text for them when the
    store wrote them (`json.dumps`, ensure_ascii off: the export's own rules but for the
    spaces); any with a backslash go to Python, as on PostgreSQL (`json_lines_sql`). Texts are
    quoted by `json_quote`, whose escapes are Python's (a backslash before a quote or a
    backslash; b, t, n, f, r; u00XX in lower case for the other control characters). A time
    stored in another format makes the line NULL."""
    sql = _Sql("sqlite")

    def time(column: str) -> str:
        return f"CASE WHEN {column} IS NOT NULL THEN {sql.time(column)} END"

    def obj(*pairs: tuple[str, str]) -> str:
        return "'{' || " + " || ',' || ".join(f"'\"{k}\":' || {v}" for k, v in pairs) + " || '}'"

    def array(item: str, bad: str, rows: str, null_when: str = "") -> str:
        """The JSON array of `item` over `rows`, in their order; NULL when `bad` for one (or
        `null_when`, an aggregate of `rows`)."""
        return (
            f"(SELECT CASE WHEN max(bad) THEN NULL {null_when} WHEN count(*) = 0 THEN '[]' "
            f"ELSE '[' || group_concat(item, ',') || ']' END "
            f"FROM (SELECT {item} AS item, ifnull({bad}, 0) AS bad, {rows}))"
        )

    approvals = array(
        obj(
            ("round", "a.round"),
            ("approver_id", "json_quote(a.approver_id)"),
            ("action", "json_quote(a.action)"),
            ("at", f"json_quote({time('a.created_at')})"),
        ),
        str(sql.time_unusual("a.created_at")),
        "a.id FROM approvals a WHERE a.incident_id = p.id ORDER BY a.round, a.created_at, a.id",
    )
    deadline = obj(
        ("ref", "json_quote(t.ref)"),
        ("round", "t.round"),
        ("due_at", f"json_quote({time('t.due_at')})"),
        ("status", "json_quote(t.status)"),
        ("done_at", f"json_quote({time('t.done_at')})"),
        ("owner_id", "json_quote(t.owner_id)"),
    )
    bad_times = f"({sql.time_unusual('t.due_at')}) OR ({sql.time_unusual('t.done_at')})"
    deadline_tasks = "FROM tasks t WHERE t.incident_id = p.id AND t.kind = 'deadline'"
    # Most incidents have their deadlines from one round: then they are simply in ref order
    # (a GROUP BY per incident was ~1/8 of the statement's time); for the others (NULL) the
    # latest round's task per ref, sorted (max(t.round): the other columns are that task's,
    # SQLite's bare columns).
    deadlines = (
        "coalesce("
        + array(
            deadline,
            bad_times,
            f"t.round AS round {deadline_tasks} ORDER BY t.round, t.ref",
            "WHEN min(round) < max(round) THEN NULL",
        )
        + ", "
        + array(deadline, bad_times, f"max(t.round) {deadline_tasks} GROUP BY t.ref ORDER BY t.ref")
        + ")"
    )
    record = obj(
        ("id", "json_quote(p.id)"),
        ("status", "json_quote(p.status)"),
        ("partner", "json_quote(p.partner)"),
        ("reporter_id", "json_quote(p.reporter_id)"),
        ("team_id", "json_quote(p.team_id)"),
        ("locale", "json_quote(p.locale)"),
        ("created_at", f"json_quote({time('p.created_at')})"),
        ("updated_at", f"json_quote({time('p.updated_at')})"),
        ("round", "p.round"),
        ("recommendation", "json_quote(p.recommendation)"),
        ("decided_action", "json_quote(p.decided_action)"),
        ("decided_by", "ifnull(json(p.decided_by), '[]')"),
        ("decided_at", f"json_quote({time('p.decided_at')})"),
        ("decision_reason", "json_quote(p.decision_reason)"),
        (
            "followed_recommendation",
            "CASE WHEN p.decided_action IS NULL THEN 'null' "
            "WHEN p.decided_action = p.recommendation THEN 'true' ELSE 'false' END",
        ),
        ("approvals", approvals),
        ("outcome", f"json_quote({_CURRENT_CLOSURE_OUTCOME_SQL})"),
        ("answers", "json(p.answers)"),
        ("deadlines", deadlines),
    )
    python_only = " OR ".join(
        [
            f"instr(p.answers, {_BACKSLASH})",
            f"instr(ifnull(p.decided_by, ''), {_BACKSLASH})",
            *(
                f"({sql.time_unusual(f'p.{column}')})"
                for column in ("created_at", "updated_at", "decided_at")
            ),
        ]
    )
    line = f"CASE WHEN {python_only} THEN NULL ELSE {record} END"
    return _rows_sql(
        ["p.year", "p.seq", "0 AS needs_python", "p.id", f"{line} AS line"], since=since
    )


async def iter_json_lines(
    store: Store,
    *,
    since: datetime | None = None,
    page_size: int | None = None,
    separator: str = "\n",
) -> AsyncGenerator[tuple[int, str], None]:
    """Every incident (created at or after `since`) as the compact JSON text of its object
    (`json_text(incident_json(...))`), in id order, a page at a time: (how many, their texts
    joined by `separator`). The database builds the texts (`json_lines_sql`,
    `sqlite_json_lines_sql`)."""

    def python_line(item: ExportedIncident) -> str:
        return json_text(incident_json(item))

    if store.dialect != "postgresql":
        rows_sql = sqlite_json_lines_sql(since=since is not None)
        async for count, joined in _sqlite_text_pages(
            store, rows_sql, since, page_size, python_line, separator
        ):
            yield count, joined
        return
    statement = text(json_lines_sql(since=since is not None))

    def line(row: Any) -> str | None:
        return json_line_text(row[4], row[5], row[6])

    def lines(arrays: Sequence[list[Any]]) -> list[str | None]:
        heads, answers, tails = arrays
        return [json_line_text(*parts) for parts in zip(heads, answers, tails, strict=True)]

    async for page in _pages(
        store,
        statement,
        since,
        page_size,
        line,
        python_line,
        columns=["head", "answers", "tail"],
        make_all=lines,
    ):
        yield len(page), separator.join(page)
