"""`leakbot outbox list|retry` for operators, and `leakbot summary --post [--wait]`.

Slack calls go through the durable outbox: a command queues them and the running bot delivers
them. So `summary --post` says "queued"; with `--wait` this process delivers what is due itself
and reports Slack's answer. A dead item (Slack refused it for good) can be put back in the queue
with `outbox retry`, and a weekly summary that died can be posted again.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.cli_input import add_lang_option
from bot.clock import SystemClock
from bot.config import Settings
from bot.domain.i18n import t

if TYPE_CHECKING:
    from bot.domain.playbook import Playbook
    from bot.domain.summary import Week
    from bot.store import OutboxItem, Store

# How often `--wait` looks again while a delivery is being retried (real time: a CLI run).
WAIT_POLL_SECONDS = 0.5


def register(commands: Any) -> None:
    """Adds `leakbot outbox` to the CLI's subcommands."""
    outbox_parser = commands.add_parser(
        "outbox", help="Slack calls waiting or dead: list them, put them back in the queue"
    )
    actions = outbox_parser.add_subparsers(dest="outbox_command", required=True, metavar="ACTION")
    list_parser = actions.add_parser("list", help="items not delivered yet (waiting and dead)")
    list_parser.add_argument("--dead", action="store_true", help="only the dead ones")
    list_parser.add_argument(
        "--limit", type=int, default=100, metavar="N", help="at most N items (default 100)"
    )
    add_lang_option(list_parser)
    list_parser.set_defaults(handler=cmd_outbox_list)
    retry_parser = actions.add_parser(
        "retry", help="put dead (or waiting) items back in the queue, due now"
    )
    which = retry_parser.add_mutually_exclusive_group(required=True)
    which.add_argument("ids", nargs="*", type=int, default=[], metavar="ID", help="item ids")
    which.add_argument("--dead", action="store_true", help="every dead item")
    add_lang_option(retry_parser)
    retry_parser.set_defaults(handler=cmd_outbox_retry)


def _line(item: OutboxItem, settings: Settings, lang: str) -> str:
    """id, status and kind (the outbox's own values, as stored), incident, attempts, when."""
    key, moment = (
        ("outbox.attempts_sent", item.sent_at)
        if item.sent_at
        else ("outbox.attempts_next", item.next_attempt_at)
        if item.status == "pending"
        else ("outbox.attempts_queued", item.created_at)
    )
    when = t(
        lang, key, attempts=item.attempts, time=f"{moment.astimezone(settings.tz):%Y-%m-%d %H:%M}"
    )
    error = "  " + t(lang, "outbox.last_error", error=item.last_error) if item.last_error else ""
    return (
        f"{item.id:>6}  {item.status:<7}  {item.kind:<16}  {item.incident_id or '-':<15}  "
        f"{when}{error}"
    )


def cmd_outbox_list(args: argparse.Namespace, settings: Settings) -> int:
    from bot.database import database_errors, open_store
    from bot.store.outbox_admin import list_items

    lang: str = args.lang or settings.LEAKBOT_LANGUAGE

    async def run() -> list[str]:
        store = await open_store(
            settings.DATABASE_URL, migrate=False, create=False, require_schema=True
        )
        try:
            async with database_errors(settings.DATABASE_URL):
                items = await list_items(store, dead_only=args.dead, limit=max(1, args.limit))
        finally:
            await store.close()
        what = "dead" if args.dead else "waiting"
        if not items:
            return [t(lang, f"outbox.none_{what}")]
        header = t(lang, f"outbox.header_{what}", count=len(items))
        return [header, *(_line(item, settings, lang) for item in items)]

    print("\n".join(asyncio.run(run())))
    return 0


def cmd_outbox_retry(args: argparse.Namespace, settings: Settings) -> int:
    from bot.database import database_errors, open_store
    from bot.store.outbox_admin import requeue, requeue_dead

    lang: str = args.lang or settings.LEAKBOT_LANGUAGE

    async def run() -> tuple[list[str], int]:
        store = await open_store(
            settings.DATABASE_URL, migrate=False, create=False, require_schema=True
        )
        now = SystemClock().now()
        try:
            async with database_errors(settings.DATABASE_URL):
                if args.dead:
                    ids = await requeue_dead(store, now=now)
                    shown = ", ".join(str(i) for i in ids)
                    key = "outbox.requeued_dead_ids" if ids else "outbox.requeued_dead"
                    return [t(lang, key, count=len(ids), ids=shown)], 0
                results = await requeue(store, args.ids, now=now)
        finally:
            await store.close()
        lines = [t(lang, f"outbox.item_{r.outcome}", id=r.item_id) for r in results]
        failed = any(r.outcome in ("not_found", "already_sent", "superseded") for r in results)
        return lines, 2 if failed else 0

    lines, code = asyncio.run(run())
    print("\n".join(lines))
    return code


async def post_summary(
    settings: Settings,
    store: Store,
    playbook: Playbook,
    week: Week,
    now: datetime,
    lang: str,
    *,
    wait_seconds: float | None,
) -> int:
    """Queue the week's summary (again, if its message died); with `wait_seconds`, deliver and
    report Slack's answer."""
    from bot.slack.app import build_deps, build_scheduler
    from bot.store.outbox_admin import find_by_dedupe_key, release_dedupe_key

    deps = build_deps(settings, store, playbook, SystemClock())
    channel = settings.LEAKBOT_SUMMARY_CHANNEL
    key = f"summary:{week.label}"
    item = await find_by_dedupe_key(store, key)
    if item is not None and item.status == "sent":
        print(t(lang, "summary_post.already_posted", week=week.label, channel=channel, id=item.id))
        return 0
    if item is not None and item.status == "pending":
        print(t(lang, "summary_post.already_queued", week=week.label, id=item.id))
    else:
        if item is not None:  # dead: Slack refused it; this is a new try with today's data
            await release_dedupe_key(store, item.id)
        await build_scheduler(deps).post_summary(week, now=now)
        item = await find_by_dedupe_key(store, key)
        if item is None:  # pragma: no cover - the key was just inserted
            raise RuntimeError(f"the summary {week.label} was not queued")
        print(t(lang, "summary_post.queued", week=week.label, channel=channel, id=item.id))
    if wait_seconds is None:
        print(t(lang, "summary_post.bot_posts"))
        return 0
    return await _wait_for_delivery(deps.outbox, store, item.id, week.label, wait_seconds, lang)


async def _wait_for_delivery(
    sender: Any, store: Store, item_id: int, label: str, wait_seconds: float, lang: str
) -> int:
    from bot.store.outbox_admin import get_item

    deadline = time.monotonic() + max(0.0, wait_seconds)
    while True:
        await sender.drain()  # what is due now, this summary included (another bot may too)
        item = await get_item(store, item_id)
        if item is None:  # pragma: no cover - items are never deleted
            raise RuntimeError(f"outbox item {item_id} vanished")
        if item.status == "sent":
            where = item.result or {}
            channel, ts = where.get("channel"), where.get("ts")
            print(t(lang, "summary_post.posted", week=label, channel=channel, ts=ts))
            return 0
        if item.status == "dead":
            print(t(lang, "summary_post.dead", week=label, error=item.last_error, id=item_id))
            return 1
        if time.monotonic() >= deadline:
            key = (
                "summary_post.still_queued_error"
                if item.last_error
                else "summary_post.still_queued"
            )
            seconds = f"{wait_seconds:g}"
            print(t(lang, key, week=label, seconds=seconds, error=item.last_error))
            return 1
        await asyncio.sleep(min(WAIT_POLL_SECONDS, max(0.0, deadline - time.monotonic())))
