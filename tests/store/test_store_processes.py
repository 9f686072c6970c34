"""Two real OS processes on one database: migrations and incident numbers never clash."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import bot
from bot.store import Store

PER_PROCESS = 25

WORKER = r"""
import asyncio, json, sys, time
from datetime import UTC, datetime
from pathlib import Path

from bot.store import NewIncident, OutboxMessage, Store


async def main(url: str, tag: str, count: int, barrier: str) -> None:
    store = await Store.open(url)  # both processes may migrate the fresh database at once
    try:
        Path(barrier, f"ready-{tag}").touch()
        while not Path(barrier, "go").exists():
            time.sleep(0.005)
        now = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)

        async def one(i: int) -> str:
            new = NewIncident(
                partner="株式会社アクメ", reporter_id="U1", team_id="T1", locale="ja",
                answers={"i": i}, assessment={}, recommendation="request_report", year=2026,
                submission_key=f"{tag}-{i}",
            )
            msg = OutboxMessage("recommendation", "chat.postMessage", {"text": f"{tag}-{i}"})
            record, created = await store.create_incident(new, now=now, outbox=[msg])
            assert created
            return record.id

        ids = await asyncio.gather(*(one(i) for i in range(count)))
        print(json.dumps(ids))
    finally:
        await store.close()


asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
"""


async def test_two_processes_create_incidents_without_gaps_or_clashes(
    database_url: str, tmp_path: Path
) -> None:
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    env = dict(os.environ)
    project_root = str(Path(bot.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [project_root, env.get("PYTHONPATH")]))
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WORKER,
            database_url,
            tag,
            str(PER_PROCESS),
            str(barrier),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        for tag in ("p1", "p2")
    ]
    try:
        async with asyncio.timeout(60):
            while not all((barrier / f"ready-{tag}").exists() for tag in ("p1", "p2")):
                if any(p.returncode is not None for p in procs):
                    break
                await asyncio.sleep(0.01)
            (barrier / "go").touch()
            outputs = [await p.communicate() for p in procs]
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
    ids: list[str] = []
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err.decode()
        ids += json.loads(out)
    assert sorted(ids) == [f"LEAK-2026-{n:04d}" for n in range(1, 2 * PER_PROCESS + 1)]

    store = await Store.open(database_url)
    try:
        assert (await store.migration_status()).up_to_date
        assert len(await store.outbox_items()) == 2 * PER_PROCESS
        assert await store.verify_audit_chain() == []
    finally:
        await store.close()
