"""Python function calls per approval click, to compare two codes where CPU time cannot.

On a loaded machine CPU figures of two codes differ by ±10 % from run to run; the calls a click
makes do not. `run` takes a code tree (a `git archive` copy with a `.venv` symlink, or this
checkout), runs that tree's own bench/ack_statements.py in this process with cProfile switched
on only while a click and its deliveries run (its "click" and "delivery" phases, every click),
and writes the profile. `diff` prints the total calls of two profiles and the functions whose
call counts differ (paths relative to each tree, so the same function matches).

    PYTHONPATH=/tmp/before .venv/bin/python bench/ack_calls.py run /tmp/before /tmp/before.prof \\
        --dbs postgresql --clicks 21
    .venv/bin/python bench/ack_calls.py run . /tmp/after.prof --dbs postgresql --clicks 21
    .venv/bin/python bench/ack_calls.py diff /tmp/before.prof /tmp/after.prof

(cProfile's times are wall time and inflated by the profiler; only the counts are compared.)
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import importlib.util
import pstats
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def run(root: Path, out: Path, args: list[str]) -> None:
    script = root / "bench" / "ack_statements.py"
    sys.argv = [str(script), *args]
    sys.path.insert(0, str(root / "bench"))
    spec = importlib.util.spec_from_file_location("ack_statements", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    profile = cProfile.Profile()
    counting = module.Counting.counting.__wrapped__

    @contextlib.contextmanager
    def profiled(self: Any, phase: str) -> Iterator[None]:
        profile.enable()
        try:
            with contextlib.contextmanager(counting)(self, phase):
                yield
        finally:
            profile.disable()

    module.Counting.counting = profiled
    asyncio.run(module.main())
    profile.dump_stats(str(out))
    print(f"{out}: {pstats.Stats(str(out)).total_calls} calls")  # type: ignore[attr-defined]


def _calls(path: str) -> tuple[int, dict[tuple[str, str], int]]:
    stats = pstats.Stats(path)
    counts: dict[tuple[str, str], int] = {}
    for (file, _line, name), (_cc, calls, *_rest) in stats.stats.items():  # type: ignore[attr-defined]
        # The same function in two trees: the path from site-packages/ or bot/ or bench/ on;
        # built-ins by name (their addresses differ).
        where = re.sub(r"^.*?/(site-packages|bot|bench|tests)/", r"\1/", file)
        what = re.sub(r" at 0x[0-9a-f]+", "", name)
        counts[(where, what)] = counts.get((where, what), 0) + calls
    return stats.total_calls, counts  # type: ignore[attr-defined]


def diff(before: str, after: str, top: int) -> None:
    total_before, a = _calls(before)
    total_after, b = _calls(after)
    print(f"calls: {total_before} -> {total_after} ({total_after - total_before:+d})")
    changed = [(b.get(k, 0) - a.get(k, 0), a.get(k, 0), b.get(k, 0), k) for k in a.keys() | b]
    changed = [row for row in changed if row[0]]
    for delta, was, now, (where, what) in sorted(changed, key=lambda r: -abs(r[0]))[:top]:
        print(f"{delta:+8d} {was:8d} -> {now:8d}  {where}:{what}")


def main() -> None:
    if len(sys.argv) >= 4 and sys.argv[1] == "run":
        run(Path(sys.argv[2]).resolve(), Path(sys.argv[3]), sys.argv[4:])
    elif len(sys.argv) >= 4 and sys.argv[1] == "diff":
        diff(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 40)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
