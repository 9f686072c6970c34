"""`/leak list [open|closed|all] [partner text] [page N]`: newest first, 30 a page (issue 12)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final
from zoneinfo import ZoneInfo

from bot.domain.explain import format_moment
from bot.domain.i18n import t
from bot.domain.playbook import Playbook
from bot.slack.blocks.common import escape
from bot.slack.blocks.lifecycle import list_page_message
from bot.slack.blocks.status import status_line
from bot.slack.deps import Deps
from bot.slack.ids import SLASH_COMMAND
from bot.store import IncidentRecord

PAGE_SIZE: Final = 30
SCOPES: Final[dict[str, tuple[str, ...] | None]] = {
    # "open": waiting for a decision or decided and followed up (the weekly summary's open list).
    "open": ("pending", "decided"),
    "closed": ("closed",),
    "all": None,
}


@dataclass(frozen=True)
class ListArgs:
    scope: str = "open"
    partner: str | None = None
    page: int = 1


def parse_list_args(text: str) -> ListArgs:
    """`[open|closed|all] [partner text] [page N]`, each part optional."""
    words = text.split()
    scope = "open"
    if words and words[0].lower() in SCOPES:
        scope = words.pop(0).lower()
    page = 1
    if len(words) >= 2 and words[-2].lower() == "page" and words[-1].isdecimal():
        page = max(int(words[-1]), 1)
        words = words[:-2]
    partner = " ".join(words).strip() or None
    return ListArgs(scope, partner[:200] if partner else None, page)


def _command(args: ListArgs, page: int) -> str:
    parts = [SLASH_COMMAND, "list", args.scope]
    if args.partner:
        parts.append(args.partner)
    return " ".join([*parts, "page", str(page)])


async def list_incidents(
    deps: Deps, args: ListArgs, lang: str, *, reporter_id: str | None
) -> dict[str, Any]:
    records, total = await deps.follow.lifecycle.incidents_page(
        statuses=SCOPES[args.scope],
        partner_text=args.partner,
        reporter_id=reporter_id,
        limit=PAGE_SIZE,
        offset=(args.page - 1) * PAGE_SIZE,
    )
    return list_message(deps.playbook, deps.settings.tz, args, records, total, lang)


def list_message(
    playbook: Playbook,
    tz: ZoneInfo,
    args: ListArgs,
    records: Sequence[IncidentRecord],
    total: int,
    lang: str,
) -> dict[str, Any]:
    """One page of `/leak list` (`records`: the page, `total`: how many match in all)."""
    offset = (args.page - 1) * PAGE_SIZE
    lines = [
        t(
            lang,
            "list.line",
            incident_id=record.id,
            partner=escape(record.partner),
            status=status_line(playbook, record, lang, tz),
            created=format_moment(record.created_at.astimezone(tz), lang),
        )
        for record in records
    ]
    more = offset + len(records) < total
    return list_page_message(
        lang,
        lines,
        scope=args.scope,
        partner=escape(args.partner) if args.partner else None,
        first=offset + 1,
        total=total,
        next_command=_command(args, args.page + 1) if more else None,
    )
