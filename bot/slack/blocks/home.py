"""The App Home tab (`views.publish`, type `home`): what waits for the person, in their language.

Pure: a `HomeSnapshot` (bot/store/home.py) in, the view out. The controls are the ones people
already know: the recommendation message's approve / choose / send back (same action ids and
values, so the same listeners handle them), the tasks message's Done, and a button that opens
the `/leak` intake. Lists are capped so that the view stays within Slack's 100 blocks; what is
left out is counted ("and 3 more — see `/leak list`").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from bot.domain.explain import format_date, format_moment, option_label
from bot.domain.i18n import t
from bot.domain.playbook import Playbook
from bot.domain.vocabulary import OPTION_KEYS, OptionKey
from bot.slack.blocks.common import (
    MODAL_BLOCKS_MAX,
    Block,
    bullet_sections,
    context,
    divider,
    escape,
    header,
    plain,
    section,
)
from bot.slack.blocks.recommendation import decision_controls
from bot.slack.ids import ActionId
from bot.store.home import TASK_COUNT_CAP, HomeIncident, HomeSnapshot, HomeTask

HOME_BLOCKS_MAX: Final = MODAL_BLOCKS_MAX  # 100, as for modals
AWAITING_SHOWN: Final = 10  # two blocks each (the line and its controls)
TASKS_SHOWN: Final = 20
INCIDENTS_SHOWN: Final = 20


def message_link(channel_id: str | None, message_ts: str | None) -> str | None:
    """A link to a posted message (Slack's archive URL; the client opens it in place)."""
    if not channel_id or not message_ts:
        return None
    return f"https://slack.com/archives/{channel_id}/p{message_ts.replace('.', '')}"


def _option(playbook: Playbook, key: str | None, lang: str) -> str:
    return option_label(playbook, key, lang) if key in OPTION_KEYS else escape(key or "?")


def _moment(moment: datetime, lang: str, tz: ZoneInfo) -> str:
    return format_moment(moment.astimezone(tz), lang)


def _title(text: str) -> Block:
    return section(f"*{escape(text)}*")


def _tasks(lang: str, count: int) -> str:
    """A task count as the store gives it: above TASK_COUNT_CAP it says "500+"."""
    return (
        t(lang, "home.count_at_least", count=TASK_COUNT_CAP)
        if count > TASK_COUNT_CAP
        else str(count)
    )


def _more(lang: str, total: int, shown: int, *, capped: bool = False) -> list[Block]:
    if total <= shown:
        return []
    if capped and total > TASK_COUNT_CAP:
        count = t(lang, "home.count_at_least", count=TASK_COUNT_CAP - shown)
        return [context(t(lang, "home.more", count=count))]
    return [context(t(lang, "home.more", count=total - shown))]


def _awaiting_blocks(
    playbook: Playbook, item: HomeIncident, lang: str, tz: ZoneInfo
) -> list[Block]:
    text = t(
        lang,
        "home.awaiting_line",
        incident_id=item.id,
        partner=escape(item.partner),
        option=_option(playbook, item.recommendation, lang),
        created=_moment(item.created_at, lang, tz),
    )
    if item.my_vote is not None:
        text += "\n" + t(lang, "home.my_vote", option=_option(playbook, item.my_vote, lang))
    link = message_link(item.channel_id, item.message_ts)
    if link is not None:
        text += f"\n<{link}|{escape(t(lang, 'home.open_message'))}>"
    recommended: OptionKey = (
        item.recommendation if item.recommendation in OPTION_KEYS else "request_report"
    )
    return [section(text), decision_controls(playbook, item.id, recommended, lang)]


def _task_block(task: HomeTask, lang: str, tz: ZoneInfo, now: datetime) -> Block:
    title = escape(task.title.get(lang) or task.title.get("en") or task.ref)
    partner = escape(task.partner)
    if task.due_at is None:
        text = t(
            lang,
            "home.task_line_no_due",
            title=title,
            incident_id=task.incident_id,
            partner=partner,
        )
    else:
        text = t(
            lang,
            "home.task_line",
            title=title,
            incident_id=task.incident_id,
            partner=partner,
            due=_moment(task.due_at, lang, tz),
        )
        if task.due_at < now:
            text += " " + t(lang, "home.task_overdue")
    block = section(text)
    block["accessory"] = {
        "type": "button",
        "action_id": ActionId.TASK_DONE,
        "text": plain(t(lang, "task.done_button"), 75),
        "value": str(task.id),
    }
    return block


def _incident_line(playbook: Playbook, item: HomeIncident, lang: str, tz: ZoneInfo) -> str:
    if item.status == "decided":
        status = t(lang, "home.status_decided", option=_option(playbook, item.decided_action, lang))
    else:
        status = t(lang, "home.status_pending", option=_option(playbook, item.recommendation, lang))
    return t(
        lang,
        "home.incident_line",
        incident_id=item.id,
        partner=escape(item.partner),
        status=status,
        created=_moment(item.created_at, lang, tz),
    )


def home_view(
    playbook: Playbook,
    snapshot: HomeSnapshot,
    *,
    lang: str,
    tz: ZoneInfo,
    now: datetime,
    week_start: datetime,
    approver: bool,
) -> dict[str, Any]:
    """The `view` argument of views.publish."""
    counts = snapshot.counts
    week = format_date(week_start.astimezone(tz), lang)
    blocks: list[Block] = [
        header(t(lang, "home.title")),
        context(t(lang, "home.as_of", when=_moment(now, lang, tz))),
        {
            **section(t(lang, "home.report_hint")),
            "accessory": {
                "type": "button",
                "action_id": ActionId.HOME_REPORT,
                "style": "primary",
                "text": plain(t(lang, "home.report_button"), 75),
                "value": "intake",
            },
        },
        context(t(lang, "home.scope_all" if approver else "home.scope_mine")),
        divider(),
        section(
            f"*{escape(t(lang, 'home.week_title', start=week))}*\n"
            + t(
                lang,
                "home.week_counts",
                opened=counts.opened_this_week,
                decided=counts.decided_this_week,
                pending=counts.pending,
                overdue=_tasks(lang, counts.my_overdue_tasks),
            )
        ),
    ]
    if approver:
        blocks += [
            divider(),
            section(f"*{escape(t(lang, 'home.awaiting_title', count=counts.awaiting_me))}*"),
        ]
        shown = snapshot.awaiting[:AWAITING_SHOWN]
        if not shown:
            blocks.append(context(t(lang, "home.awaiting_none")))
        for item in shown:
            blocks += _awaiting_blocks(playbook, item, lang, tz)
        blocks += _more(lang, counts.awaiting_me, len(shown))

    blocks += [
        divider(),
        section(
            f"*{escape(t(lang, 'home.tasks_title', count=_tasks(lang, counts.my_open_tasks)))}*"
        ),
    ]
    tasks = snapshot.tasks[:TASKS_SHOWN]
    if not tasks:
        blocks.append(context(t(lang, "home.tasks_none")))
    blocks += [_task_block(task, lang, tz, now) for task in tasks]
    blocks += _more(lang, counts.my_open_tasks, len(tasks), capped=True)

    open_total = counts.pending + counts.decided_open
    blocks.append(divider())
    incidents = snapshot.incidents[:INCIDENTS_SHOWN]
    title = t(lang, "home.incidents_title", count=open_total)
    if incidents:
        lines = [_incident_line(playbook, item, lang, tz) for item in incidents]
        blocks += bullet_sections(title, lines, formatted=True)
    else:
        blocks += [_title(title), context(t(lang, "home.incidents_none"))]
    blocks += _more(lang, open_total, len(incidents))
    # The caps above keep it far below; never send what Slack would refuse.
    return {"type": "home", "blocks": blocks[:HOME_BLOCKS_MAX]}


def home_unavailable_view(lang: str) -> dict[str, Any]:
    """What the tab shows when the database does not answer."""
    return {
        "type": "home",
        "blocks": [header(t(lang, "home.title")), section(t(lang, "home.unavailable"))],
    }
