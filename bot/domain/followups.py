"""Follow-through: which tasks a decision creates, when reminders and escalations fall due.

Pure functions over plain values; the scheduler claims each due step in the database so that it
happens once however many replicas run and however often they restart.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.calendar import add_working_hours, holiday_calendar_version
from bot.domain.deadlines import NO_REPORT_ACTION, Deadline
from bot.domain.playbook import ApprovalPolicy, DeadlineRule, Playbook
from bot.domain.vocabulary import OPTION_KEYS, OptionKey

PARTNER_REPORT = "partner_report"


@dataclass(frozen=True)
class TaskPlan:
    kind: str  # "deadline" | "checklist"
    ref: str  # the deadline id, or "checklist:<n>"
    title_ja: str
    title_en: str
    owner_id: str
    due_at: datetime | None
    regulator: bool = False
    # When it counts as overdue (a deadline's overdue-after moment, else its due time).
    overdue_after: datetime | None = None


def plan_tasks(
    *,
    deadlines: Sequence[Deadline],
    action: OptionKey,
    playbook: Playbook,
    reporter_id: str,
    approver_id: str,
    decided_at: datetime,
    round_: int = 1,
) -> list[TaskPlan]:
    """Tasks for a decided incident: its deadlines, then the chosen action's checklist.

    The partner's report is left out when the decided action is to continue unchanged (the
    deadlines were computed for the recommendation, which may have been another action).

    From the second round on (the incident was re-assessed, e.g. because the partner's report
    did not come), the partner gets a fresh period for its report, counted from the new
    decision; the legal clocks keep running from awareness.
    """
    plans = []
    for deadline in deadlines:
        # The partner's report is asked for unless the decided action continues unchanged.
        if deadline.id == PARTNER_REPORT and action == NO_REPORT_ACTION:
            continue
        due = (
            max(deadline.due, restarted_due(deadline, decided_at))
            if round_ > 1 and deadline.id == PARTNER_REPORT
            else deadline.due
        )
        plans.append(
            TaskPlan(
                kind="deadline",
                ref=deadline.id,
                title_ja=deadline.rule.label.ja,
                title_en=deadline.rule.label.en,
                owner_id=reporter_id if deadline.rule.owner == "reporter" else approver_id,
                due_at=due,
                regulator=deadline.rule.regulator,
                overdue_after=max(due, deadline_overdue_after(deadline)),
            )
        )
    checklist_due = decided_at + timedelta(hours=playbook.schedules.checklist_due_hours)
    plans += [
        TaskPlan(
            kind="checklist",
            ref=f"checklist:{index}",
            title_ja=item.ja,
            title_en=item.en,
            owner_id=reporter_id,
            due_at=checklist_due,
            overdue_after=checklist_due,
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


def sendable_steps(
    due_at: datetime, hours_before: Sequence[int], *, created_at: datetime
) -> list[ReminderStep]:
    """The task's reminder stages that may ever be sent (`due_reminders` says which and why)."""
    return [
        step
        for step in reminder_steps(due_at, hours_before)
        if step.hours_before == 0 or step.at > created_at
    ]


def due_reminders(
    due_at: datetime, hours_before: Sequence[int], now: datetime, *, created_at: datetime
) -> list[ReminderStep]:
    """The reminder stage to send by `now`: the latest one that has fallen due (at most one).

    A stage that was not after the task's creation is skipped (a task due in 3 hours gets no
    "24 hours before" reminder, nor does one due in exactly 24), except the due-time one,
    which always counts. An earlier stage overtaken by a later one (the bot was down, say) is
    not sent late: "due in 24 hours" after the due time would be wrong.
    """
    steps = sendable_steps(due_at, hours_before, created_at=created_at)
    return [step for step in steps if step.at <= now][-1:]


def attention_moments(
    due_at: datetime,
    hours_before: Sequence[int],
    *,
    created_at: datetime,
    overdue_at: datetime | None,
) -> list[datetime]:
    """When an open task needs the follow-through: each reminder stage `due_reminders` may
    send, and (for a deadline) its overdue moment."""
    moments = [step.at for step in sendable_steps(due_at, hours_before, created_at=created_at)]
    return moments + ([overdue_at] if overdue_at is not None else [])


def next_moment(moments: Sequence[datetime], now: datetime) -> datetime | None:
    """The first of `moments` after `now` (None: all have passed)."""
    return min((moment for moment in moments if moment > now), default=None)


def overdue_grace(rule: DeadlineRule | None) -> timedelta:
    """How long after its due time (the target) a deadline counts as overdue: the APPI
    preliminary report is due "promptly" (3 days) and shown overdue after 5."""
    if rule is None or rule.overdue_after_days is None or rule.days is None:
        return timedelta(0)
    return timedelta(days=max(rule.overdue_after_days - rule.days, 0))


def deadline_overdue_after(deadline: Deadline) -> datetime:
    """When the deadline counts as overdue: its overdue-after moment, else its due time plus
    the rule's grace (kept with its task as `tasks.overdue_after`)."""
    if deadline.overdue_after is not None:
        return deadline.overdue_after
    return deadline.due + overdue_grace(deadline.rule)


def restarted_due(deadline: Deadline, start: datetime) -> datetime:
    """The deadline's period counted again from `start` (end of that day for day periods)."""
    rule = deadline.rule
    if rule.hours is not None:
        return start + timedelta(hours=rule.hours)
    tz = deadline.due.tzinfo
    day = start.astimezone(tz).date() + timedelta(days=rule.days or 0)
    return datetime.combine(day, time(23, 59, 59), tzinfo=tz)


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


# Bump when the code that turns the settings below into escalation or attention times changes
# (a stored time computed by the old code is then recomputed, as after a settings change).
ATTENTION_RULES = 1


def attention_settings(playbook: Playbook, tz: ZoneInfo) -> dict[str, Any]:
    """Exactly the settings that stored escalation and attention times are computed from
    (`escalation_times`; `attention_moments`' reminder stages), as plain JSON
    values: equal settings give equal values, whatever their order or spelling in the playbook.

    Not in it, on purpose: what only words or addresses a message (the second level, the
    channels), and what is fixed into a task when it is created (its due time: the deadline
    rules' periods and business days, `checklist_due_hours`, and a deadline's overdue moment:
    `tasks.overdue_after`, from the rule's grace)."""
    approval = playbook.approval
    working: dict[str, Any] | None = None
    if approval.working_hours_only:  # the timezone and holidays count only then
        hours = approval.working_hours
        working = {
            "start_hour": hours.start_hour,
            "end_hour": hours.end_hour,
            "weekdays_only": hours.weekdays_only,
            "holidays": holiday_calendar_version() if hours.skip_holidays else None,
            "timezone": tz.key,
        }
    return {
        "rules": ATTENTION_RULES,
        "escalation": {
            "steps": approval.escalation_steps,
            "timeout_hours": {
                option: float(approval.timeout_for(option)) for option in OPTION_KEYS
            },
            "working_hours": working,
        },
        "reminders": {
            # `reminder_steps` takes each distinct stage once, in time order.
            "hours_before": sorted(
                {int(hours) for hours in playbook.schedules.reminder_hours_before}
            ),
        },
    }


def attention_fingerprint(settings: Mapping[str, Any]) -> str:
    """A hash of `attention_settings`: SHA-256 of its canonical JSON (sorted keys, no spaces,
    ASCII), the same in every process and Python version."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()
