"""`freeze_startup_objects` (bot/server.py): what start-up built is frozen out of the collector's
reach, after collecting the young generations only (a full collection cost ~35 ms of every
start's CPU for ~4 KB of garbage). Run in a child: freezing this test process would change it."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import gc, json
from bot.server import freeze_startup_objects

full_before = gc.get_stats()[2]["collections"]
young_before = sum(gc.get_stats()[g]["collected"] for g in (0, 1))
young = []
young.append(young)  # a young cycle, garbage once dropped
del young
freeze_startup_objects()
print(json.dumps({
    "full_collections": gc.get_stats()[2]["collections"] - full_before,
    "counts": gc.get_count(),
    "frozen": gc.get_freeze_count(),
    "young_collected": sum(gc.get_stats()[g]["collected"] for g in (0, 1)) - young_before,
}))
"""


def test_start_up_objects_are_frozen_without_a_full_collection() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    figures = json.loads(result.stdout)
    assert figures["full_collections"] == 0
    assert figures["counts"] == [0, 0, 0]  # every generation was moved to the frozen set
    assert figures["frozen"] > 10_000  # the modules' objects, at least
    assert figures["young_collected"] >= 1  # the young cycle was collected, not frozen
