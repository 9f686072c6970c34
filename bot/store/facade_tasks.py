"""The `Store`'s methods for follow-up tasks and App Home.

Part of the `Store` facade (bot/store/repository.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from . import (
    attention,
    home,
    tasks,
)
from .attention import DueIncident, DueTask
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
