"""How much of `leakbot run`'s memory is leakbot's own code, and how much its libraries'.

For each database driver, in fresh interpreters of this venv (nothing else running in them):

- `bare`: the interpreter alone;
- `leakbot`: `import bot.cli, bot.server`, the driver and its SQLAlchemy dialect, as
  `leakbot run` holds them once its engine exists;
- `libraries`: the same modules minus leakbot's own (`bot.*`), imported one by one in the order
  `leakbot` imported them: the floor that leakbot's choice of libraries sets;
- `bot share`: `leakbot` − `libraries`.

It reads VmRSS only (no server, no database). bench/memory_startup.py measures the running
server; this splits its import part.

    .venv/bin/python bench/import_floor.py
    .venv/bin/python bench/import_floor.py --runs 5 --json /tmp/floor.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from typing import Any

import _common as common

# The dialect and its driver: the engine imports the driver when it is created.
DRIVERS = {
    "sqlite": "sqlalchemy.dialects.sqlite.aiosqlite,aiosqlite",
    "postgresql": "sqlalchemy.dialects.postgresql.asyncpg,asyncpg",
}

# Run in the child: VmRSS in MiB, and the modules it holds, in import order.
_CHILD = r"""
import importlib, json, sys
def rss():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
mode, driver = sys.argv[1], sys.argv[2]
before = list(sys.modules)
failed = 0
if mode == "leakbot":
    import bot.cli, bot.server
    for name in driver.split(","):
        importlib.import_module(name)
elif mode == "libraries":
    for name in json.loads(sys.stdin.read()):
        if name not in sys.modules:
            try:
                importlib.import_module(name)
            except Exception:
                failed += 1
print(json.dumps({"rss": rss(), "modules": [m for m in sys.modules if m not in before],
                  "failed": failed}))
"""


def _child(mode: str, driver: str, modules: list[str] | None = None) -> dict[str, Any]:
    done = subprocess.run(
        [common.PYTHON, "-c", _CHILD, mode, driver],
        input=json.dumps(modules or []),
        capture_output=True,
        text=True,
        check=True,
        cwd=common.ROOT,
    )
    return dict(json.loads(done.stdout))


def _libraries(modules: list[str]) -> list[str]:
    """The modules that are not leakbot's own (nor this probe's `__main__`)."""
    return [m for m in modules if m != "bot" and not m.startswith("bot.") and m != "__main__"]


def measure(db: str, runs: int) -> dict[str, Any]:
    driver = DRIVERS[db]
    bare, leakbot, libraries = [], [], []
    modules: list[str] = []
    failed = 0
    for _ in range(runs):
        bare.append(_child("bare", driver)["rss"])
        full = _child("leakbot", driver)
        leakbot.append(full["rss"])
        modules = full["modules"]
        floor = _child("libraries", driver, _libraries(modules))
        libraries.append(floor["rss"])
        failed = floor["failed"]
    own = [m for m in modules if m == "bot" or m.startswith("bot.")]
    return {
        "db": db,
        "bare_mb": statistics.median(bare),
        "libraries_mb": statistics.median(libraries),
        "leakbot_mb": statistics.median(leakbot),
        "bot_share_mb": statistics.median(a - b for a, b in zip(leakbot, libraries, strict=True)),
        "modules": len(modules),
        "bot_modules": len(own),
        "library_modules_not_importable_alone": failed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dbs", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=3, help="medians of this many runs")
    parser.add_argument("--json", help="write raw figures to this file")
    args = parser.parse_args()
    results = [measure(db, args.runs) for db in args.dbs.split(",")]
    print(f"RSS after imports (MiB, median of {args.runs}; {common.loadavg()})")
    print(
        common.table(
            [
                "driver",
                "bare",
                "libraries",
                "leakbot",
                "bot share",
                "modules (bot)",
                "not importable alone",
            ],
            [
                [
                    r["db"],
                    r["bare_mb"],
                    r["libraries_mb"],
                    r["leakbot_mb"],
                    r["bot_share_mb"],
                    f"{r['modules']} ({r['bot_modules']})",
                    r["library_modules_not_importable_alone"],
                ]
                for r in results
            ],
        )
    )
    common.write_json(args.json, results)


if __name__ == "__main__":
    sys.exit(main())
