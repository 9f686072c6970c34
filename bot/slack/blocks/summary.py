"""The weekly summary as a Slack message: always within Block Kit's limits."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.explain import format_moment
from bot.domain.i18n import t
from bot.domain.playbook import Playbook
from bot.domain.summary import WeekData, incident_line, more_line, summary_sections, summary_title
from bot.slack.blocks.common import (
    MESSAGE_BLOCKS_MAX,
    Block,
    bullet_sections,
    clip,
    context,
    divider,
    escape,
    header,
    section,
)


def summary_message(playbook: Playbook, data: WeekData, lang: str, tz: ZoneInfo) -> dict[str, Any]:
    """chat.postMessage arguments (without channel). Lists are capped in the data ("and N
    more"), and the block count is checked here so that no week can break the 50-block limit."""
    title = summary_title(data, lang)
    blocks: list[Block] = [
        header(title),
        context(
            escape(t(lang, "summary.as_of", when=format_moment(data.as_of.astimezone(tz), lang)))
        ),
    ]
    for item in summary_sections(playbook, data, lang, tz):
        if item.preformatted:
            blocks.append(section(f"*{escape(item.title)}*\n```" + "\n".join(item.lines) + "```"))
        else:
            blocks += bullet_sections(item.title, list(item.lines))
    links = []
    for line in data.open_incidents.items:
        text = escape(incident_line(playbook, line, lang, tz, data.as_of))
        links.append(f"<{line.permalink}|{text}>" if line.permalink else text)
    if data.open_incidents.more:
        links.append(escape(more_line(data.open_incidents.more, lang)))
    blocks.append(divider())
    blocks += bullet_sections(
        t(lang, "summary.open_title", count=data.open_incidents.total),
        links or [escape(t(lang, "summary.none"))],
        formatted=True,
    )
    blocks.append(context(escape(t(lang, "report.survey_basis"))))
    if len(blocks) > MESSAGE_BLOCKS_MAX:
        blocks = [*blocks[: MESSAGE_BLOCKS_MAX - 1], context(escape(t(lang, "summary.truncated")))]
    return {"text": clip(title, 3000), "blocks": blocks}
