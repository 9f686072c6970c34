"""The `Store`: every read and write of leakbot's data, one interface for SQLite and PostgreSQL.

A thin facade: each method runs one module function of `bot.store.*` (incidents, approvals,
audit, outbox, tasks, events_jobs) in a transaction of its own (`Database.write`) or on a read
connection (`Database.read`). Store code elsewhere composes those functions on one connection
the same way: `await store.write(lambda conn: ...)`, `async with store.read() as conn: ...`.

Conventions
-----------
- Every method that changes state runs as ONE transaction; a failure anywhere leaves nothing.
- Times come from the caller (`now`, aware UTC); the store never reads the clock for data it writes.
- Transactions, SQLite's hooks, PostgreSQL's isolation and pool: see `bot.store.engine`.
- Changes lock the rows they depend on (`FOR NO KEY UPDATE` on the incident), use atomic upserts
  for counters and claims, and `FOR UPDATE SKIP LOCKED` for the outbox on PostgreSQL.
- Audit rows are appended last in a transaction, under a global lock, so the hash chain never
  forks (`bot.store.audit`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from . import (
    approvals,
    audit,
    events_jobs,
    home,
    incidents,
    leases,
    listing,
    outbox,
    tasks,
    uploads,
)
from . import lifecycle as lifecycle_queries
from . import updates as update_queries
from .approvals import OnChange, ThenDecided
from .audit import AuditEntry, audit_hash
from .common import aware, canonical_json
from .engine import Database
from .home import HomeSnapshot
from .lifecycle import ClosureRecord
from .outbox import OutboxSpec
from .records import (
    ApprovalOutcome,
    AuditProblem,
    AuditRecord,
    IncidentRecord,
    NewIncident,
    NewTask,
    OutboxItem,
    OutboxMessage,
    TaskDue,
    TaskOutcome,
    TaskRecord,
)

__all__ = ["SYSTEM_ACTOR", "OutboxSpec", "Store", "audit_hash", "canonical_json"]

SYSTEM_ACTOR: Final[str] = "leakbot"


class Store(Database):
    """leakbot's storage. Create with `await Store.open(url)`; `await store.close()` at the end."""

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
        created_before: datetime | None = None,
    ) -> list[IncidentRecord]:
        """Newest first; `created_before`: created at or before that time."""
        async with self.read() as conn:
            return await incidents.list_incidents(
                conn,
                statuses=statuses,
                limit=limit,
                reporter_id=reporter_id,
                created_before=created_before,
            )

    async def incidents_decided_between(
        self, start: datetime, end: datetime
    ) -> list[IncidentRecord]:
        """start <= decided_at < end (decisions and rejections; filter on status), oldest first."""
        async with self.read() as conn:
            return await incidents.incidents_decided_between(conn, start, end)

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

    async def close_incident(
        self,
        incident_id: str,
        *,
        actor_id: str,
        reason: str | None,
        now: datetime,
        outbox: OutboxSpec = (),
    ) -> IncidentRecord:
        """Status 'closed' (follow-ups finished or withdrawn). Idempotent; raises
        IncidentNotFound."""
        return await self.write(
            lambda conn: incidents.close_incident(
                conn, incident_id, actor_id=actor_id, reason=reason, now=now, outbox=outbox
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

    # -- approvals ------------------------------------------------------------------------------

    async def record_approval(
        self,
        incident_id: str,
        *,
        approver_id: str,
        action: str,
        required: int,
        now: datetime,
        on_decided: OnChange | None = None,
        expected_round: int | None = None,
        then: ThenDecided | None = None,
    ) -> ApprovalOutcome:
        """One approver's vote for `action` in the current round, with the incident row locked.

        Decides the incident when `required` distinct approvers chose the same action; then the
        messages from `on_decided(decided_record)` are enqueued in the same transaction (so the
        callback must be pure: it may run again when the transaction is retried). An approver
        who switches action replaces their earlier vote. With `expected_round`, a vote cast on
        another round's message is refused ("stale") under the same lock. `then(conn, decided)`
        writes what the decision brings with it (tasks, say) in the same transaction.
        """
        return await self.write(
            lambda conn: approvals.record_approval(
                conn,
                incident_id,
                approver_id=approver_id,
                action=action,
                required=required,
                now=now,
                on_decided=on_decided,
                expected_round=expected_round,
                then=then,
            )
        )

    async def reject(
        self,
        incident_id: str,
        *,
        actor_id: str,
        reason: str | None,
        now: datetime,
        on_rejected: OnChange | None = None,
    ) -> ApprovalOutcome:
        """Send the pending incident back: status 'rejected' (kinds: rejected / not_pending /
        not_found). A re-assessment later reopens it with `reopen_for_new_round`."""
        return await self.write(
            lambda conn: approvals.reject(
                conn,
                incident_id,
                actor_id=actor_id,
                reason=reason,
                now=now,
                on_rejected=on_rejected,
            )
        )

    # -- audit trail ----------------------------------------------------------------------------

    async def append_audit(
        self,
        actor_id: str,
        action: str,
        *,
        incident_id: str | None = None,
        before: Any = None,
        after: Any = None,
        now: datetime,
    ) -> AuditRecord:
        """Record an event that changes nothing else (e.g. 'summary.posted')."""
        aware("now", now)
        entry = AuditEntry(incident_id, actor_id, action, now, before, after)
        return (await self.write(lambda conn: audit.append_audit(conn, entry)))[0]

    async def audit_trail(self, incident_id: str) -> list[AuditRecord]:
        async with self.read() as conn:
            return await audit.audit_trail(conn, incident_id)

    async def audit_head(self) -> tuple[int, str]:
        """(number of audit rows, hash of the last one): publish it somewhere to detect a
        truncated tail, which the chain alone cannot show."""
        async with self.read() as conn:
            return await audit.audit_head(conn)

    async def verify_audit_chain(self) -> list[AuditProblem]:
        """Problems found walking the whole chain (empty when intact)."""
        async with self.read() as conn:
            return await audit.verify_audit_chain(conn)

    # -- outbox ---------------------------------------------------------------------------------

    async def enqueue(self, messages: Sequence[OutboxMessage], *, now: datetime) -> list[int]:
        """Queue Slack calls; returns the new item ids (a duplicate dedupe_key is skipped)."""
        aware("now", now)
        if not messages:
            return []
        return await self.write(lambda conn: outbox.enqueue(conn, messages, now=now))

    async def claim_outbox(
        self, *, now: datetime, worker_id: str, limit: int = 20, lease_seconds: float = 60
    ) -> list[OutboxItem]:
        """Lease due items to this worker (attempts + 1), oldest first; per incident in order
        (at most one item per incident in flight)."""
        return await self.write(
            lambda conn: outbox.claim_outbox(
                conn, now=now, worker_id=worker_id, limit=limit, lease_seconds=lease_seconds
            )
        )

    async def record_uploaded_file(
        self, item_id: int, *, file_id: str, title: str, worker_id: str
    ) -> bool:
        """An uploaded, not yet shared file of this item (bot/store/uploads.py)."""
        return await self.write(
            lambda conn: uploads.record_uploaded_file(
                conn, item_id, file_id=file_id, title=title, worker_id=worker_id
            )
        )

    async def enqueue_requested(
        self,
        message: OutboxMessage,
        *,
        actor_id: str,
        action: str,
        after: Any,
        now: datetime,
    ) -> bool:
        """Queue a file someone asked for and audit the request together; False: a duplicate."""
        aware("now", now)
        entry = AuditEntry(message.incident_id, actor_id, action, now, None, after)
        return await self.write(
            lambda conn: uploads.enqueue_requested(conn, message, entry, now=now)
        )

    async def mark_sent(
        self, item_id: int, *, result: Mapping[str, Any] | None, now: datetime, worker_id: str
    ) -> bool:
        """Delivered (`result` e.g. {"channel": ..., "ts": ...}). False: the lease was lost."""
        return await self.write(
            lambda conn: outbox.mark_sent(
                conn, item_id, result=result, now=now, worker_id=worker_id
            )
        )

    async def mark_sent_and_claim_next(
        self,
        item_id: int,
        *,
        result: Mapping[str, Any] | None,
        now: datetime,
        worker_id: str,
        incident_id: str,
        lease_seconds: float,
    ) -> tuple[bool, list[OutboxItem]]:
        """`mark_sent`, and in the same transaction the incident's next due item leased to this
        worker (its messages go out one after the other: a claim less per message). False (and
        nothing claimed): the lease was lost."""

        async def work(conn: AsyncConnection) -> tuple[bool, list[OutboxItem]]:
            if not await outbox.mark_sent(
                conn, item_id, result=result, now=now, worker_id=worker_id
            ):
                return False, []
            following = await outbox.claim_outbox(
                conn,
                now=now,
                worker_id=worker_id,
                limit=1,
                lease_seconds=lease_seconds,
                incident_id=incident_id,
            )
            return True, following

        return await self.write(work)

    async def mark_retry(
        self, item_id: int, *, error: str, next_attempt_at: datetime, worker_id: str
    ) -> bool:
        """Failed, try again at `next_attempt_at`. False: the lease was lost."""
        return await self.write(
            lambda conn: outbox.mark_retry(
                conn, item_id, error=error, next_attempt_at=next_attempt_at, worker_id=worker_id
            )
        )

    async def mark_dead(self, item_id: int, *, error: str, now: datetime, worker_id: str) -> bool:
        """Give up (no longer blocks later items of its incident). False: the lease was lost."""
        return await self.write(
            lambda conn: outbox.mark_dead(conn, item_id, error=error, now=now, worker_id=worker_id)
        )

    async def renew_lease(self, item_id: int, *, worker_id: str, until: datetime) -> bool:
        """Extend this worker's lease on a pending item. False: the lease was lost."""
        return await self.write(
            lambda conn: leases.renew_lease(conn, item_id, worker_id=worker_id, until=until)
        )

    async def outbox_depth(self) -> int:
        """Pending items (due or not)."""
        async with self.read() as conn:
            return await outbox.outbox_depth(conn)

    async def outbox_items(
        self, incident_id: str | None = None, *, status: str | None = None
    ) -> list[OutboxItem]:
        """All items (of one incident / with one status), oldest first."""
        async with self.read() as conn:
            return await outbox.outbox_items(conn, incident_id, status=status)

    async def queued_dedupe_keys(self, keys: Iterable[str]) -> set[str]:
        """Which of these dedupe keys an outbox item already has (any status)."""
        async with self.read() as conn:
            return await outbox.queued_dedupe_keys(conn, keys)

    async def last_sent_result(self, incident_id: str, kind: str) -> dict[str, Any] | None:
        """The `result` of the latest sent item of this kind for this incident (e.g. the
        channel and ts of the posted recommendation), or None."""
        async with self.read() as conn:
            return await outbox.last_sent_result(conn, incident_id, kind)

    # -- Slack delivery dedupe and job claims ---------------------------------------------------

    async def remember_event(self, key: str, *, now: datetime) -> bool:
        """True the first time `key` is seen, False afterwards."""
        return await self.write(lambda conn: events_jobs.remember_event(conn, key, now=now))

    async def forget_events_before(self, cutoff: datetime) -> int:
        """Prune processed_events older than `cutoff` (Slack retries within minutes)."""
        return await self.write(lambda conn: events_jobs.forget_events_before(conn, cutoff))

    async def claim_job(self, key: str, *, owner: str, now: datetime) -> bool:
        """True only for the one caller (of any replica, ever) that claims `key` first."""
        return await self.write(lambda conn: events_jobs.claim_job(conn, key, owner=owner, now=now))

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

    async def tasks_for_incidents(self, incident_ids: Iterable[str]) -> dict[str, list[TaskRecord]]:
        """`tasks_for` of several incidents in a few queries (every id gets a list)."""
        async with self.read() as conn:
            return await tasks.tasks_for_incidents(conn, incident_ids)

    async def get_task(self, task_id: int) -> TaskRecord | None:
        async with self.read() as conn:
            return await tasks.get_task(conn, task_id)

    async def complete_task(self, task_id: int, *, actor_id: str, now: datetime) -> TaskOutcome:
        return await self.write(
            lambda conn: tasks.complete_task(conn, task_id, actor_id=actor_id, now=now)
        )

    async def open_tasks_due_before(self, t: datetime) -> list[TaskRecord]:
        """Open tasks with due_at < t, earliest first."""
        async with self.read() as conn:
            return await tasks.open_tasks_due_before(conn, t)

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
