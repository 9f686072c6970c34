"""Documents drafted on request in Slack: who may ask, and the upload it queues.

The application decides that a draft goes into an incident's thread (a `document`
notification, files upload v2 at the Slack edge, through the outbox); the Slack edge drafts
it with bot/documents.py when it sends it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from bot.clock import Clock
from bot.domain.documents import DOCUMENT_KINDS
from bot.notifications import Notification
from bot.service import store_errors_unavailable
from bot.store import IncidentRecord, Store, TaskRecord

DOCUMENT_LANGS: Final = ("ja", "en")
DOCUMENT_FORMATS: Final = ("md", "docx")
# The thread a draft goes into: the incident's recommendation message.
THREAD: Final = "recommendation"

# The document each task drafts (issue 13 item 4): a deadline's id → a document KIND.
TASK_DOCUMENTS: Final[dict[str, str]] = {
    "appi_preliminary": "ppc_preliminary",
    "appi_final": "ppc_final",
    "appi_notify_persons": "notice_persons",
    "gdpr_authority": "gdpr_art33",
    "us_ca_notice": "us_ca_notice",
}


def task_document(task_ref: str) -> str | None:
    """The document KIND a task drafts, or None (partner_* tasks draft the partner letter)."""
    if task_ref.startswith("partner_"):
        return "partner_request"
    return TASK_DOCUMENTS.get(task_ref)


@dataclass(frozen=True)
class DocumentRequest:
    kind: str
    lang: str
    format: str


def check_request(kind: str, lang: str, fmt: str) -> DocumentRequest | None:
    """The request, when every choice is one leakbot offers."""
    if kind not in DOCUMENT_KINDS or lang not in DOCUMENT_LANGS or fmt not in DOCUMENT_FORMATS:
        return None
    return DocumentRequest(kind, lang, fmt)


def may_draft(
    record: IncidentRecord, tasks: Sequence[TaskRecord], actor_id: str, approvers: Collection[str]
) -> bool:
    """The reporter, the approvers and the incident's task owners may draft its documents."""
    if actor_id in (record.reporter_id, *approvers):
        return True
    return any(task.owner_id == actor_id for task in tasks)


# "unverified": refused by the approvers known, while some were not (an approver group Slack did
# not answer for): nothing done, nothing audited, the person may try again.
DraftOutcome = Literal["queued", "duplicate", "refused", "unverified"]


class Drafting:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    @store_errors_unavailable
    async def request(
        self,
        record: IncidentRecord,
        request: DocumentRequest,
        *,
        actor_id: str,
        approvers: Collection[str],
        request_key: str,
        approvers_complete: bool = True,
    ) -> DraftOutcome:
        """Queue the draft's upload into the incident's thread, once per `request_key` (the
        Slack interaction it came from), or refuse and audit the refusal; "unverified" (nothing
        audited) when refused while `approvers_complete` is false."""
        now = self.clock.now()
        tasks = await self.store.tasks_for(record.id)
        if not may_draft(record, tasks, actor_id, approvers):
            if not approvers_complete:
                return "unverified"
            await self.store.append_audit(
                actor_id,
                "document.refused",
                incident_id=record.id,
                after={"document": request.kind},
                now=now,
            )
            return "refused"
        message = Notification(
            kind="document",
            incident_id=record.id,
            thread=THREAD,
            lang=request.lang,
            facts={
                "document": request.kind,
                "lang": request.lang,
                "format": request.format,
                "requested_by": actor_id,
            },
        ).to_outbox(dedupe_key=f"document:{record.id}:{request_key}")
        queued = await self.store.enqueue_requested(
            message,
            actor_id=actor_id,
            action="document.requested",
            after={"document": request.kind, "lang": request.lang, "format": request.format},
            now=now,
        )
        return "queued" if queued else "duplicate"

    @store_errors_unavailable
    async def request_export(
        self,
        *,
        actor_id: str,
        approvers: Collection[str],
        lang: str,
        request_key: str,
        approvers_complete: bool = True,
    ) -> DraftOutcome:
        """`/leak export`: every incident as CSV to the approver's DM; others are refused (and
        audited), or "unverified" while `approvers_complete` is false."""
        now = self.clock.now()
        if actor_id not in approvers:
            if not approvers_complete:
                return "unverified"
            await self.store.append_audit(actor_id, "export.refused", now=now)
            return "refused"
        message = Notification(
            kind="export",
            channel=actor_id,
            lang=lang,
            facts={"lang": lang, "requested_by": actor_id},
        ).to_outbox(dedupe_key=f"export:{request_key}")
        queued = await self.store.enqueue_requested(
            message, actor_id=actor_id, action="export.requested", after={"format": "csv"}, now=now
        )
        return "queued" if queued else "duplicate"
