"""The `Store`'s methods for follow-up tasks and App Home.

Part of the `Store` facade (bot/store/repository.py)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime

from . import (
    attention,
    home,
    tasks,
)
from .attention import DueIncident, DueTask, LookNow
from .engine import Database
from .home import HomeSnapshot
from .records import (
    SYSTEM_ACTOR,
    NewTask,
    TaskOutcome,
    TaskRecord,
)


class TasksFacade(Database):
    # -- follow-up tasks ------------------------------------------------------------------------

    async def create_tasks(
        self,
        incident_id: str,
        new_tasks: Sequence[NewTask],
        *,
        now: datetime,
        actor_id: str = SYSTEM_ACTOR,
    ) -> list[TaskRecord]:
        """Create follow-ups for the incident's current round; idempotent per (round, kind, ref).
        Returns the records for the given tasks (new or existing), in order. Raises
        IncidentNotFound."""
        return await self.write(
            lambda conn: tasks.create_tasks(
                conn, incident_id, new_tasks, now=now, actor_id=actor_id
            )
        )

    async def tasks_for(self, incident_id: str) -> list[TaskRecord]:
        async with self.read() as conn:
            return await tasks.tasks_for(conn, incident_id)

    async def get_task(self, task_id: int) -> TaskRecord | None:
        async with self.read() as conn:
            return await tasks.get_task(conn, task_id)

    async def complete_task(self, task_id: int, *, actor_id: str, now: datetime) -> TaskOutcome:
        return await self.write(
            lambda conn: tasks.complete_task(conn, task_id, actor_id=actor_id, now=now)
        )

    # -- the follow-through's minute pass (moved on in its own transactions: attention.py) -----

    async def due_escalations(self, now: datetime, *, limit: int) -> list[DueIncident]:
        """Up to `limit` pending incidents whose next escalation time has come, earliest first."""
        async with self.read() as conn:
            return await attention.due_escalations(conn, now, limit=limit)

    async def due_attention(self, now: datetime, *, limit: int) -> list[DueTask]:
        """Up to `limit` open running tasks whose next attention time has come, earliest first
        (a full batch ends with all of its last incident's)."""
        async with self.read() as conn:
            return await attention.due_attention(conn, now, limit=limit)

    async def follow_attention_settings(
        self, fingerprint: str, *, now: datetime, batch_size: int
    ) -> LookNow | None:
        """Make the stored escalation and attention times follow the settings of `fingerprint`:
        None when they already do; otherwise every live row whose time is ahead is set to "look
        now" (`batch_size` rows per transaction, so that other writers wait at most one batch)
        and then the fingerprint is recorded. Stopped midway, the next call does the rest (the
        rows already set are due: not read again); two replicas doing it at once set some rows
        twice, to the same effect."""
        async with self.read() as conn:
            if await attention.settings_applied(conn, fingerprint):
                return None
        counts = {"incidents": 0, "tasks": 0}
        for table, statement in attention.look_now_statements():
            done = batch_size
            while done == batch_size:
                done = await self.write(
                    functools.partial(
                        attention.look_now, statement=statement, now=now, limit=batch_size
                    )
                )
                counts[table] += done
        await self.write(lambda conn: attention.record_settings(conn, fingerprint, now=now))
        return LookNow(counts["incidents"], counts["tasks"])

    # -- App Home -------------------------------------------------------------------------------

    async def home_snapshot(
        self, user_id: str, *, everyone: bool, week_start: datetime, now: datetime, limit: int
    ) -> HomeSnapshot:
        """What one person's App Home shows (`everyone`: an approver), on one connection."""
        async with self.read() as conn:
            return await home.home_snapshot(
                conn, user_id, everyone=everyone, week_start=week_start, now=now, limit=limit
            )

    async def note_home_opened(self, user_id: str, *, approver: bool, now: datetime) -> None:
        """Remember that the person opened their tab (whose tabs changes publish again)."""
        await self.write(
            lambda conn: home.note_home_opened(conn, user_id, approver=approver, now=now)
        )

    async def home_viewers(
        self, people: Iterable[str], *, approvers: bool, since: datetime
    ) -> set[str]:
        """Which of `people` (with `approvers`: and which approvers) opened their tab since."""
        async with self.read() as conn:
            return await home.home_viewers_among(conn, people, approvers=approvers, since=since)
