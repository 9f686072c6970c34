"""Approvals, decisions, rejections and new rounds."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from db_reads import approvals_of

from bot.store import ApprovalOutcome, IncidentRecord, NewIncident, OutboxMessage, Store
from bot.store.aio import AsyncConnection
from bot.store.approvals import AfterDecision
from bot.store.audit import AuditEntry

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)
Factory = Callable[..., NewIncident]
StoreFactory = Callable[[], Awaitable[Store]]


def announce(record: IncidentRecord) -> list[OutboxMessage]:
    return [
        OutboxMessage(
            "decision",
            "chat.postMessage",
            {"text": f"{record.id}: {record.decided_action} by {','.join(record.decided_by)}"},
            dedupe_key=f"decision:{record.id}:{record.round}",
        )
    ]


async def test_single_approver_decides(store: Store, make_new: Factory) -> None:
    incident, _ = await store.create_incident(make_new(), now=T0)
    outcome = await store.record_approval(
        incident.id,
        approver_id="S1",
        action="request_report",
        required=1,
        now=T1,
        on_decided=announce,
    )
    assert outcome.kind == "decided"
    assert (outcome.approvals_so_far, outcome.needed, outcome.approvers) == (1, 1, ("S1",))
    decided = outcome.incident
    assert decided is not None
    assert decided.status == "decided"
    assert (decided.decided_action, decided.decided_by, decided.decided_at) == (
        "request_report",
        ("S1",),
        T1,
    )
    assert await store.get_incident(incident.id) == decided
    [message] = await store.outbox_items(incident.id)
    assert message.kind == "decision"
    assert message.payload["text"] == f"{incident.id}: request_report by S1"
    actions = [a.action for a in await store.audit_trail(incident.id)]
    assert actions == ["incident.created", "approval.recorded", "incident.decided"]
    [approval] = await approvals_of(store, incident.id)
    assert (approval.approver_id, approval.action, approval.round) == ("S1", "request_report", 1)


async def test_two_approvers_needed_for_the_same_action(store: Store, make_new: Factory) -> None:
    incident, _ = await store.create_incident(make_new(), now=T0)

    async def approve(approver: str, action: str) -> ApprovalOutcome:
        return await store.record_approval(
            incident.id,
            approver_id=approver,
            action=action,
            required=2,
            now=T1,
            on_decided=announce,
        )

    first = await approve("S1", "suspend_and_legal")
    assert first.kind == "recorded"
    assert (first.approvals_so_far, first.needed) == (1, 2)
    assert first.incident is not None and first.incident.status == "pending"

    duplicate = await approve("S1", "suspend_and_legal")
    assert duplicate.kind == "duplicate"
    assert duplicate.approvals_so_far == 1

    other_action = await approve("S2", "consider_suspension")
    assert other_action.kind == "recorded"
    assert other_action.approvals_so_far == 1

    second = await approve("S3", "suspend_and_legal")
    assert second.kind == "decided"
    assert second.approvers == ("S1", "S3")
    assert second.incident is not None
    assert second.incident.decided_by == ("S1", "S3")
    assert len(await store.outbox_items(incident.id)) == 1

    late = await approve("S4", "request_report")
    assert late.kind == "not_pending"
    assert late.incident is not None
    assert (late.incident.status, late.action, late.approvers) == (
        "decided",
        "suspend_and_legal",
        ("S1", "S3"),
    )


async def test_changing_action_replaces_the_earlier_approval(
    store: Store, make_new: Factory
) -> None:
    incident, _ = await store.create_incident(make_new(), now=T0)
    await store.record_approval(
        incident.id, approver_id="S1", action="request_report", required=2, now=T1
    )
    changed = await store.record_approval(
        incident.id, approver_id="S1", action="consider_suspension", required=2, now=T1
    )
    assert changed.kind == "recorded"
    assert changed.replaced_action == "request_report"
    approvals = await approvals_of(store, incident.id)
    assert [(a.approver_id, a.action) for a in approvals] == [("S1", "consider_suspension")]
    # S1's earlier vote no longer counts for request_report
    other = await store.record_approval(
        incident.id, approver_id="S2", action="request_report", required=2, now=T1
    )
    assert (other.kind, other.approvals_so_far) == ("recorded", 1)
    trail = await store.audit_trail(incident.id)
    change = [a for a in trail if a.action == "approval.changed"]
    assert len(change) == 1
    assert change[0].before == {"round": 1, "action": "request_report"}
    assert change[0].after == {"round": 1, "action": "consider_suspension"}


async def test_unknown_incident(store: Store) -> None:
    outcome = await store.record_approval(
        "LEAK-2026-0404", approver_id="S1", action="request_report", required=1, now=T1
    )
    assert outcome.kind == "not_found" and outcome.incident is None
    assert (await store.reject("LEAK-2026-0404", actor_id="S1", reason=None, now=T1)).kind == (
        "not_found"
    )
    assert await approvals_of(store, "LEAK-2026-0404") == []


async def test_failing_callback_rolls_the_approval_back(store: Store, make_new: Factory) -> None:
    incident, _ = await store.create_incident(make_new(), now=T0)

    def boom(_: IncidentRecord) -> list[OutboxMessage]:
        raise RuntimeError("renderer failed")

    with pytest.raises(RuntimeError):
        await store.record_approval(
            incident.id,
            approver_id="S1",
            action="request_report",
            required=1,
            now=T1,
            on_decided=boom,
        )
    assert await store.get_incident(incident.id) == incident
    assert await approvals_of(store, incident.id) == []
    assert [a.action for a in await store.audit_trail(incident.id)] == ["incident.created"]


async def test_what_the_decision_brings_is_written_in_its_transaction(
    store: Store, make_new: Factory
) -> None:
    """`then`: more messages and audit rows with the decision, in order after its own; the
    audit chain stays whole (its rows are inserted with one statement)."""
    incident, _ = await store.create_incident(make_new(), now=T0)
    seen: list[IncidentRecord] = []

    async def then(_conn: AsyncConnection, decided: IncidentRecord) -> AfterDecision:
        seen.append(decided)
        note = OutboxMessage("tasks", "chat.postMessage", {"text": "tasks"}, incident_id=decided.id)
        home = OutboxMessage("home", "views.publish", {"user_id": "U1"})
        entry = AuditEntry(decided.id, "leakbot", "tasks.created", T1, None, {"tasks": [1]})
        return AfterDecision([note, home], [entry])

    outcome = await store.record_approval(
        incident.id,
        approver_id="S1",
        action="request_report",
        required=1,
        now=T1,
        on_decided=announce,
        then=then,
    )
    assert outcome.kind == "decided"
    assert [record.status for record in seen] == ["decided"]
    # The refresh belongs to no incident (it must not hold back the incident's messages).
    items = await store.outbox_items()
    assert [(item.kind, item.incident_id) for item in items] == [
        ("decision", incident.id),
        ("tasks", incident.id),
        ("home", None),
    ]
    actions = [a.action for a in await store.audit_trail(incident.id)]
    assert actions == ["incident.created", "approval.recorded", "incident.decided", "tasks.created"]
    assert await store.verify_audit_chain() == []


async def test_a_failing_then_rolls_the_decision_back(store: Store, make_new: Factory) -> None:
    incident, _ = await store.create_incident(make_new(), now=T0)

    async def boom(_conn: AsyncConnection, _decided: IncidentRecord) -> AfterDecision:
        raise RuntimeError("planning failed")

    with pytest.raises(RuntimeError):
        await store.record_approval(
            incident.id,
            approver_id="S1",
            action="request_report",
            required=1,
            now=T1,
            on_decided=announce,
            then=boom,
        )
    assert await store.get_incident(incident.id) == incident
    assert await approvals_of(store, incident.id) == []
    assert await store.outbox_items(incident.id) == []


async def test_reject(store: Store, make_new: Factory) -> None:
    incident, _ = await store.create_incident(make_new(), now=T0)
    await store.record_approval(
        incident.id, approver_id="S1", action="request_report", required=2, now=T1
    )

    def notify(record: IncidentRecord) -> list[OutboxMessage]:
        return [OutboxMessage("rejected", "chat.postMessage", {"text": record.decision_reason})]

    outcome = await store.reject(
        incident.id, actor_id="S2", reason="facts unclear", now=T1, on_rejected=notify
    )
    assert outcome.kind == "rejected"
    rejected = outcome.incident
    assert rejected is not None
    assert (rejected.status, rejected.decided_by, rejected.decision_reason) == (
        "rejected",
        ("S2",),
        "facts unclear",
    )
    assert rejected.decided_action is None and rejected.decided_at == T1
    [message] = await store.outbox_items(incident.id)
    assert message.payload == {"text": "facts unclear"}
    assert (await store.reject(incident.id, actor_id="S3", reason="x", now=T1)).kind == (
        "not_pending"
    )
    late = await store.record_approval(
        incident.id, approver_id="S3", action="request_report", required=1, now=T1
    )
    assert late.kind == "not_pending" and late.approvers == ("S2",)
    assert (await store.audit_trail(incident.id))[-1].action == "incident.rejected"


async def test_reopen_starts_a_new_round(store: Store, make_new: Factory) -> None:
    incident, _ = await store.create_incident(make_new(), now=T0)
    await store.record_approval(
        incident.id, approver_id="S1", action="request_report", required=1, now=T1
    )
    T2 = T1 + timedelta(days=8)
    reopened = await store.reopen_for_new_round(
        incident.id,
        assessment={"recommendation": "consider_suspension"},
        recommendation="consider_suspension",
        actor_id="leakbot",
        reason="partner_report missed",
        now=T2,
        outbox=[OutboxMessage("recommendation", "chat.postMessage", {"text": "round 2"})],
        answers={**incident.answers, "partner_response": "slow"},
    )
    assert reopened.round == 2
    assert reopened.status == "pending"
    assert reopened.recommendation == "consider_suspension"
    assert reopened.answers["partner_response"] == "slow"
    assert (reopened.decided_action, reopened.decided_by, reopened.decided_at) == (None, (), None)
    assert await approvals_of(store, incident.id) == []
    assert len(await approvals_of(store, incident.id, round=1)) == 1
    [message] = await store.outbox_items(incident.id)
    assert message.incident_id == incident.id

    # the same approver can approve again in the new round
    again = await store.record_approval(
        incident.id, approver_id="S1", action="consider_suspension", required=1, now=T2
    )
    assert again.kind == "decided"
    assert again.incident is not None and again.incident.round == 2

    trail = await store.audit_trail(incident.id)
    assert [a.action for a in trail] == [
        "incident.created",
        "approval.recorded",
        "incident.decided",
        "incident.reopened",
        "approval.recorded",
        "incident.decided",
    ]
    reopen = trail[3]
    assert reopen.before["decided_action"] == "request_report"
    assert reopen.after["round"] == 2 and reopen.after["reason"] == "partner_report missed"

    from bot.store import IncidentNotFound

    with pytest.raises(IncidentNotFound):
        await store.reopen_for_new_round(
            "LEAK-2026-0999", assessment={}, recommendation="x", actor_id="a", reason="r", now=T2
        )


async def test_close_with_outcome(store: Store, make_new: Factory) -> None:
    incident, _ = await store.create_incident(make_new(), now=T0)

    async def close() -> IncidentRecord | None:
        return await store.close_with_outcome(
            incident.id,
            actor_id="S1",
            outcome="terminated",
            note="done",
            regulator=[],
            done_task_ids=[],
            now=T1,
        )

    closed = await close()
    assert closed is not None and closed.status == "closed"
    assert await close() is None  # closed already: nothing changes
    assert await store.get_incident(incident.id) == closed
    assert [a.action for a in await store.audit_trail(incident.id)] == [
        "incident.created",
        "incident.closed",
    ]


@pytest.mark.parametrize("required", [1, 2])
async def test_twenty_concurrent_approvals_decide_once(
    store: Store, open_store: StoreFactory, make_new: Factory, required: int
) -> None:
    incident, _ = await store.create_incident(make_new(), now=T0)
    stores = [store, *[await open_store() for _ in range(3)]]
    outcomes = await asyncio.gather(
        *(
            stores[i % len(stores)].record_approval(
                incident.id,
                approver_id=f"S{i}",
                action="suspend_and_legal",
                required=required,
                now=T1,
                on_decided=announce,
            )
            for i in range(20)
        )
    )
    kinds = Counter(o.kind for o in outcomes)
    assert kinds["decided"] == 1
    assert kinds["recorded"] == required - 1
    assert kinds["not_pending"] == 20 - required
    [decided] = [o for o in outcomes if o.kind == "decided"]
    assert decided.incident is not None and len(decided.incident.decided_by) == required
    assert len(await store.outbox_items(incident.id)) == 1
    assert len(await approvals_of(store, incident.id)) == required
    assert await store.verify_audit_chain() == []


async def test_concurrent_duplicate_clicks_of_one_approver(
    store: Store, open_store: StoreFactory, make_new: Factory
) -> None:
    incident, _ = await store.create_incident(make_new(), now=T0)
    stores = [store, await open_store()]
    outcomes = await asyncio.gather(
        *(
            stores[i % 2].record_approval(
                incident.id, approver_id="S1", action="request_report", required=2, now=T1
            )
            for i in range(6)
        )
    )
    assert Counter(o.kind for o in outcomes) == {"recorded": 1, "duplicate": 5}
