"""New facts for an incident (issue 12, `leak_update`): re-assess, say what changed, keep the
follow-ups in step, and send a changed recommendation back for approval (a new round)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from bot.domain.answers import Answers, parse_answers
from bot.domain.changes import FactChanges, changed_answers, changed_deadlines
from bot.domain.engine import Assessment, assess
from bot.domain.followups import deadline_overdue_after, plan_tasks
from bot.lifecycle import CLOCK_START, OBSERVED, Lifecycle, observed_answers
from bot.notifications import Notification
from bot.service import RECOMMENDATION, assessment_snapshot, store_errors_unavailable
from bot.store import IncidentRecord, NewTask, TaskDue

UpdateKind = Literal["unchanged", "kept", "reapproval", "pending"]


@dataclass(frozen=True)
class UpdateOutcome:
    kind: UpdateKind
    record: IncidentRecord
    changes: FactChanges


class FactUpdates:
    def __init__(self, lifecycle: Lifecycle) -> None:
        self.lifecycle = lifecycle
        self.store = lifecycle.store
        self.service = lifecycle.service
        self.playbook = lifecycle.playbook
        self.config = lifecycle.config
        self.clock = lifecycle.clock

    def intake_answers(self, record: IncidentRecord) -> dict[str, Any]:
        """The stored answers as the intake modal holds them (datetimes as epoch seconds)."""
        raw: dict[str, Any] = {}
        for question in self.playbook.questions:
            value = record.answers.get(question.id)
            if value is None:
                continue
            if question.kind == "datetime" and isinstance(value, str):
                value = int(datetime.fromisoformat(value).timestamp())
            raw[question.id] = value
        if "aware_at" not in raw:
            # The picker shows when the clocks started, not "now" (which would restart them).
            raw["aware_at"] = int(self._first_awareness(record).timestamp())
        return raw

    def _first_awareness(self, record: IncidentRecord) -> datetime:
        return self.service.answers_of(record).moment("aware_at") or datetime.fromisoformat(
            record.assessment["assessed_at"]
        )

    def _effective(self, answers: Answers, record: IncidentRecord) -> Answers:
        """The reporter's new answers with the observations on top and the legal clocks of the
        first awareness (unless the new answers say when it was)."""
        overlay = observed_answers(record.assessment)
        effective = answers.with_values(
            **{k: v for k, v in self.service.answers_of(record).values.items() if k in overlay}
        )
        if effective.moment("aware_at") is None:
            effective = effective.with_values(aware_at=self._first_awareness(record))
        return effective

    @store_errors_unavailable
    async def update(
        self, record: IncidentRecord, raw: Mapping[str, Any], *, actor_id: str
    ) -> UpdateOutcome:
        """Raises AnswersError for answers that do not parse."""
        now = self.clock.now()
        tz = self.config.tz
        parsed = parse_answers(dict(raw), self.playbook, tz=tz, now=now)
        aware = parsed.moment("aware_at")
        if (
            "aware_at" not in record.answers
            and aware is not None
            and int(aware.timestamp()) == int(self._first_awareness(record).timestamp())
        ):
            # The picker's initial value, untouched: the reporter never gave one.
            parsed = parsed.with_values(aware_at=None)
        prior = record.answers.get("prior_incidents")
        if isinstance(prior, int):
            parsed = parsed.with_values(prior_incidents=prior)
        new_json = parsed.to_json()
        before: Assessment = self.service.assessment_of(record)
        after = assess(self._effective(parsed, record), self.playbook, tz=tz, now=now)
        changes = FactChanges(
            answers=changed_answers(
                record.answers, new_json, [q.id for q in self.playbook.questions]
            ),
            deadlines=changed_deadlines(
                [(d.id, d.due) for d in before.deadlines], [(d.id, d.due) for d in after.deadlines]
            ),
            recommendation_before=record.recommendation,
            recommendation_after=after.recommendation,
        )
        if not changes.answers:
            return UpdateOutcome("unchanged", record, changes)
        snapshot = assessment_snapshot(after, self.playbook, now)
        if observed_answers(record.assessment):
            snapshot[OBSERVED] = observed_answers(record.assessment)
        aware = self._effective(parsed, record).moment("aware_at")
        if aware is not None and parsed.moment("aware_at") is None:
            snapshot[CLOCK_START] = aware.isoformat()
        reapproval = changes.recommendation_changed and record.status in ("decided", "rejected")
        kind: UpdateKind
        if reapproval or (changes.recommendation_changed and record.status == "pending"):
            kind = "reapproval" if reapproval else "pending"
        else:
            kind = "kept" if record.status in ("decided", "rejected") else "pending"
        # The thread note says what changed; the Slack edge words it (bot/slack/render.py).
        note_message = Notification(
            kind="facts_note",
            thread=RECOMMENDATION,
            lang=self.config.channel_lang,
            round=record.round,
            facts={"changes": changes.to_json(), "who": actor_id, "outcome": kind},
        ).to_outbox()
        if changes.recommendation_changed:
            updated = await self.store.reopen_for_new_round(
                record.id,
                assessment=snapshot,
                recommendation=after.recommendation,
                actor_id=actor_id,
                reason="facts_updated",
                now=now,
                answers=new_json,
                details={"changes": changes.to_json()},
                outbox=[
                    Notification(
                        kind="superseded", ref=RECOMMENDATION, round=record.round
                    ).to_outbox(),
                    note_message,
                    Notification(
                        kind="recommendation",
                        channel=self.config.escalation_channel,
                        round=record.round + 1,
                    ).to_outbox(),
                ],
            )
            # Deadlines that no longer apply stop reminding; the new decision plans the rest.
            gone = {c.deadline_id for c in changes.deadlines if c.after is None}
            await self._cancel(updated, gone, actor_id, now)
            return UpdateOutcome(kind, updated, changes)
        updated = await self.store.replace_facts(
            record.id,
            answers=new_json,
            assessment=snapshot,
            actor_id=actor_id,
            changes=changes.to_json(),
            now=now,
            # The incident's message again, as its status shows it (buttons while pending).
            outbox=[
                Notification(
                    kind="facts_update", ref=RECOMMENDATION, round=record.round
                ).to_outbox(),
                note_message,
            ],
        )
        if updated.status == "decided":
            await self._follow_ups(updated, after, changes, actor_id, now)
        return UpdateOutcome(kind, updated, changes)

    async def _cancel(
        self, record: IncidentRecord, refs: set[str], actor_id: str, now: datetime
    ) -> None:
        if not refs:
            return
        obsolete = [
            task.id
            for task in await self.store.tasks_for(record.id)
            if task.kind == "deadline" and task.ref in refs and task.status == "open"
        ]
        await self.store.adjust_tasks(
            record.id, cancel=obsolete, move={}, actor_id=actor_id, now=now
        )

    async def _follow_ups(
        self,
        record: IncidentRecord,
        after: Assessment,
        changes: FactChanges,
        actor_id: str,
        now: datetime,
    ) -> None:
        """A decision that stands: new tasks for new deadlines, moved ones moved, the others
        cancelled, and the tasks message refreshed."""
        if not changes.deadlines:
            return
        current = {
            task.ref: task
            for task in await self.store.tasks_for(record.id)
            if task.kind == "deadline" and task.status == "open"
        }
        new_due: dict[str, TaskDue] = {
            d.id: (d.due, deadline_overdue_after(d)) for d in after.deadlines
        }
        appeared = {c.deadline_id for c in changes.deadlines if c.before is None}
        moved = {
            current[c.deadline_id].id: new_due[c.deadline_id]
            for c in changes.deadlines
            if c.before is not None and c.after is not None and c.deadline_id in current
        }
        gone = [
            current[c.deadline_id].id
            for c in changes.deadlines
            if c.after is None and c.deadline_id in current
        ]
        await self.store.adjust_tasks(
            record.id, cancel=gone, move=moved, actor_id=actor_id, now=now
        )
        if appeared and record.decided_action is not None:
            plans = plan_tasks(
                deadlines=[d for d in after.deadlines if d.id in appeared],
                action=record.decided_action,  # type: ignore[arg-type]
                playbook=self.playbook,
                reporter_id=record.reporter_id,
                approver_id=record.decided_by[-1] if record.decided_by else record.reporter_id,
                decided_at=record.decided_at or now,
                round_=record.round,
            )
            await self.store.create_tasks(
                record.id,
                [NewTask.planned(plan) for plan in plans if plan.kind == "deadline"],
                now=now,
                actor_id=actor_id,
            )
        await self.store.enqueue(
            [
                Notification(
                    kind="tasks_update", incident_id=record.id, ref="tasks", round=record.round
                ).to_outbox(dedupe_key=f"tasks_update:{record.id}:facts:{now.timestamp():.6f}")
            ],
            now=now,
        )
