"""The `Store`'s methods for the outbox, Slack delivery dedupe and job claims.

Part of the `Store` facade (bot/store/repository.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from . import (
    events_jobs,
    leases,
    outbox,
    uploads,
)
from .aio import AsyncConnection
from .audit import AuditEntry
from .common import aware
from .engine import Database, commit_with_next
from .records import (
    OutboxItem,
    OutboxMessage,
)


class OutboxFacade(Database):
    # -- outbox ---------------------------------------------------------------------------------

    async def enqueue(self, messages: Sequence[OutboxMessage], *, now: datetime) -> list[int]:
        """Queue Slack calls; returns the new item ids (a duplicate dedupe_key is skipped)."""
        aware("now", now)
        if not messages:
            return []
        return await self.write(lambda conn: outbox.enqueue(conn, messages, now=now))

    async def claim_outbox(
        self, *, now: datetime, worker_id: str, limit: int = 20, lease_seconds: float = 60
    ) -> list[OutboxItem]:
        """Lease due items to this worker (attempts + 1), oldest first; per incident in order
        (at most one item per incident in flight). One statement: `write_one`."""
        return await self.write_one(
            lambda conn: outbox.claim_outbox(
                conn, now=now, worker_id=worker_id, limit=limit, lease_seconds=lease_seconds
            )
        )

    async def record_uploaded_file(
        self, item_id: int, *, file_id: str, title: str, worker_id: str
    ) -> bool:
        """An uploaded, not yet shared file of this item (bot/store/uploads.py)."""
        return await self.write(
            lambda conn: uploads.record_uploaded_file(
                conn, item_id, file_id=file_id, title=title, worker_id=worker_id
            )
        )

    async def enqueue_requested(
        self,
        message: OutboxMessage,
        *,
        actor_id: str,
        action: str,
        after: Any,
        now: datetime,
    ) -> bool:
        """Queue a file someone asked for and audit the request together; False: a duplicate."""
        aware("now", now)
        entry = AuditEntry(message.incident_id, actor_id, action, now, None, after)
        return await self.write(
            lambda conn: uploads.enqueue_requested(conn, message, entry, now=now)
        )

    async def mark_sent(
        self, item_id: int, *, result: Mapping[str, Any] | None, now: datetime, worker_id: str
    ) -> bool:
        """Delivered (`result` e.g. {"channel": ..., "ts": ...}). False: the lease was lost."""
        return await self.write(
            lambda conn: outbox.mark_sent(
                conn, item_id, result=result, now=now, worker_id=worker_id
            )
        )

    async def mark_sent_and_claim_next(
        self,
        item_id: int,
        *,
        result: Mapping[str, Any] | None,
        now: datetime,
        worker_id: str,
        incident_id: str,
        lease_seconds: float,
    ) -> tuple[bool, list[OutboxItem]]:
        """`mark_sent`, and in the same transaction the incident's next due item leased to this
        worker (its messages go out one after the other: a claim less per message). False (and
        nothing claimed): the lease was lost."""

        async def work(conn: AsyncConnection) -> tuple[bool, list[OutboxItem]]:
            if not await outbox.mark_sent(
                conn, item_id, result=result, now=now, worker_id=worker_id
            ):
                return False, []
            commit_with_next(conn)  # the claim ends the transaction
            following = await outbox.claim_outbox(
                conn,
                now=now,
                worker_id=worker_id,
                limit=1,
                lease_seconds=lease_seconds,
                incident_id=incident_id,
            )
            return True, following

        return await self.write(work)

    async def mark_retry(
        self, item_id: int, *, error: str, next_attempt_at: datetime, worker_id: str
    ) -> bool:
        """Failed, try again at `next_attempt_at`. False: the lease was lost."""
        return await self.write(
            lambda conn: outbox.mark_retry(
                conn, item_id, error=error, next_attempt_at=next_attempt_at, worker_id=worker_id
            )
        )

    async def mark_dead(self, item_id: int, *, error: str, now: datetime, worker_id: str) -> bool:
        """Give up (no longer blocks later items of its incident). False: the lease was lost."""
        return await self.write(
            lambda conn: outbox.mark_dead(conn, item_id, error=error, now=now, worker_id=worker_id)
        )

    async def renew_lease(self, item_id: int, *, worker_id: str, until: datetime) -> bool:
        """Extend this worker's lease on a pending item. False: the lease was lost."""
        return await self.write(
            lambda conn: leases.renew_lease(conn, item_id, worker_id=worker_id, until=until)
        )

    async def outbox_depth(self) -> int:
        """Pending items (due or not)."""
        async with self.read() as conn:
            return await outbox.outbox_depth(conn)

    async def outbox_items(
        self, incident_id: str | None = None, *, status: str | None = None
    ) -> list[OutboxItem]:
        """All items (of one incident / with one status), oldest first."""
        async with self.read() as conn:
            return await outbox.outbox_items(conn, incident_id, status=status)

    async def queued_dedupe_keys(self, keys: Iterable[str]) -> set[str]:
        """Which of these dedupe keys an outbox item already has (any status)."""
        async with self.read() as conn:
            return await outbox.queued_dedupe_keys(conn, keys)

    async def last_sent_result(self, incident_id: str, kind: str) -> dict[str, Any] | None:
        """The `result` of the latest sent item of this kind for this incident (e.g. the
        channel and ts of the posted recommendation), or None."""
        async with self.read() as conn:
            return await outbox.last_sent_result(conn, incident_id, kind)

    # -- Slack delivery dedupe and job claims ---------------------------------------------------

    async def remember_event(self, key: str, *, now: datetime) -> bool:
        """True the first time `key` is seen, False afterwards."""
        return await self.write(lambda conn: events_jobs.remember_event(conn, key, now=now))

    async def forget_events_before(self, cutoff: datetime) -> int:
        """Prune processed_events older than `cutoff` (Slack retries within minutes)."""
        return await self.write(lambda conn: events_jobs.forget_events_before(conn, cutoff))

    async def claim_job(self, key: str, *, owner: str, now: datetime) -> bool:
        """True only for the one caller (of any replica, ever) that claims `key` first."""
        return await self.write(lambda conn: events_jobs.claim_job(conn, key, owner=owner, now=now))
