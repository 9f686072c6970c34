"""The weekly summary as a Slack message: always within Block Kit's limits."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Final
from zoneinfo import ZoneInfo

from bot.domain.chart import CATEGORIES, WeeklyActions
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

# The summary body's key for its chart (popped by the outbox before the post): the PNG (base64),
# its file name, title and text alternative, and where its image block goes.
CHART_KEY: Final = "_chart"
CHART_POSITION: Final = 2  # under the title and the "as of" line


def chart_spec(playbook: Playbook, chart: WeeklyActions, lang: str, png: bytes) -> dict[str, Any]:
    """The chart part of the summary's outbox item (JSON values), worded in `lang`."""
    survey = playbook.loaded_survey
    alt = t(
        lang,
        "chart.alt_text",
        first=chart.weeks[0].label,
        last=chart.weeks[-1].label,
        weeks=len(chart.weeks),
        incidents=sum(chart.total(key) for key in CATEGORIES),
        decisions=sum(chart.decided.values()),
        respondents=sum(choice.count for choice in survey.choices),
    )
    return {
        "png": base64.b64encode(png).decode("ascii"),
        "filename": f"leakbot-summary-{chart.weeks[-1].label}.png",
        "title": clip(t(lang, "chart.image_title"), 2000),
        "alt_text": clip(alt, 2000),
        "position": CHART_POSITION,
    }


def chart_block(spec: Mapping[str, Any], file_id: str) -> Block:
    """The image block showing the uploaded chart (Slack's `slack_file` by id)."""
    return {
        "type": "image",
        "slack_file": {"id": file_id},
        "alt_text": str(spec["alt_text"]),
        "title": {"type": "plain_text", "text": str(spec["title"])},
    }


def with_chart(body: Mapping[str, Any], spec: Mapping[str, Any], file_id: str) -> dict[str, Any]:
    """The summary body with the chart's image block in its place."""
    blocks = list(body.get("blocks") or [])
    position = min(int(spec.get("position") or CHART_POSITION), len(blocks))
    return {**body, "blocks": [*blocks[:position], chart_block(spec, file_id), *blocks[position:]]}


def summary_message(
    playbook: Playbook,
    data: WeekData,
    lang: str,
    tz: ZoneInfo,
    chart: WeeklyActions | None = None,
    png: bytes | None = None,
) -> dict[str, Any]:
    """chat.postMessage arguments (without channel). Lists are capped in the data ("and N
    more"), and the block count is checked here so that no week can break the 50-block limit.

    With `chart` and its drawing (`png`), the body also holds CHART_KEY (chart_spec): the
    outbox uploads it and puts its image block in (with_chart), which one block of the limit
    is kept for."""
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
    image = chart if chart is not None and chart.weeks and png is not None else None
    most = MESSAGE_BLOCKS_MAX - (1 if image is not None else 0)
    if len(blocks) > most:
        blocks = [*blocks[: most - 1], context(escape(t(lang, "summary.truncated")))]
    body: dict[str, Any] = {"text": clip(title, 3000), "blocks": blocks}
    if image is not None and png is not None:
        body[CHART_KEY] = chart_spec(playbook, image, lang, png)
    return body
