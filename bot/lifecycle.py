"""An incident's life after its first decision: the partner's report as an event, closing
and reopening.

What follow-ups teach us (the partner's report was insufficient or never came) is kept apart from
what the reporter answered: an `observed` overlay in the assessment snapshot, merged over the
reporter's answers whenever the incident is assessed (IncidentService.answers_of), and written to
the audit trail with the re-assessment it causes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from bot import failpoints
from bot.clock import Clock
from bot.domain.answers import Answers
from bot.domain.engine import Assessment, assess
from bot.domain.vocabulary import OPTION_KEYS, worse_value
from bot.notifications import Notification
from bot.service import (
    RECOMMENDATION,
    IncidentService,
    assessment_snapshot,
    store_errors_unavailable,
)
from bot.store import IncidentRecord, Store, TaskRecord, events_jobs, incidents
from bot.store.aio import AsyncConnection
from bot.store.lifecycle import ClosureRecord

SYSTEM_ACTOR: Final = "leakbot"
# The follow-ups that are the partner's reports: marking them done asks how the report was.
PARTNER_REPORT_REFS: Final[tuple[str, ...]] = ("partner_initial", "partner_report")
REPORT_QUALITIES: Final[tuple[str, ...]] = ("sufficient", "insufficient", "missing")
OBSERVED: Final = "observed"
CLOCK_START: Final = "aware_at"


def observed_answers(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """The follow-up facts stored with an assessment snapshot (answer id → value)."""
    observed = snapshot.get(OBSERVED)
    return dict(observed) if isinstance(observed, Mapping) else {}


def severity(assessment: Assessment) -> int:
    """The recommendation's place from the mildest reaction (0) to the most severe."""
    return OPTION_KEYS.index(assessment.recommendation)


@dataclass(frozen=True)
class LifecycleConfig:
    tz: ZoneInfo
    channel_lang: str
    escalation_channel: str


class Lifecycle:
    def __init__(
        self, store: Store, service: IncidentService, config: LifecycleConfig, clock: Clock
    ) -> None:
        self.store = store
        self.service = service
        self.playbook = service.playbook
        self.config = config
        self.clock = clock

    def worse_partner_response(self, answers: Answers, now: datetime) -> tuple[str, Assessment]:
        """The partner's response to assess with after a missed or insufficient report: the
        playbook's value (`slow`) or the one already known, whichever is more severe (e.g.
        `concealing` stays): never a milder case than before."""
        response = worse_value(
            "partner_response",
            answers.choice("partner_response"),
            self.playbook.schedules.partner_report_reassess_response,
        )
        return response, assess(answers.with_values(partner_response=response), **self._at(now))

    def _at(self, now: datetime) -> dict[str, Any]:
        return {"playbook": self.playbook, "tz": self.config.tz, "now": now}

    async def reassess_after_partner_report(
        self,
        record: IncidentRecord,
        task: TaskRecord,
        *,
        quality: str,
        actor_id: str,
        now: datetime,
    ) -> IncidentRecord | None:
        """A new round for an insufficient or missing report (once per round, whoever asks
        first: the follow-through at the due time or a person marking it)."""
        if record.status not in ("pending", "decided"):
            return None
        answers = self.service.answers_of(record)
        # The legal clocks keep running from the first awareness, not from this assessment.
        aware_at = answers.moment("aware_at") or datetime.fromisoformat(
            record.assessment["assessed_at"]
        )
        answers = answers.with_values(aware_at=aware_at)
        response, assessment = self.worse_partner_response(answers, now)
        observed = observed_answers(record.assessment) | {
            "partner_response": response,
            "report_quality": quality,
        }
        snapshot = assessment_snapshot(assessment, self.playbook, now)
        snapshot[OBSERVED] = observed
        snapshot[CLOCK_START] = aware_at.isoformat()
        # incident_id None: the store puts this incident's id on them; the old message shows
        # the decision it made (superseded), its thread says why, and the new round is posted.
        messages = [
            Notification(kind="superseded", ref=RECOMMENDATION, round=record.round).to_outbox(),
            Notification(
                kind="reassess_note",
                thread=RECOMMENDATION,
                lang=self.config.channel_lang,
                round=record.round,
                facts={
                    "quality": quality,
                    "response": response,
                    "title": dict(task.title),
                    "ref": task.ref,
                    "due": task.due_at.isoformat() if task.due_at is not None else None,
                    "actor": None if actor_id == SYSTEM_ACTOR else actor_id,
                },
            ).to_outbox(),
            Notification(
                kind="recommendation",
                channel=self.config.escalation_channel,
                round=record.round + 1,
            ).to_outbox(),
        ]
        reason = "partner_report_missed" if quality == "missing" else "partner_report_insufficient"
        job = f"reassess:{record.id}:{record.round}"

        async def claim_and_reopen(conn: AsyncConnection) -> IncidentRecord | None:
            # One transaction: a crash after the claim cannot leave the job claimed and the
            # incident not re-opened (nobody would ever re-open it then).
            if not await events_jobs.claim_job(conn, job, owner=actor_id, now=now):
                return None
            failpoints.hit("reassess.claimed")
            return await incidents.reopen_for_new_round(
                conn,
                record.id,
                assessment=snapshot,
                recommendation=assessment.recommendation,
                actor_id=actor_id,
                reason=reason,
                now=now,
                outbox=messages,
                answers=None,
                # The reporter's answers stay as they were; what was observed is beside them.
                details={
                    "task": task.id,
                    "ref": task.ref,
                    OBSERVED: observed,
                    "reported": {"partner_response": record.answers.get("partner_response")},
                },
            )

        return await self.store.write(claim_and_reopen)

    @store_errors_unavailable
    async def partner_report_received(
        self, record: IncidentRecord, task: TaskRecord, *, quality: str, actor_id: str
    ) -> str:
        """How the partner's report was, as the person who marked it done says. Returns
        "recorded", "reassessed" or "duplicate" (answered before for this task)."""
        now = self.clock.now()
        if not await self.store.remember_event(f"partner_report:{task.id}", now=now):
            return "duplicate"
        await self.store.append_audit(
            actor_id,
            "partner_report.received",
            incident_id=record.id,
            after={"task": task.id, "ref": task.ref, "report_quality": quality},
            now=now,
        )
        if quality == "sufficient":
            return "recorded"
        reopened = await self.reassess_after_partner_report(
            record, task, quality=quality, actor_id=actor_id, now=now
        )
        return "reassessed" if reopened is not None else "recorded"

    # -- closing and reopening ---------------------------------------------------------------

    @store_errors_unavailable
    async def open_regulator_tasks(self, record: IncidentRecord) -> list[TaskRecord]:
        """The incident's open regulator deadlines (one per deadline: the latest round's)."""
        latest: dict[str, TaskRecord] = {}
        for task in await self.store.tasks_for(record.id):
            rule = self.playbook.deadlines.get(task.ref)  # type: ignore[call-overload]
            if task.kind != "deadline" or rule is None or not rule.regulator:
                continue
            if task.ref not in latest or task.round > latest[task.ref].round:
                latest[task.ref] = task
        return [task for task in latest.values() if task.status == "open"]

    @store_errors_unavailable
    async def close(
        self,
        record: IncidentRecord,
        *,
        actor_id: str,
        outcome: str,
        note: str | None,
        confirmations: Mapping[str, tuple[str, str | None]],
    ) -> IncidentRecord | None:
        """Close with an outcome; `confirmations`: each open regulator deadline (by id) as
        ("done" | "not_required", reason). Deadlines confirmed done are ticked. None when it
        was closed already."""
        open_tasks = {task.ref: task for task in await self.open_regulator_tasks(record)}
        regulator = [
            {"ref": ref, "state": state, "reason": reason}
            for ref, (state, reason) in sorted(confirmations.items())
            if ref in open_tasks
        ]
        done = [
            open_tasks[ref].id
            for ref, (state, _) in confirmations.items()
            if state == "done" and ref in open_tasks
        ]
        messages = [Notification(kind="closed", ref=RECOMMENDATION, round=record.round).to_outbox()]
        return await self.store.close_with_outcome(
            record.id,
            actor_id=actor_id,
            outcome=outcome,
            note=note,
            regulator=regulator,
            done_task_ids=done,
            now=self.clock.now(),
            outbox=messages,
        )

    @store_errors_unavailable
    async def reopen(self, record: IncidentRecord, *, actor_id: str) -> IncidentRecord | None:
        messages = [
            Notification(kind="reopened", ref=RECOMMENDATION, round=record.round).to_outbox()
        ]
        return await self.store.reopen_closed(
            record.id, actor_id=actor_id, now=self.clock.now(), outbox=messages
        )

    @store_errors_unavailable
    async def refused(self, record: IncidentRecord, actor_id: str, what: str) -> None:
        """Someone who may not close, reopen or update the incident tried: it is audited."""
        await self.store.append_audit(
            actor_id,
            f"{what}.refused",
            incident_id=record.id,
            after={"reason": "not_allowed"},
            now=self.clock.now(),
        )

    @store_errors_unavailable
    async def refused_report(
        self, record: IncidentRecord, task: TaskRecord, actor_id: str, quality: str
    ) -> None:
        """Someone who may not tick the partner's report said how it was: it is audited."""
        await self.store.append_audit(
            actor_id,
            "task.refused",
            incident_id=record.id,
            after={"task": task.id, "report_quality": quality},
            now=self.clock.now(),
        )

    @store_errors_unavailable
    async def incidents_page(
        self,
        *,
        statuses: Sequence[str] | None,
        partner_text: str | None,
        reporter_id: str | None,
        limit: int,
        offset: int,
    ) -> tuple[list[IncidentRecord], int]:
        """One page of incidents, newest first, and how many match in all (`/leak list`)."""
        return await self.store.list_incidents_page(
            statuses=statuses,
            partner_text=partner_text,
            reporter_id=reporter_id,
            limit=limit,
            offset=offset,
        )

    @store_errors_unavailable
    async def latest_closure(self, record: IncidentRecord) -> ClosureRecord | None:
        """How the incident was last closed (None when it never was)."""
        return await self.store.latest_closure(record.id)
