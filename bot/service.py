"""Application services: the domain and the store together, and what to tell Slack afterwards.

Every state change commits together with the Slack calls it causes (the outbox), so a crash
between the two never loses a message nor sends one twice. Nothing here talks to Slack directly.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.domain.answers import Answers, AnswersError, parse_answers
from bot.domain.approvals import ApprovalCheck, check_approval, may_reject
from bot.domain.engine import Assessment, assess
from bot.domain.explain import format_moment, option_label
from bot.domain.i18n import t
from bot.domain.partners import normalize_partner
from bot.domain.playbook import Playbook
from bot.domain.vocabulary import OPTION_KEYS, OptionKey
from bot.slack.blocks.common import escape
from bot.slack.blocks.lifecycle import incident_controls
from bot.slack.blocks.recommendation import IncidentView, decided_message, recommendation_message
from bot.store import ApprovalOutcome, IncidentRecord, NewIncident, OutboxMessage, Store

RECOMMENDATION = "recommendation"


@dataclass(frozen=True)
class ServiceConfig:
    tz: ZoneInfo
    channel_lang: str
    escalation_channel: str


def assessment_snapshot(
    assessment: Assessment, playbook: Playbook, now: datetime
) -> dict[str, Any]:
    """What was recommended, kept with the incident as the record of the decision's basis."""
    return {
        "recommendation": assessment.recommendation,
        "distribution": dict(assessment.distribution),
        "deadlines": [{"id": d.id, "due": d.due.isoformat()} for d in assessment.deadlines],
        "playbook": {"id": playbook.id, "version": playbook.version},
        "assessed_at": now.isoformat(),
    }


class IncidentService:
    def __init__(
        self, store: Store, playbook: Playbook, config: ServiceConfig, clock: Clock
    ) -> None:
        self.store = store
        self.playbook = playbook
        self.config = config
        self.clock = clock

    def now(self) -> datetime:
        return self.clock.now().astimezone(self.config.tz)

    # -- reading -----------------------------------------------------------------------------

    def answers_of(self, record: IncidentRecord) -> Answers:
        """The reporter's answers with what follow-ups observed (the snapshot's `observed`,
        see bot/lifecycle.py) on top; an observation the playbook cannot assess yet (an id it
        does not know) stays in the snapshot only."""
        snapshot = record.assessment
        assessed_at = datetime.fromisoformat(snapshot["assessed_at"])
        observed = snapshot.get("observed")
        overlay = dict(observed) if isinstance(observed, dict) else {}
        raw = {**record.answers, **overlay}
        try:
            answers = parse_answers(
                raw, self.playbook, tz=self.config.tz, now=assessed_at, partial=True
            )
        except AnswersError as exc:
            unknown = {problem.answer_id for problem in exc.problems}
            if not overlay or not unknown <= overlay.keys() - record.answers.keys():
                raise
            raw = {k: v for k, v in raw.items() if k not in unknown}
            answers = parse_answers(
                raw, self.playbook, tz=self.config.tz, now=assessed_at, partial=True
            )
        clock_start = snapshot.get("aware_at")
        if answers.moment("aware_at") is None and isinstance(clock_start, str):
            # A re-assessment keeps the legal clocks of the first awareness.
            answers = answers.with_values(aware_at=datetime.fromisoformat(clock_start))
        return answers

    def assessment_of(self, record: IncidentRecord) -> Assessment:
        assessed_at = datetime.fromisoformat(record.assessment["assessed_at"])
        return assess(self.answers_of(record), self.playbook, tz=self.config.tz, now=assessed_at)

    def view_of(self, record: IncidentRecord) -> IncidentView:
        return IncidentView(
            incident_id=record.id,
            partner=record.partner,
            reporter_id=record.reporter_id,
            answers=self.answers_of(record),
            assessment=self.assessment_of(record),
            round=record.round,
        )

    async def prior_incidents(self, partner: str) -> int:
        return await self.store.count_incidents_for_partner(normalize_partner(partner))

    # -- intake ------------------------------------------------------------------------------

    async def submit(
        self,
        raw: dict[str, Any],
        *,
        reporter_id: str,
        team_id: str | None,
        locale: str,
        submission_key: str | None,
    ) -> tuple[IncidentRecord, bool]:
        """Validate (raises AnswersError), assess and store an incident with its messages."""
        now = self.now()
        answers = parse_answers(raw, self.playbook, tz=self.config.tz, now=now)
        partner = answers.text("partner") or ""
        prior = await self.prior_incidents(partner)
        answers = answers.with_values(prior_incidents=prior)
        assessment = assess(answers, self.playbook, tz=self.config.tz, now=now)
        # The incident id is allocated inside the transaction, so the messages use a
        # placeholder that the outbox sender fills in (see bot/slack/outbox.py).
        new = NewIncident(
            partner=partner,
            reporter_id=reporter_id,
            team_id=team_id,
            locale=locale,
            answers=answers.to_json(),
            assessment=assessment_snapshot(assessment, self.playbook, now),
            recommendation=assessment.recommendation,
            year=now.year,
            submission_key=submission_key,
        )
        return await self.store.create_incident(
            new, now=now, outbox=self._new_incident_messages(reporter_id, locale)
        )

    def _new_incident_messages(self, reporter_id: str, locale: str) -> list[OutboxMessage]:
        return [
            OutboxMessage(
                kind=RECOMMENDATION,
                method="chat.postMessage",
                payload={"channel": self.config.escalation_channel, "_render": RECOMMENDATION},
            ),
            OutboxMessage(
                kind="reporter_receipt",
                method="chat.postMessage",
                payload={"channel": reporter_id, "_render": "reporter_receipt", "_lang": locale},
            ),
        ]

    # -- rendering (called by the outbox sender just before a call) --------------------------

    def render(self, record: IncidentRecord, what: str, lang: str | None) -> dict[str, Any]:
        """The message body for an outbox item, rendered from the incident's current state."""
        channel_lang = self.config.channel_lang
        view = self.view_of(record)
        if what == RECOMMENDATION:
            return recommendation_message(self.playbook, view, channel_lang)
        if what == "decided":
            return decided_message(
                self.playbook,
                view,
                channel_lang,
                status_line=self.status_line(record, channel_lang),
                controls=incident_controls(record.id, record.status, channel_lang),
            )
        lang = lang or channel_lang
        top = option_label(self.playbook, view.assessment.recommendation, lang)
        if what == "reporter_receipt":
            # Typed text is escaped in mrkdwn: "<!channel>" must not mention anyone.
            text = t(
                lang,
                "dm.receipt",
                incident_id=record.id,
                partner=escape(record.partner),
                option=top,
            )
        elif what == "reporter_decided":
            text = t(
                lang, "dm.decided", incident_id=record.id, status=self.status_line(record, lang)
            )
        elif what == "reporter_rejected":
            text = t(
                lang,
                "dm.rejected",
                incident_id=record.id,
                user=f"<@{record.decided_by[0]}>" if record.decided_by else "?",
                reason=escape(record.decision_reason or ""),
            )
        else:
            raise ValueError(f"unknown message {what!r}")
        return {"text": text}

    def status_line(self, record: IncidentRecord, lang: str) -> str:
        who = ", ".join(f"<@{user}>" for user in record.decided_by)
        when = (
            format_moment(record.decided_at.astimezone(self.config.tz), lang)
            if record.decided_at
            else ""
        )
        if record.status == "decided" and record.decided_action in OPTION_KEYS:
            action = option_label(self.playbook, record.decided_action, lang)
            return t(lang, "status.decided", action=action, who=who, when=when)
        if record.status == "rejected":
            return t(
                lang,
                "status.rejected",
                who=who,
                when=when,
                reason=escape(record.decision_reason or ""),
            )
        return t(lang, f"status.{record.status}")

    # -- decisions ---------------------------------------------------------------------------

    def check(
        self, record: IncidentRecord, actor_id: str, action: OptionKey, approvers: Collection[str]
    ) -> ApprovalCheck:
        return check_approval(
            actor_id=actor_id,
            reporter_id=record.reporter_id,
            approvers=approvers,
            action=action,
            policy=self.playbook.approval,
        )

    @staticmethod
    def _closing_messages(record: IncidentRecord, reporter_message: str) -> list[OutboxMessage]:
        """After a decision or a rejection: the original message loses its buttons and shows
        the outcome, and the reporter hears of it."""
        return [
            OutboxMessage(
                kind="decided",
                method="chat.update",
                payload={"_ref": RECOMMENDATION, "_render": "decided"},
                incident_id=record.id,
            ),
            OutboxMessage(
                kind=reporter_message,
                method="chat.postMessage",
                payload={
                    "channel": record.reporter_id,
                    "_render": reporter_message,
                    "_lang": record.locale,
                },
                incident_id=record.id,
            ),
        ]

    def _decision_messages(self, record: IncidentRecord) -> Sequence[OutboxMessage]:
        return self._closing_messages(record, "reporter_decided")

    async def approve(
        self,
        incident_id: str,
        *,
        actor_id: str,
        action: OptionKey,
        needed: int,
        round_: int | None = None,
    ) -> ApprovalOutcome:
        """`round_`: the round the approver saw; a vote for another round is refused."""
        return await self.store.record_approval(
            incident_id,
            approver_id=actor_id,
            action=action,
            required=needed,
            now=self.now(),
            on_decided=self._decision_messages,
            expected_round=round_,
        )

    def may_reject(self, record: IncidentRecord, actor_id: str, approvers: Collection[str]) -> bool:
        return may_reject(actor_id=actor_id, reporter_id=record.reporter_id, approvers=approvers)

    async def reject(self, incident_id: str, *, actor_id: str, reason: str) -> ApprovalOutcome:
        return await self.store.reject(
            incident_id,
            actor_id=actor_id,
            reason=reason,
            now=self.now(),
            on_rejected=lambda record: self._closing_messages(record, "reporter_rejected"),
        )
