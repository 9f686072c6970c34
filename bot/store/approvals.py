"""Approvals: votes per incident and round, the decision when enough approvers agree, and
rejection. The incident row is locked for the whole change."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import and_, bindparam, select

from .aio import AsyncConnection
from .audit import AuditEntry, append_audit
from .common import aware
from .incidents import decision_state, lock_incident, update_incident
from .outbox import enqueue
from .records import ApprovalOutcome, IncidentRecord, OutboxMessage
from .tables import approvals

OnChange = Callable[[IncidentRecord], Sequence[OutboxMessage]]


@dataclass(frozen=True)
class AfterDecision:
    """What a decision brings with it, written in the decision's own transaction: more outbox
    messages (queued after `on_decided`'s) and audit rows (appended after the decision's)."""

    messages: Sequence[OutboxMessage] = ()
    audit: Sequence[AuditEntry] = ()


ThenDecided = Callable[[AsyncConnection, IncidentRecord], Awaitable[AfterDecision]]
"""Work on the decided incident inside the decision's transaction (tasks, say): it must not
have effects outside the database, it may run again when the transaction is retried."""


# Built once (every vote runs them).
_VOTES = (
    select(approvals.c.approver_id, approvals.c.action, approvals.c.created_at, approvals.c.id)
    .where(approvals.c.incident_id == bindparam("of_incident"))
    .where(approvals.c.round == bindparam("of_round"))
)
_INSERT_VOTE = approvals.insert()


async def _approvers(
    conn: AsyncConnection, incident_id: str, round_: int, action: str
) -> tuple[str, ...]:
    rows = await conn.execute(
        select(approvals.c.approver_id)
        .where(approvals.c.incident_id == incident_id)
        .where(approvals.c.round == round_)
        .where(approvals.c.action == action)
        .order_by(approvals.c.created_at, approvals.c.id)
    )
    return tuple(rows.scalars().all())


async def record_approval(
    conn: AsyncConnection,
    incident_id: str,
    *,
    approver_id: str,
    action: str,
    required: int,
    now: datetime,
    on_decided: OnChange | None,
    expected_round: int | None = None,
    then: ThenDecided | None = None,
) -> ApprovalOutcome:
    """One approver's vote for `action` in the current round; decides the incident when
    `required` distinct approvers chose the same action, then enqueues `on_decided(decided)`
    and writes what `then(conn, decided)` asks for.
    With `expected_round`, a vote cast on another round's message is refused ("stale") under
    the same lock."""
    aware("now", now)
    if required < 1:
        raise ValueError("required must be at least 1")
    incident = await lock_incident(conn, incident_id)
    if incident is None:
        return ApprovalOutcome("not_found", None, action=action, needed=required)
    if expected_round is not None and incident.round != expected_round:
        return ApprovalOutcome("stale", incident, action=action, needed=required)
    if incident.status != "pending":
        return ApprovalOutcome(
            "not_pending",
            incident,
            action=incident.decided_action,
            needed=required,
            approvers=incident.decided_by,
        )
    round_ = incident.round
    # The round's votes, read once (under the incident's lock, nobody else votes meanwhile):
    # this approver's earlier vote, and who else chose `action`, in the order they voted.
    votes = (await conn.execute(_VOTES, {"of_incident": incident_id, "of_round": round_})).all()
    previous = next((vote.action for vote in votes if vote.approver_id == approver_id), None)
    if previous == action:
        approvers = await _approvers(conn, incident_id, round_, action)
        return ApprovalOutcome("duplicate", incident, action, len(approvers), required, approvers)
    entries: list[AuditEntry] = []
    vote = {"round": round_, "action": action}
    if previous is None:
        await conn.execute(
            _INSERT_VOTE,
            {
                "incident_id": incident_id,
                "round": round_,
                "approver_id": approver_id,
                "action": action,
                "created_at": now,
            },
        )
        entries.append(AuditEntry(incident_id, approver_id, "approval.recorded", now, None, vote))
    else:  # a changed vote (rare): built here
        mine = and_(
            approvals.c.incident_id == incident_id,
            approvals.c.round == round_,
            approvals.c.approver_id == approver_id,
        )
        await conn.execute(approvals.update().where(mine).values(action=action, created_at=now))
        entries.append(
            AuditEntry(
                incident_id,
                approver_id,
                "approval.changed",
                now,
                {"round": round_, "action": previous},
                vote,
            )
        )
    # ORDER BY created_at, id as _approvers reads it: this vote is at `now`, with its own id
    # (kept when it changed; the newest when it is new).
    newest = max((v.id for v in votes), default=0) + 1
    order = sorted(
        [(v.created_at, v.id, v.approver_id) for v in votes if v.approver_id != approver_id]
        + [
            (
                now,
                next((v.id for v in votes if v.approver_id == approver_id), newest),
                approver_id,
            )
        ]
    )
    same = {v.approver_id for v in votes if v.action == action} | {approver_id}
    approvers = tuple(who for _, _, who in order if who in same)
    if len(approvers) < required:
        updated = await update_incident(conn, incident_id, updated_at=now)
        await append_audit(conn, *entries)
        return ApprovalOutcome(
            "recorded", updated, action, len(approvers), required, approvers, previous
        )
    decided = await update_incident(
        conn,
        incident_id,
        from_status=incident.status,
        status="decided",
        decided_action=action,
        decided_by=list(approvers),
        decided_at=now,
        decision_reason=None,
        updated_at=now,
    )
    # Its own messages belong to the incident; those of `then` say whom they belong to (an
    # App Home refresh belongs to none: it must not hold back the incident's messages).
    messages = [
        replace(message, incident_id=message.incident_id or incident_id)
        for message in (on_decided(decided) if on_decided is not None else ())
    ]
    entries.append(
        AuditEntry(
            incident_id,
            approver_id,
            "incident.decided",
            now,
            decision_state(incident),
            decision_state(decided) | {"required": required},
        )
    )
    if then is not None:
        after = await then(conn, decided)
        messages += after.messages
        entries += after.audit
    await enqueue(conn, messages, now=now)
    await append_audit(conn, *entries)
    return ApprovalOutcome(
        "decided", decided, action, len(approvers), required, approvers, previous
    )


async def reject(
    conn: AsyncConnection,
    incident_id: str,
    *,
    actor_id: str,
    reason: str | None,
    now: datetime,
    on_rejected: OnChange | None,
) -> ApprovalOutcome:
    """Send the pending incident back: status 'rejected' (kinds: rejected / not_pending /
    not_found)."""
    aware("now", now)
    incident = await lock_incident(conn, incident_id)
    if incident is None:
        return ApprovalOutcome("not_found", None)
    if incident.status != "pending":
        return ApprovalOutcome(
            "not_pending",
            incident,
            action=incident.decided_action,
            approvers=incident.decided_by,
        )
    rejected = await update_incident(
        conn,
        incident_id,
        from_status=incident.status,
        status="rejected",
        decided_action=None,
        decided_by=[actor_id],
        decided_at=now,
        decision_reason=reason,
        updated_at=now,
    )
    messages = on_rejected(rejected) if on_rejected is not None else ()
    await enqueue(conn, messages, now=now, incident_id=incident_id)
    await append_audit(
        conn,
        AuditEntry(
            incident_id,
            actor_id,
            "incident.rejected",
            now,
            decision_state(incident),
            decision_state(rejected),
        ),
    )
    return ApprovalOutcome("rejected", rejected, approvers=(actor_id,))
