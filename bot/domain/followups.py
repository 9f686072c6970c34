"""Follow-through: which tasks a decision creates, when reminders and escalations fall due.

Pure functions over plain values; the scheduler claims each due step in the database so that it
happens once however many replicas run and however often they restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain.calendar import add_working_hours
from bot.domain.deadlines import Deadline
from bot.domain.playbook import ApprovalPolicy, Playbook
from bot.domain.vocabulary import OptionKey


@dataclass(frozen=True)
class TaskPlan:
    kind: str  # "deadline" | "checklist"
    ref: str  # the deadline id, or "checklist:<n>"
    title_ja: str
    title_en: str
    owner_id: str
    due_at: datetime | None
    regulator: bool = False


def plan_tasks(
    *,
    deadlines: Sequence[Deadline],
    action: OptionKey,
    playbook: Playbook,
    reporter_id: str,
    approver_id: str,
    decided_at: datetime,
) -> list[TaskPlan]:
    """Tasks for a decided incident: its deadlines, then the chosen action's checklist."""
    plans = [
        TaskPlan(
            kind="deadline",
            ref=deadline.id,
            title_ja=deadline.rule.label.ja,
            title_en=deadline.rule.label.en,
            owner_id=reporter_id if deadline.rule.owner == "reporter" else approver_id,
            due_at=deadline.due,
            regulator=deadline.rule.regulator,
        )
        for deadline in deadlines
    ]
    checklist_due = decided_at + timedelta(hours=playbook.schedules.checklist_due_hours)
    plans += [
        TaskPlan(
            kind="checklist",
            ref=f"checklist:{index}",
            title_ja=item.ja,
            title_en=item.en,
            owner_id=reporter_id,
            due_at=checklist_due,
        )
        for index, item in enumerate(playbook.checklists[action])
    ]
    return plans


@dataclass(frozen=True)
class ReminderStep:
    """A reminder stage of a task: `hours_before` its due time (0 = at the due time)."""

    hours_before: int
    at: datetime

    @property
    def stage(self) -> str:
        return "due" if self.hours_before == 0 else f"before_{self.hours_before}h"


def reminder_steps(due_at: datetime, hours_before: Sequence[int]) -> list[ReminderStep]:
    return sorted(
        (ReminderStep(hours, due_at - timedelta(hours=hours)) for hours in set(hours_before)),
        key=lambda step: step.at,
    )


def due_reminders(
    due_at: datetime, hours_before: Sequence[int], now: datetime, *, created_at: datetime
) -> list[ReminderStep]:
    """Reminder stages that have fallen due by `now`.

    A stage that was already past when the task was created is skipped (a task due in 3 hours
    gets no "24 hours before" reminder), except the due-time one, which always counts.
    """
    return [
        step
        for step in reminder_steps(due_at, hours_before)
        if step.at <= now and (step.hours_before == 0 or step.at >= created_at)
    ]


def escalation_times(
    started_at: datetime,
    recommendation: OptionKey,
    policy: ApprovalPolicy,
    tz: ZoneInfo,
) -> list[datetime]:
    """When an undecided incident escalates: one timeout after another, `escalation_steps` times.

    Timeouts count working hours only if the playbook says so.
    """
    hours = policy.timeout_for(recommendation)
    times: list[datetime] = []
    cursor = started_at
    for _ in range(policy.escalation_steps):
        if policy.working_hours_only:
            hours_cfg = policy.working_hours
            cursor = add_working_hours(
                cursor,
                hours,
                tz=tz,
                start_hour=hours_cfg.start_hour,
                end_hour=hours_cfg.end_hour,
                weekdays_only=hours_cfg.weekdays_only,
                skip_holidays=hours_cfg.skip_holidays,
            )
        else:
            cursor = cursor + timedelta(hours=hours)
        times.append(cursor)
    return times
