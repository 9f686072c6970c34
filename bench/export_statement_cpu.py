"""PostgreSQL's CPU per exported incident for `leakbot export`'s page statements, without the CLI.

Runs the statements this tree's `bot/store/export.py` builds (`csv_lines_sql`, `json_lines_sql`,
each page aggregated into one row of arrays as `_pages` does) over every page of an existing
database, on one connection, and prints the backend's CPU (/proc/<pid>/stat utime + stime) per
row, the client's CPU to decode the pages, and the load average. Each statement runs `--rounds`
times over the whole table (the first warms the cache); the last round is printed.

    .venv/bin/python bench/export_statement_cpu.py --db leakbot_bench_n100000_…_0012_…

Run it from two trees (before / after) against their databases, alternating, to compare one
change's server CPU: less noisy than wall time on a shared machine. Read-only. The server must
be local (it reads /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

import _common as common
import asyncpg

from bot.domain.export import CsvLayout
from bot.domain.playbook import load_playbook
from bot.store.export import (
    _FIRST_KEY,
    _LAST_KEY,
    _PAGE_BOUNDS_SQL,
    EXPORT_PAGE_SIZE,
    csv_lines_sql,
    json_lines_sql,
)

PARAMETERS = (":after_year", ":after_seq", ":upto_year", ":upto_seq", ":limit")


def _backend_cpu_s(pid: int) -> float:
    cpu = common.proc_cpu_s(pid)
    if cpu is None:
        raise SystemExit(
            f"cannot read the PostgreSQL backend's CPU (/proc/{pid}/stat): "
            "run this on the server's machine"
        )
    return cpu


def _page_statement(lines_sql: str) -> str:
    """As `_pages` sends it: the page's columns as arrays, the parameters numbered."""
    arrays = ", ".join(
        f"array_agg({column})" for column in ("year", "seq", "id", "head", "answers", "tail")
    )
    statement = f"SELECT {arrays} FROM ({lines_sql} OFFSET 0) page_rows"
    for number, name in enumerate(PARAMETERS, 1):
        statement = statement.replace(name, f"${number}")
    return statement


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True, help="database name on the local server")
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    layout = CsvLayout(load_playbook())
    statements = {
        "csv": csv_lines_sql(layout.deadline_ids, since=False),
        "jsonl": json_lines_sql(since=False),
    }
    conn = await asyncpg.connect(args.url + args.db)
    try:
        await conn.execute("SET jit = off")  # as `_pages`
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        bounds_sql = _PAGE_BOUNDS_SQL.format(since="").replace(":limit", "$1")
        bounds = [tuple(row) for row in await conn.fetch(bounds_sql, EXPORT_PAGE_SIZE)]
        ranges = list(zip([_FIRST_KEY, *bounds], [*bounds, _LAST_KEY], strict=True))
        for name, lines_sql in statements.items():
            prepared = await conn.prepare(_page_statement(lines_sql))
            for _ in range(args.rounds):
                server, client, started = _backend_cpu_s(pid), time.process_time(), time.time()
                rows = 0
                for after, upto in ranges:
                    page = await prepared.fetchrow(*after, *upto, EXPORT_PAGE_SIZE + 1)
                    rows += len(page[0] or ())
                server = _backend_cpu_s(pid) - server
                client = time.process_time() - client
                wall = time.time() - started
            print(
                f"{args.db} {name}: {rows:,} rows, server {1e6 * server / rows:.1f} us/row, "
                f"client (decode) {1e6 * client / rows:.1f} us/row, wall {wall:.1f} s, "
                f"load average {os.getloadavg()[0]:.2f}",
                flush=True,
            )
    finally:
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
