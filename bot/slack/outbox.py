"""Delivers the durable outbox to Slack: retried until it succeeds, in order per incident.

A state change and the notifications it causes commit together (bot/service.py); this sender
words each one for Slack at the moment it sends it (bot/slack/render.py) and makes the call.
429 waits for Retry-After, 5xx and connection errors back off exponentially, and so does a
database failure while a message is built (a dropped connection); only Slack's permanent errors
(e.g. channel_not_found) and messages that can never be built are marked dead and logged — all
timed by the injected clock, never by sleeping in tests.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import socket
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot import failpoints
from bot.clock import Clock
from bot.incident_channels import INCIDENT_CHANNEL
from bot.logs import bind_incident
from bot.metrics import Metrics
from bot.notifications import FILE_METHOD, PAYLOAD_KEY, Notification, is_notification
from bot.service import Unavailable
from bot.slack.api_errors import answer_fields, error_code, error_text, http_status
from bot.slack.blocks.summary import CHART_KEY, with_chart
from bot.slack.render import FileBody, NotificationRenderer
from bot.store import IncidentRecord, OutboxItem, Store

log = logging.getLogger(__name__)

# Slack errors that mean "try again later" rather than "this call can never succeed".
RETRYABLE_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


# The look-up of an earlier post (after an unknown outcome): pages of 200 messages (Slack's
# recommendation), at most 10 (2,000 messages since the item was queued).
LOOKUP_PAGE = 200
LOOKUP_MAX_PAGES = 10

# The weekly summary's chart: tries of its upload (or of a post Slack refused for its image)
# before the summary goes without it.
CHART_ATTEMPTS = 3


def transient(exc: BaseException) -> bool:
    """Whether a failure while building a message may pass by itself (the database or the
    network, not the message): such a message is retried with back-off, never marked dead."""
    if isinstance(exc, Unavailable | OSError | TimeoutError):
        return True
    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class OutboxStats:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


class Unresolved(Exception):
    """A message refers to another (e.g. the recommendation) that is not sent yet."""


# Where the scope a private incident channel needs is explained (a dead item says it).
CHANNEL_SCOPE_HINT = " for LEAKBOT_INCIDENT_CHANNELS=private (README, Slack set-up)"


class OutboxSender:
    def __init__(
        self,
        store: Store,
        renderer: NotificationRenderer,
        client: AsyncWebClient,
        clock: Clock,
        *,
        worker_id: str | None = None,
        batch: int = 20,
        lease_seconds: int = 60,
        base_backoff: float = 2.0,
        max_backoff: float = 300.0,
        max_attempts: int = 50,
        poll_seconds: float = 1.0,
    ) -> None:
        self.store = store
        self.renderer = renderer
        self.client = client
        self.clock = clock
        self.worker_id = worker_id or worker_name()
        self.batch = batch
        self.lease_seconds = lease_seconds
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.max_attempts = max_attempts
        self.poll_seconds = poll_seconds
        self.stats = OutboxStats()
        self.metrics: Metrics | None = None
        self._wake = asyncio.Event()
        # Items leased together with the previous one's result (run_once, _mark_sent).
        self._following: list[OutboxItem] = []
        # How many items the last claim of run_once returned (_run_forever).
        self._claimed = 0
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    # -- running -----------------------------------------------------------------------------

    def notify(self) -> None:
        """Something was enqueued: deliver it now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run_forever(), name="leakbot-outbox")

    def _dead_worker(self, worker: str) -> bool:
        """A worker of this host whose process is gone (a lease it can never finish)."""
        host, _, rest = worker.partition(":")
        pid_text = rest.partition(":")[0]
        if host != socket.gethostname() or not pid_text.isdecimal() or worker == self.worker_id:
            return False
        pid = int(pid_text)
        if pid == os.getpid():
            return True  # our pid, another worker id: a previous life of this process (PID 1)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    async def reclaim_orphans(self) -> int:
        """Release leases held by crashed workers of this host, so that a restart delivers at
        once instead of after the lease expires (other hosts' leases simply expire)."""
        released = 0
        for item in await self.store.outbox_items(status="pending"):
            if not (item.leased_by and self._dead_worker(item.leased_by)):
                continue
            if await self.store.mark_retry(
                item.id,
                error="worker stopped before finishing",
                next_attempt_at=self.clock.now(),
                worker_id=item.leased_by,
            ):
                released += 1
        return released

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Finish the call in flight (so that it is recorded as sent), then stop."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace_seconds)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    async def _run_forever(self) -> None:
        try:
            await self.reclaim_orphans()
        except Exception:
            log.exception("could not reclaim outbox leases")
        while not self._stopping:
            try:
                await self.run_once()
            except Exception:  # keep delivering after a database hiccup
                log.exception("outbox round failed")
                self._claimed = 0  # not at once again: after the wait
            # A full claim may have left due items behind: claim again at once. A shorter one
            # took everything due then (an incident's later items follow their predecessor,
            # run_once), so what came since was enqueued meanwhile, and its notify() has set
            # _wake already, or falls due later: the wait below ends at once or at the poll. A
            # claim less per wake-up (one transaction of three statements per click).
            if self._stopping or self._claimed >= self.batch:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            self._wake.clear()

    async def drain(self, max_rounds: int = 1000) -> int:
        """Deliver everything due now (tests, shutdown); returns how many were handled."""
        total = 0
        for _ in range(max_rounds):
            handled = await self.run_once()
            if not handled:
                break
            total += handled
        return total

    async def run_once(self) -> int:
        self._claimed = 0
        items = await self.store.claim_outbox(
            now=self.clock.now(),
            worker_id=self.worker_id,
            limit=self.batch,
            lease_seconds=self.lease_seconds,
        )
        self._claimed = len(items)
        queue = deque(items)
        handled = 0
        while queue:
            self._following = []
            await self._deliver(queue.popleft())
            handled += 1
            # The incident's next message, leased when this one was recorded as sent.
            queue.extendleft(reversed(self._following))
        return handled

    # -- one item ----------------------------------------------------------------------------

    async def _payload(self, item: OutboxItem) -> dict[str, Any]:
        """The call's body: a notification worded now, or a body stored as it is sent.

        Rows written before notifications were data name the message to render (`_render`,
        `_lang`) and where it goes (`_ref`, `_thread`) in the body; a database may still hold
        some, and they still send."""
        notification: Notification | None = None
        if is_notification(item.payload):
            notification = Notification.from_payload(item.payload, item.incident_id)
            if notification.kind == "home":  # a person's App Home, not about one incident
                return await self.renderer.render_home(notification)
            payload: dict[str, Any] = {}
            if notification.channel is not None:
                payload["channel"] = notification.channel
            ref, thread = notification.ref, notification.thread
            if notification.within is not None or notification.kind == "channel_link":
                notification, payload, thread = await self._in_incident_channel(
                    item, notification, payload
                )
        else:
            payload = dict(item.payload)
            render, lang = payload.pop("_render", None), payload.pop("_lang", None)
            ref, thread = payload.pop("_ref", None), payload.pop("_thread", None)
            if render is not None:
                legacy = {"kind": str(render), "lang": lang}
                notification = Notification.from_payload({PAYLOAD_KEY: legacy}, item.incident_id)
        keys = [str(key) for key in (ref, thread) if key is not None]
        sent: dict[str, dict[str, Any] | None] = {}
        if notification is not None:
            if item.incident_id is None:
                raise ValueError("a notification needs an incident")
            # The incident and where its earlier messages went, read together.
            record, sent = await self.store.incident_and_sent(item.incident_id, keys)
            if record is None:
                raise ValueError(f"incident {item.incident_id} is gone")
            payload.update(await self.renderer.render(notification, record))
            if notification.broadcast:
                payload["reply_broadcast"] = True
        for key, as_thread in ((ref, False), (thread, True)):
            if key is None:
                continue
            assert item.incident_id is not None
            found = (
                sent[str(key)]
                if str(key) in sent
                else await self.store.last_sent_result(item.incident_id, str(key))
            )
            if not found:
                raise Unresolved(str(key))
            payload["channel"] = found["channel"]
            payload["thread_ts" if as_thread else "ts"] = found["ts"]
        return self._with_metadata(item, payload)

    @staticmethod
    def _with_metadata(item: OutboxItem, payload: dict[str, Any]) -> dict[str, Any]:
        if item.method == "chat.postMessage":
            # Lets a later check find this exact message (e.g. after an ambiguous failure).
            payload.setdefault(
                "metadata",
                {"event_type": "leakbot_outbox", "event_payload": {"outbox_id": item.id}},
            )
        return payload

    def _backoff(self, attempts: int) -> float:
        return float(min(self.max_backoff, self.base_backoff * (2 ** min(attempts, 16))))

    async def _retry(self, item: OutboxItem, error: str, delay: float) -> None:
        self.stats.retried += 1
        if self.metrics is not None:
            self.metrics.slack_calls.labels(item.kind, "retry").inc()
        if item.attempts >= self.max_attempts:
            await self._dead(item, f"gave up after {item.attempts} attempts: {error}")
            return
        when = self.clock.now() + timedelta(seconds=delay)
        await self.store.mark_retry(
            item.id, error=error, next_attempt_at=when, worker_id=self.worker_id
        )
        log.warning(
            "slack call failed, will retry",
            extra={
                "incident_id": item.incident_id,
                "method": item.method,
                "error": error,
                "retry_in": delay,
            },
        )

    async def _dead(self, item: OutboxItem, error: str) -> None:
        self.stats.dead += 1
        if self.metrics is not None:
            self.metrics.slack_calls.labels(item.kind, "dead").inc()
            self.metrics.failures.labels("outbox").inc()
        await self.store.mark_dead(
            item.id, error=error, now=self.clock.now(), worker_id=self.worker_id
        )
        log.error(
            "slack call failed permanently",
            extra={"incident_id": item.incident_id, "method": item.method, "error": error},
        )

    async def _deliver(self, item: OutboxItem) -> None:
        bind_incident(item.incident_id)
        if item.kind == INCIDENT_CHANNEL:
            await self._deliver_incident_channel(item)
            return
        if item.method == FILE_METHOD:
            await self._deliver_file(item)
            return
        try:
            payload = await self._payload(item)
        except Unresolved as exc:
            await self._unresolved(item, exc)
            return
        except Exception as exc:
            if transient(exc):
                # The database hiccuped while the message was built (a dropped connection, a
                # timeout): the message is fine, try again later; what follows it waits.
                error = f"building the message failed: {type(exc).__name__}: {exc}"
                await self._retry(item, error, self._backoff(item.attempts))
            else:  # a message that can never be built
                await self._dead(item, f"cannot build message: {type(exc).__name__}: {exc}")
            return
        # A batch's last items may wait longer than the lease (each call can take 10 s): renew it
        # before each call, and leave an item whose lease another worker took after it ran out.
        if not await self._hold_lease(item):
            log.info(
                "outbox lease lost before sending; another worker has the item",
                extra={"incident_id": item.incident_id, "method": item.method},
            )
            return
        failpoints.hit("outbox.claimed")
        chart = payload.pop(CHART_KEY, None)  # the weekly summary's chart (blocks/summary.py)
        earlier = await self._earlier_post(item, payload)
        if earlier is not None:
            # An earlier attempt did post, but stopped before recording it: record, don't repeat.
            await self._sent(item, {"channel": payload.get("channel"), "ts": earlier})
            return
        text_only = payload
        if isinstance(chart, Mapping):
            with_image = await self._with_chart(item, payload, chart)
            if with_image is None:
                return  # put back for a retry, or another worker holds the item now
            payload = with_image
        try:
            response = await self.client.api_call(item.method, json=payload)
        except SlackApiError as exc:
            if payload is text_only or not _refused_file(exc):
                await self._slack_failed(item, exc)
                return
            # Slack would not show the uploaded chart (e.g. not processed yet): try again a few
            # times, then post the summary without it rather than not at all.
            if item.attempts < CHART_ATTEMPTS:
                await self._retry(
                    item, f"chart refused: {_errors(exc)}", self._backoff(item.attempts)
                )
                return
            log.error(
                "slack refused the summary's chart; posting the summary without it",
                extra={"method": item.method, "error": _errors(exc)},
            )
            try:
                response = await self.client.api_call(item.method, json=text_only)
            except SlackApiError as again:
                await self._slack_failed(item, again)
                return
            except (aiohttp.ClientError, TimeoutError, OSError) as again:
                error = f"{type(again).__name__}: {again}"
                await self._retry(item, error, self._backoff(item.attempts))
                return
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            await self._retry(item, f"{type(exc).__name__}: {exc}", self._backoff(item.attempts))
            return
        failpoints.hit("outbox.sent")
        await self._sent(
            item, {"channel": response.get("channel"), "ts": response.get("ts")}, chain=True
        )

    async def _hold_lease(self, item: OutboxItem) -> bool:
        """Whether this worker still holds the item's lease, renewed for a whole lease from
        now. A lease claimed moments ago (three quarters of it left: the usual case, a batch
        of one) is kept as it is, without a write: nobody can take it before it runs out."""
        now = self.clock.now()
        fresh = timedelta(seconds=self.lease_seconds * 0.75)
        held = item.leased_by == self.worker_id and item.lease_until is not None
        if held and item.lease_until is not None and item.lease_until - now >= fresh:
            return True
        until = now + timedelta(seconds=self.lease_seconds)
        return await self.store.renew_lease(item.id, worker_id=self.worker_id, until=until)

    async def _unresolved(self, item: OutboxItem, exc: Unresolved) -> None:
        """The item refers to a message not posted yet: wait for it, or, when that can never
        be posted (e.g. channel_not_found), give up on this one too rather than hold back the
        incident's later messages."""
        if await self._gave_up_on(item.incident_id, str(exc)):
            await self._dead(item, f"depends on a {exc} message that could not be posted")
        else:
            await self._retry(item, f"waiting for {exc}", self._backoff(item.attempts))

    async def _gave_up_on(self, incident_id: str | None, kind: str) -> bool:
        if incident_id is None:
            return False
        dead = await self.store.outbox_items(incident_id, status="dead")
        return any(other.kind == kind for other in dead)

    async def _earlier_post(self, item: OutboxItem, payload: dict[str, Any]) -> str | None:
        """The ts of a message an earlier attempt of this item already posted, if any.

        Slack has no idempotency key, so a post whose outcome is unknown (the process stopped,
        or the answer was lost) is looked up by the metadata every post carries. Only channel
        posts can be looked up (DMs would need im:history); a lookup that fails means "post".
        """
        channel = str(payload.get("channel") or "")
        if item.method != "chat.postMessage" or item.attempts <= 1 or channel[:1] not in ("C", "G"):
            return None
        try:
            if payload.get("thread_ts"):
                first = await self.client.conversations_replies(
                    channel=channel,
                    ts=str(payload["thread_ts"]),
                    include_all_metadata=True,
                    limit=LOOKUP_PAGE,
                )
            else:
                oldest = f"{item.created_at.timestamp() - 5:.6f}"
                first = await self.client.conversations_history(
                    channel=channel, oldest=oldest, include_all_metadata=True, limit=LOOKUP_PAGE
                )
            # A busy channel has more than a page since the item was queued: follow the
            # cursor (slack-sdk's pagination), within a bounded window.
            pages = 0
            async for page in first:
                for message in page.get("messages") or []:
                    metadata = message.get("metadata") or {}
                    if (
                        metadata.get("event_type") == "leakbot_outbox"
                        and (metadata.get("event_payload") or {}).get("outbox_id") == item.id
                    ):
                        return str(message.get("ts"))
                pages += 1
                if pages >= LOOKUP_MAX_PAGES:
                    log.warning(
                        "earlier post not found within the look-up window",
                        extra={"incident_id": item.incident_id, "pages": pages},
                    )
                    break
        except Exception as exc:
            log.warning("could not check for an earlier post", extra={"error": type(exc).__name__})
        return None

    async def _mark_sent(self, item: OutboxItem, result: dict[str, Any], *, chain: bool) -> bool:
        """Record the item as sent; with `chain`, lease its incident's next due item in the same
        transaction (run_once delivers it next)."""
        if not chain or item.incident_id is None:
            return await self.store.mark_sent(
                item.id, result=result, now=self.clock.now(), worker_id=self.worker_id
            )
        marked, following = await self.store.mark_sent_and_claim_next(
            item.id,
            result=result,
            now=self.clock.now(),
            worker_id=self.worker_id,
            incident_id=item.incident_id,
            lease_seconds=self.lease_seconds,
        )
        self._following += following
        return marked

    async def _sent(self, item: OutboxItem, result: dict[str, Any], *, chain: bool = False) -> None:
        if await self._mark_sent(item, result, chain=chain):
            self.stats.sent += 1
            if self.metrics is not None:
                self.metrics.slack_calls.labels(item.kind, "sent").inc()
                if item.kind == "reminder":
                    self.metrics.reminders_sent.inc()
            self.stats.by_kind[item.kind] = self.stats.by_kind.get(item.kind, 0) + 1
            if item.kind == "recommendation" and item.incident_id and result["ts"]:
                await self.store.set_message_ref(
                    item.incident_id,
                    str(result["channel"]),
                    str(result["ts"]),
                    now=self.clock.now(),
                )
            log.info(
                "slack call delivered",
                extra={"incident_id": item.incident_id, "method": item.method},
            )
            failpoints.hit("outbox.marked")

    # -- files (upload v2) -------------------------------------------------------------------

    async def _deliver_file(self, item: OutboxItem) -> None:
        """Upload a file and share it in the incident's thread, at most once.

        files.getUploadURLExternal → POST the bytes → record the file id in the item →
        files.completeUploadExternal. After a stop between the upload and the completion the
        retry completes the recorded file (never uploads again); a stop before the file id is
        recorded leaves an unshared upload behind, which Slack keeps private to the app.
        """
        try:
            notification, placement, record = await self._file_placement(item)
        except Unresolved as exc:
            await self._unresolved(item, exc)
            return
        except Exception as exc:
            await self._dead(item, f"cannot build file: {type(exc).__name__}: {exc}")
            return
        failpoints.hit("outbox.claimed")
        recorded = (item.result or {}).get("file_id")
        try:
            if isinstance(recorded, str) and recorded:
                file_id, title = recorded, str((item.result or {}).get("title") or "")
            else:
                try:
                    body = await self.renderer.render_file(
                        notification, record, now=self.clock.now()
                    )
                except Exception as exc:
                    await self._dead(item, f"cannot build file: {type(exc).__name__}: {exc}")
                    return
                file_id = await self._upload(body)
                title = body.title
                failpoints.hit("outbox.file_uploaded")
                if not await self.store.record_uploaded_file(
                    item.id, file_id=file_id, title=title, worker_id=self.worker_id
                ):
                    return  # the lease was lost; whoever holds it now finishes the item
                failpoints.hit("outbox.file_recorded")
            if str(placement["channel"])[:1] in ("U", "W"):
                # A person: their DM with the app (completeUploadExternal takes a channel id).
                opened = await self.client.conversations_open(users=str(placement["channel"]))
                placement["channel"] = str((opened.get("channel") or {}).get("id") or "")
            await self.client.files_completeUploadExternal(
                files=[{"id": file_id, "title": title or file_id}],
                channel_id=placement["channel"],
                thread_ts=placement.get("thread_ts"),
            )
        except SlackApiError as exc:
            await self._slack_failed(item, exc)
            return
        except (aiohttp.ClientError, TimeoutError, OSError, _UploadRefused) as exc:
            await self._retry(item, f"{type(exc).__name__}: {exc}", self._backoff(item.attempts))
            return
        failpoints.hit("outbox.sent")
        await self._sent(item, {**placement, "file_id": file_id})

    async def _file_placement(
        self, item: OutboxItem
    ) -> tuple[Notification, dict[str, Any], IncidentRecord | None]:
        """The notification, where its file goes (channel, thread_ts) and its incident (None
        for a file about no incident, e.g. an export)."""
        notification = Notification.from_payload(item.payload, item.incident_id)
        record = None
        if item.incident_id is not None:
            record = await self.store.get_incident(item.incident_id)
            if record is None:
                raise ValueError(f"incident {item.incident_id} is gone")
        placement: dict[str, Any] = {}
        if notification.channel is not None:
            placement["channel"] = notification.channel
        if notification.thread is not None and item.incident_id is not None:
            sent = await self.store.last_sent_result(item.incident_id, notification.thread)
            if not sent:
                raise Unresolved(notification.thread)
            placement = {"channel": sent["channel"], "thread_ts": sent["ts"]}
        if not placement.get("channel"):
            raise ValueError("a file needs a channel or a thread")
        return notification, placement, record

    async def _upload(self, body: FileBody, *, alt_txt: str | None = None) -> str:
        """Steps 1 and 2 of upload v2; returns the new (not yet shared) file's id."""
        answer = await self.client.files_getUploadURLExternal(
            filename=body.filename, length=len(body.content), alt_txt=alt_txt
        )
        upload_url, file_id = str(answer["upload_url"]), str(answer["file_id"])
        session = self.client.session
        owned = session is None
        if session is None:
            session = aiohttp.ClientSession()
        try:
            async with session.post(
                upload_url,
                data=body.content,
                timeout=aiohttp.ClientTimeout(total=self.client.timeout),
            ) as response:
                if response.status != 200:
                    raise _UploadRefused(f"upload answered HTTP {response.status}")
        finally:
            if owned:
                await session.close()
        return file_id

    # -- the weekly summary's chart -------------------------------------------------------------

    async def _with_chart(
        self, item: OutboxItem, payload: dict[str, Any], chart: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """The summary's body with its chart's image block, the chart uploaded once.

        The PNG (drawn when the summary was computed, bot/scheduler.py) is uploaded (upload v2,
        completed without a channel: the file stays the app's own until the message shows it)
        and its file id recorded in the item before the post, so a retry after a stop or a dead
        post reuses that file. A chart that cannot be read or uploaded (after CHART_ATTEMPTS
        tries when it may pass) is logged and the summary goes without it. None: the item was
        put back for a retry, or its lease was lost (whoever holds it now finishes it)."""
        recorded = (item.result or {}).get("file_id")
        if isinstance(recorded, str) and recorded:
            file_id = recorded
        else:
            try:
                filename, title, alt_text = (
                    str(chart["filename"]),
                    str(chart["title"]),
                    str(chart["alt_text"]),
                )
                png = base64.b64decode(str(chart["png"]), validate=True)
            except (KeyError, ValueError) as exc:
                log.error(
                    "the weekly summary's chart is unreadable; posting the summary without it",
                    extra={"error": f"{type(exc).__name__}: {exc}"},
                )
                return payload
            body = FileBody(filename=filename, title=title, content=png)
            try:
                file_id = await self._upload(body, alt_txt=alt_text)
                await self.client.files_completeUploadExternal(
                    files=[{"id": file_id, "title": body.title}]
                )
            except (
                SlackApiError,
                aiohttp.ClientError,
                TimeoutError,
                OSError,
                _UploadRefused,
            ) as exc:
                if isinstance(exc, SlackApiError):
                    error = _errors(exc)
                else:
                    error = f"{type(exc).__name__}: {exc}"
                if item.attempts < CHART_ATTEMPTS and _may_pass(exc):
                    await self._retry(
                        item, f"uploading the chart failed: {error}", self._backoff(item.attempts)
                    )
                    return None
                log.error(
                    "the weekly summary's chart could not be uploaded; "
                    "posting the summary without it",
                    extra={"error": error},
                )
                return payload
            failpoints.hit("outbox.chart_uploaded")
            if not await self.store.record_uploaded_file(
                item.id, file_id=file_id, title=body.title, worker_id=self.worker_id
            ):
                return None
            failpoints.hit("outbox.chart_recorded")
        # Uploading took a while: hold the item for the post, or leave it.
        until = self.clock.now() + timedelta(seconds=self.lease_seconds)
        if not await self.store.renew_lease(item.id, worker_id=self.worker_id, until=until):
            return None
        return with_chart(payload, chart, file_id)

    # -- the incident's private channel (LEAKBOT_INCIDENT_CHANNELS=private) -------------------

    async def _in_incident_channel(
        self, item: OutboxItem, notification: Notification, payload: dict[str, Any]
    ) -> tuple[Notification, dict[str, Any], str | None]:
        """Place a message in (or about) the incident's private channel.

        `within`: posted in the channel; when it could never be created, in `thread` instead
        (tasks then stay in the escalation thread) or dead. `channel_link`: the channel's id
        goes into its facts (it is posted in the escalation thread)."""
        assert item.incident_id is not None
        thread = notification.thread
        created = await self.store.last_sent_result(item.incident_id, INCIDENT_CHANNEL)
        if created is None:
            if not await self._gave_up_on(item.incident_id, INCIDENT_CHANNEL):
                raise Unresolved(INCIDENT_CHANNEL)
            if notification.within is None or thread is None:
                raise Unresolved(INCIDENT_CHANNEL)  # marked dead by the caller
            return notification, payload, thread
        channel = str(created["channel"])
        if notification.kind == "channel_link":
            facts = {**notification.facts, "channel_id": channel}
            return replace(notification, facts=facts), payload, thread
        return notification, {**payload, "channel": channel}, None

    async def _deliver_incident_channel(self, item: OutboxItem) -> None:
        """Create the private channel (or find the one an earlier attempt created: its name is
        deterministic, so `name_taken` means "already there") and invite its people."""
        try:
            notification = Notification.from_payload(item.payload, item.incident_id)
            name = str(notification.facts["name"])
            members = [str(person) for person in notification.facts["members"]]
        except (ValueError, KeyError, TypeError) as exc:
            await self._dead(item, f"cannot build message: {type(exc).__name__}: {exc}")
            return
        if not await self._hold_lease(item):
            return  # another worker has it
        try:
            channel = await self._create_channel(name)
            if channel is None:
                await self._dead(item, f"name_taken: #{name} exists and leakbot is not in it")
                return
            users = await self._people(members)
            if users:
                try:
                    await self.client.conversations_invite(channel=channel, users=",".join(users))
                except SlackApiError as exc:
                    if error_code(exc) != "already_in_channel":
                        raise
        except SlackApiError as exc:
            await self._slack_failed(item, exc, scope_hint=CHANNEL_SCOPE_HINT)
            return
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            await self._retry(item, f"{type(exc).__name__}: {exc}", self._backoff(item.attempts))
            return
        await self._sent(item, {"channel": channel, "ts": None, "name": name})

    async def _create_channel(self, name: str) -> str | None:
        """The new (or earlier created) channel's id; None: the name is taken by a channel
        leakbot is not in."""
        try:
            created = await self.client.conversations_create(name=name, is_private=True)
            return str(created["channel"]["id"])
        except SlackApiError as exc:
            if error_code(exc) != "name_taken":
                raise
        # Created by an earlier attempt that stopped before recording it: find it.
        async for page in await self.client.conversations_list(
            types="private_channel", exclude_archived=True, limit=200
        ):
            for channel in page.get("channels") or []:
                if channel.get("name") == name:
                    return str(channel["id"])
        return None

    async def _people(self, members: list[str]) -> list[str]:
        """User ids, user groups (S…) replaced by their members."""
        users: list[str] = []
        for member in members:
            if member.startswith("S"):
                found = await self.client.usergroups_users_list(usergroup=member)
                users += [str(user) for user in found.get("users") or []]
            else:
                users.append(member)
        return list(dict.fromkeys(users))

    async def _slack_failed(
        self, item: OutboxItem, exc: SlackApiError, *, scope_hint: str = ""
    ) -> None:
        """Retry what may pass (429, 5xx); anything else (missing_scope, name rules) is dead,
        with what Slack said it needs (`scope_hint`: where that scope is explained)."""
        status = http_status(exc) or 0
        error = error_code(exc)
        if status == 429:
            headers = exc.response.headers
            retry_after = str(headers.get("Retry-After") or headers.get("retry-after") or "")
            await self._retry(
                item, "ratelimited (429)", float(retry_after) if retry_after.isdigit() else 30.0
            )
        elif status >= 500 or error in RETRYABLE_ERRORS:
            # No error code: not Slack's JSON (a proxy's page, say "HTTP 502, not a Slack answer").
            reason = f"HTTP {status} {error}" if error else error_text(exc)
            await self._retry(item, reason, self._backoff(item.attempts))
        elif error == "missing_scope":
            await self._dead(
                item,
                f"missing_scope: the app needs {answer_fields(exc).get('needed')}{scope_hint}",
            )
        else:
            await self._dead(item, error_text(exc))


class _UploadRefused(Exception):
    """The upload URL did not take the bytes (worth another try)."""


def _errors(exc: SlackApiError) -> str:
    """Slack's error code and its details (`errors`), e.g. an invalid block's json-pointer."""
    details = [str(problem) for problem in answer_fields(exc).get("errors") or []]
    return " ".join([error_text(exc), *details])


def _refused_file(exc: SlackApiError) -> bool:
    """Slack refused a message because of a `slack_file` it cannot show."""
    data = answer_fields(exc)
    return data.get("error") == "invalid_blocks" and any(
        "slack_file" in str(problem) for problem in data.get("errors") or []
    )


def _may_pass(exc: BaseException) -> bool:
    """A failure worth another try: the network, 429, 5xx or Slack's "try again" errors."""
    if not isinstance(exc, SlackApiError):
        return True
    status = http_status(exc) or 0
    return status == 429 or status >= 500 or error_code(exc) in RETRYABLE_ERRORS
