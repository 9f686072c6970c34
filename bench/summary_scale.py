"""The weekly summary's time at scale: 10,000 and 1,000,000 incidents, SQLite and PostgreSQL.

For each size and database: the shared bench data set (bench/_dataset.py: generated with a
realistic spread, bulk-loaded at the base revision, upgraded to the code's head; from the cache
with `--cache DIR` / $LEAKBOT_BENCH_CACHE), then the summary is built several times exactly as
the app builds it: `FollowThrough.summary_data` (the aggregate queries of bot/store/reports.py)
+ `summary_message` (Block Kit rendering). Median of the runs.

    .venv/bin/python bench/summary_scale.py                         # 10k and 1M, both databases
    .venv/bin/python bench/summary_scale.py --sizes 10000 --dbs sqlite --explain
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import _common as common
import _dataset
from _dataset import NOW

# ----------------------------------------------------------------------------- timing


@dataclass
class Timing:
    db: str
    incidents: int
    tasks: int
    load_s: float
    runs: int
    data_ms: list[float]
    render_ms: list[float]
    total_ms: list[float]
    median_total_ms: float = 0.0
    median_data_ms: float = 0.0
    median_render_ms: float = 0.0
    queries: list[tuple[str, float]] = field(default_factory=list)
    db_size_mb: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)
    upgrade_s: float | None = None  # the data set's upgrade from the base revision to head
    data_source: str = ""  # which (cached) data set


class QueryTimer:
    """Per-statement execute time through SQLAlchemy's cursor events (label: first words)."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.samples: list[tuple[str, float]] = []
        self.active = False

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def before(
            conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
        ) -> None:
            conn.info["bench_t0"] = time.perf_counter()

        @event.listens_for(engine.sync_engine, "after_cursor_execute")
        def after(
            conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
        ) -> None:
            if self.active:
                elapsed = (
                    time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())
                ) * 1000
                self.samples.append((_label(statement), elapsed))


def _label(statement: str) -> str:
    text = " ".join(statement.split())
    low = text.lower()
    if low.startswith("begin") or low.startswith("select 1"):
        return text[:20]
    # Issue 14, migration 0008: the merged statements of bot/store/reports.py.
    if "incident_hour_counts" in low and "decision_hour_counts" in low:
        return "kept counts: statuses, week's incidents, decisions by action"
    if "julianday" in low or "extract(epoch" in low:
        return "median time to decision"
    if "from deadline_counts group by" in low:
        return "kept deadline counts (overdue, upcoming, first due day)"
    if "as partner" in low and "from tasks" in low:
        return "first deadlines (overdue, upcoming) with partners"
    if "from tasks" in low and "group by" in low and "union all" in low:
        return "deadline counts: today's and the last day's index ranges"
    if "partners.partner_key in" in low:
        return "repeat partners"
    if "union all" in low and "from incidents" in low:
        return "first incidents (opened, decided, pending, newest open)"
    if "count(" in low and "join" in low:
        return "count deadlines (join)"
    if "join" in low:
        return "first deadlines (join)"
    if "group by incidents.partner_key" in low:
        return "repeat partners"
    if "group by incidents.decided_action" in low:
        return "decisions by action"
    where = low.split(" where ", 1)[1][:70] if " where " in low else ""
    kind = "count" if low.startswith("select count") else "first rows"
    return f"{kind}: {where}"


async def time_summary(
    db: str, url: str, runs: int, explain: bool
) -> tuple[list[float], list[float], list[float], list[tuple[str, float]], dict[str, Any]]:
    from bot.clock import SystemClock
    from bot.config import load_settings
    from bot.domain.playbook import load_playbook
    from bot.domain.summary import previous_week
    from bot.followthrough import FollowThrough
    from bot.service import IncidentService, ServiceConfig
    from bot.slack.app import follow_config
    from bot.slack.blocks.summary import summary_message
    from bot.store import Store

    settings = load_settings(
        _env_file=None,
        **common.leakbot_env("http://127.0.0.1:9/api/", url, 3000),
    )
    playbook = load_playbook(settings.LEAKBOT_PLAYBOOK)
    store = await Store.open(url)
    service = IncidentService(
        store,
        playbook,
        ServiceConfig(tz=settings.tz, channel_lang="ja", escalation_channel=common.CHANNEL),
        SystemClock(),
    )
    follow = FollowThrough(store, service, follow_config(settings), SystemClock())
    week = previous_week(NOW, settings.tz)
    timer = QueryTimer(store._engine)
    from bot.store.chart import weekly_actions

    data_ms, render_ms, total_ms, chart_ms, cpu_ms = [], [], [], [], []
    per_query: list[list[tuple[str, float]]] = []
    figures: dict[str, Any] = {}
    try:
        for i in range(runs + 1):  # the first run warms the caches and is not counted
            timer.samples = []
            timer.active = True
            t0 = time.perf_counter()
            c0 = time.process_time()
            data = await follow.summary_data(week, now=NOW)
            t1 = time.perf_counter()
            cpu_ms.append((time.process_time() - c0) * 1000)
            timer.active = False
            message = summary_message(playbook, data, "ja", settings.tz)
            t2 = time.perf_counter()
            # The chart's counts (12 weeks by action and status): timed apart, not in the above.
            await weekly_actions(store, week, settings.tz)
            chart_ms.append((time.perf_counter() - t2) * 1000)
            if i == 0:
                figures = {
                    "week": week.label,
                    "opened": data.opened.total,
                    "decided": data.decided.total,
                    "pending": data.pending.total,
                    "overdue": data.overdue.total,
                    "upcoming": data.upcoming.total,
                    "repeat_partners": data.repeat_partners.total,
                    "open": data.open_incidents.total,
                    "blocks": len(message["blocks"]),
                }
                continue
            data_ms.append((t1 - t0) * 1000)
            render_ms.append((t2 - t1) * 1000)
            total_ms.append((t2 - t0) * 1000)
            per_query.append(list(timer.samples))
        figures["chart_query_ms_median"] = round(statistics.median(chart_ms[1:] or chart_ms), 1)
        # Process CPU (both threads: the event loop and aiosqlite's) and statements per summary.
        figures["queries_cpu_ms_median"] = round(statistics.median(cpu_ms[1:] or cpu_ms), 1)
        figures["statements"] = len(per_query[0]) if per_query else 0
        if explain:
            await print_plans(follow, store, db, week)
    finally:
        await store.close()
    # Per-statement medians across runs (statements come in the same order every run).
    medians: list[tuple[str, float]] = []
    if per_query:
        for k in range(min(len(q) for q in per_query)):
            medians.append((per_query[0][k][0], statistics.median(q[k][1] for q in per_query)))
    return data_ms, render_ms, total_ms, medians, figures


async def print_plans(follow: Any, store: Any, db: str, week: Any) -> None:
    """EXPLAIN (QUERY PLAN) of every SELECT the summary runs, with its own parameters."""
    from sqlalchemy import event

    statements: list[tuple[str, Any]] = []
    engine = store._engine

    def grab(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        low = " ".join(statement.split()).lower()
        if low.startswith("select") and not low.startswith("select 1"):
            statements.append((statement, params))

    event.listen(engine.sync_engine, "before_cursor_execute", grab)
    try:
        await follow.summary_data(week, now=NOW)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", grab)
    print(f"\n--- query plans ({db}) ---")
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        for statement, params in statements:
            print("\n" + " ".join(statement.split())[:400])
            if db == "sqlite":
                cursor = await driver.execute("EXPLAIN QUERY PLAN " + statement, params)
                for row in await cursor.fetchall():
                    print("   ", row[-1])
            else:
                rows = await driver.fetch("EXPLAIN (ANALYZE, TIMING OFF) " + statement, *params)
                for row in rows:
                    print("   ", row[0])


# ----------------------------------------------------------------------------- main


async def bench_one(
    db: str, n: int, args: argparse.Namespace, work: Path, rows: _dataset.Rows
) -> Timing:
    cache = _dataset.cache_dir(args.cache)
    async with _dataset.dataset(db, rows, cache=cache, rebuild=args.rebuild, work=work) as ds:
        data_ms, render_ms, total_ms, queries, figures = await time_summary(
            db, ds.url, args.runs, args.explain
        )
    timing = Timing(
        db=db,
        incidents=ds.incidents,
        tasks=ds.tasks,
        load_s=ds.load_s,
        runs=args.runs,
        data_ms=data_ms,
        render_ms=render_ms,
        total_ms=total_ms,
        median_total_ms=statistics.median(total_ms),
        median_data_ms=statistics.median(data_ms),
        median_render_ms=statistics.median(render_ms),
        queries=queries,
        db_size_mb=ds.size_mb,
        figures=figures,
        upgrade_s=ds.upgrade_s,
        data_source=ds.source,
    )
    print(
        f"  [{db} {n:>9,}] summary median {timing.median_total_ms:.1f} ms "
        f"(queries {timing.median_data_ms:.1f} + render {timing.median_render_ms:.1f}); "
        f"runs {', '.join(f'{v:.0f}' for v in total_ms)} ms; {figures}",
        flush=True,
    )
    return timing


def report(results: list[Timing]) -> None:
    print()
    print("Weekly summary time (FollowThrough.summary_data + summary_message), median of runs")
    rows = []
    for t in results:
        rows.append(
            [
                t.db,
                f"{t.incidents:,}",
                f"{t.tasks:,}",
                t.db_size_mb,
                t.load_s,
                t.runs,
                t.median_data_ms,
                t.median_render_ms,
                t.median_total_ms,
                min(t.total_ms),
                max(t.total_ms),
                "hit" if t.incidents < 1_000_000 or t.median_total_ms < 1000 else "MISS",
            ]
        )
    print(
        common.table(
            [
                "db",
                "incidents",
                "tasks",
                "db MB",
                "load s",
                "runs",
                "queries ms",
                "render ms",
                "total ms",
                "min ms",
                "max ms",
                "target <1s @1M",
            ],
            rows,
        )
    )
    print()
    print("Per statement (median execute time, ms):")
    for t in results:
        print(f"  {t.db} {t.incidents:,}:")
        for label, ms in t.queries:
            if label.lower().startswith(("begin", "select 1")):
                continue
            print(f"    {ms:8.2f}  {label}")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common.add_scale_arguments(parser, sizes="10000,1000000")
    parser.add_argument("--runs", type=int, default=5, help="timed runs (after one warm-up)")
    parser.add_argument("--explain", action="store_true", help="print the query plans")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    dbs = await common.usable_dbs(args.dbs)
    started = time.perf_counter()
    results: list[Timing] = []
    with common.workdir("leakbot-summary-") as work:
        print(f"load average: {common.loadavg()}", flush=True)
        for n in sizes:
            spec = _dataset.Spec.of(n, args.seed, args.partners, args.checklist_items)
            rows = _dataset.Rows(spec)
            for db in dbs:
                results.append(await bench_one(db, n, args, work, rows))
            rows.release()
    report(results)
    print(f"\n(total {time.perf_counter() - started:.0f}s; load average now {common.loadavg()})")
    common.write_json(args.json, [asdict(r) for r in results])
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
