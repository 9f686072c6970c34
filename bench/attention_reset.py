"""What a settings change costs at start: `FollowThrough.follow_settings` setting every live
row's escalation or attention time to "look now" (bot/store/attention.py `look_now_statements`,
in batches of `LOOK_NOW_BATCH` rows per transaction).

For each size and database: a scratch copy of the shared data set (_common.py's
`scratch_copy`), every pending incident's and open task's time (with a due time) put a day ahead
of NOW in one statement — the worst case: a steady deployment where every row's next moment is
still to come — and then the reset, timed: process CPU, wall time, statements, transactions,
rows set, and on PostgreSQL the server CPU of the store's backends (/proc). Then the same call
again (the settings now recorded: one read). Prints the load average with every figure;
`--explain` prints PostgreSQL's plan of each batch statement first; `--reindex` clears a mark
that keeps PostgreSQL from using 0011's indexes on this shared machine (`_reindex`).

    LEAKBOT_BENCH_CACHE=/work/bench-cache-100k .venv/bin/python bench/attention_reset.py
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

import _common as common
from _dataset import NOW

HEADERS = [
    "db",
    "incidents",
    "call",
    "incidents set",
    "tasks set",
    "CPU ms",
    "server CPU ms",
    "wall ms",
    "statements",
    "transactions",
    "µs CPU/row",
]


@dataclass
class Reset:
    db: str
    incidents: int
    call: str
    incidents_set: int
    tasks_set: int
    cpu_ms: float
    server_cpu_ms: float | None
    wall_ms: float
    statements: int
    transactions: int
    load: str


async def _backend_cpu(url: str) -> dict[int, float]:
    """CPU seconds so far of each server backend connected to the database (PostgreSQL)."""
    import asyncpg

    database = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(common._libpq(common.pg_url("postgres")))
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await conn.close()
    return {row[0]: cpu for row in rows if (cpu := common.proc_cpu_s(row[0])) is not None}


async def _ahead(store: Any) -> None:
    from sqlalchemy import true

    from bot.store.tables import incidents, tasks

    later = NOW + timedelta(days=1)
    await store.write(
        lambda conn: conn.execute(
            incidents.update()
            .where(incidents.c.status == "pending")
            .values(next_escalation_at=later)
        )
    )

    async def tasks_ahead(conn: Any) -> None:
        await conn.execute(
            tasks.update()
            .where(tasks.c.status == "open")
            .where(tasks.c.due_at.is_not(None))
            .where(tasks.c.live == true())
            .values(next_attention_at=later)
        )

    await store.write(tasks_ahead)


async def _reindex(url: str) -> None:
    """Migration 0011 backfills and creates its indexes in one transaction, so PostgreSQL marks
    them `indcheckxmin`: no plan uses them while a transaction older than the migration is open
    anywhere in the cluster — on this shared machine, a data set build that runs for many
    minutes. REINDEX on the scratch copy clears the mark (what an operator's database has once
    the migration's transaction is older than every other); ANALYZE gives the steady state's
    statistics (the times a day ahead)."""
    import asyncpg

    conn = await asyncpg.connect(common._libpq(url))
    try:
        for index in (
            "ix_incidents_status_next_escalation_at",
            "ix_tasks_status_live_next_attention_at",
        ):
            await conn.execute(f"REINDEX INDEX {index}")
        await conn.execute("ANALYZE incidents, tasks")
        marked = await conn.fetch(
            "SELECT c.relname, i.indcheckxmin FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE c.relname IN ('ix_incidents_status_next_escalation_at',"
            " 'ix_tasks_status_live_next_attention_at')"
        )
        print(f"    reindexed, analyzed; indcheckxmin: {dict(marked)}", flush=True)
    finally:
        await conn.close()


async def _explain(store: Any) -> None:
    """PostgreSQL's plan of each batch statement (EXPLAIN, nothing run)."""
    from bot.followthrough import LOOK_NOW_BATCH
    from bot.store.attention import look_now_statements

    async with store.read() as conn:
        for table, statement in look_now_statements():
            compiled = statement.compile(dialect=conn.dialect)
            params = compiled.construct_params({"now": NOW, "limit": LOOK_NOW_BATCH})
            values = tuple(params[name] for name in compiled.positiontup)
            plan = await conn.exec_driver_sql(f"EXPLAIN {compiled}", values)
            print(f"    {table}:\n      " + "\n      ".join(row[0] for row in plan.all()))


async def run_resets(db: str, url: str, n: int, *, explain: bool, reindex: bool) -> list[Reset]:
    from sqlalchemy import event

    store, follow = await common.open_follow_through(url, common.FixedClock(NOW))
    counts = {"statements": 0, "transactions": 0}

    def statement(*_: Any) -> None:
        counts["statements"] += 1

    def begin(*_: Any) -> None:
        counts["transactions"] += 1

    engine = store._engine.sync_engine
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "begin", begin)
    out: list[Reset] = []
    try:
        await _ahead(store)
        if reindex and db == "postgresql":
            await _reindex(url)
        if explain and db == "postgresql":
            await _explain(store)
        for call in ("changed", "unchanged"):
            counts.update(statements=0, transactions=0)
            server0 = await _backend_cpu(url) if db == "postgresql" else {}
            c0, t0 = time.process_time(), time.perf_counter()
            reset = await follow.follow_settings()
            cpu, wall = time.process_time() - c0, time.perf_counter() - t0
            server = None
            if db == "postgresql":
                server1 = await _backend_cpu(url)
                server = sum(v - server0.get(pid, 0.0) for pid, v in server1.items())
            out.append(
                Reset(
                    db,
                    n,
                    call,
                    reset.incidents if reset else 0,
                    reset.tasks if reset else 0,
                    round(cpu * 1000, 1),
                    None if server is None else round(server * 1000, 1),
                    round(wall * 1000, 1),
                    counts["statements"],
                    counts["transactions"],
                    common.loadavg(),
                )
            )
            print(f"    {out[-1]}", flush=True)
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "begin", begin)
        await store.close()
    return out


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common.add_scale_arguments(parser, sizes="10000,100000")
    parser.add_argument("--explain", action="store_true", help="print PostgreSQL's plans first")
    parser.add_argument(
        "--reindex",
        action="store_true",
        help="PostgreSQL: REINDEX the 0011 indexes and ANALYZE first (see _reindex)",
    )
    args = parser.parse_args()
    results: list[Reset] = []
    with common.workdir("leakbot-attention-reset-") as work:
        print(f"load average: {common.loadavg()}", flush=True)
        async for db, ds, url in common.scratch_datasets(args, work):
            results += await run_resets(
                db, url, ds.incidents, explain=args.explain, reindex=args.reindex
            )
    print()
    print("FollowThrough.follow_settings (CPU: this process; server CPU: PostgreSQL's backends)")
    table = []
    for r in results:
        rows_set = r.incidents_set + r.tasks_set
        total_ms = r.cpu_ms + (r.server_cpu_ms or 0.0)
        per_row = round(total_ms * 1000 / rows_set, 1) if rows_set else "-"
        table.append(
            [
                r.db,
                f"{r.incidents:,}",
                r.call,
                r.incidents_set,
                r.tasks_set,
                r.cpu_ms,
                r.server_cpu_ms if r.server_cpu_ms is not None else "-",
                r.wall_ms,
                r.statements,
                r.transactions,
                per_row,
            ]
        )
    print(common.table(HEADERS, table))
    print(f"\n(load average now {common.loadavg()})")
    common.write_json(args.json, [asdict(r) for r in results])
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
