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
import contextlib
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


class Statements:
    """Every statement a timed call runs, with its execute time (SQLAlchemy's cursor events: on
    both drivers the rows are fetched inside the execute), and the garbage collector's pauses
    meanwhile: where a call's time goes, per statement (`--statements`)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine.sync_engine
        self.runs: list[list[tuple[str, float]]] = []  # per call: (statement, ms) in order
        self.totals: list[float] = []  # per call: its reads' time (ms)
        self.render: list[float] = []  # per call: the view / message built from them (ms)
        self.gc: list[tuple[int, float]] = []  # (generation, ms) of every collection
        self._started: float = 0.0
        self._gc_started: float = 0.0

    def _before(self, *args: Any) -> None:
        self._started = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.runs[-1].append((statement, (time.perf_counter() - self._started) * 1000))

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc.append((info["generation"], (time.perf_counter() - self._gc_started) * 1000))

    def __enter__(self) -> Statements:
        import gc

        from sqlalchemy import event

        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        gc.callbacks.append(self._gc)
        return self

    def __exit__(self, *exc: object) -> None:
        import gc

        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)
        gc.callbacks.remove(self._gc)

    def call(self) -> None:
        """A new timed call starts."""
        self.runs.append([])

    def print(self, title: str) -> None:
        """Per statement (by position in the call): median / p99 / max ms; the time outside
        the statements (Python, the driver's hand-offs); the collections that ran."""
        runs = self.runs[1:]  # the first is the warm-up
        totals = self.totals
        counts = sorted({len(r) for r in runs})
        print(f"\n--- {title}: {len(runs)} calls, statements per call {counts} ---")
        width = max(counts) if counts else 0
        for i in range(width):
            times = sorted(r[i][1] for r in runs if len(r) > i)
            sql = " ".join(next(r[i][0] for r in runs if len(r) > i).split())
            print(
                f"  #{i + 1} median {common.median(times):7.2f}  p99 "
                f"{common.percentile(times, 99):7.2f}  max {times[-1]:7.2f} ms  {sql[:110]}"
            )
        inside = [sum(ms for _, ms in r) for r in runs]
        outside = sorted(t - i for t, i in zip(totals, inside, strict=True))
        inside.sort()
        print(
            f"  statements median {common.median(inside):.2f} p99 "
            f"{common.percentile(inside, 99):.2f} ms; outside them median "
            f"{common.median(outside):.2f} p99 {common.percentile(outside, 99):.2f} ms; "
            f"rendering median {common.median(self.render):.2f} p99 "
            f"{common.percentile(sorted(self.render), 99):.2f} ms"
        )
        slow = sorted(((t, i) for i, t in enumerate(totals)), reverse=True)[:3]
        for total, i in slow:
            parts = ", ".join(f"{ms:.1f}" for _, ms in runs[i])
            print(f"  slowest call {total:.1f} ms: statements [{parts}]")
        by_gen: dict[int, list[float]] = {}
        for gen, ms in self.gc:
            by_gen.setdefault(gen, []).append(ms)
        print(
            "  gc: "
            + (
                ", ".join(
                    f"gen{g} x{len(v)} max {max(v):.1f} ms total {sum(v):.1f} ms"
                    for g, v in sorted(by_gen.items())
                )
                or "no collections"
            )
        )


def freeze_startup_objects() -> None:
    """What `leakbot run` does once it is up (bot/server.py): the objects built at start are
    moved out of the collector's reach. Without it a full collection here walks every module,
    the playbook and SQLAlchemy's caches (95-135 ms at load ~7, one per ~50 calls), a pause the
    server does not have — it was the p99 of App Home in this benchmark."""
    try:
        from bot.server import freeze_startup_objects as freeze
    except ImportError:  # a `--before` checkout without it
        import gc

        gc.collect()
        gc.freeze()
    else:
        freeze()


class Fixed:
    """The data's "now" (a Clock)."""

    def now(self) -> datetime:
        return data.NOW


async def time_home(
    url: str, runs: int, explain: bool = False, statements: bool = False
) -> dict[str, Figures]:
    """Per person: (p50 ms, p99 ms, p50 of the reads alone, blocks, pending shown)."""
    from bot.domain.playbook import load_playbook
    from bot.home import HomeService, week_start
    from bot.slack.blocks.home import home_view
    from bot.store import Store

    playbook = load_playbook()
    store = await Store.open(url)
    home = HomeService(store, TZ, Fixed())
    freeze_startup_objects()
    results: dict[str, Figures] = {}
    try:
        for label, (user_id, approver) in people().items():
            times: list[float] = []
            reads: list[float] = []
            cpu: list[float] = []
            view: dict[str, Any] = {}
            stats = Statements(store._engine)
            with stats if statements else contextlib.nullcontext():
                for run in range(runs + 1):
                    stats.call()
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
                        stats.totals.append(reads[-1])
                        stats.render.append(times[-1] - reads[-1])
                    else:
                        stats.gc.clear()
            times.sort()
            results[label] = (
                common.percentile(times, 50),
                common.percentile(times, 99),
                common.median(reads),
                len(view["blocks"]),
                len(snapshot.awaiting),
                common.median(cpu),
            )
            if statements:
                stats.print(f"App Home, {label}")
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
    url: str,
    runs: int,
    args: Sequence[str] = LIST_ARGS,
    explain: bool = False,
    statements: bool = False,
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
    freeze_startup_objects()
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
                stats = Statements(store._engine)
                with stats if statements else contextlib.nullcontext():
                    for run in range(runs + 1):
                        stats.call()
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
                            stats.totals.append(reads[-1])
                            stats.render.append(times[-1] - reads[-1])
                        else:
                            stats.gc.clear()
                times.sort()
                results[f"{label} {text}"] = (
                    common.percentile(times, 50),
                    common.percentile(times, 99),
                    common.median(reads),
                    len(message["blocks"]),
                    len(records),
                    common.median(cpu),
                )
                if statements:
                    stats.print(f"/leak list {text}, {label}")
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
    parser.add_argument(
        "--statements",
        action="store_true",
        help="per statement: median / p99 execute time; time outside them; gc pauses",
    )
    parser.add_argument(
        "--only", default="", help="'home' or 'list': time only that (default: both)"
    )
    data.add_arguments(parser)
    args = parser.parse_args()
    dbs = await common.usable_dbs(args.dbs)
    rows: list[list[Any]] = []
    with common.workdir("leakbot-home-") as work:
        print(f"load average: {common.loadavg()}", flush=True)
        for n in (int(s) for s in args.sizes.split(",") if s):
            rows_of_n = data.Rows(data.Spec.of(n, args.seed))
            for db in dbs:
                async with data.dataset(
                    db, rows_of_n, cache=data.cache_dir(args.cache), rebuild=args.rebuild, work=work
                ) as ds:
                    timed = {}
                    if args.only in ("", "home"):
                        timed["App Home"] = await time_home(
                            ds.url, args.runs, args.explain, args.statements
                        )
                    if args.only in ("", "list"):
                        timed["/leak list"] = await time_list(
                            ds.url, args.runs, explain=args.explain, statements=args.statements
                        )
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
