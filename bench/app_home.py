"""The App Home tab's reads at scale: what `app_home_opened` costs before its views.publish.

For each size and database: the shared bench data set (bench/_dataset.py; from the cache with
`--cache DIR` / $LEAKBOT_BENCH_CACHE), then `HomeService.snapshot` (bot/store/home.py's reads)
and the view builder (bot/slack/blocks/home.py), timed for an approver (sees everything) and for a
reporter (their own incidents and tasks). p50 / p99 over the runs, after one warm-up. Then
`/leak list` (`time_list`: its reads and its message) for both, over LIST_ARGS. `--explain`
prints the plan of every statement each of them runs.

    .venv/bin/python bench/app_home.py                          # 10k and 1M, both databases
    .venv/bin/python bench/app_home.py --sizes 10000 --dbs sqlite --runs 200
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import _common as common
import _dataset as data

TZ = ZoneInfo("Asia/Tokyo")
HEADERS = [
    "database",
    "incidents",
    "what",
    "person",
    "p50 ms",
    "p99 ms",
    "reads p50 ms",
    "blocks",
    "shown",
    "CPU p50 ms",
]

# `/leak list` arguments timed by `time_list` (after `/leak list`): the scopes, a partner
# filter that matches many incidents (the most frequent partner) and one that matches few,
# and a later page.
LIST_ARGS = ("open", "closed", "all", "open パートナー00001", "all Partner 04998", "all page 5")

# (p50 ms, p99 ms, p50 of the reads alone, blocks, shown, p50 of this process's CPU ms: on a
# busy machine the wall times are mostly waiting for a core; the CPU is the work, SQLite's
# queries included — PostgreSQL's run in its own processes: see --explain's execution times)
Figures = tuple[float, float, float, int, int, float]
People = dict[str, tuple[str, bool]]


def people() -> People:
    """Who is timed: an approver (sees everything) and a reporter (their own)."""
    return {"approver": (data.APPROVERS[0], True), "reporter": (data.REPORTERS[7], False)}


class Fixed:
    """The data's "now" (a Clock)."""

    def now(self) -> datetime:
        return data.NOW


async def time_home(url: str, runs: int, explain: bool = False) -> dict[str, Figures]:
    """Per person: (p50 ms, p99 ms, p50 of the reads alone, blocks, pending shown)."""
    from bot.domain.playbook import load_playbook
    from bot.home import HomeService, week_start
    from bot.slack.blocks.home import home_view
    from bot.store import Store

    playbook = load_playbook()
    store = await Store.open(url)
    home = HomeService(store, TZ, Fixed())
    results: dict[str, Figures] = {}
    try:
        for label, (user_id, approver) in people().items():
            times: list[float] = []
            reads: list[float] = []
            cpu: list[float] = []
            view: dict[str, Any] = {}
            for run in range(runs + 1):
                cpu_started = time.process_time()
                started = time.perf_counter()
                snapshot = await home.snapshot(user_id, approver=approver, opened=False)
                read = time.perf_counter()
                view = home_view(
                    playbook,
                    snapshot,
                    lang="ja",
                    tz=TZ,
                    now=data.NOW,
                    week_start=week_start(data.NOW, TZ),
                    approver=approver,
                )
                if run:  # the first is a warm-up
                    times.append((time.perf_counter() - started) * 1000)
                    reads.append((read - started) * 1000)
                    cpu.append((time.process_time() - cpu_started) * 1000)
            times.sort()
            results[label] = (
                common.percentile(times, 50),
                common.percentile(times, 99),
                common.median(reads),
                len(view["blocks"]),
                len(snapshot.awaiting),
                common.median(cpu),
            )
            if explain:
                await print_plans(
                    store,
                    f"App Home, {label}",
                    lambda u=user_id, a=approver: home.snapshot(u, approver=a, opened=False),
                )
    finally:
        await store.close()
    return results


async def time_list(
    url: str, runs: int, args: Sequence[str] = LIST_ARGS, explain: bool = False
) -> dict[str, Figures]:
    """`/leak list ARGS` (its reads and its message, what the command does before it answers),
    per person and arguments ("approver open", "reporter all page 5", ...): (p50 ms, p99 ms,
    p50 of the reads alone, blocks, incidents shown)."""
    from bot.domain.playbook import load_playbook
    from bot.slack.listeners import listing
    from bot.slack.listeners.listing import PAGE_SIZE, SCOPES, parse_list_args
    from bot.store import Store

    playbook = load_playbook()
    store = await Store.open(url)
    results: dict[str, Figures] = {}
    try:
        for label, (user_id, approver) in people().items():
            for text in args:
                parsed = parse_list_args(text)

                def read(
                    parsed: Any = parsed, user_id: str = user_id, approver: bool = approver
                ) -> Any:
                    return store.list_incidents_page(
                        statuses=SCOPES[parsed.scope],
                        partner_text=parsed.partner,
                        reporter_id=None if approver else user_id,
                        limit=PAGE_SIZE,
                        offset=(parsed.page - 1) * PAGE_SIZE,
                    )

                times: list[float] = []
                reads: list[float] = []
                cpu: list[float] = []
                message: dict[str, Any] = {}
                records: list[Any] = []
                for run in range(runs + 1):
                    cpu_started = time.process_time()
                    started = time.perf_counter()
                    records, total = await read()
                    done = time.perf_counter()
                    message = await _list_message(
                        listing, playbook, parsed, records, total, store, user_id, approver
                    )
                    if run:  # the first is a warm-up
                        times.append((time.perf_counter() - started) * 1000)
                        reads.append((done - started) * 1000)
                        cpu.append((time.process_time() - cpu_started) * 1000)
                times.sort()
                results[f"{label} {text}"] = (
                    common.percentile(times, 50),
                    common.percentile(times, 99),
                    common.median(reads),
                    len(message["blocks"]),
                    len(records),
                    common.median(cpu),
                )
                if explain:
                    await print_plans(store, f"/leak list {text}, {label}", read)
    finally:
        await store.close()
    return results


async def _list_message(
    listing: Any,
    playbook: Any,
    parsed: Any,
    records: list[Any],
    total: int,
    store: Any,
    user_id: str,
    approver: bool,
) -> dict[str, Any]:
    """The page's message as the command words it. Code from before `list_message` existed
    (a `--before` run) words it inside `list_incidents`, which reads the page itself: there it
    is given the page just read, so the reads are not timed twice."""
    if hasattr(listing, "list_message"):
        message: dict[str, Any] = listing.list_message(playbook, TZ, parsed, records, total, "ja")
        return message

    async def page(**_: Any) -> tuple[list[Any], int]:
        return records, total

    deps = SimpleNamespace(
        follow=SimpleNamespace(lifecycle=SimpleNamespace(incidents_page=page)),
        playbook=playbook,
        settings=SimpleNamespace(tz=TZ),
    )
    reporter = None if approver else user_id
    old: dict[str, Any] = await listing.list_incidents(deps, parsed, "ja", reporter_id=reporter)
    return old


async def print_plans(store: Any, title: str, call: Callable[[], Awaitable[Any]]) -> None:
    """EXPLAIN QUERY PLAN (SQLite) / EXPLAIN ANALYZE (PostgreSQL) of every SELECT `call` runs,
    with its own parameters."""
    from sqlalchemy import event

    statements: list[tuple[str, Any]] = []
    engine = store._engine

    def grab(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        low = " ".join(statement.split()).lower()
        if low.startswith(("select", "with")) and not low.startswith("select 1"):
            statements.append((statement, params))

    event.listen(engine.sync_engine, "before_cursor_execute", grab)
    try:
        await call()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", grab)
    sqlite = engine.dialect.name == "sqlite"
    print(f"\n--- {title}: {len(statements)} statements ({engine.dialect.name}) ---")
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        for statement, params in statements:
            print("\n" + " ".join(statement.split())[:300])
            if sqlite:
                cursor = await driver.execute("EXPLAIN QUERY PLAN " + statement, params)
                for row in await cursor.fetchall():
                    print("   ", row[-1])
            else:
                rows = await driver.fetch("EXPLAIN (ANALYZE, TIMING OFF) " + statement, *params)
                for row in rows:
                    print("   ", row[0])


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--dbs", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=data.DEFAULT_SEED)
    parser.add_argument("--explain", action="store_true", help="print the query plans")
    data.add_arguments(parser)
    args = parser.parse_args()
    dbs = [d for d in args.dbs.split(",") if d]
    if "postgresql" in dbs and (reason := await common.pg_available()):
        print(f"PostgreSQL unavailable, skipped: {reason}")
        dbs = [d for d in dbs if d != "postgresql"]
    rows: list[list[Any]] = []
    with common.workdir("leakbot-home-") as work:
        print(f"load average: {common.loadavg()}", flush=True)
        for n in (int(s) for s in args.sizes.split(",") if s):
            rows_of_n = data.Rows(data.Spec.of(n, args.seed))
            for db in dbs:
                async with data.dataset(
                    db, rows_of_n, cache=data.cache_dir(args.cache), rebuild=args.rebuild, work=work
                ) as ds:
                    timed = {
                        "App Home": await time_home(ds.url, args.runs, args.explain),
                        "/leak list": await time_list(ds.url, args.runs, explain=args.explain),
                    }
                    for what, figures in timed.items():
                        for label, (p50, p99, read, blocks, shown, cpu) in figures.items():
                            cells = [
                                f"{p50:.1f}",
                                f"{p99:.1f}",
                                f"{read:.1f}",
                                blocks,
                                shown,
                                f"{cpu:.1f}",
                            ]
                            rows.append([db, f"{n:,}", what, label, *cells])
                            print(
                                f"  [{db} {n:>9,}] {what} {label}: "
                                f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, CPU p50 {cpu:.1f} ms",
                                flush=True,
                            )
            rows_of_n.release()
    print()
    print(
        common.table(
            HEADERS,
            rows,
        )
    )
    print(f"\n(load average now {common.loadavg()})")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
