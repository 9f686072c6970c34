"""The App Home tab's reads at scale: what `app_home_opened` costs before its views.publish.

For each size and database: the shared bench data set (bench/_dataset.py; from the cache with
`--cache DIR` / $LEAKBOT_BENCH_CACHE), then `HomeService.snapshot` (bot/store/home.py's reads)
and the view builder (bot/slack/blocks/home.py), timed for an approver (sees everything) and for a
reporter (their own incidents and tasks). p50 / p99 over the runs, after one warm-up.

    .venv/bin/python bench/app_home.py                          # 10k and 1M, both databases
    .venv/bin/python bench/app_home.py --sizes 10000 --dbs sqlite --runs 200
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import _common as common
import _dataset as data

TZ = ZoneInfo("Asia/Tokyo")
HEADERS = ["database", "incidents", "person", "p50 ms", "p99 ms", "reads p50 ms", "blocks", "shown"]


Figures = tuple[float, float, float, int, int]


async def time_home(url: str, runs: int) -> dict[str, Figures]:
    """Per person: (p50 ms, p99 ms, p50 of the reads alone, blocks, pending shown)."""
    from bot.domain.playbook import load_playbook
    from bot.home import HomeService, week_start
    from bot.slack.blocks.home import home_view
    from bot.store import Store

    class Fixed:  # the data's "now" (a Clock)
        def now(self) -> datetime:
            return data.NOW

    playbook = load_playbook()
    store = await Store.open(url)
    home = HomeService(store, TZ, Fixed())
    people = {"approver": (data.APPROVERS[0], True), "reporter": (data.REPORTERS[7], False)}
    results: dict[str, Figures] = {}
    try:
        for label, (user_id, approver) in people.items():
            times: list[float] = []
            reads: list[float] = []
            view: dict[str, Any] = {}
            for run in range(runs + 1):
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
            times.sort()
            results[label] = (
                common.percentile(times, 50),
                common.percentile(times, 99),
                common.median(reads),
                len(view["blocks"]),
                len(snapshot.awaiting),
            )
    finally:
        await store.close()
    return results


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--dbs", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=data.DEFAULT_SEED)
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
                    for label, (p50, p99, read, blocks, shown) in (
                        await time_home(ds.url, args.runs)
                    ).items():
                        figures = [f"{p50:.1f}", f"{p99:.1f}", f"{read:.1f}", blocks, shown]
                        rows.append([db, f"{n:,}", label, *figures])
                        print(f"  [{db} {n:>9,}] {label}: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
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
