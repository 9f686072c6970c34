"""The `Store`'s methods for incidents: create, read, list, close and reopen them, new facts.

Part of the `Store` facade (bot/store/repository.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from . import (
    incidents,
    listing,
    outbox,
)
from . import lifecycle as lifecycle_queries
from . import updates as update_queries
from .engine import Database
from .lifecycle import ClosureRecord
from .outbox import OutboxSpec
from .records import (
    IncidentRecord,
    NewIncident,
    NewTask,
    TaskDue,
)


class IncidentsFacade(Database):
    # -- incidents ------------------------------------------------------------------------------

    async def create_incident(
        self,
        new: NewIncident,
        *,
        now: datetime,
        outbox: OutboxSpec = (),
        tasks: Sequence[NewTask] = (),
        actor_id: str | None = None,
    ) -> tuple[IncidentRecord, bool]:
        """Create the incident with its first audit row, outbox messages and tasks, atomically.

        Returns (record, True), or (existing, False) when `new.submission_key` was seen before.
        The id is LEAK-<year>-<seq>: gapless per year (a rolled-back creation frees its number).
        `outbox` may be a function of the new record (to put its id into texts and button
        values); messages with `incident_id=None` belong to this incident.
        """
        try:
            record = await self.write(
                lambda conn: incidents.create_incident(
                    conn, new, now=now, outbox=outbox, tasks=tasks, actor_id=actor_id
                )
            )
        except incidents.ExistingSubmission as exc:
            return exc.record, False
        except IntegrityError:
            if new.submission_key is not None:
                existing = await self.get_incident_by_submission_key(new.submission_key)
                if existing is not None:
                    return existing, False
            raise
        return record, True

    async def get_incident(self, incident_id: str) -> IncidentRecord | None:
        async with self.read() as conn:
            return await incidents.get_incident(conn, incident_id)

    async def incident_and_sent(
        self, incident_id: str, kinds: Iterable[str]
    ) -> tuple[IncidentRecord | None, dict[str, dict[str, Any] | None]]:
        """The incident and, for each kind, `last_sent_result` (what the outbox needs to send
        one of its messages), on one connection."""
        async with self.read() as conn:
            record = await incidents.get_incident(conn, incident_id)
            if record is None:
                return None, {}
            sent = {kind: await outbox.last_sent_result(conn, incident_id, kind) for kind in kinds}
            return record, sent

    async def get_incidents(self, incident_ids: Iterable[str]) -> dict[str, IncidentRecord]:
        """Several incidents by id in a few queries (missing ids are left out)."""
        async with self.read() as conn:
            return await incidents.get_incidents(conn, incident_ids)

    async def get_incident_by_submission_key(self, submission_key: str) -> IncidentRecord | None:
        async with self.read() as conn:
            return await incidents.get_incident_by_submission_key(conn, submission_key)

    async def list_incidents(
        self,
        *,
        statuses: Iterable[str] | None = None,
        limit: int = 50,
        reporter_id: str | None = None,
    ) -> list[IncidentRecord]:
        """Newest first."""
        async with self.read() as conn:
            return await incidents.list_incidents(
                conn, statuses=statuses, limit=limit, reporter_id=reporter_id
            )

    async def decided_rounds_between(self, start: datetime, end: datetime) -> list[tuple[str, int]]:
        """(id, round) of the incidents decided now with start <= decided_at < end, oldest
        first."""
        async with self.read() as conn:
            return await incidents.decided_rounds_between(conn, start, end)

    async def count_incidents_for_partner(
        self,
        partner: str,
        *,
        exclude_id: str | None = None,
        created_before: datetime | None = None,
    ) -> int:
        """Incidents with this partner (a name as typed or a key: it is normalised again)."""
        async with self.read() as conn:
            return await incidents.count_incidents_for_partner(
                conn, partner, exclude_id=exclude_id, created_before=created_before
            )

    async def set_message_ref(
        self, incident_id: str, channel_id: str, message_ts: str, *, now: datetime
    ) -> bool:
        """Remember where the recommendation was posted (idempotent). False: no such incident."""
        return await self.write(
            lambda conn: incidents.set_message_ref(
                conn, incident_id, channel_id, message_ts, now=now
            )
        )

    async def reopen_for_new_round(
        self,
        incident_id: str,
        *,
        assessment: Mapping[str, Any],
        recommendation: str,
        actor_id: str,
        reason: str,
        now: datetime,
        outbox: OutboxSpec = (),
        answers: Mapping[str, Any] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> IncidentRecord:
        """Re-assessment: round + 1, status 'pending', decision cleared (it stays in the audit
        trail), new assessment / recommendation (and answers, when given). `details` go into
        the audit row's `after` (what caused it). Raises IncidentNotFound."""
        return await self.write(
            lambda conn: incidents.reopen_for_new_round(
                conn,
                incident_id,
                assessment=assessment,
                recommendation=recommendation,
                actor_id=actor_id,
                reason=reason,
                now=now,
                outbox=outbox,
                answers=answers,
                details=details,
            )
        )

    # -- closing with an outcome (issue 12; bot/store/lifecycle.py) ---------------------------

    async def close_with_outcome(
        self,
        incident_id: str,
        *,
        actor_id: str,
        outcome: str,
        note: str | None,
        regulator: Sequence[Mapping[str, Any]],
        done_task_ids: Sequence[int],
        now: datetime,
        outbox: OutboxSpec = (),
    ) -> IncidentRecord | None:
        """Close with an outcome, marking the tasks confirmed done; None when it was closed
        already (nothing changes). Raises IncidentNotFound."""
        return await self.write(
            lambda conn: lifecycle_queries.close_with_outcome(
                conn,
                incident_id,
                actor_id=actor_id,
                outcome=outcome,
                note=note,
                regulator=regulator,
                done_task_ids=done_task_ids,
                now=now,
                outbox=outbox,
            )
        )

    async def reopen_closed(
        self, incident_id: str, *, actor_id: str, now: datetime, outbox: OutboxSpec = ()
    ) -> IncidentRecord | None:
        """A closed incident back to where it was (decided, sent back or pending); None when it
        was not closed. Raises IncidentNotFound."""
        return await self.write(
            lambda conn: lifecycle_queries.reopen_closed(
                conn, incident_id, actor_id=actor_id, now=now, outbox=outbox
            )
        )

    async def latest_closure(self, incident_id: str) -> ClosureRecord | None:
        async with self.read() as conn:
            return await lifecycle_queries.latest_closure(conn, incident_id)

    async def list_incidents_page(
        self,
        *,
        statuses: Sequence[str] | None,
        partner_text: str | None = None,
        reporter_id: str | None = None,
        limit: int = 30,
        offset: int = 0,
    ) -> tuple[list[IncidentRecord], int]:
        """One page of incidents, newest first, and how many match in all."""
        async with self.read() as conn:
            return await listing.list_incidents_page(
                conn,
                statuses=statuses,
                partner_text=partner_text,
                reporter_id=reporter_id,
                limit=limit,
                offset=offset,
            )

    # -- new facts (issue 12; bot/store/updates.py) ---------------------------------------------

    async def replace_facts(
        self,
        incident_id: str,
        *,
        answers: Mapping[str, Any],
        assessment: Mapping[str, Any],
        actor_id: str,
        changes: Mapping[str, Any],
        now: datetime,
        outbox: OutboxSpec = (),
    ) -> IncidentRecord:
        """New answers and assessment in the same round (the recommendation did not change):
        the decision stands. Raises IncidentNotFound."""
        return await self.write(
            lambda conn: update_queries.replace_facts(
                conn,
                incident_id,
                answers=answers,
                assessment=assessment,
                actor_id=actor_id,
                changes=changes,
                now=now,
                outbox=outbox,
            )
        )

    async def adjust_tasks(
        self,
        incident_id: str,
        *,
        cancel: Sequence[int],
        move: Mapping[int, TaskDue],
        actor_id: str,
        now: datetime,
    ) -> None:
        """Open follow-ups whose deadline no longer applies are cancelled (removed), those whose
        deadline moved get the new due time and overdue-after moment; one audit row says
        which."""
        await self.write(
            lambda conn: update_queries.adjust_tasks(
                conn, incident_id, cancel=cancel, move=move, actor_id=actor_id, now=now
            )
        )
