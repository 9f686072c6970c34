"""SQL statements (and transactions) per approval click, after its ack, on both databases.

In one process: the e2e Slack emulator, leakbot's real HTTP server (`build_app`, the outbox
drained by hand, as the e2e tests do), a fresh SQLite file and PostgreSQL database. Pending
incidents (a case one approval decides, as in ack_latency.py) are stored through
`IncidentService.submit` and their recommendations posted; then each is approved by a signed
`leak_approve` click. Counted per click, with SQLAlchemy's `before_cursor_execute` and `begin`
events on every engine:

- "click": from the request to the answer on its response_url (the listener's work: the
  vote, the decision, the tasks, the App Home refresh queued);
- "delivery": draining the outbox the click filled (message update, the reporter's DM, the
  tasks reply, App Home publishes) — what ack_latency.py's "cpu ms/req" includes too.

`--home` lets the approver and the reporters open their App Home first, so that each decision
also re-publishes tabs (the coalesced `home` notifications). `--top N` lists the N statements
run most often per click. Prints the per-click medians (all clicks do the same work).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _common as common
import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine import Engine

T0 = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)


class Counting:
    """Statements and transactions seen on every engine while `phase` is set, and (SQLite) the
    calls awaited on aiosqlite's connection threads ("trips": each a thread hand-off and a wake-up
    of the event loop)."""

    def __init__(self) -> None:
        self.phase: str | None = None
        self.statements: Counter[str] = Counter()
        self.by_text: Counter[str] = Counter()
        self.begins: Counter[str] = Counter()
        self.trips: Counter[str] = Counter()
        event.listen(Engine, "before_cursor_execute", self._statement)
        event.listen(Engine, "begin", self._begin)
        self._execute = aiosqlite.Connection._execute
        counting = self

        async def trip(conn: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
            if counting.phase is not None:
                counting.trips[counting.phase] += 1
            return await counting._execute(conn, fn, *args, **kwargs)

        aiosqlite.Connection._execute = trip  # type: ignore[method-assign]

    def close(self) -> None:
        event.remove(Engine, "before_cursor_execute", self._statement)
        event.remove(Engine, "begin", self._begin)
        aiosqlite.Connection._execute = self._execute  # type: ignore[method-assign]

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.phase is None:
            return
        self.statements[self.phase] += 1
        self.by_text[f"{self.phase}: {_shape(statement)}"] += 1

    def _begin(self, _conn: Any) -> None:
        if self.phase is not None:
            self.begins[self.phase] += 1

    @contextlib.contextmanager
    def counting(self, phase: str) -> Iterator[None]:
        self.phase = phase
        try:
            yield
        finally:
            self.phase = None


def _shape(statement: str) -> str:
    """A statement without its parameters, on one line, shortened."""
    text = re.sub(r"\s+", " ", statement).strip()
    text = re.sub(r"\(\$\d+(::\w+)?(, \$\d+(::\w+)?)*\)", "(…)", text)
    text = re.sub(r"\(\?(, \?)*\)", "(…)", text)
    return text[:110]


async def bench_database(db: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from conftest import APPROVER_1, start_leakbot, stop_leakbot
    from slackemu import FakeClock
    from slackemu.payloads import app_home_opened_event

    counter = Counting()
    clock = FakeClock(T0)
    async with (
        _emulator(clock) as emu,
        common.fresh_database(db, work) as database_url,
    ):
        bot = await start_leakbot(emu, clock, database_url)
        try:
            deps = bot.app.deps
            incidents = []
            for i in range(args.clicks):
                record, _ = await deps.service.submit(
                    {**common.MILD, "partner": f"Globex {i % 7}"},
                    reporter_id=common.REPORTERS[i % 4],
                    team_id="T0LEAKTEAM",
                    locale="ja",
                    submission_key=f"bench:{uuid.uuid4().hex}",
                )
                incidents.append(record)
            if args.home:
                for user in (APPROVER_1, *common.REPORTERS[:4]):
                    await bot.slack.event_callback(app_home_opened_event(user=user))
                    await emu.wait_for_call(
                        "views.publish", where=lambda c, u=user: c.args.get("user_id") == u
                    )
            await bot.deliver()
            per_click: list[dict[str, float]] = []
            for n, record in enumerate(incidents):
                ts = bot.recommendation_ts(record)
                before = dict(counter.statements), dict(counter.begins), sum(counter.trips.values())
                started = time.process_time()
                with counter.counting("click"):
                    responses = len(emu.calls_to("response_url"))
                    reply = await bot.slack.block_actions(
                        "leak_approve",
                        user_id=APPROVER_1,
                        channel_id=common.CHANNEL,
                        message_ts=ts,
                    )
                    assert reply.status == 200, reply.text
                    await emu.wait_for_call("response_url", count=responses + 1)
                with counter.counting("delivery"):
                    delivered = await bot.deliver()
                cpu = time.process_time() - started
                decided = await bot.store.get_incident(record.id)
                assert decided is not None and decided.status == "decided", decided
                # Coalesced App Home publishes are due a few seconds later: let them come.
                clock.advance(seconds=10)
                with counter.counting("delivery"):
                    delivered += await bot.deliver()
                if n == 0:
                    continue  # warm-up: caches, prepared statements
                per_click.append(
                    {
                        "click": counter.statements["click"] - before[0].get("click", 0),
                        "delivery": counter.statements["delivery"] - before[0].get("delivery", 0),
                        "click_tx": counter.begins["click"] - before[1].get("click", 0),
                        "delivery_tx": counter.begins["delivery"] - before[1].get("delivery", 0),
                        "trips": sum(counter.trips.values()) - before[2],
                        "slack_calls": delivered,
                        "cpu_ms": 1000 * cpu,
                    }
                )
        finally:
            await stop_leakbot(bot)
            counter.close()
    figures = {key: common.median([c[key] for c in per_click]) for key in per_click[0]}
    clicks = len(per_click) + 1
    top = [
        (text, count / clicks) for text, count in counter.by_text.most_common(args.top) if args.top
    ]
    return {"db": db, "clicks": len(per_click), **figures, "top": top}


@contextlib.asynccontextmanager
async def _emulator(clock: Any):  # type: ignore[no-untyped-def]
    from conftest import APPROVER_1, APPROVER_2, APPROVER_3, manifest_scopes
    from slackemu import SlackEmulator

    async with SlackEmulator(clock=clock, scopes=manifest_scopes()) as emu:
        for user in (APPROVER_1, APPROVER_2, APPROVER_3, *common.REPORTERS[:4]):
            emu.add_user(user, locale="ja-JP")
        emu.add_usergroup(common.GROUP, [APPROVER_2, APPROVER_3])
        emu.add_channel(common.CHANNEL, is_member=True)
        emu.add_channel(common.SUMMARY_CHANNEL, is_member=True)
        yield emu


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dbs", default="sqlite,postgresql")
    parser.add_argument("--clicks", type=int, default=21, help="clicks (the first is a warm-up)")
    parser.add_argument("--home", action="store_true", help="App Home tabs opened first")
    parser.add_argument("--top", type=int, default=0, help="list the N most run statements")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="leakbot-stmts-") as tmp:
        for db in args.dbs.split(","):
            if db == "postgresql" and (why := await common.pg_available()):
                print(f"[postgresql] skipped: {why}")
                continue
            result = await bench_database(db, args, Path(tmp))
            rows.append(result)
            for text, per in result["top"]:
                print(f"  [{db}] {per:5.2f}/click  {text}")
    print(f"root: {common.ROOT}; App Home tabs opened first: {'yes' if args.home else 'no'}")
    print(
        common.table(
            [
                "db",
                "clicks",
                "statements: click",
                "delivery",
                "total",
                "transactions: click",
                "delivery",
                "slack calls",
                "sqlite trips",
                "cpu ms (in-process, emulator included)",
            ],
            [
                (
                    r["db"],
                    r["clicks"],
                    r["click"],
                    r["delivery"],
                    r["click"] + r["delivery"],
                    r["click_tx"],
                    r["delivery_tx"],
                    r["slack_calls"],
                    r["trips"] if r["db"] == "sqlite" else "",
                    r["cpu_ms"],
                )
                for r in rows
            ],
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
