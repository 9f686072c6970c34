"""The `Store`'s methods for approvals and rejections, and the audit trail.

Part of the `Store` facade (bot/store/repository.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import (
    approvals,
    audit,
)
from .approvals import OnChange, ThenDecided
from .audit import AuditEntry
from .common import aware
from .engine import Database
from .records import (
    ApprovalOutcome,
    AuditProblem,
    AuditRecord,
)


class DecisionsFacade(Database):
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
