"""Issue 14's figures in one run: the weekly summary, App Home, `/leak list` and `leakbot export`
on the same data set, per database and size — and, with `--before REV`, the same on a checkout
of REV, side by side.

    .venv/bin/python bench/scale.py --sizes 10000 --cache /work/bench-cache
    .venv/bin/python bench/scale.py --sizes 10000,1000000 --before b1334a7 --json out.json

For each size the data set (bench/_dataset.py) is got once per database — from the cache when
it holds it — and on it run, one after the other: the weekly summary's timing
(summary_scale.py's `time_summary`), App Home for an approver and a reporter (app_home.py's
`time_home`), `/leak list` reads if app_home.py has them (`time_list`), and `leakbot export`
as CSV and JSON lines (export_scale.py's `run_export`, a child process). A figure the code
under test cannot give (an older checkout without list reads, …) is "n/a", with the reason
printed.

`--before REV` then runs this same script on a checkout of REV — a `git worktree` with its own
venv, made under the temp dir, or `--before-dir DIR` (made there if missing, reused if present)
— with THIS checkout's bench/ copied over it, on the same cached base data (without `--cache` a
cache in the temp dir serves both runs and is removed afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import _common as common
import _dataset
import app_home
import export_scale
import summary_scale

# The summary's and App Home's figures in the table's order, with their targets (issue 14).
TARGETS: dict[str, str] = {
    "summary total ms (median)": "",
    "summary queries ms (median)": "< 50 @1M",
    "summary chart counts ms (median)": "",
    "home approver p50 ms": "",
    "home approver p99 ms": "< 50 @1M",
    "home reporter p50 ms": "",
    "home reporter p99 ms": "",
}
EXPORT_TARGET = f">= {export_scale.TARGET_ROWS_PER_S:,} @1M"
GROWTH_TARGET = f"< {export_scale.TARGET_GROWTH_MB} @1M"


def _git(*args: str, cwd: Path = common.ROOT) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout.strip()


def revision(root: Path = common.ROOT) -> str:
    """The checkout's commit, "+changes" when its tree differs from it."""
    try:
        rev = _git("rev-parse", "--short", "HEAD", cwd=root)
        dirty = _git("status", "--porcelain", "--untracked-files=no", cwd=root)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev + (" +changes" if dirty else "")


# ----------------------------------------------------------------------------- one checkout


class Figures:
    """The figures of one (database, size): name → value, or None with a reason (n/a)."""

    def __init__(self) -> None:
        self.values: dict[str, float | str | None] = {}
        self.notes: dict[str, str] = {}

    def put(self, name: str, value: float | str | None) -> None:
        self.values[name] = value

    def missing(self, names: list[str], reason: str) -> None:
        for name in names:
            self.values[name] = None
            self.notes[name] = reason


async def _measure(
    figures: Figures,
    names: list[str],
    what: str,
    step: Callable[[], Awaitable[dict[str, float]]],
) -> None:
    try:
        got = await step()
    except Exception as exc:  # an older/other checkout lacks something: n/a, and say why
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        print(f"    {what}: n/a ({reason})", flush=True)
        if os.environ.get("LEAKBOT_BENCH_TRACE"):
            traceback.print_exc()
        figures.missing(names, reason)
        return
    for name, value in got.items():
        figures.put(name, value)


async def run_one(db: str, ds: _dataset.DataSet, args: argparse.Namespace, work: Path) -> Figures:
    figures = Figures()
    figures.put("data: load s (when built)", ds.load_s)
    figures.put(
        "data: upgrade to head s",
        ds.upgrade_s if ds.upgrade_s is not None else f"none (at {ds.revision})",
    )
    tag = f"[{db} {ds.incidents:>9,}]"

    async def summary() -> dict[str, float]:
        data_ms, render_ms, total_ms, _, extra = await summary_scale.time_summary(
            db, ds.url, args.runs, args.explain
        )
        print(
            f"  {tag} summary median {statistics.median(total_ms):.1f} ms "
            f"(queries {statistics.median(data_ms):.1f} + render "
            f"{statistics.median(render_ms):.1f})",
            flush=True,
        )
        return {
            "summary total ms (median)": statistics.median(total_ms),
            "summary queries ms (median)": statistics.median(data_ms),
            "summary chart counts ms (median)": float(extra.get("chart_query_ms_median", "nan")),
        }

    async def home() -> dict[str, float]:
        out: dict[str, float] = {}
        for person, (p50, p99, *_) in (await app_home.time_home(ds.url, args.home_runs)).items():
            print(f"  {tag} home {person}: p50 {p50:.1f} ms, p99 {p99:.1f} ms", flush=True)
            out[f"home {person} p50 ms"] = p50
            out[f"home {person} p99 ms"] = p99
        return out

    async def lists() -> dict[str, float]:
        # bench/app_home.py's `/leak list` reads, when it has them: the same shape as time_home
        # (label → (p50 ms, p99 ms, ...)), one label per person and arguments; p99 shown.
        time_list = getattr(app_home, "time_list", None)
        if time_list is None:
            raise LookupError("bench/app_home.py has no time_list (no /leak list figures)")
        out: dict[str, float] = {}
        for label, (p50, p99, *_) in (await time_list(ds.url, args.home_runs)).items():
            print(f"  {tag} list {label}: p50 {p50:.1f} ms, p99 {p99:.1f} ms", flush=True)
            out[f"list {label} p99 ms"] = p99
        return out

    def export(fmt: str) -> Callable[[], Awaitable[dict[str, float]]]:
        async def step() -> dict[str, float]:
            run = await export_scale.run_export(db, ds.url, ds.incidents, fmt, work)
            print(
                f"  {tag} export {fmt}: {run.seconds:.1f}s, {run.rows_per_s:,.0f} rows/s "
                f"({run.rows_per_cpu_s:,.0f} rows per CPU second), RSS growth "
                f"{run.rss_growth_mb:.1f} MB",
                flush=True,
            )
            return {
                f"export {fmt} rows/s": run.rows_per_s,
                f"export {fmt} rows per CPU s": run.rows_per_cpu_s,
                f"export {fmt} RSS growth MB": run.rss_growth_mb,
            }

        return step

    await _measure(figures, list(TARGETS)[:3], "summary", summary)
    await _measure(figures, list(TARGETS)[3:], "home", home)
    await _measure(figures, ["list p99 ms"], "list", lists)
    for fmt in args.formats.split(","):
        names = [f"export {fmt} rows/s", f"export {fmt} rows per CPU s"]
        await _measure(
            figures, [*names, f"export {fmt} RSS growth MB"], f"export {fmt}", export(fmt)
        )
    return figures


async def measure(args: argparse.Namespace, cache: Path | None) -> dict[str, Any]:
    """This checkout's figures: {"revision", "head", "load", "results": [...]}."""
    dbs = await common.usable_dbs(args.dbs)
    out: dict[str, Any] = {
        "revision": revision(),
        "head": _dataset.head_revision(),
        "load_average_start": common.loadavg(),
        "results": [],
    }
    print(f"code {out['revision']} (schema head {out['head']}); load average {common.loadavg()}")
    with common.workdir("leakbot-scale-") as work:
        for n in (int(s) for s in args.sizes.split(",") if s):
            rows = _dataset.Rows(
                _dataset.Spec.of(n, args.seed, args.partners, args.checklist_items)
            )
            for db in dbs:
                async with _dataset.dataset(
                    db, rows, cache=cache, rebuild=args.rebuild, work=work
                ) as ds:
                    figures = await run_one(db, ds, args, work)
                    out["results"].append(
                        {
                            "db": db,
                            "incidents": ds.incidents,
                            "figures": figures.values,
                            "notes": figures.notes,
                            "data": {k: v for k, v in asdict(ds).items() if k != "url"},
                        }
                    )
            rows.release()
    out["load_average_end"] = common.loadavg()
    return out


# ----------------------------------------------------------------------------- the table


def _cell(value: float | str | None) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    if value != value:  # NaN
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def _target(name: str) -> str:
    if name.endswith("rows/s"):
        return EXPORT_TARGET
    if name.endswith("RSS growth MB"):
        return GROWTH_TARGET
    if name.startswith("list") and name.endswith("p99 ms"):
        return "< 50 @1M"
    return TARGETS.get(name, "")


def combined_table(
    after: dict[str, Any], before: dict[str, Any] | None, *, with_before: bool
) -> str:
    def index(run: dict[str, Any] | None) -> dict[tuple[str, int], dict[str, Any]]:
        return {(r["db"], r["incidents"]): r for r in (run or {}).get("results", [])}

    now, then = index(after), index(before)
    headers = ["db", "incidents", "figure"]
    headers += ["before", "after", "target"] if with_before else ["value", "target"]
    rows: list[list[Any]] = []
    for key in [*now, *(k for k in then if k not in now)]:
        names: list[str] = []
        for run in (now.get(key), then.get(key)):
            for name in (run or {}).get("figures", {}):
                if name not in names:
                    names.append(name)
        for name in names:
            cells = []
            for run in ([then.get(key)] if with_before else []) + [now.get(key)]:
                figures = (run or {}).get("figures", {})
                cells.append(_cell(figures[name]) if name in figures else "n/a")
            rows.append([key[0], f"{key[1]:,}", name, *cells, _target(name)])
    return common.table(headers, rows)


def print_notes(label: str, run: dict[str, Any] | None) -> None:
    for result in (run or {}).get("results", []):
        seen: set[str] = set()
        for reason in result.get("notes", {}).values():
            if reason not in seen:
                seen.add(reason)
                print(f"  n/a ({label}, {result['db']} {result['incidents']:,}): {reason}")


# ----------------------------------------------------------------------------- the before run


def _before_checkout(rev: str, folder: Path) -> Path:
    """A checkout of `rev` with its own venv in `folder`: made if missing; if present, moved to
    `rev` (its bench/ copy discarded) and reused."""
    commit = _git("rev-parse", rev + "^{commit}")
    if not (folder / ".git").exists():
        print(f"(making a worktree of {rev} in {folder})", flush=True)
        _git("worktree", "add", "--detach", str(folder), commit)
        fresh = True
    else:
        fresh = _git("rev-parse", "HEAD", cwd=folder) != commit
        if fresh:
            print(f"(checking out {rev} in {folder})", flush=True)
            _git("checkout", "--quiet", "--force", "--detach", commit, cwd=folder)
    python = folder / ".venv" / "bin" / "python"
    if not python.exists():
        print(f"(making its venv in {folder / '.venv'})", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(folder / ".venv")], check=True)
        fresh = True
    if fresh:  # its own dependencies, its code installed in editable mode
        print(f"(pip install -e {folder})", flush=True)
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "-e", str(folder)],
            capture_output=True,
            text=True,
        )
        if done.returncode:
            raise RuntimeError(f"pip install -e {folder} failed:\n{done.stderr[-3000:]}")
    return folder


def run_before(
    args: argparse.Namespace, cache: Path, work: Path
) -> tuple[dict[str, Any] | None, str]:
    rev = args.before
    folder = Path(args.before_dir).resolve() if args.before_dir else work / "before"
    checkout = _before_checkout(rev, folder)
    commit = _git("rev-parse", "--short", "HEAD", cwd=checkout)
    # This checkout's bench/ scripts over the old code: the same measurements, the old app.
    shutil.copytree(
        common.BENCH,
        checkout / "bench",
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    out = work / "before.json"
    argv = [
        str(checkout / ".venv" / "bin" / "python"),
        str(checkout / "bench" / "scale.py"),
        *_passed_on(args),
        "--cache",
        str(cache),
        "--json",
        str(out),
    ]
    label = f"{commit} (with this bench/)"
    print(f"\n=== before: {label}: {' '.join(argv[1:])}", flush=True)
    code = subprocess.call(argv, cwd=checkout)
    if code or not out.exists():
        print(f"=== before: exit {code}: no before figures", flush=True)
        return None, label
    before: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))["after"]
    return before, label


def _passed_on(args: argparse.Namespace) -> list[str]:
    argv = [
        "--sizes", args.sizes, "--dbs", args.dbs, "--runs", str(args.runs),
        "--home-runs", str(args.home_runs), "--formats", args.formats, "--seed", str(args.seed),
        "--partners", str(args.partners),
    ]  # fmt: skip
    if args.checklist_items is not None:
        argv += ["--checklist-items", str(args.checklist_items)]
    if args.explain:
        argv.append("--explain")
    return argv


async def _drop_temp_cache(cache: Path) -> None:
    """A cache made for this run only: its PostgreSQL databases (named apart) go with it."""
    import asyncpg

    prefix = _dataset.pg_prefix(cache)
    if prefix == _dataset.PG_PREFIX or await common.pg_available():
        return
    conn = await asyncpg.connect(common._libpq(common.PG_ADMIN_URL), timeout=10)
    try:
        names = await conn.fetch(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", prefix
        )
        for row in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{row[0]}" WITH (FORCE)')
    finally:
        await conn.close()


# ----------------------------------------------------------------------------- main


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000", help="comma-separated incident counts")
    parser.add_argument("--dbs", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=5, help="weekly summary: timed runs")
    parser.add_argument("--home-runs", type=int, default=100, help="App Home / list: runs")
    parser.add_argument("--formats", default="csv,jsonl", help="export formats")
    parser.add_argument("--partners", type=int, default=_dataset.DEFAULT_PARTNERS)
    parser.add_argument("--checklist-items", type=int, default=None)
    parser.add_argument("--seed", type=int, default=_dataset.DEFAULT_SEED)
    parser.add_argument("--explain", action="store_true", help="the summary's query plans")
    parser.add_argument("--json", help="write the figures (after, and before) to this file")
    parser.add_argument("--before", metavar="REV", help="also run on a checkout of REV")
    parser.add_argument(
        "--before-dir", metavar="DIR", help="the before checkout (made if missing; own .venv)"
    )
    _dataset.add_arguments(parser)
    args = parser.parse_args()
    started = time.perf_counter()
    with common.workdir("leakbot-scale-run-") as work:
        cache = _dataset.cache_dir(args.cache)
        temp_cache = cache is None and args.before is not None
        if temp_cache:
            cache = work / "cache"  # the before run uses the same data; dropped at the end
            cache.mkdir()
            prefix = f"{_dataset.PG_PREFIX}t{os.getpid()}_"
            (cache / _dataset.PG_PREFIX_FILE).write_text(prefix, encoding="utf-8")
        try:
            after = await measure(args, cache)
            before, before_label = None, ""
            if args.before:
                assert cache is not None
                before, before_label = run_before(args, cache, work)
        finally:
            if temp_cache and cache is not None:
                await _drop_temp_cache(cache)
        if args.before_dir is None and args.before:
            with contextlib.suppress(OSError, subprocess.CalledProcessError):
                _git("worktree", "remove", "--force", str(work / "before"))
    print()
    title = f"after: {after['revision']}"
    if args.before:
        title = f"before: {before_label}; " + title
    print(f"Issue 14 figures — {title}")
    print(f"load average: {after['load_average_start']} at the start, {common.loadavg()} now")
    print(combined_table(after, before, with_before=bool(args.before)))
    print_notes("after", after)
    if before is not None:
        print_notes("before", before)
    for label, run in (("before", before), ("after", after)):
        for result in (run or {}).get("results", []):
            where = f"{result['db']} {result['incidents']:,}"
            print(f"  data ({label}, {where}): {result['data']['source']}")
    print(f"\n(total {time.perf_counter() - started:.0f}s)")
    common.write_json(args.json, {"after": after, "before": before, "before_label": before_label})
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
