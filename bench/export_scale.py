"""`leakbot export` at scale: rows/s and memory growth while streaming every incident.

The data set is the shared one (bench/_dataset.py: incidents with answers and assessment JSON,
their deadline and checklist tasks; from the cache with `--cache DIR` / $LEAKBOT_BENCH_CACHE).
Then the real CLI runs as a child process, `leakbot export --format F --out FILE`, as an operator
would run it. Its RSS (`VmRSS`) is sampled every 20 ms: the baseline is the first sample once
the output has rows in it (imports done, store open, first page written), the growth is the
largest sample after it minus that baseline; the peak is `VmHWM`. Rows/s is incidents / wall
time of the whole command (start-up included). The file is checked: one line per incident
plus the header (CSV) or one line per incident (JSONL). On PostgreSQL (a server on this
machine) the CPU of the export's server backends is summed too (each backend of the export's
database, found in `pg_stat_activity` while the command runs, its /proc/PID/stat read every
20 ms until it ends): there the server builds most of each line, so its CPU per row says more
than the command's own on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import _common as common
import _dataset

TARGET_ROWS_PER_S = 50_000
TARGET_GROWTH_MB = 50


@dataclass
class ExportRun:
    db: str
    incidents: int
    fmt: str
    seconds: float
    rows_per_s: float
    rss_base_mb: float
    rss_growth_mb: float
    peak_mb: float
    file_mb: float
    lines: int
    cpu_s: float  # user + system CPU of the command (os.wait4): less load-dependent than wall
    rows_per_cpu_s: float
    server_cpu_s: float | None = None  # PostgreSQL: the export's backends (None: not measured)
    server_us_per_row: float | None = None


def _rss_mb(pid: int) -> float | None:
    try:
        return common.rss_mb(pid)["VmRSS"]
    except (FileNotFoundError, ProcessLookupError, KeyError):
        return None


class _Backends:
    """The CPU of a database's server backends (other than the watcher's own connection) seen
    while `poll` is called: per backend the last reading minus the first."""

    def __init__(self, conn: Any, database: str) -> None:
        self.conn, self.database = conn, database
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}

    async def poll(self) -> None:
        rows = await self.conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            self.database,
        )
        for pid in {row[0] for row in rows} | set(self.last):
            cpu = common.proc_cpu_s(pid)
            if cpu is not None:
                self.first.setdefault(pid, cpu)
                self.last[pid] = cpu

    def total_s(self) -> float:
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


async def run_export(db: str, url: str, n: int, fmt: str, work: Path) -> ExportRun:
    out = work / f"export-{db}-{n}.{fmt}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "LEAKBOT_"))}
    env.update({"DATABASE_URL": url, "LEAKBOT_LANGUAGE": "ja", "LEAKBOT_TIMEZONE": "Asia/Tokyo"})
    run_dir = work / "export-run"
    run_dir.mkdir(exist_ok=True)  # no .env here
    started = time.perf_counter()
    proc = subprocess.Popen(
        [common.LEAKBOT, "export", "--format", fmt, "--out", str(out)],
        env=env,
        cwd=run_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base: float | None = None
    highest = 0.0
    peak = 0.0
    partial = list(run_dir.glob(f".{out.name}.*.part"))
    backends: _Backends | None = None
    if db == "postgresql":
        import asyncpg

        watcher = await asyncpg.connect(common._libpq(url), timeout=10)
        backends = _Backends(watcher, url.rsplit("/", 1)[1])
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            break
        rss = _rss_mb(proc.pid)
        if rss is not None:
            with contextlib.suppress(FileNotFoundError, KeyError):
                peak = common.rss_mb(proc.pid)["VmHWM"]
            if base is None:
                partial = partial or list(out.parent.glob(f".{out.name}.*.part"))
                if partial and partial[0].exists() and partial[0].stat().st_size > 64 * 1024:
                    base = rss
            else:
                highest = max(highest, rss)
        if backends is not None:
            await backends.poll()
        await asyncio.sleep(0.02)
    seconds = time.perf_counter() - started
    server_cpu = None
    if backends is not None:
        await backends.conn.close()
        server_cpu = backends.total_s()
    # (Not usage.ru_maxrss: after fork + exec it still counts this process's own peak.)
    cpu = usage.ru_utime + usage.ru_stime
    _, stderr = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"leakbot export failed ({proc.returncode}): {stderr.decode()[-2000:]}")
    with out.open("rb") as handle:
        lines = sum(1 for _ in handle)
    expected = n + 1 if fmt == "csv" else n
    if lines < expected:  # CSV: embedded newlines in quoted cells only add lines
        raise RuntimeError(f"{out.name}: {lines} lines for {n} incidents")
    file_mb = out.stat().st_size / 2**20
    out.unlink()
    base = base if base is not None else highest
    return ExportRun(
        db=db,
        incidents=n,
        fmt=fmt,
        seconds=seconds,
        rows_per_s=n / seconds,
        rss_base_mb=base,
        rss_growth_mb=max(highest - base, 0.0),
        peak_mb=peak,
        file_mb=file_mb,
        lines=lines,
        cpu_s=cpu,
        rows_per_cpu_s=n / cpu,
        server_cpu_s=server_cpu,
        server_us_per_row=None if server_cpu is None else server_cpu / n * 1e6,
    )


async def bench_db(
    db: str, n: int, rows: _dataset.Rows, args: argparse.Namespace, work: Path
) -> list[ExportRun]:
    runs = []
    cache = _dataset.cache_dir(args.cache)
    async with _dataset.dataset(db, rows, cache=cache, rebuild=args.rebuild, work=work) as ds:
        for fmt in args.formats.split(","):
            run = await run_export(db, ds.url, ds.incidents, fmt, work)
            print(
                f"  [{db} {n:>9,}] export {fmt}: {run.seconds:.1f}s, {run.rows_per_s:,.0f} rows/s "
                f"({run.cpu_s:.1f} s CPU: {run.rows_per_cpu_s:,.0f} rows per CPU second"
                + (
                    f"; server {run.server_cpu_s:.1f} s CPU, {run.server_us_per_row:.1f} us/row"
                    if run.server_cpu_s is not None
                    else ""
                )
                + "), "
                f"RSS {run.rss_base_mb:.1f} MB + {run.rss_growth_mb:.1f} MB growth "
                f"(peak {run.peak_mb:.1f} MB), {run.file_mb:.0f} MB file",
                flush=True,
            )
            runs.append(run)
    return runs


def report(runs: list[ExportRun]) -> None:
    print()
    print(
        f"`leakbot export` (whole command, start-up included) — targets >= {TARGET_ROWS_PER_S:,} "
        f"rows/s, RSS growth < {TARGET_GROWTH_MB} MB"
    )
    print(
        common.table(
            [
                "db",
                "incidents",
                "format",
                "s",
                "rows/s",
                "CPU s",
                "rows/CPU s",
                "server CPU s",
                "server us/row",
                "RSS base MB",
                "growth MB",
                "peak MB",
                "file MB",
                "target",
            ],
            [
                [
                    r.db,
                    f"{r.incidents:,}",
                    r.fmt,
                    r.seconds,
                    f"{r.rows_per_s:,.0f}",
                    r.cpu_s,
                    f"{r.rows_per_cpu_s:,.0f}",
                    "" if r.server_cpu_s is None else r.server_cpu_s,
                    "" if r.server_us_per_row is None else r.server_us_per_row,
                    r.rss_base_mb,
                    r.rss_growth_mb,
                    r.peak_mb,
                    r.file_mb,
                    "hit"
                    if r.rows_per_s >= TARGET_ROWS_PER_S and r.rss_growth_mb < TARGET_GROWTH_MB
                    else "MISS",
                ]
                for r in runs
            ],
        )
    )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated incident counts")
    parser.add_argument("--dbs", default="sqlite,postgresql")
    parser.add_argument("--formats", default="csv,jsonl")
    parser.add_argument("--partners", type=int, default=5000, help="partner pool (max n/5)")
    parser.add_argument("--seed", type=int, default=_dataset.DEFAULT_SEED)
    parser.add_argument("--json", help="write raw figures to this file")
    _dataset.add_arguments(parser)
    args = parser.parse_args()
    dbs = await common.usable_dbs(args.dbs)
    started = time.perf_counter()
    runs: list[ExportRun] = []
    with common.workdir("leakbot-export-") as work:
        print(f"load average: {common.loadavg()}", flush=True)
        for n in [int(s) for s in args.sizes.split(",") if s]:
            rows = _dataset.Rows(_dataset.Spec.of(n, args.seed, args.partners))
            for db in dbs:
                runs += await bench_db(db, n, rows, args, work)
            rows.release()
    report(runs)
    print(f"\n(total {time.perf_counter() - started:.0f}s; load average now {common.loadavg()})")
    common.write_json(args.json, [asdict(r) for r in runs])
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
