"""The follow-through's minute pass at scale (`FollowThrough.run`: the sweep of recent decisions,
reminders and overdue notices, missed partner reports, approval escalations).

For each size and database: the shared bench data set (bench/_dataset.py, at the code's head;
from the cache with `--cache DIR` / $LEAKBOT_BENCH_CACHE), COPIED to a scratch database (the
passes write: outbox items, audit rows, schedule times; the cached set must stay as it is), then
passes exactly as the scheduler runs them, on a fixed clock:

- the first pass at the data set's NOW (what the first minute after deploying the code does:
  after migration 0011, the one-time look at every pending incident and open task);
- then `--steady` passes one minute apart (a steady minute: nothing new was reported).

Per pass: process CPU (the event loop and aiosqlite's thread; PostgreSQL's server CPU is not
in it), wall time, SQL statements executed, and the outbox items and audit rows it added.
The bench helpers (bench/_common.py) put their own checkout first on the path, so the "before"
runs this script from a copy of the other code (`git archive`), with this venv:

    .venv/bin/python bench/followthrough_scale.py --sizes 10000,100000 --steady 3
    git archive main | tar -x -C /tmp/main-code
    cp bench/followthrough_scale.py /tmp/main-code/bench/
    cd /tmp && /work/wt/NAME/.venv/bin/python /tmp/main-code/bench/followthrough_scale.py ...
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import _common as common
import _dataset
from _dataset import NOW

HEADERS = [
    "db",
    "incidents",
    "head",
    "pass",
    "CPU ms",
    "wall ms",
    "statements",
    "outbox +",
    "audit +",
]


@dataclass
class Pass:
    label: str
    cpu_ms: float
    wall_ms: float
    statements: int
    outbox_added: int
    audit_added: int


@dataclass
class Result:
    db: str
    incidents: int
    tasks: int
    code: str
    passes: list[Pass] = field(default_factory=list)
    load: str = ""


async def _counts(store: Any) -> tuple[int, int]:
    from sqlalchemy import func, select

    from bot.store.tables import audit_log, outbox

    async with store.read() as conn:
        items = (await conn.execute(select(func.count()).select_from(outbox))).scalar_one()
        audits = (await conn.execute(select(func.count()).select_from(audit_log))).scalar_one()
    return int(items), int(audits)


async def run_passes(db: str, url: str, steady: int) -> list[Pass]:
    from sqlalchemy import event

    import bot

    print(f"    code: {Path(bot.__file__).parent}", flush=True)
    clock = common.FixedClock(NOW)
    store, follow = await common.open_follow_through(
        url, clock, LEAKBOT_ESCALATION_APPROVERS="UESCALATE1"
    )
    statements = [0]

    def count(*_: Any) -> None:
        statements[0] += 1

    event.listen(store._engine.sync_engine, "before_cursor_execute", count)
    passes: list[Pass] = []
    try:
        for i in range(steady + 1):
            clock.moment = NOW + timedelta(minutes=i)
            before = await _counts(store)
            statements[0] = 0
            c0, t0 = time.process_time(), time.perf_counter()
            await follow.run()
            cpu, wall = time.process_time() - c0, time.perf_counter() - t0
            ran = statements[0]
            after = await _counts(store)
            label = "first" if i == 0 else f"steady {i}"
            passes.append(
                Pass(
                    label,
                    round(cpu * 1000, 1),
                    round(wall * 1000, 1),
                    ran,
                    after[0] - before[0],
                    after[1] - before[1],
                )
            )
            print(f"    [{db}] {label}: {passes[-1]}  (load {common.loadavg()})", flush=True)
    finally:
        event.remove(store._engine.sync_engine, "before_cursor_execute", count)
        await store.close()
    return passes


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common.add_scale_arguments(parser, sizes="10000,100000")
    parser.add_argument("--steady", type=int, default=3, help="passes after the first")
    args = parser.parse_args()
    results: list[Result] = []
    with common.workdir("leakbot-followthrough-") as work:
        print(f"load average: {common.loadavg()}", flush=True)
        async for db, ds, url in common.scratch_datasets(args, work):
            result = Result(db, ds.incidents, ds.tasks, _dataset.head_revision())
            result.passes = await run_passes(db, url, args.steady)
            result.load = common.loadavg()
            results.append(result)
    print()
    print("FollowThrough.run per pass (CPU: this process; statements: SQL executed)")
    table = []
    for r in results:
        for p in r.passes:
            figures = [p.cpu_ms, p.wall_ms, p.statements, p.outbox_added, p.audit_added]
            table.append([r.db, f"{r.incidents:,}", r.code, p.label, *figures])
    print(
        common.table(
            HEADERS,
            table,
        )
    )
    print(f"\n(load average now {common.loadavg()})")
    common.write_json(args.json, [asdict(r) for r in results])
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
