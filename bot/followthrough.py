"""Follow-through after the recommendation: tasks, reminders, missed partner reports,
approval escalation and the weekly summary.

Each step that tells someone something enqueues a notification (bot/notifications.py: what, to
whom; the Slack edge words it) with a dedupe key derived from what it is
(`reminder:<task>:<stage>`, `summary:<week>`), so replicas on one database and restarts never
send it twice, and a step that fell due while the bot was down is sent once at the next run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot import failpoints
from bot.clock import Clock
from bot.domain.chart import WeeklyActions
from bot.domain.followups import (
    PARTNER_REPORT,
    attention_fingerprint,
    attention_moments,
    attention_settings,
    due_reminders,
    escalation_times,
    next_moment,
    plan_tasks,
)
from bot.domain.playbook import Playbook
from bot.domain.summary import Week, WeekData
from bot.incident_channels import incident_channel_messages
from bot.lifecycle import Lifecycle, LifecycleConfig
from bot.notifications import Notification
from bot.service import (
    RECOMMENDATION,
    IncidentService,
    store_errors_unavailable,
)
from bot.store import (
    IncidentRecord,
    NewTask,
    OutboxMessage,
    Store,
    TaskOutcome,
    TaskRecord,
    attention,
)
from bot.store import audit as audit_rows
from bot.store import outbox as outbox_rows
from bot.store import tasks as task_rows
from bot.store.aio import AsyncConnection
from bot.store.approvals import AfterDecision
from bot.store.attention import DueTask, LookNow, NextAttention, NextEscalation, PendingIncident
from bot.store.audit import AuditEntry
from bot.store.chart import weekly_actions
from bot.store.reports import week_data
from bot.updates import FactUpdates

log = logging.getLogger(__name__)
SYSTEM_ACTOR = "leakbot"
TASKS = "tasks"
# Rows one batch of the minute pass reads and writes in one transaction; a pass takes as many
# batches as there are rows whose time has come.
BATCH_SIZE = 500
# Rows per transaction when a settings change sets every live row to "look now".
LOOK_NOW_BATCH = 5000


@dataclass(frozen=True)
class FollowThroughConfig:
    tz: ZoneInfo
    channel_lang: str
    escalation_channel: str
    summary_channel: str | None
    approvers: tuple[str, ...]
    escalation_approvers: tuple[str, ...]
    # LEAKBOT_INCIDENT_CHANNELS=private: a private channel per decided incident.
    incident_channels: bool = False


async def _enqueue_and_audit(
    conn: AsyncConnection, messages: list[OutboxMessage], entry: AuditEntry, now: datetime
) -> None:
    """Queue the messages and, when they are new (not deduplicated), their audit row, in the
    caller's transaction: a crash cannot leave one without the other."""
    if await outbox_rows.enqueue(conn, messages, now=now):
        failpoints.hit("followthrough.enqueued")
        await audit_rows.append_audit(conn, entry)


def summary_key(week: Week) -> str:
    """The weekly summary's outbox dedupe key: one summary per ISO week."""
    return f"summary:{week.label}"


class FollowThrough:
    def __init__(
        self,
        store: Store,
        service: IncidentService,
        config: FollowThroughConfig,
        clock: Clock,
        *,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.store = store
        self.batch_size = batch_size
        self.service = service
        self.playbook: Playbook = service.playbook
        self.config = config
        self.clock = clock
        self.lifecycle = Lifecycle(
            store,
            service,
            LifecycleConfig(
                tz=config.tz,
                channel_lang=config.channel_lang,
                escalation_channel=config.escalation_channel,
            ),
            clock,
        )
        self.updates = FactUpdates(self.lifecycle)

    # -- tasks -------------------------------------------------------------------------------

    def _plans(self, record: IncidentRecord, earlier: list[TaskRecord]) -> list[NewTask]:
        """The decided incident's deadlines and checklist, as tasks (`earlier`: its tasks so
        far, needed from round 2 on)."""
        assessment = self.service.assessment_of(record)
        approver = record.decided_by[-1] if record.decided_by else record.reporter_id
        plans = plan_tasks(
            deadlines=assessment.deadlines,
            action=record.decided_action,  # type: ignore[arg-type]
            playbook=self.playbook,
            reporter_id=record.reporter_id,
            approver_id=approver,
            decided_at=record.decided_at or self.clock.now(),
            round_=record.round,
        )
        if record.round > 1:
            # A duty done in an earlier round (a regulator report filed, say) stays done.
            done = {
                (task.kind, task.ref)
                for task in earlier
                if task.round < record.round and task.status == "done"
            }
            plans = [plan for plan in plans if (plan.kind, plan.ref) not in done]
        return [NewTask.planned(plan) for plan in plans]

    def _tasks_messages(
        self, record: IncidentRecord, owners: list[str | None]
    ) -> list[OutboxMessage]:
        """The thread message listing the tasks (or, with incident channels, the channel and
        its messages; `owners`: of all the incident's tasks)."""
        tasks_note = Notification(
            kind="tasks", incident_id=record.id, thread=RECOMMENDATION, round=record.round
        )
        if self.config.incident_channels:
            return incident_channel_messages(
                record, tasks_note, approvers=self.config.approvers, owners=owners
            )
        return [tasks_note.to_outbox(dedupe_key=f"tasks:{record.id}:{record.round}")]

    async def decision_tasks(
        self, conn: AsyncConnection, record: IncidentRecord
    ) -> tuple[AfterDecision, list[str]]:
        """`create_tasks` inside the decision's own transaction (`IncidentService.approve`): the
        tasks, their "tasks.created" audit row and their message; and the owners of the new
        tasks (whose App Home shows them)."""
        if record.status != "decided" or record.decided_action is None:
            return AfterDecision(), []
        earlier = (
            await task_rows.tasks_for(conn, record.id)
            if record.round > 1 or self.config.incident_channels
            else []
        )
        new_tasks = self._plans(record, earlier)
        now = self.clock.now()
        created = await task_rows.insert_new_tasks(
            conn, record.id, record.round, new_tasks, now=now
        )
        entry = task_rows.tasks_created(
            record.id, new_tasks, created, actor_id=SYSTEM_ACTOR, now=now
        )
        fresh = [task for task in new_tasks if (task.kind, task.ref) in created]
        owners = [task.owner_id for task in earlier] + [task.owner_id for task in fresh]
        after = AfterDecision(
            self._tasks_messages(record, owners), [entry] if entry is not None else []
        )
        return after, [task.owner_id for task in fresh if task.owner_id]

    async def create_tasks(self, record: IncidentRecord) -> list[TaskRecord]:
        """The decided incident's deadlines and checklist as tasks (idempotent), and the thread
        message that lists them with a Done button each."""
        if record.status != "decided" or record.decided_action is None:
            return []
        earlier = await self.store.tasks_for(record.id) if record.round > 1 else []
        now = self.clock.now()
        created = await self.store.create_tasks(record.id, self._plans(record, earlier), now=now)
        # The store writes the "tasks.created" audit row (with the tasks) itself.
        failpoints.hit("tasks.created")
        owners: list[str | None] = []
        if self.config.incident_channels:
            owners = [task.owner_id for task in await self.store.tasks_for(record.id)]
        await self.store.enqueue(self._tasks_messages(record, owners), now=now)
        failpoints.hit("tasks.enqueued")
        await self.service.refresh_homes(task.owner_id for task in created)
        return created

    @store_errors_unavailable
    async def tasks(self, incident_id: str) -> list[TaskRecord]:
        """Every task of the incident, all rounds, in creation order."""
        return await self.store.tasks_for(incident_id)

    async def round_tasks(self, record: IncidentRecord) -> list[TaskRecord]:
        """The tasks of the incident's current round (what its tasks message lists)."""
        return [
            task for task in await self.store.tasks_for(record.id) if task.round == record.round
        ]

    @store_errors_unavailable
    async def task(self, task_id: int) -> tuple[TaskRecord, IncidentRecord] | None:
        """A task and its incident, or None when either is unknown."""
        task = await self.store.get_task(task_id) if task_id > 0 else None
        record = await self.store.get_incident(task.incident_id) if task else None
        if task is None or record is None:
            return None
        return task, record

    @store_errors_unavailable
    async def refused_task(self, record: IncidentRecord, task: TaskRecord, actor_id: str) -> None:
        """Someone who may not tick the task tried: it goes into the audit trail."""
        await self.store.append_audit(
            actor_id,
            "task.refused",
            incident_id=record.id,
            after={"task": task.id},
            now=self.clock.now(),
        )

    @store_errors_unavailable
    async def complete_task(
        self, record: IncidentRecord, task: TaskRecord, actor_id: str
    ) -> TaskOutcome:
        """Tick the task; when it was open, its tasks message is refreshed."""
        outcome = await self.store.complete_task(task.id, actor_id=actor_id, now=self.clock.now())
        if outcome.kind == "done":
            await self.task_changed(record, task)
            await self.service.refresh_homes([task.owner_id, actor_id])
        return outcome

    async def task_changed(self, record: IncidentRecord, task: TaskRecord) -> None:
        """Refresh the tasks message after a task was ticked."""
        await self.store.enqueue(
            [
                Notification(
                    kind="tasks_update", incident_id=record.id, ref=TASKS, round=record.round
                ).to_outbox(dedupe_key=f"tasks_update:{task.id}")
            ],
            now=self.clock.now(),
        )

    # -- the periodic run --------------------------------------------------------------------

    async def run(self) -> None:
        """One pass over everything that may have fallen due (called every minute)."""
        now = self.clock.now()
        await self._sweep_decided(now)
        await self._reminders(now)
        await self._escalations(now)

    async def _sweep_decided(self, now: datetime) -> None:
        # Tasks and their thread message follow a decision at once; this catches a process
        # that stopped in between (before the tasks were stored, or before the message was).
        # Ids and rounds only; whole rows for the few whose tasks message is missing.
        decided = await self.store.decided_rounds_between(
            now - timedelta(days=7), now + timedelta(seconds=1)
        )
        # One query for all (per incident, it cost ~5 ms each minute: bench/ack_latency.py).
        queued = await self.store.queued_dedupe_keys(
            f"tasks:{incident_id}:{round_}" for incident_id, round_ in decided
        )
        missing = [
            incident_id
            for incident_id, round_ in decided
            if f"tasks:{incident_id}:{round_}" not in queued
        ]
        records = await self.store.get_incidents(missing) if missing else {}
        for incident_id in missing:
            if incident_id in records:
                await self.create_tasks(records[incident_id])

    async def _reminders(self, now: datetime) -> None:
        """Reminders, overdue notices and missed partner reports of the open tasks whose next
        attention time has come (`tasks.next_attention_at`), a batch at a time."""
        hours = self.playbook.schedules.reminder_hours_before
        done: set[int] = set()
        while True:
            batch = [
                due
                for due in await self.store.due_attention(now, limit=self.batch_size)
                if due.task.id not in done
            ]
            if not batch:  # (a row a concurrent change set to "look now" again is seen once)
                return
            done.update(due.task.id for due in batch)
            await self._attend(batch, hours, now)

    async def _attend(self, batch: list[DueTask], hours: tuple[int, ...], now: datetime) -> None:
        records = await self.store.get_incidents(due.task.incident_id for due in batch)
        # One DM per owner, due time and stage (a checklist's items share their due time).
        groups: dict[tuple[str, str, datetime, int, str], list[TaskRecord]] = {}
        overdue: list[tuple[IncidentRecord, TaskRecord]] = []
        moves: list[NextAttention] = []
        for due in batch:
            task, record = due.task, records.get(due.task.incident_id)
            # (`tasks.live` chose running tasks of incidents not closed: bot/store/tasks.py.)
            if task.due_at is None or record is None or record.status == "closed":
                continue
            owner = task.owner_id or record.reporter_id
            for step in due_reminders(task.due_at, hours, now, created_at=task.created_at):
                key = (record.id, owner, task.due_at, step.hours_before, step.stage)
                groups.setdefault(key, []).append(task)
            overdue_at = None
            if task.kind == "deadline":
                overdue_at = due.overdue_after or task.due_at
                if overdue_at <= now:
                    overdue.append((record, task))
            moments = attention_moments(
                task.due_at, hours, created_at=task.created_at, overdue_at=overdue_at
            )
            moves.append(NextAttention(task.id, task.due_at, due.seen, next_moment(moments, now)))
        reminders = [
            self._reminder(records[incident_id], group, owner, due_at, hours_before, stage, now)
            for (incident_id, owner, due_at, hours_before, stage), group in groups.items()
        ]
        notices = [
            message
            for record, task in overdue
            if (message := self._overdue_notice(record, task)) is not None
        ]

        async def send(conn: AsyncConnection) -> None:
            for message, entry in reminders:
                await _enqueue_and_audit(conn, [message], entry, now)
            await outbox_rows.enqueue(conn, notices, now=now)

        if reminders or notices:
            await self.store.write(send)
        for record, task in overdue:
            if (
                task.ref == PARTNER_REPORT
                and record.status == "decided"
                and task.round == record.round
            ):
                await self._partner_report_missed(record, task, now)
        # Last: a pass stopped before this point does the batch again (deduplicated).
        await self.store.write(lambda conn: attention.move_attention(conn, moves))

    def _reminder(
        self,
        record: IncidentRecord,
        group: list[TaskRecord],
        owner: str,
        due_at: datetime,
        hours: int,
        stage: str,
        now: datetime,
    ) -> tuple[OutboxMessage, AuditEntry]:
        lang = record.locale if owner == record.reporter_id else self.config.channel_lang
        notification = Notification(
            kind="reminder",
            incident_id=record.id,
            channel=owner,
            lang=lang,
            round=record.round,
            facts={
                "titles": [task.title.get(lang) or task.ref for task in group],
                "hours": hours,
                "due": due_at.isoformat(),
            },
        )
        message = notification.to_outbox(
            dedupe_key=f"reminder:{record.id}:{owner}:{due_at.timestamp():.0f}:{stage}"
        )
        entry = AuditEntry(
            record.id,
            SYSTEM_ACTOR,
            "reminder.sent",
            now,
            after={
                "tasks": [task.id for task in group],
                "refs": [task.ref for task in group],
                "stage": stage,
                "owner": owner,
            },
        )
        return message, entry

    def _overdue_notice(self, record: IncidentRecord, task: TaskRecord) -> OutboxMessage | None:
        """Past its due time (plus the playbook's grace, if any): the approvers hear of a
        regulator deadline, once per deadline of the incident, whichever round's task it is."""
        assert task.due_at is not None
        lang = self.config.channel_lang
        rule = self.playbook.deadlines.get(task.ref)  # type: ignore[call-overload]
        if rule is None or not rule.regulator:
            return None
        notification = Notification(
            kind="overdue",
            incident_id=record.id,
            channel=self.config.escalation_channel,
            lang=lang,
            round=task.round,
            facts={
                "audience": list(self.config.approvers),
                "title": task.title.get(lang) or task.ref,
                "due": task.due_at.isoformat(),
            },
        )
        return notification.to_outbox(dedupe_key=f"overdue:{record.id}:{task.ref}")

    async def _partner_report_missed(
        self, record: IncidentRecord, task: TaskRecord, now: datetime
    ) -> None:
        """The survey's "no report by the deadline → stop" respondents: re-assess with a
        partner no better than slow and ask for a new decision (bot/lifecycle.py)."""
        await self.lifecycle.reassess_after_partner_report(
            record, task, quality="missing", actor_id=SYSTEM_ACTOR, now=now
        )
        # Pending again: the approvers' tabs ask for a decision.
        await self.service.refresh_homes([record.reporter_id], approvers=True)

    async def _escalations(self, now: datetime) -> None:
        """The pending incidents whose next escalation time has come
        (`incidents.next_escalation_at`), a batch at a time: each step is sent once, and when
        several fell due since the incident was last looked at (the bot was down, or the
        incident waits for its first look after migration 0011) only the latest is sent, its
        audit row naming the steps it overtook (docs/architecture.md)."""
        done: set[str] = set()
        while True:
            batch = [
                due
                for due in await self.store.due_escalations(now, limit=self.batch_size)
                if due.record.id not in done
            ]
            if not batch:
                return
            done.update(due.record.id for due in batch)
            sends: list[tuple[list[OutboxMessage], AuditEntry]] = []
            moves: list[NextEscalation] = []
            for due in batch:
                record = due.record
                started = datetime.fromisoformat(
                    record.assessed_at or record.created_at.isoformat()
                )
                times = escalation_times(
                    started,
                    record.recommendation,  # type: ignore[arg-type]
                    self.playbook.approval,
                    self.config.tz,
                )
                # Later steps tell the second level: without one, only step 1 tells anyone.
                fallen = [
                    step
                    for step, when in enumerate(times, start=1)
                    if when <= now and (step == 1 or self.config.escalation_approvers)
                ]
                if fallen:
                    overtaken = [step for step in fallen[:-1] if times[step - 1] >= due.seen]
                    sends.append(self._escalation(record, fallen[-1], started, now, overtaken))
                moves.append(
                    NextEscalation(record.id, record.round, due.seen, next_moment(times, now))
                )

            async def send(
                conn: AsyncConnection,
                sends: list[tuple[list[OutboxMessage], AuditEntry]] = sends,
                moves: list[NextEscalation] = moves,
            ) -> None:
                for messages, entry in sends:
                    await _enqueue_and_audit(conn, messages, entry, now)
                await attention.move_escalations(conn, moves)

            await self.store.write(send)

    def _escalation(
        self,
        record: PendingIncident,
        step: int,
        started: datetime,
        now: datetime,
        overtaken: list[int],
    ) -> tuple[list[OutboxMessage], AuditEntry]:
        """Step 1 re-notifies the approvers; later steps go to the second level."""
        lang = self.config.channel_lang
        if step == 1:
            audience, action = self.config.approvers, "escalation.reminded"
        else:
            audience, action = self.config.escalation_approvers, "escalation.second_level"
        facts = {
            "step": step,
            "audience": list(audience),
            "hours": int((now - started).total_seconds() // 3600),
            "option": record.recommendation,
        }
        dedupe = f"escalate:{record.id}:{record.round}:{step}"
        messages = [
            Notification(
                kind="escalation",
                incident_id=record.id,
                thread=RECOMMENDATION,
                lang=lang,
                round=record.round,
                broadcast=True,
                facts=facts,
            ).to_outbox(dedupe_key=dedupe)
        ]
        if step > 1:  # the second level also hears it directly (user groups cannot be DMed)
            messages += [
                Notification(
                    kind="escalation_dm",
                    incident_id=record.id,
                    channel=user,
                    lang=lang,
                    round=record.round,
                    facts=facts,
                ).to_outbox(dedupe_key=f"{dedupe}:{user}")
                for user in audience
                if not user.startswith("S")
            ]
        after: dict[str, Any] = {"step": step, "round": record.round}
        if overtaken:
            after["overtaken"] = overtaken
        return messages, AuditEntry(record.id, SYSTEM_ACTOR, action, now, after=after)

    async def follow_settings(self) -> LookNow | None:
        """At start: when the settings that escalation and reminder times are computed from
        changed since the stored ones were, every live row is looked at again by the next pass
        (docs/architecture.md). Returns how many rows, None when nothing changed."""
        fingerprint = attention_fingerprint(attention_settings(self.playbook, self.config.tz))
        now = self.clock.now()
        reset = await self.store.follow_attention_settings(
            fingerprint, now=now, batch_size=LOOK_NOW_BATCH
        )
        if reset is not None:
            log.info(
                "escalation and reminder settings changed: their times are computed again",
                extra={
                    "fingerprint": fingerprint,
                    "incidents": reset.incidents,
                    "tasks": reset.tasks,
                },
            )
        return reset

    # -- weekly summary ----------------------------------------------------------------------

    async def summary_data(self, week: Week, *, now: datetime) -> WeekData:
        regulator = [str(ref) for ref, rule in self.playbook.deadlines.items() if rule.regulator]
        return await week_data(self.store, week, now=now, regulator_refs=regulator)

    async def summary_queued(self, week: Week) -> bool:
        """Whether the week's summary has an outbox item already (pending, sent or dead)."""
        return bool(await self.store.queued_dedupe_keys([summary_key(week)]))

    async def summary_chart(self, week: Week) -> WeeklyActions | None:
        """The chart's counts: incidents per week over the 12 weeks ending with `week`, by
        decided action. None (logged) when they cannot be read: the summary goes without it."""
        try:
            return await weekly_actions(self.store, week, self.config.tz)
        except Exception:
            log.exception("the weekly summary's chart counts could not be read")
            return None

    async def post_summary(self, data: WeekData, message: dict[str, Any]) -> bool:
        """Queue the summary once per week (replicas and restarts included).

        `message` is the finished body: the scheduler (an edge) words the summary when it
        computes it, with links it looked up in Slack (docs/architecture.md). Its chart, if
        any, travels in the same outbox item: the outbox uploads it and posts the message with
        the image in it, once (bot/slack/outbox.py)."""
        if not self.config.summary_channel:
            return False
        inserted = await self.store.enqueue(
            [
                OutboxMessage(
                    kind="summary",
                    method="chat.postMessage",
                    payload={"channel": self.config.summary_channel, **message},
                    dedupe_key=summary_key(data.week),
                )
            ],
            now=self.clock.now(),
        )
        return bool(inserted)
