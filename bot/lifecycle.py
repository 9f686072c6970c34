"""An incident's life after its first decision: the partner's report as an event, closing
and reopening.

What follow-ups teach us (the partner's report was insufficient or never came) is kept apart from
what the reporter answered: an `observed` overlay in the assessment snapshot, merged over the
reporter's answers whenever the incident is assessed (IncidentService.answers_of), and written to
the audit trail with the re-assessment it causes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.domain.answers import Answers
from bot.domain.engine import Assessment, assess
from bot.domain.explain import format_moment
from bot.domain.i18n import t
from bot.domain.vocabulary import OPTION_KEYS
from bot.service import RECOMMENDATION, IncidentService, assessment_snapshot
from bot.slack.blocks.common import escape
from bot.slack.blocks.lifecycle import closed_status_line, incident_controls
from bot.slack.blocks.recommendation import decided_message
from bot.store import IncidentRecord, OutboxMessage, Store, TaskRecord

SYSTEM_ACTOR: Final = "leakbot"
# The follow-ups that are the partner's reports: marking them done asks how the report was.
PARTNER_REPORT_REFS: Final[tuple[str, ...]] = ("partner_initial", "partner_report")
REPORT_QUALITIES: Final[tuple[str, ...]] = ("sufficient", "insufficient", "missing")
OBSERVED: Final = "observed"
CLOCK_START: Final = "aware_at"
CLOSED: Final = "closed"  # the outbox renderer of a closed incident's message


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
        playbook's value (`slow`) or the one already known, whichever the engine ranks worse
        (e.g. `concealing` stays): never a milder case than before. A tie keeps what is known."""
        fallback = self.playbook.schedules.partner_report_reassess_response
        known = answers.choice("partner_response")
        candidates = [known, fallback] if known and known != fallback else [fallback]
        ranked = [
            (value, assess(answers.with_values(partner_response=value), **self._at(now)))
            for value in candidates
        ]
        return max(ranked, key=lambda pair: severity(pair[1]))  # max keeps the first of a tie

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
        if not await self.store.claim_job(
            f"reassess:{record.id}:{record.round}", owner=actor_id, now=now
        ):
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
        lang = self.config.channel_lang
        note = self._note(record, task, quality, response, actor_id, lang)
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
        reason = "partner_report_missed" if quality == "missing" else "partner_report_insufficient"
        return await self.store.reopen_for_new_round(
            record.id,
            assessment=snapshot,
            recommendation=assessment.recommendation,
            actor_id=actor_id,
            reason=reason,
            now=now,
            outbox=messages,
            # The reporter's answers stay as they were; what was observed is beside them.
            details={
                "task": task.id,
                "ref": task.ref,
                OBSERVED: observed,
                "reported": {"partner_response": record.answers.get("partner_response")},
            },
        )

    def _note(
        self,
        record: IncidentRecord,
        task: TaskRecord,
        quality: str,
        response: str,
        actor_id: str,
        lang: str,
    ) -> str:
        label = self.playbook.question("partner_response").choice(response).label.get(lang)
        title = task.title.get(lang) or task.ref
        common = {
            "incident_id": record.id,
            "partner": escape(record.partner),
            "title": escape(title),
            "response": label,
        }
        if actor_id == SYSTEM_ACTOR:
            due = (
                format_moment(task.due_at.astimezone(self.config.tz), lang)
                if task.due_at is not None
                else "-"
            )
            return t(lang, "reassess.partner_report_missed_as", due=due, **common)
        return t(
            lang,
            f"reassess.partner_report_{quality}",
            user=f"<@{actor_id}>",
            **common,
        )

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
        messages = [
            OutboxMessage(
                kind="closed",
                method="chat.update",
                payload={"_ref": RECOMMENDATION, "_render": CLOSED},
            )
        ]
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

    async def reopen(self, record: IncidentRecord, *, actor_id: str) -> IncidentRecord | None:
        messages = [
            OutboxMessage(
                kind="reopened",
                method="chat.update",
                payload={"_ref": RECOMMENDATION, "_render": "decided"},
            )
        ]
        return await self.store.reopen_closed(
            record.id, actor_id=actor_id, now=self.clock.now(), outbox=messages
        )

    async def closed_status(self, record: IncidentRecord, lang: str) -> str:
        closure = await self.store.latest_closure(record.id)
        if record.status != "closed" or closure is None:
            return self.service.status_line(record, lang)
        return closed_status_line(
            lang,
            outcome=closure.outcome,
            who=f"<@{closure.closed_by}>",
            when=format_moment(closure.closed_at.astimezone(self.config.tz), lang),
            note=closure.note,
        )

    async def render_closed(self, record: IncidentRecord, _lang: str | None) -> dict[str, Any]:
        """The incident's message once closed: the outcome, and Reopen."""
        lang = self.config.channel_lang
        return decided_message(
            self.playbook,
            self.service.view_of(record),
            lang,
            status_line=await self.closed_status(record, lang),
            controls=incident_controls(record.id, record.status, lang),
        )
