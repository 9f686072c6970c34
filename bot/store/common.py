"""Small helpers shared by the store modules: JSON as stored, time checks, rows to records."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import fields
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import BindParameter, bindparam
from sqlalchemy.engine import RowMapping
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.schema import Table

from .aio import AsyncConnection

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql as pg
    from sqlalchemy.dialects import sqlite

RecordT = TypeVar("RecordT")


def canonical_json(value: Any) -> str:
    """Deterministic JSON (sorted keys, no spaces, UTF-8 text): the audit hash input."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def dumps(value: Any) -> str:
    """JSON for the JSON columns (the engines' serialiser)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def plain(value: Any) -> Any:
    """The value as it will come back from a JSON column (tuples → lists, keys → str)."""
    return None if value is None else json.loads(canonical_json(value))


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def aware(name: str, value: datetime) -> datetime:
    """`value`, or ValueError when it is not an aware datetime."""
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (UTC), got {value!r}")
    return value


def to_record(cls: type[RecordT], row: RowMapping, **converted: Any) -> RecordT:
    """A record dataclass from a row with the same column names (some values converted)."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    return cls(**{name: converted[name] if name in converted else row[name] for name in names})


def chunks(values: Iterable[str], size: int = 500) -> list[list[str]]:
    """Distinct values in lists of `size` (bounded IN lists, for both databases)."""
    distinct = list(dict.fromkeys(values))
    return [distinct[i : i + size] for i in range(0, len(distinct), size)]


def is_postgres(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


def insert(conn: AsyncConnection | bool, table: Table) -> pg.Insert | sqlite.Insert:
    """The dialect's INSERT (for ON CONFLICT upserts) for a connection, or for PostgreSQL
    (True) / SQLite (False). Each dialect's module is imported when its database is used (the
    engine loads it then anyway), not at start."""
    if conn is True or (not isinstance(conn, bool) and is_postgres(conn)):
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def on_the_hour(*moments: datetime) -> bool:
    """Every moment is a whole UTC hour: a range between them is a range of kept hour rows."""
    return all(
        moment.utcoffset() is not None
        and moment.astimezone(UTC).timetz().replace(hour=0, tzinfo=None) == time()
        for moment in moments
    )


# Rows go to a statement built once (`conn.execute(stmt, rows)`), never into the statement
# (`.values(rows)`): a multi-row VALUES has no cache key, so SQLAlchemy compiled it again on
# every run (a decision ran five: ~5 ms of CPU per click, bench/ack_statements.py). Several
# rows still make one INSERT (SQLAlchemy's "insertmanyvalues": one statement, rows in order).


# -- UPDATE statements built once: the new values are parameters ---------------------------------
# An UPDATE built per call costs more CPU than running it (construction, then its cache key):
# statements that set a varying set of columns are built once per set, with `set_values` in
# `.values(...)` and `set_params` among the parameters (bench/README.md, "ackcpu, third pass").


def set_values(table: Table, columns: tuple[str, ...]) -> dict[str, BindParameter[Any]]:
    """`column: bindparam` for `.values(...)` of a statement built once per set of columns."""
    return {column: bindparam(f"set_{column}", type_=table.c[column].type) for column in columns}


def set_params(values: dict[str, Any]) -> dict[str, Any]:
    """The parameters `set_values` names, for these values."""
    return {f"set_{column}": value for column, value in values.items()}


def plain_values(values: dict[str, Any]) -> bool:
    """Values a statement built once can take as parameters (no SQL expressions)."""
    return not any(isinstance(value, ClauseElement) for value in values.values())
