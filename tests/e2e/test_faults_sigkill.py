"""The real `leakbot run` process, killed with SIGKILL at 21 points of the flow and restarted.

Each life of the process arms one failpoint (`LEAKBOT_FAILPOINTS`): after an incident commits but
before the ack, after an approval commits, and before, after and while recording the Slack calls
of the outbox. The driver acts like the people and like Slack: a request that died with the
process is sent again after the restart, as a person would press the button again. At the end:
no incident lost, none doubled, every recommendation and task list posted exactly once, every
incident decided once.

The process runs on the real clock (it is another process); the test never sleeps: it waits on
the process's own "running" log line and on the emulator's answered calls, with timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from conftest import APPROVER_1, CHANNEL, GROUP, MILD_STEPS, REPORTER, SECRET, SUMMARY_CHANNEL
from leakbot_process import free_port
from slackemu import SlackEmulator, SlackSender, SystemClock

from bot.store import Store

# Ordered so that each life reaches its point quickly (counts are per process life).
FAILPOINTS = [
    "outbox.sent=1",
    "intake.committed=1",
    "outbox.claimed=1",
    "approval.committed=1",
    "tasks.created=1",
    "outbox.marked=1",
    "command.acked=1",
    "outbox.sent=2",
    "tasks.enqueued=1",
    "outbox.claimed=2",
    "intake.committed=2",
    "outbox.marked=2",
    "approval.committed=2",
    "outbox.sent=3",
    "command.acked=2",
    "outbox.claimed=3",
    "outbox.marked=3",
    "outbox.sent=4",
    "outbox.claimed=4",
    "outbox.marked=4",
    "outbox.sent=5",
]
WAIT = 30.0  # seconds: a bound on waiting for the other process, never a sleep


class BotProcess:
    """`python -m bot.cli run --http` with its stderr (JSON logs) read as it comes."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []
        self._reader: asyncio.Task[None] | None = None
        self._running = asyncio.Event()

    async def start(self, failpoint: str | None) -> None:
        env = dict(self.env)
        if failpoint:
            env["LEAKBOT_FAILPOINTS"] = failpoint
        self._running = asyncio.Event()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            "--http",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        reader = self._reader = asyncio.create_task(self._read())
        running = asyncio.create_task(self._running.wait())
        # Whichever comes first: "running", or the end of its stderr (it exited: fail at once).
        await asyncio.wait({running, reader}, timeout=WAIT, return_when=asyncio.FIRST_COMPLETED)
        if not self._running.is_set():
            running.cancel()
            # Say why (a start that hangs, or one that ended: its exit code and last lines).
            code = await asyncio.wait_for(self.proc.wait(), WAIT) if reader.done() else None
            tail = "\n".join(self.lines[-20:])
            raise AssertionError(
                f"leakbot did not say it was running (exit code {code}, waited {WAIT} s at most):"
                f"\n{tail}"
            )

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        async for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            with contextlib.suppress(ValueError):
                if json.loads(line).get("message") == "leakbot is running":
                    self._running.set()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def wait_exit(self) -> int:
        assert self.proc is not None
        code = await asyncio.wait_for(self.proc.wait(), WAIT)
        if self._reader is not None:
            await asyncio.wait_for(self._reader, WAIT)
        return code

    async def stop(self) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.terminate()
            await self.wait_exit()


class Driver:
    """Plays the people and Slack; retries an action that died with the process."""

    def __init__(self, emu: SlackEmulator, bot: BotProcess, port: int, points: list[str]) -> None:
        self.emu = emu
        self.bot = bot
        self.slack = SlackSender(
            f"http://127.0.0.1:{port}", SECRET, clock=SystemClock(), emulator=emu
        )
        self.pending = list(points)
        self.kills: list[str] = []
        self.armed: str | None = None

    async def restart_if_dead(self) -> None:
        if self.bot.alive:
            return
        code = await self.bot.wait_exit()
        assert code == -9, f"the process ended with {code}, not by SIGKILL:\n" + "\n".join(
            self.bot.lines[-20:]
        )
        assert self.armed is not None
        self.kills.append(self.armed)
        self.armed = self.pending.pop(0) if self.pending else None
        await self.bot.start(self.armed)

    async def act(self, action: Callable[[], Awaitable[Any]]) -> Any:
        """Run `action` until it succeeds, restarting the process whenever it died."""
        for _ in range(len(FAILPOINTS) + 3):
            try:
                result = await action()
            except (aiohttp.ClientError, AssertionError, TimeoutError):
                await asyncio.wait_for(self._settle(), WAIT)
                if self.bot.alive:
                    print(
                        "\n".join(
                            line
                            for line in self.bot.lines
                            if '"error"' in line or "Traceback" in line
                        )[-5000:]
                    )
                    raise
                await self.restart_if_dead()
                continue
            await self.restart_if_dead()
            return result
        raise AssertionError("the action never succeeded")

    async def _settle(self) -> None:
        # A request that failed because the process is dying: let it finish dying.
        if self.bot.alive and self.bot.proc is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.bot.proc.wait(), 5)

    async def report(self, number: int) -> None:
        view_ids: list[str] = []

        async def open_modal() -> None:
            before = len(self.emu.successful_calls_to("views.open"))
            reply = await self.slack.slash_command("/leak", user_id=REPORTER)
            assert reply.status == 200
            call = await asyncio.wait_for(
                self.emu.wait_for_call("views.open", count=before + 1), WAIT
            )
            view_ids.append(str(call.response["view"]["id"]))

        await self.act(open_modal)
        steps = [dict(step) for step in MILD_STEPS]
        steps[0]["partner"] = f"Partner {number}"
        for answers in [*steps, {}]:

            async def submit(answers: dict[str, Any] = answers) -> None:
                reply = await self.slack.view_submission(
                    view_ids[-1], user_id=REPORTER, answers=answers
                )
                assert reply.status == 200 and (reply.json or {}).get("response_action") == "update"

            await self.act(submit)

    async def approve(self, incident_id: str) -> None:
        async def recommendation_posted() -> str:
            def matches(call: Any) -> bool:
                return (
                    call.ok
                    and call.args.get("channel") == CHANNEL
                    and not call.args.get("thread_ts")
                    and incident_id in str(call.args.get("text"))
                )

            call = await asyncio.wait_for(
                self.emu.wait_for_call("chat.postMessage", where=matches), WAIT
            )
            return str(call.response["ts"])

        ts = await self.act(recommendation_posted)

        async def click() -> None:
            message = self.emu.message(CHANNEL, ts)
            if not [b for b in message.get("blocks", []) if b.get("type") == "actions"]:
                return  # the approval committed before a kill, and the message shows it: done
            before = len(self.emu.calls_to("response_url"))
            try:
                reply = await self.slack.block_actions(
                    "leak_approve",
                    user_id=APPROVER_1,
                    value=incident_id,
                    channel_id=CHANNEL,
                    message_ts=ts,
                )
            except ValueError:  # the decision's update removed the buttons meanwhile
                return
            assert reply.status == 200
            await asyncio.wait_for(self.emu.wait_for_call("response_url", count=before + 1), WAIT)

        await self.act(click)


async def _incident_ids(database_url: str) -> list[str]:
    store = await Store.open(database_url)
    try:
        return sorted(r.id for r in await store.list_incidents(limit=1000))
    finally:
        await store.close()


def fault_workspace(emu: SlackEmulator) -> None:
    """The people and channels the killed processes work with."""
    emu.add_user(REPORTER, locale="ja-JP")
    emu.add_user(APPROVER_1, locale="ja-JP")
    emu.add_usergroup(GROUP, [])
    emu.add_channel(CHANNEL, is_member=True)
    emu.add_channel(SUMMARY_CHANNEL, is_member=True)


def fault_env(emu: SlackEmulator, database_url: str, port: int) -> dict[str, str]:
    """A `leakbot run` child's environment: this one's without leakbot's settings, plus these."""
    return {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "LEAKBOT_", "DATABASE_URL"))
        },
        "SLACK_BOT_TOKEN": "xoxb-fault-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": emu.api_url,
        "DATABASE_URL": database_url,
        "LEAKBOT_ESCALATION_CHANNEL": CHANNEL,
        "LEAKBOT_SUMMARY_CHANNEL": SUMMARY_CHANNEL,
        "LEAKBOT_APPROVERS": f"{APPROVER_1},{GROUP}",
        "PORT": str(port),
    }


async def test_sigkill_at_many_points_loses_and_doubles_nothing(database_url: str) -> None:
    # Every point on SQLite; every other one on PostgreSQL (same code paths, and each life
    # costs a process start), which keeps CI well inside its budget.
    points = FAILPOINTS if database_url.startswith("sqlite") else FAILPOINTS[::2]
    port = free_port()
    async with SlackEmulator(clock=SystemClock()) as emu:
        fault_workspace(emu)
        bot = BotProcess(fault_env(emu, database_url, port))
        driver = Driver(emu, bot, port, points)
        driver.armed = driver.pending.pop(0)
        await bot.start(driver.armed)
        try:
            number = 0
            while driver.pending or driver.armed:
                number += 1
                assert number <= 24, f"failpoints never reached: {[driver.armed, *driver.pending]}"
                await driver.report(number)
                ids = await _incident_ids(database_url)
                await driver.approve(ids[-1])
            # Let the last life deliver everything (tasks lists are the last calls of each).
            for incident_id in await _incident_ids(database_url):
                await driver.act(
                    lambda i=incident_id: asyncio.wait_for(
                        emu.wait_for_call(
                            "chat.postMessage",
                            where=lambda c, i=i: (
                                c.ok
                                and i in json.dumps(c.args.get("blocks") or [], ensure_ascii=False)
                                and bool(c.args.get("thread_ts"))
                            ),
                        ),
                        WAIT,
                    )
                )
        finally:
            await bot.stop()
            await driver.slack.close()

        assert driver.kills == points  # every point was reached, and each killed the process
        ids = await _incident_ids(database_url)
        year = ids[0][5:9]
        assert ids == [f"LEAK-{year}-{n:04d}" for n in range(1, len(ids) + 1)]  # no gap, no clash
        assert len(ids) == number, (ids, number)  # none lost, none doubled
        posts = [
            c
            for c in emu.successful_calls_to("chat.postMessage")
            if c.args.get("channel") == CHANNEL
        ]
        for incident_id in ids:
            tops = [
                c
                for c in posts
                if not c.args.get("thread_ts") and incident_id in str(c.args.get("text"))
            ]
            assert len(tops) == 1, f"{incident_id}: recommendation posted {len(tops)} times"
            ts = tops[0].response["ts"]
            task_lists = [c for c in posts if c.args.get("thread_ts") == ts]
            assert len(task_lists) == 1, f"{incident_id}: task list posted {len(task_lists)} times"
            final = emu.message(CHANNEL, ts)
            # No decision controls left (the incident's own Close may be there: issue 12).
            assert not [
                b
                for b in final.get("blocks", [])
                if b.get("type") == "actions" and str(b.get("block_id")).startswith("leak_decision")
            ], incident_id
        store = await Store.open(database_url)
        try:
            for incident_id in ids:
                record = await store.get_incident(incident_id)
                assert record is not None and record.status == "decided", incident_id
                assert record.decided_by == (APPROVER_1,)
            assert await store.verify_audit_chain() == []
            left = [
                (i.kind, i.attempts, i.last_error)
                for i in await store.outbox_items(status="pending")
            ]
            assert left == [], left
        finally:
            await store.close()
