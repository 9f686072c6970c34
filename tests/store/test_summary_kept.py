"""The data kept for the weekly summary (migration 0006) stays equal to a recount from scratch
through a random sequence of the application's operations: submit, decide (with its tasks),
reject, new round, close, reopen, task done, new facts (tasks moved or cancelled).

Kept: `incident_status_counts`, `deadline_counts` (running open deadlines per ref and day),
`partners` (incidents per partner key, the greatest name), `tasks.live` (the task still runs:
its incident is not closed, and it is of the current round or a deadline no later round
re-created), `tasks.overdue_after` (never before due_at). The recount reads the plain rows and
decides in Python; the week's counts are checked against it as well."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from bot.domain.chart import category
from bot.domain.summary import parse_week
from bot.store import NewIncident, NewTask, Store
from bot.store.migrate import alembic_config
from bot.store.reports import week_data
from bot.store.tables import (
    HOUR_COUNT_CATEGORIES,
    deadline_counts,
    decision_hour_counts,
    incident_hour_counts,
    incident_status_counts,
    incidents,
    partners,
    tasks,
)

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
WEEK = parse_week("2026-W46", UTC)  # Mon 9 – Sun 15 Nov 2026
PARTNERS = ["Acme", "ACME ", "Globex", "株式会社山田", "山田", "Initech"]
DEADLINES = ["gdpr_authority", "partner_report", "appi_preliminary"]
ACTIONS = ["request_report", "consider_suspension"]


def _new(partner: str) -> NewIncident:
    return NewIncident(
        partner=partner,
        reporter_id="UREPORTER1",
        team_id="T1",
        locale="ja",
        answers={"partner": partner},
        assessment={"recommendation": "request_report"},
        recommendation="request_report",
        year=2026,
    )


@dataclass
class Run:
    store: Store
    rng: random.Random
    now: datetime = T0
    ids: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    def tick(self) -> datetime:
        self.now += timedelta(hours=self.rng.randint(1, 20))
        return self.now

    def pick(self) -> str:
        return self.rng.choice(self.ids)

    def due(self) -> tuple[datetime, datetime | None]:
        due = self.now + timedelta(hours=self.rng.randint(-200, 200))
        grace = self.rng.choice([None, None, timedelta(days=2), timedelta(hours=-5)])
        return due, (due + grace if grace is not None else None)

    def new_tasks(self) -> list[NewTask]:
        planned = []
        for ref in self.rng.sample(DEADLINES, self.rng.randint(0, len(DEADLINES))):
            due, overdue_after = self.due()
            planned.append(NewTask("deadline", ref, {"en": ref}, "UOWNER1", due, overdue_after))
        for index in range(self.rng.randint(0, 2)):
            planned.append(
                NewTask(
                    "checklist", f"checklist:{index}", {"en": "item"}, "UREPORTER1", self.due()[0]
                )
            )
        return planned

    async def step(self) -> None:
        ops = ["submit"] if not self.ids else list(OPERATIONS)
        name = self.rng.choice(ops)
        self.log.append(name)
        await OPERATIONS[name](self)


async def submit(run: Run) -> None:
    tasks_now = run.new_tasks() if run.rng.random() < 0.2 else []
    record, _ = await run.store.create_incident(
        _new(run.rng.choice(PARTNERS)), now=run.tick(), tasks=tasks_now
    )
    run.ids.append(record.id)


async def decide(run: Run) -> None:
    incident_id = run.pick()
    outcome = await run.store.record_approval(
        incident_id,
        approver_id="UAPPROVER1",
        action=run.rng.choice(ACTIONS),
        required=1,
        now=run.tick(),
    )
    if outcome.kind == "decided":  # as the follow-through does after a decision
        await run.store.create_tasks(
            incident_id, run.new_tasks(), now=run.now, actor_id="UAPPROVER1"
        )


async def reject(run: Run) -> None:
    await run.store.reject(run.pick(), actor_id="UAPPROVER1", reason="no", now=run.tick())


async def new_round(run: Run) -> None:
    incident_id = run.pick()
    record = await run.store.get_incident(incident_id)
    assert record is not None
    if record.status not in ("decided", "rejected"):
        return
    await run.store.reopen_for_new_round(
        incident_id,
        assessment={"recommendation": "request_report"},
        recommendation="request_report",
        actor_id="leakbot",
        reason="reassessed",
        now=run.tick(),
    )


async def close(run: Run) -> None:
    incident_id = run.pick()
    nothing_done = run.rng.random() < 0.5  # closed with no task confirmed done
    open_ids = [t.id for t in await run.store.tasks_for(incident_id) if t.status == "open"]
    await run.store.close_with_outcome(
        incident_id,
        actor_id="UAPPROVER1",
        outcome="resolved",
        note=None,
        regulator=[],
        done_task_ids=[] if nothing_done else run.rng.sample(open_ids, len(open_ids) // 2),
        now=run.tick(),
    )


async def reopen(run: Run) -> None:
    await run.store.reopen_closed(run.pick(), actor_id="UAPPROVER1", now=run.tick())


async def task_done(run: Run) -> None:
    found = [t for t in await run.store.tasks_for(run.pick()) if t.status == "open"]
    if found:
        task = run.rng.choice(found)
        await run.store.complete_task(task.id, actor_id="UOWNER1", now=run.tick())


async def new_facts(run: Run) -> None:
    incident_id = run.pick()
    found = [t for t in await run.store.tasks_for(incident_id) if t.status == "open"]
    cancel = [t.id for t in found if run.rng.random() < 0.3]
    move = {t.id: run.due() for t in found if t.id not in cancel and run.rng.random() < 0.5}
    await run.store.adjust_tasks(
        incident_id, cancel=cancel, move=move, actor_id="UAPPROVER1", now=run.tick()
    )
    record = await run.store.get_incident(incident_id)
    assert record is not None
    if record.status == "decided" and run.rng.random() < 0.5:  # a deadline that appeared
        await run.store.create_tasks(incident_id, run.new_tasks(), now=run.now, actor_id="U1")


OPERATIONS = {
    "submit": submit,
    "decide": decide,
    "reject": reject,
    "new_round": new_round,
    "close": close,
    "reopen": reopen,
    "task_done": task_done,
    "new_facts": new_facts,
}


async def check(run: Run) -> None:
    async with run.store.read() as conn:
        kept_partners = {
            row.partner_key: (row.partner, row.incidents)
            for row in await conn.execute(select(partners))
        }
        recount_partners = {
            row.partner_key: (row.name, row.count)
            for row in await conn.execute(
                select(
                    incidents.c.partner_key,
                    func.max(incidents.c.partner).label("name"),
                    func.count().label("count"),
                ).group_by(incidents.c.partner_key)
            )
        }
        kept_statuses = {
            row.status: row.incidents
            for row in await conn.execute(select(incident_status_counts))
            if row.incidents
        }
        kept_deadlines = {
            (row.ref, row.due_day, row.overdue_day): row.open
            for row in await conn.execute(select(deadline_counts))
            if row.open
        }
        by_id = {row.id: row for row in await conn.execute(select(incidents))}
        rows = (await conn.execute(select(tasks))).all()
        kept_hours = {
            (row.hour, name): row._mapping[name]
            for row in await conn.execute(select(incident_hour_counts))
            for name in HOUR_COUNT_CATEGORIES
            if row._mapping[name]
        }
        kept_decisions = {
            (row.hour, row.decided_action, row.followed): row.n
            for row in await conn.execute(select(decision_hour_counts))
            if row.n
        }
    assert kept_partners == recount_partners, run.log
    recount_statuses: dict[str, int] = {}
    for incident in by_id.values():
        recount_statuses[incident.status] = recount_statuses.get(incident.status, 0) + 1
    assert kept_statuses == recount_statuses, run.log
    recount_hours: dict[tuple[datetime, str], int] = {}
    recount_decisions: dict[tuple[datetime, str, int], int] = {}
    for incident in by_id.values():
        hour = _hour(incident.created_at)
        key = (hour, category(incident.decided_action, incident.status))
        recount_hours[key] = recount_hours.get(key, 0) + 1
        if incident.status == "decided" and incident.decided_at is not None:
            followed = int(incident.decided_action == incident.recommendation)
            decision = (_hour(incident.decided_at), incident.decided_action or "", followed)
            recount_decisions[decision] = recount_decisions.get(decision, 0) + 1
    assert kept_hours == recount_hours, run.log
    assert kept_decisions == recount_decisions, run.log
    for task in rows:
        incident = by_id[task.incident_id]
        superseded = any(
            (o.incident_id, o.kind, o.ref) == (task.incident_id, task.kind, task.ref)
            and o.round > task.round
            for o in rows
        )
        live = incident.status != "closed" and (
            task.round >= incident.round or (task.kind == "deadline" and not superseded)
        )
        assert bool(task.live) == live, (task, incident.status, incident.round, run.log)
        assert task.overdue_after is not None and task.overdue_after >= task.due_at, task
    recount_deadlines: dict[tuple[str, date, date], int] = {}
    for task in rows:
        if task.status == "open" and task.kind == "deadline" and task.live and task.due_at:
            key = (
                task.ref,
                task.due_at.astimezone(UTC).date(),
                task.overdue_after.astimezone(UTC).date(),
            )
            recount_deadlines[key] = recount_deadlines.get(key, 0) + 1
    assert kept_deadlines == recount_deadlines, run.log
    # The week's counts against the recount (as of now: overdue after their own moment).
    data = await week_data(run.store, WEEK, now=run.now)
    assert data.pending.total == recount_statuses.get("pending", 0)
    assert data.open_incidents.total == data.pending.total + recount_statuses.get("decided", 0)
    running = [
        t
        for t in rows
        if t.status == "open" and t.kind == "deadline" and t.live and t.due_at is not None
    ]
    assert data.overdue.total == sum(t.overdue_after < run.now for t in running)
    assert data.upcoming.total == sum(
        t.overdue_after >= run.now and t.due_at < run.now + timedelta(days=7) for t in running
    )


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_kept_counts_equal_a_recount_after_every_operation(store: Store, seed: int) -> None:
    run = Run(store, random.Random(seed))
    for _ in range(8):
        await submit(run)
    for _ in range(70):
        await run.step()
        await check(run)
    # Every operation ran at least once (a sequence that skipped one would prove nothing).
    assert set(run.log) == set(OPERATIONS), run.log


def _downgrade_to_0005(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, "0005")


async def test_migration_0006_fills_the_kept_data_from_existing_rows(database_url: str) -> None:
    """A database with incidents in every state at 0005 (the kept data dropped), upgraded: the
    backfill equals the recount; tasks take the overdue-after moment their incident's
    assessment recorded (never before their due time), else their due time plus the built-in
    playbook's grace."""
    store = await Store.open(database_url)
    run = Run(store, random.Random(7))
    try:
        for _ in range(8):
            await submit(run)
        for _ in range(60):
            await run.step()
        recorded = datetime(2026, 11, 20, 23, 59, 59, tzinfo=ZoneInfo("Asia/Tokyo"))
        due = recorded - timedelta(days=2)
        record, _ = await store.create_incident(
            NewIncident(
                partner="Acme",
                reporter_id="UREPORTER1",
                team_id="T1",
                locale="ja",
                answers={"partner": "Acme"},
                assessment={
                    "recommendation": "request_report",
                    "deadlines": [
                        {"id": "partner_report", "due": due.isoformat(), "overdue_after": None},
                        {"id": "appi_preliminary", "overdue_after": recorded.isoformat()},
                        {"id": "gdpr_authority", "overdue_after": due.isoformat()},
                    ],
                },
                recommendation="request_report",
                year=2026,
            ),
            now=run.tick(),
            tasks=[
                NewTask("deadline", "appi_preliminary", {"en": "PPC"}, None, due),
                NewTask("deadline", "gdpr_authority", {"en": "GDPR"}, None, recorded),
                NewTask("deadline", "partner_report", {"en": "Report"}, None, due),
            ],
        )
        unrecorded, _ = await store.create_incident(  # an assessment without the moments
            _new("Globex"),
            now=run.tick(),
            tasks=[
                NewTask("deadline", "appi_preliminary", {"en": "PPC"}, None, due),
                NewTask("deadline", "partner_report", {"en": "Report"}, None, due),
            ],
        )
        async with store._writer.begin() as conn:
            await conn.run_sync(_downgrade_to_0005)
        assert (await store.migration_status()).current == "0005"
    finally:
        await store.close()
    reopened = await Store.open(database_url)  # upgraded to head: the backfill
    try:
        run.store = reopened
        await check(run)
        moments = {
            task.ref: task.overdue_after.astimezone(UTC)
            for task in await _task_rows(reopened, record.id)
        }
        assert moments == {
            "appi_preliminary": recorded.astimezone(UTC),  # as the assessment recorded it
            "gdpr_authority": recorded.astimezone(UTC),  # recorded before due: the due time
            "partner_report": due.astimezone(UTC),  # none recorded: the due time
        }
        moments = {
            task.ref: task.overdue_after.astimezone(UTC)
            for task in await _task_rows(reopened, unrecorded.id)
        }
        assert moments == {  # the built-in playbook's grace (5 days - 3) after the due time
            "appi_preliminary": (due + timedelta(days=2)).astimezone(UTC),
            "partner_report": due.astimezone(UTC),
        }
    finally:
        await reopened.close()


async def _task_rows(store: Store, incident_id: str) -> list[Any]:
    async with store.read() as conn:
        return list(await conn.execute(select(tasks).where(tasks.c.incident_id == incident_id)))
