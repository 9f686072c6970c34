"""Progress of a file upload in the outbox: the uploaded file's id, kept before it is shared.

Slack's upload v2 is three calls (get an upload URL, POST the bytes, complete). The file id is
recorded in the item between the upload and the completion, so that a sender that stops there
completes the recorded file on retry instead of uploading a second one.
"""

from __future__ import annotations

from datetime import datetime

from .aio import AsyncConnection
from .audit import AuditEntry, append_audit
from .outbox import enqueue
from .records import OutboxMessage
from .tables import outbox


async def record_uploaded_file(
    conn: AsyncConnection, item_id: int, *, file_id: str, title: str, worker_id: str
) -> bool:
    """Keep `file_id` (and the `title` it is shared with) in the pending item this worker
    holds. False: the lease was lost."""
    result = await conn.execute(
        outbox.update()
        .where(outbox.c.id == item_id)
        .where(outbox.c.status == "pending")
        .where(outbox.c.leased_by == worker_id)
        .values(result={"file_id": file_id, "title": title})
        .returning(outbox.c.id)
    )
    return result.first() is not None


async def enqueue_requested(
    conn: AsyncConnection, message: OutboxMessage, entry: AuditEntry, *, now: datetime
) -> bool:
    """Queue a file someone asked for, with the request in the audit trail (one transaction).
    False: the same request (its dedupe key) was queued before; nothing is added."""
    if not await enqueue(conn, [message], now=now):
        return False
    await append_audit(conn, entry)
    return True
