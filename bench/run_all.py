"""Run every benchmark, one after the other (never two at once: they would share the CPU).

    .venv/bin/python bench/run_all.py            # quick profile, under 10 minutes on 2 cores
    .venv/bin/python bench/run_all.py --full     # the full sizes of each script's defaults
    .venv/bin/python bench/run_all.py --out DIR  # also keep each script's output and JSON in DIR

The quick profile keeps what the targets are about (both databases, both concurrency levels,
the 1,000,000-incident summary) and trims the rest: fewer requests per run, one checklist task
per decided incident instead of the playbook's 3-5 (the summary's queries only count deadline
tasks), and 1,000 incidents instead of 10,000 for the memory figure. bench/README.md lists the
full commands and what each prints.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import _common as common

QUICK = {
    "ack_latency.py": ["--requests-c1", "150", "--requests", "500", "--warmup", "20"],
    "summary_scale.py": ["--sizes", "10000,1000000", "--runs", "3", "--checklist-items", "1"],
    "memory_startup.py": ["--incidents", "1000", "--restarts", "2"],
}
FULL: dict[str, list[str]] = {name: [] for name in QUICK}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="each script's full defaults")
    parser.add_argument("--out", help="directory for each script's output and raw JSON")
    parser.add_argument(
        "--only", default="", help="comma-separated script names (e.g. summary_scale.py)"
    )
    args = parser.parse_args()
    plan = FULL if args.full else QUICK
    only = {name for name in args.only.split(",") if name}
    out = Path(args.out) if args.out else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    failed = []
    started = time.perf_counter()
    for script, options in plan.items():
        if only and script not in only:
            continue
        argv = [common.PYTHON, str(common.BENCH / script), *options]
        if out:
            argv += ["--json", str(out / (Path(script).stem + ".json"))]
        print(f"\n=== {' '.join(argv[1:])}  (load average {common.loadavg()})", flush=True)
        t0 = time.perf_counter()
        if out:
            with open(out / (Path(script).stem + ".txt"), "w", encoding="utf-8") as log:
                proc = subprocess.Popen(
                    argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
                )
                assert proc.stdout is not None
                for line in proc.stdout:
                    sys.stdout.write(line)
                    log.write(line)
                code = proc.wait()
        else:
            code = subprocess.call(argv)
        print(f"=== {script}: exit {code} after {time.perf_counter() - t0:.0f}s", flush=True)
        if code:
            failed.append(script)
    print(
        f"\nall done in {time.perf_counter() - started:.0f}s"
        + (f"; failed: {failed}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
