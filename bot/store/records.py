"""What goes into the store and what comes out: frozen dataclasses, no SQL.

All datetimes are aware UTC. JSON-valued fields hold plain JSON data (dict / list / str / int /
float / bool / None).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal, NamedTuple

from bot.domain.followups import TaskPlan

__all__ = [
    "GENESIS_HASH",
    "SYSTEM_ACTOR",
    "ApprovalOutcome",
    "ApprovalOutcomeKind",
    "ApprovalRecord",
    "AuditRecord",
    "IncidentNotFound",
    "IncidentRecord",
    "IncidentStatus",
    "MigrationStatus",
    "NewIncident",
    "NewTask",
    "OutboxItem",
    "OutboxMessage",
    "OutboxStatus",
    "TaskKind",
    "TaskOutcome",
    "TaskRecord",
    "TaskStatus",
    "format_incident_id",
]

IncidentStatus = Literal["pending", "decided", "rejected", "closed"]
OutboxStatus = Literal["pending", "sent", "dead"]
TaskKind = Literal["deadline", "checklist"]
TaskStatus = Literal["open", "done"]
ApprovalOutcomeKind = Literal[
    "not_found", "not_pending", "duplicate", "recorded", "decided", "rejected", "stale"
]

GENESIS_HASH: Final[str] = "0" * 64
# Who acts when nobody clicked: the scheduler, the follow-through, a migration.
SYSTEM_ACTOR: Final[str] = "leakbot"


def format_incident_id(year: int, seq: int) -> str:
    """LEAK-2026-0001 (the sequence widens past 9999)."""
    return f"LEAK-{year:04d}-{seq:04d}"


class IncidentNotFound(LookupError):
    """Raised by methods that cannot express "no such incident" in their result."""

    def __init__(self, incident_id: str) -> None:
        super().__init__(f"no incident {incident_id!r}")
        self.incident_id = incident_id


class MigrationStatus(NamedTuple):
    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


@dataclass(frozen=True, slots=True)
class NewIncident:
    partner: str
    reporter_id: str
    team_id: str | None
    locale: str
    answers: Mapping[str, Any]
    assessment: Mapping[str, Any]
    recommendation: str
    year: int
    submission_key: str | None = None


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    id: str
    year: int
    seq: int
    status: IncidentStatus
    partner: str
    partner_key: str
    reporter_id: str
    team_id: str | None
    locale: str
    answers: dict[str, Any]
    assessment: dict[str, Any]
    recommendation: str
    round: int
    decided_action: str | None
    decided_by: tuple[str, ...]
    decided_at: datetime | None
    decision_reason: str | None
    channel_id: str | None
    message_ts: str | None
    created_at: datetime
    updated_at: datetime
    submission_key: str | None


@dataclass(frozen=True, slots=True)
class ApprovalRecord:
    incident_id: str
    round: int
    approver_id: str
    action: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApprovalOutcome:
    """The result of `Store.record_approval` / `Store.reject`.

    - not_found: no such incident (`incident` is None).
    - not_pending: already decided / rejected / closed; `incident` says by whom, what and when.
    - duplicate: this approver already approved this action in this round (nothing changed).
    - recorded: the approval is stored; `approvals_so_far` of `needed` distinct approvers for
      `action` (`replaced_action` is set when the approver switched from another action).
    - decided: this approval completed the quorum; the incident is 'decided'.
    - rejected: the incident is 'rejected'.
    - stale: the vote was for another round than the incident's current one (nothing changed).
    """

    kind: ApprovalOutcomeKind
    incident: IncidentRecord | None
    action: str | None = None
    approvals_so_far: int = 0
    needed: int = 0
    approvers: tuple[str, ...] = ()
    replaced_action: str | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    incident_id: str | None
    actor_id: str
    action: str
    before: Any
    after: Any
    at: datetime
    prev_hash: str
    hash: str


AuditProblemKind = Literal["prev_hash", "hash"]


@dataclass(frozen=True, slots=True)
class AuditProblem:
    """A break in the audit chain at row `row_id`: its prev_hash does not link to the row
    before it (`prev_hash`: a row was removed, inserted or changed before it), or its hash does
    not match its content (`hash`)."""

    row_id: int
    kind: AuditProblemKind


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A Slack Web API call to make later, exactly once from the user's view.

    `incident_id=None` inside `create_incident` / decision callbacks means "this incident".
    `dedupe_key`: a second message with the same key is silently dropped.
    `not_before`: do not send before this time (default: as soon as possible).
    """

    kind: str
    method: str
    payload: Mapping[str, Any]
    incident_id: str | None = None
    dedupe_key: str | None = None
    not_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    incident_id: str | None
    kind: str
    method: str
    payload: dict[str, Any]
    dedupe_key: str | None
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    lease_until: datetime | None
    leased_by: str | None
    created_at: datetime
    sent_at: datetime | None
    result: dict[str, Any] | None
    last_error: str | None


# A task's new due time and overdue-after moment (None: at the due time).
TaskDue = tuple[datetime, datetime | None]


@dataclass(frozen=True, slots=True)
class NewTask:
    kind: TaskKind
    ref: str
    title: Mapping[str, str]
    owner_id: str | None = None
    due_at: datetime | None = None
    # When it counts as overdue; None: at its due time.
    overdue_after: datetime | None = None

    @classmethod
    def planned(cls, plan: TaskPlan) -> NewTask:
        """A task the follow-through planned (bot/domain/followups.py), as the store takes it."""
        return cls(
            kind=plan.kind,  # type: ignore[arg-type]
            ref=plan.ref,
            title={"ja": plan.title_ja, "en": plan.title_en},
            owner_id=plan.owner_id,
            due_at=plan.due_at,
            overdue_after=plan.overdue_after,
        )


@dataclass(frozen=True, slots=True)
class TaskRecord:
    id: int
    incident_id: str
    round: int
    kind: TaskKind
    ref: str
    title: dict[str, str]
    owner_id: str | None
    due_at: datetime | None
    status: TaskStatus
    done_by: str | None
    done_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TaskOutcome:
    kind: Literal["done", "already_done", "not_found"]
    task: TaskRecord | None = field(default=None)
