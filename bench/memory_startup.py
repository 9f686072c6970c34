"""Resident memory and start-up time of `leakbot run`, on SQLite and PostgreSQL.

For each database: start `leakbot run --http` on a fresh database (the emulator as Slack) and
time process start -> GET /healthz 200 (first start: migrations included); read its RSS once it
is idle; create 10,000 incidents through the real flow (signed `view_submission`s of the intake's
confirm step over HTTP, 8 at a time: validation, assessment, the incident, its audit row and
outbox messages, then the outbox posts the recommendation and the reporter's receipt to the
emulator); wait until the outbox is empty and read RSS again (and the peak, VmHWM); then stop
and restart it a few times on the now-filled database and time each start.

    .venv/bin/python bench/memory_startup.py
    .venv/bin/python bench/memory_startup.py --dbs sqlite --incidents 2000 --restarts 1
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import itertools
import random
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import _common as common
import aiohttp
from slackemu import payloads, signed_headers

# The intake's answers as the modal carries them in private_metadata (raw Slack values).
RAW_ANSWERS: dict[str, Any] = {
    "source": "partner_notice",
    "relationship": "entrusted",
    "data_kinds": ["customer_personal"],
    "affected_persons": "1200",
    "encrypted": "no",
    "regions": ["jp"],
    "cause": "negligence",
    "damage": "possible",
    "partner_response": "cooperative",
    "dependency": "medium",
    "contract": ["prevention_plan_required"],
    "description": "委託先の担当者が誤送信した",
}


@dataclass
class MemoryResult:
    db: str
    first_start_s: float
    rss_start_mb: float
    incidents: int
    create_s: float
    create_per_s: float
    outbox_drain_s: float
    rss_after_mb: float
    peak_mb: float
    restart_s: list[float] = field(default_factory=list)
    rss_restart_mb: float = 0.0
    errors: int = 0
    # CPU seconds (user + system) the process used up to /healthz 200: on a shared machine the
    # wall time above grows with the load average, this much less.
    first_start_cpu_s: float = 0.0
    restart_cpu_s: list[float] = field(default_factory=list)


def confirm_bodies(count: int, rng: random.Random, prefix: str = "VMEM") -> list[bytes]:
    """Signed-ready bodies: the confirm step of `count` distinct modals (distinct view ids)."""
    from bot.config import load_settings
    from bot.domain.playbook import load_playbook
    from bot.slack.blocks.intake import IntakeState, confirm_view

    settings = load_settings(_env_file=None)
    playbook = load_playbook(settings.LEAKBOT_PLAYBOOK)
    bodies = []
    for i in range(count):
        answers = {**RAW_ANSWERS, "partner": f"株式会社メモリ{i % 300:03d}"}
        state = IntakeState(step=len(playbook.steps), lang="ja", answers=answers)
        view = {**confirm_view(playbook, state), "id": f"{prefix}{i:09d}", "hash": f"h{i}"}
        payload = payloads.view_submission(
            view,
            {},
            user_id=common.REPORTERS[i % len(common.REPORTERS)],
            trigger_id=payloads.new_trigger_id(rng),
        )
        bodies.append(urlencode({"payload": payloads.dumps(payload)}).encode())
    return bodies


async def post_all(url: str, bodies: list[bytes], concurrency: int) -> tuple[float, int, list[str]]:
    errors: list[str] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=60)
    ) as session:
        counter = itertools.count()

        async def worker() -> None:
            while (i := next(counter)) < len(bodies):
                body = bodies[i]
                headers = signed_headers(
                    common.SECRET,
                    int(time.time()),
                    body,
                    content_type="application/x-www-form-urlencoded",
                )
                async with session.post(url, data=body, headers=headers) as response:
                    raw = await response.read()
                    if response.status != 200 or b'"leak_done"' not in raw:
                        errors.append(f"HTTP {response.status}: {raw[:200]!r}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, len(errors), errors[:3]


async def timed_start(
    children: common.Children, work: Path, api_url: str, database_url: str, tag: str
) -> tuple[common.Child, str, float, float]:
    """Start leakbot; (child, base URL, wall seconds and CPU seconds to /healthz 200)."""
    port = common.free_port()
    t0 = time.perf_counter()
    child = common.start_leakbot(children, work, api_url, database_url, port, tag)
    base = f"http://127.0.0.1:{port}"
    await common.wait_healthy(base, child, timeout=120)
    return child, base, time.perf_counter() - t0, common.cpu_seconds(child.pid)


async def count_incidents(database_url: str) -> int:
    from sqlalchemy import func, select

    from bot.store import Store
    from bot.store.tables import incidents

    store = await Store.open(database_url, migrate=False)
    try:
        async with store.read() as conn:
            return int(
                (await conn.execute(select(func.count()).select_from(incidents))).scalar_one()
            )
    finally:
        await store.close()


async def bench_db(
    db: str, args: argparse.Namespace, children: common.Children, work: Path, api_url: str
) -> MemoryResult:
    rng = random.Random(11)
    bodies = confirm_bodies(args.incidents, rng)
    async with common.fresh_database(db, work) as database_url:
        child, base, first, first_cpu = await timed_start(
            children, work, api_url, database_url, f"{db}-0"
        )
        await asyncio.sleep(args.settle)  # the scheduler's first run, imports done lazily
        rss_start = common.rss_mb(child.pid)["VmRSS"]
        print(
            f"  [{db}] first start {first:.2f}s ({first_cpu:.2f}s CPU), RSS {rss_start:.1f} MB; "
            "creating "
            f"{args.incidents:,} incidents over HTTP ...",
            flush=True,
        )
        create_s, errors, first_errors = await post_all(
            base + "/slack/events", bodies, args.concurrency
        )
        for text in first_errors:
            print(f"      error: {text}", flush=True)
        drain = await common.wait_outbox_empty(base, timeout=1800)
        await asyncio.sleep(args.settle)
        mem = common.rss_mb(child.pid)
        stored = await count_incidents(database_url)
        print(
            f"  [{db}] {stored:,} incidents stored in {create_s:.1f}s "
            f"({args.incidents / create_s:.0f}/s), outbox drained {drain:.1f}s later; "
            f"RSS {mem['VmRSS']:.1f} MB, peak {mem['VmHWM']:.1f} MB",
            flush=True,
        )
        child.stop()
        children.items.remove(child)
        restarts, restarts_cpu = [], []
        rss_restart = 0.0
        for k in range(args.restarts):
            child, base, seconds, cpu = await timed_start(
                children, work, api_url, database_url, f"{db}-{k + 1}"
            )
            restarts.append(seconds)
            restarts_cpu.append(cpu)
            if k == 0:
                await asyncio.sleep(args.settle)
                rss_restart = common.rss_mb(child.pid)["VmRSS"]
            child.stop()
            children.items.remove(child)
        print(
            f"  [{db}] restarts with {stored:,} incidents: "
            f"{', '.join(f'{s:.2f}' for s in restarts)} s "
            f"({', '.join(f'{s:.2f}' for s in restarts_cpu)} s CPU); "
            f"RSS after restart {rss_restart:.1f} MB",
            flush=True,
        )
    return MemoryResult(
        db=db,
        first_start_s=first,
        rss_start_mb=rss_start,
        incidents=stored,
        create_s=create_s,
        create_per_s=args.incidents / create_s,
        outbox_drain_s=drain,
        rss_after_mb=mem["VmRSS"],
        peak_mb=mem["VmHWM"],
        restart_s=restarts,
        rss_restart_mb=rss_restart,
        errors=errors,
        first_start_cpu_s=first_cpu,
        restart_cpu_s=restarts_cpu,
    )


def report(results: list[MemoryResult]) -> None:
    print()
    print("Memory (RSS of the `leakbot run` process, MB) — target < 150 MB")
    print(
        common.table(
            [
                "db",
                "after start",
                "after N incidents",
                "peak (VmHWM)",
                "after restart",
                "N",
                "create/s",
                "errors",
                "target",
            ],
            [
                [
                    r.db,
                    r.rss_start_mb,
                    r.rss_after_mb,
                    r.peak_mb,
                    r.rss_restart_mb,
                    f"{r.incidents:,}",
                    r.create_per_s,
                    r.errors,
                    "hit" if max(r.peak_mb, r.rss_after_mb) < 150 else "MISS",
                ]
                for r in results
            ],
        )
    )
    print()
    print("Start-up time (process start -> GET /healthz 200, seconds)")
    print(
        common.table(
            [
                "db",
                "first start (empty DB, migrations)",
                "restart median",
                "restarts",
                "CPU s: first",
                "CPU s: restart median",
            ],
            [
                [
                    r.db,
                    r.first_start_s,
                    statistics.median(r.restart_s) if r.restart_s else float("nan"),
                    ", ".join(f"{s:.2f}" for s in r.restart_s),
                    r.first_start_cpu_s,
                    statistics.median(r.restart_cpu_s) if r.restart_cpu_s else float("nan"),
                ]
                for r in results
            ],
        )
    )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dbs", default="sqlite,postgresql")
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--settle", type=float, default=2.0, help="idle seconds before reading RSS")
    parser.add_argument("--json", help="write raw figures to this file")
    args = parser.parse_args()
    dbs = await common.usable_dbs(args.dbs)
    # As deployed: the image's `pip install` compiles leakbot's bytecode. A checkout under
    # PYTHONDONTWRITEBYTECODE=1 (set here and in the image) would otherwise compile its ~100
    # modules from source at every start (~0.15 s CPU and ~1 MB more).
    compileall.compile_dir(str(common.ROOT / "bot"), quiet=1)
    started = time.perf_counter()
    results = []
    with common.workdir("leakbot-mem-") as work, common.Children() as children:
        emu_url = common.start_emulator(children, work)
        print(f"emulator at {emu_url}; load average {common.loadavg()}", flush=True)
        for db in dbs:
            results.append(await bench_db(db, args, children, work, emu_url + "/api/"))
    report(results)
    print(f"\n(total {time.perf_counter() - started:.0f}s; load average now {common.loadavg()})")
    common.write_json(args.json, [asdict(r) for r in results])
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
