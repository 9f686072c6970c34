"""Application services: the domain and the store together, and what to tell whom afterwards.

Every state change commits together with the notifications it causes (the outbox), so a crash
between the two never loses a message nor sends one twice. Nothing here knows Slack: the
notifications say what must be told to whom (bot/notifications.py), and the Slack edge words
them when it sends them (bot/slack/render.py). Store failures leave here as `Unavailable`.
"""

from __future__ import annotations

import functools
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError

from bot.clock import Clock
from bot.domain.answers import Answers, AnswersError, parse_answers
from bot.domain.approvals import ApprovalCheck, Refusal, check_approval, may_reject
from bot.domain.engine import Assessment, assess
from bot.domain.explain import assessment_json
from bot.domain.partners import normalize_partner
from bot.domain.playbook import Playbook
from bot.domain.vocabulary import OptionKey
from bot.notifications import HOME_VIEWER_TTL, Notification, home_refresh
from bot.store import (
    ApprovalOutcome,
    AuditRecord,
    IncidentRecord,
    NewIncident,
    OutboxMessage,
    Store,
    canonical_json,
)
from bot.store import home as home_rows
from bot.store.aio import AsyncConnection
from bot.store.approvals import AfterDecision

log = logging.getLogger(__name__)
RECOMMENDATION = "recommendation"
P = ParamSpec("P")
FollowUps = Callable[[AsyncConnection, IncidentRecord], Awaitable[tuple[AfterDecision, list[str]]]]
"""What a decision brings with it, in its own transaction (FollowThrough.decision_tasks): the
outbox messages and audit rows, and whose App Home shows it besides the reporter and approvers."""
R = TypeVar("R")


class Unavailable(Exception):
    """The database did not answer or failed: nothing was changed, try again later.

    The one store error the edges see (they answer "not available right now"); the cause is
    chained for the logs."""


# What a failing database raises through SQLAlchemy's async drivers (a refused connection is an
# OSError, a pool or statement timeout a TimeoutError).
STORE_ERRORS = (SQLAlchemyError, OSError, TimeoutError)


def store_errors_unavailable(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """An application method whose store failures reach the caller as `Unavailable`."""

    @functools.wraps(method)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except STORE_ERRORS as exc:
            raise Unavailable(f"{type(exc).__name__}: {exc}") from exc

    return run


# Version 2: the respondent panel (`leakbot assess --json`'s object). Version 1 snapshots (no
# `version`) held multiplier shares; both keep `assessed_at`, and an incident's assessment is
# always re-computed from its stored answers (`assessment_of`), so both stay readable.
SNAPSHOT_VERSION = 2
# Assessments kept by `IncidentService.assessment_of` (the incidents being worked on now).
ASSESSMENTS_KEPT = 64


@dataclass(frozen=True)
class ServiceConfig:
    tz: ZoneInfo
    channel_lang: str
    escalation_channel: str


def assessment_snapshot(
    assessment: Assessment, playbook: Playbook, now: datetime, lang: str = "ja"
) -> dict[str, Any]:
    """What was recommended, kept with the incident as the record of the decision's basis: the
    same object as `leakbot assess --json` (texts in `lang`), with the version and the time."""
    return {
        **assessment_json(playbook, assessment, lang),
        "version": SNAPSHOT_VERSION,
        "lang": lang,
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
        self._assessments: OrderedDict[str, Assessment] = OrderedDict()

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
        """The incident's assessment, re-computed from its stored answers (see SNAPSHOT_VERSION).

        A click and the messages it causes ask for the same one several times (the tasks, the
        decided message): the last few are kept, by everything the result depends on."""
        snapshot = record.assessment
        key = canonical_json(
            [
                record.answers,
                snapshot.get("observed"),
                snapshot.get("aware_at"),
                snapshot["assessed_at"],
            ]
        )
        found = self._assessments.get(key)
        if found is not None:
            self._assessments.move_to_end(key)
            return found
        assessed_at = datetime.fromisoformat(snapshot["assessed_at"])
        assessment = assess(
            self.answers_of(record), self.playbook, tz=self.config.tz, now=assessed_at
        )
        self._assessments[key] = assessment
        if len(self._assessments) > ASSESSMENTS_KEPT:
            self._assessments.popitem(last=False)
        return assessment

    async def prior_incidents(self, partner: str) -> int:
        return await self.store.count_incidents_for_partner(normalize_partner(partner))

    @store_errors_unavailable
    async def incident(self, incident_id: str) -> IncidentRecord | None:
        return await self.store.get_incident(incident_id)

    @store_errors_unavailable
    async def open_incidents(self, *, reporter_id: str | None, limit: int) -> list[IncidentRecord]:
        """Pending and decided incidents, newest first; only this reporter's, if given."""
        return await self.store.list_incidents(
            statuses=("pending", "decided"), limit=limit, reporter_id=reporter_id
        )

    @store_errors_unavailable
    async def audit_trail(self, incident_id: str) -> list[AuditRecord]:
        return await self.store.audit_trail(incident_id)

    async def refresh_homes(self, people: Iterable[str | None], *, approvers: bool = False) -> None:
        """After a change has committed: publish again the App Home tabs that show it — of
        `people` and (with `approvers`) of every approver — if they opened theirs lately.

        Apart from the change on purpose: a lost refresh costs nothing (the tab is rendered
        afresh whenever it is opened), so a database failure here is logged, not raised after
        the person's change went through."""
        now = self.clock.now()
        try:
            viewers = await self.store.home_viewers(
                [person for person in people if person],
                approvers=approvers,
                since=now - HOME_VIEWER_TTL,
            )
            if viewers:
                await self.store.enqueue(home_refresh(sorted(viewers), now=now), now=now)
        except STORE_ERRORS as exc:
            log.warning("app home refresh not queued: %s", type(exc).__name__)

    @store_errors_unavailable
    async def first_delivery(self, key: str) -> bool:
        """Whether this is the first time the delivery `key` is seen (Slack retries events)."""
        return await self.store.remember_event(key, now=self.clock.now())

    # -- intake ------------------------------------------------------------------------------

    @store_errors_unavailable
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
        new = NewIncident(
            partner=partner,
            reporter_id=reporter_id,
            team_id=team_id,
            locale=locale,
            answers=answers.to_json(),
            assessment=assessment_snapshot(
                assessment, self.playbook, now, self.config.channel_lang
            ),
            recommendation=assessment.recommendation,
            year=now.year,
            submission_key=submission_key,
        )
        record, created = await self.store.create_incident(
            new, now=now, outbox=self._new_incident_messages(reporter_id, locale)
        )
        if created:
            await self.refresh_homes([reporter_id], approvers=True)
        return record, created

    def _new_incident_messages(self, reporter_id: str, locale: str) -> list[OutboxMessage]:
        # No incident id yet: the store puts the new incident's id on these rows.
        return [
            Notification(
                kind="recommendation", channel=self.config.escalation_channel, round=1
            ).to_outbox(),
            Notification(
                kind="reporter_receipt", channel=reporter_id, lang=locale, round=1
            ).to_outbox(),
        ]

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

    @store_errors_unavailable
    async def refused(
        self, incident_id: str, *, actor_id: str, action: str, refusal: Refusal | None
    ) -> None:
        """An approval or a rejection that was refused goes into the audit trail too."""
        await self.store.append_audit(
            actor_id,
            "approval.refused",
            incident_id=incident_id,
            after={"action": action, "reason": refusal.value if refusal else None},
            now=self.clock.now(),
        )

    @staticmethod
    def _closing_messages(
        record: IncidentRecord, reporter_message: Literal["reporter_decided", "reporter_rejected"]
    ) -> list[OutboxMessage]:
        """After a decision or a rejection: the original message loses its buttons and shows
        the outcome, and the reporter hears of it."""
        return [
            Notification(
                kind="decided", incident_id=record.id, ref=RECOMMENDATION, round=record.round
            ).to_outbox(),
            Notification(
                kind=reporter_message,
                incident_id=record.id,
                channel=record.reporter_id,
                lang=record.locale,
                round=record.round,
            ).to_outbox(),
        ]

    def _decision_messages(self, record: IncidentRecord) -> Sequence[OutboxMessage]:
        return self._closing_messages(record, "reporter_decided")

    @store_errors_unavailable
    async def approve(
        self,
        incident_id: str,
        *,
        actor_id: str,
        action: OptionKey,
        needed: int,
        round_: int | None = None,
        follow_ups: FollowUps | None = None,
    ) -> ApprovalOutcome:
        """`round_`: the round the approver saw; a vote for another round is refused.
        `follow_ups`: written with the decision, in the same transaction, as are the App Home
        refreshes of everyone who sees it."""
        now = self.now()

        async def then(conn: AsyncConnection, decided: IncidentRecord) -> AfterDecision:
            after, people = (
                await follow_ups(conn, decided) if follow_ups is not None else (AfterDecision(), [])
            )
            viewers = await home_rows.home_viewers_among(
                conn, [decided.reporter_id, *people], approvers=True, since=now - HOME_VIEWER_TTL
            )
            if not viewers:
                return after
            homes = home_refresh(sorted(viewers), now=now)
            return AfterDecision([*after.messages, *homes], after.audit)

        outcome = await self.store.record_approval(
            incident_id,
            approver_id=actor_id,
            action=action,
            required=needed,
            now=now,
            on_decided=self._decision_messages,
            expected_round=round_,
            then=then,
        )
        if outcome.kind == "recorded":
            await self.refresh_homes([actor_id])  # their vote shows in their tab
        return outcome

    def may_reject(self, record: IncidentRecord, actor_id: str, approvers: Collection[str]) -> bool:
        return may_reject(actor_id=actor_id, reporter_id=record.reporter_id, approvers=approvers)

    @store_errors_unavailable
    async def reject(self, incident_id: str, *, actor_id: str, reason: str) -> ApprovalOutcome:
        outcome = await self.store.reject(
            incident_id,
            actor_id=actor_id,
            reason=reason,
            now=self.now(),
            on_rejected=lambda record: self._closing_messages(record, "reporter_rejected"),
        )
        if outcome.kind == "rejected" and outcome.incident is not None:
            await self.refresh_homes([outcome.incident.reporter_id], approvers=True)
        return outcome
