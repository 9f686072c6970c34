"""Follow-through after the recommendation: tasks, reminders, missed partner reports,
approval escalation and the weekly summary.

Each step that sends something goes through the outbox with a dedupe key derived from what it
is (`reminder:<task>:<stage>`, `summary:<week>`), so replicas on one database and restarts never
send it twice, and a step that fell due while the bot was down is sent once at the next run.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.domain.engine import assess
from bot.domain.explain import format_moment, option_label
from bot.domain.followups import due_reminders, escalation_times, plan_tasks
from bot.domain.i18n import t
from bot.domain.playbook import Playbook
from bot.domain.summary import Week, WeekData
from bot.service import RECOMMENDATION, IncidentService, assessment_snapshot
from bot.slack.blocks.tasks import tasks_message
from bot.store import IncidentRecord, NewTask, OutboxMessage, Store, TaskRecord
from bot.store.reports import week_data

log = logging.getLogger(__name__)
SYSTEM_ACTOR = "leakbot"
TASKS = "tasks"


@dataclass(frozen=True)
class FollowThroughConfig:
    tz: ZoneInfo
    channel_lang: str
    escalation_channel: str
    summary_channel: str | None
    approvers: tuple[str, ...]
    escalation_approvers: tuple[str, ...]


def mentions(ids: Collection[str]) -> str:
    return " ".join(f"<!subteam^{i}>" if i.startswith("S") else f"<@{i}>" for i in ids)


class FollowThrough:
    def __init__(
        self, store: Store, service: IncidentService, config: FollowThroughConfig, clock: Clock
    ) -> None:
        self.store = store
        self.service = service
        self.playbook: Playbook = service.playbook
        self.config = config
        self.clock = clock

    def _moment(self, when: datetime, lang: str) -> str:
        return format_moment(when.astimezone(self.config.tz), lang)

    # -- tasks -------------------------------------------------------------------------------

    async def create_tasks(self, record: IncidentRecord) -> list[TaskRecord]:
        """The decided incident's deadlines and checklist as tasks (idempotent), and the thread
        message that lists them with a Done button each."""
        if record.status != "decided" or record.decided_action is None:
            return []
        assessment = self.service.assessment_of(record)
        approver = record.decided_by[-1] if record.decided_by else record.reporter_id
        plans = plan_tasks(
            deadlines=assessment.deadlines,
            action=record.decided_action,  # type: ignore[arg-type]
            playbook=self.playbook,
            reporter_id=record.reporter_id,
            approver_id=approver,
            decided_at=record.decided_at or self.clock.now(),
        )
        now = self.clock.now()
        created = await self.store.create_tasks(
            record.id,
            [
                NewTask(
                    kind=plan.kind,  # type: ignore[arg-type]
                    ref=plan.ref,
                    title={"ja": plan.title_ja, "en": plan.title_en},
                    owner_id=plan.owner_id,
                    due_at=plan.due_at,
                )
                for plan in plans
            ],
            now=now,
        )
        inserted = await self.store.enqueue(
            [
                OutboxMessage(
                    kind=TASKS,
                    method="chat.postMessage",
                    payload={"_thread": RECOMMENDATION, "_render": TASKS},
                    incident_id=record.id,
                    dedupe_key=f"tasks:{record.id}:{record.round}",
                )
            ],
            now=now,
        )
        if inserted:
            await self.store.append_audit(
                SYSTEM_ACTOR,
                "tasks.created",
                incident_id=record.id,
                after={"count": len(plans)},
                now=now,
            )
        return created

    async def render_tasks(self, record: IncidentRecord, _lang: str | None) -> dict[str, Any]:
        tasks = [
            task for task in await self.store.tasks_for(record.id) if task.round == record.round
        ]
        return tasks_message(tasks, self.config.channel_lang, self.config.tz, incident_id=record.id)

    async def task_changed(self, record: IncidentRecord, task: TaskRecord) -> None:
        """Refresh the tasks message after a task was ticked."""
        await self.store.enqueue(
            [
                OutboxMessage(
                    kind="tasks_update",
                    method="chat.update",
                    payload={"_ref": TASKS, "_render": TASKS},
                    incident_id=record.id,
                    dedupe_key=f"tasks_update:{task.id}",
                )
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
        # Tasks are created right after a decision; this catches a crash in between.
        for record in await self.store.incidents_decided_between(
            now - timedelta(days=7), now + timedelta(seconds=1)
        ):
            if record.status == "decided" and not [
                task for task in await self.store.tasks_for(record.id) if task.round == record.round
            ]:
                await self.create_tasks(record)

    async def _reminders(self, now: datetime) -> None:
        hours = self.playbook.schedules.reminder_hours_before
        horizon = now + timedelta(hours=max(hours, default=0), seconds=1)
        records: dict[str, IncidentRecord | None] = {}
        for task in await self.store.open_tasks_due_before(horizon):
            if task.due_at is None:
                continue
            if task.incident_id not in records:
                records[task.incident_id] = await self.store.get_incident(task.incident_id)
            record = records[task.incident_id]
            if record is None or task.round != record.round:
                continue
            for step in due_reminders(task.due_at, hours, now, created_at=task.created_at):
                await self._remind(record, task, step.hours_before, step.stage, now)
            if task.due_at <= now and task.kind == "deadline":
                await self._overdue(record, task, now)

    async def _remind(
        self, record: IncidentRecord, task: TaskRecord, hours: int, stage: str, now: datetime
    ) -> None:
        assert task.due_at is not None
        lang = record.locale if task.owner_id == record.reporter_id else self.config.channel_lang
        key = "reminder.due" if hours == 0 else "reminder.before"
        text = t(
            lang,
            key,
            incident_id=record.id,
            partner=record.partner,
            title=task.title.get(lang) or task.ref,
            hours=hours,
            due=self._moment(task.due_at, lang),
        )
        inserted = await self.store.enqueue(
            [
                OutboxMessage(
                    kind="reminder",
                    method="chat.postMessage",
                    payload={"channel": task.owner_id or record.reporter_id, "text": text},
                    incident_id=record.id,
                    dedupe_key=f"reminder:{task.id}:{stage}",
                )
            ],
            now=now,
        )
        if inserted:
            await self.store.append_audit(
                SYSTEM_ACTOR,
                "reminder.sent",
                incident_id=record.id,
                after={"task": task.id, "ref": task.ref, "stage": stage, "owner": task.owner_id},
                now=now,
            )

    async def _overdue(self, record: IncidentRecord, task: TaskRecord, now: datetime) -> None:
        assert task.due_at is not None
        lang = self.config.channel_lang
        rule = self.playbook.deadlines.get(task.ref)  # type: ignore[call-overload]
        if rule is not None and rule.regulator:
            text = t(
                lang,
                "reminder.regulator_overdue",
                approvers=mentions(self.config.approvers),
                incident_id=record.id,
                partner=record.partner,
                title=task.title.get(lang) or task.ref,
                due=self._moment(task.due_at, lang),
            )
            await self.store.enqueue(
                [
                    OutboxMessage(
                        kind="overdue",
                        method="chat.postMessage",
                        payload={"channel": self.config.escalation_channel, "text": text},
                        incident_id=record.id,
                        dedupe_key=f"overdue:{task.id}",
                    )
                ],
                now=now,
            )
        if task.ref == "partner_report" and record.status == "decided":
            await self._partner_report_missed(record, task, now)

    async def _partner_report_missed(
        self, record: IncidentRecord, task: TaskRecord, now: datetime
    ) -> None:
        """The survey's "no report by the deadline → stop" respondents: re-assess with a slow
        partner and ask for a new decision."""
        if not await self.store.claim_job(
            f"reassess:{record.id}:{record.round}", owner=SYSTEM_ACTOR, now=now
        ):
            return
        response = self.playbook.schedules.partner_report_reassess_response
        answers = self.service.answers_of(record).with_values(partner_response=response)
        assessment = assess(answers, self.playbook, tz=self.config.tz, now=now)
        lang = self.config.channel_lang
        assert task.due_at is not None
        note = t(
            lang,
            "reassess.partner_report_missed",
            incident_id=record.id,
            partner=record.partner,
            due=self._moment(task.due_at, lang),
        )
        messages = [
            OutboxMessage(
                kind="superseded",
                method="chat.update",
                payload={"_ref": RECOMMENDATION, "_render": "decided"},
            ),
            OutboxMessage(
                kind="reassess_note",
                method="chat.postMessage",
                payload={"_thread": RECOMMENDATION, "text": note},
            ),
            OutboxMessage(
                kind=RECOMMENDATION,
                method="chat.postMessage",
                payload={"channel": self.config.escalation_channel, "_render": RECOMMENDATION},
            ),
        ]
        # The snapshot keeps the original awareness time: the legal clocks do not restart.
        await self.store.reopen_for_new_round(
            record.id,
            assessment=assessment_snapshot(assessment, self.playbook, now),
            recommendation=assessment.recommendation,
            actor_id=SYSTEM_ACTOR,
            reason="partner_report_missed",
            now=now,
            outbox=messages,
            answers=answers.to_json(),
        )

    async def _escalations(self, now: datetime) -> None:
        policy = self.playbook.approval
        for record in await self.store.list_incidents(statuses=("pending",), limit=10_000):
            started = datetime.fromisoformat(
                record.assessment.get("assessed_at") or record.created_at.isoformat()
            )
            times = escalation_times(started, record.recommendation, policy, self.config.tz)  # type: ignore[arg-type]
            for step, when in enumerate(times, start=1):
                if when <= now:
                    await self._escalate(record, step, started, now)

    async def _escalate(
        self, record: IncidentRecord, step: int, started: datetime, now: datetime
    ) -> None:
        """Step 1 re-notifies the approvers; later steps go to the second level, if any."""
        lang = self.config.channel_lang
        if step == 1:
            audience, key, action = (
                self.config.approvers,
                "escalation.reminder",
                "escalation.reminded",
            )
        elif self.config.escalation_approvers:
            audience, key, action = (
                self.config.escalation_approvers,
                "escalation.second_level",
                "escalation.second_level",
            )
        else:
            return
        text = t(
            lang,
            key,
            approvers=mentions(audience),
            incident_id=record.id,
            partner=record.partner,
            hours=int((now - started).total_seconds() // 3600),
            option=option_label(self.playbook, record.recommendation, lang),  # type: ignore[arg-type]
        )
        dedupe = f"escalate:{record.id}:{record.round}:{step}"
        messages = [
            OutboxMessage(
                kind="escalation",
                method="chat.postMessage",
                payload={"_thread": RECOMMENDATION, "text": text, "reply_broadcast": True},
                incident_id=record.id,
                dedupe_key=dedupe,
            )
        ]
        if step > 1:  # the second level also hears it directly (user groups cannot be DMed)
            messages += [
                OutboxMessage(
                    kind="escalation_dm",
                    method="chat.postMessage",
                    payload={"channel": user, "text": text},
                    incident_id=record.id,
                    dedupe_key=f"{dedupe}:{user}",
                )
                for user in audience
                if not user.startswith("S")
            ]
        if await self.store.enqueue(messages, now=now):
            await self.store.append_audit(
                SYSTEM_ACTOR,
                action,
                incident_id=record.id,
                after={"step": step, "round": record.round},
                now=now,
            )

    # -- weekly summary ----------------------------------------------------------------------

    async def summary_data(self, week: Week, *, now: datetime) -> WeekData:
        return await week_data(self.store, week, now=now)

    async def post_summary(self, data: WeekData, message: dict[str, Any]) -> bool:
        """Queue the summary once per week (replicas and restarts included)."""
        if not self.config.summary_channel:
            return False
        inserted = await self.store.enqueue(
            [
                OutboxMessage(
                    kind="summary",
                    method="chat.postMessage",
                    payload={"channel": self.config.summary_channel, **message},
                    dedupe_key=f"summary:{data.week.label}",
                )
            ],
            now=self.clock.now(),
        )
        return bool(inserted)
