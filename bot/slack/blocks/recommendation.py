"""The recommendation message posted to the escalation channel, and its decided form."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.answers import Answers
from bot.domain.engine import Assessment
from bot.domain.explain import (
    deadline_lines,
    distribution_lines,
    format_moment,
    option_label,
    quote_sections,
    reasons,
)
from bot.domain.i18n import t
from bot.domain.playbook import Playbook
from bot.domain.vocabulary import OPTION_KEYS, OptionKey
from bot.slack.blocks.common import (
    Block,
    bullet_sections,
    clip,
    context,
    divider,
    escape,
    fields_section,
    header,
    plain,
    section,
)
from bot.slack.blocks.documents import docs_button
from bot.slack.ids import ActionId, BlockId

FACT_IDS = (
    "aware_at",
    "source",
    "relationship",
    "data_kinds",
    "affected_persons",
    "encrypted",
    "regions",
    "cause",
    "damage",
    "partner_response",
    "dependency",
    "contract",
    "prior_incidents",
    "report_quality",
)


@dataclass(frozen=True)
class IncidentView:
    """What the message shows about an incident (built from the stored record)."""

    incident_id: str
    partner: str
    reporter_id: str
    answers: Answers
    assessment: Assessment
    round: int = 1


def _fact_value(playbook: Playbook, answers: Answers, answer_id: str, lang: str) -> str | None:
    value = answers.get(answer_id)
    if value is None:
        return None
    if isinstance(value, datetime):
        return format_moment(value, lang)
    if isinstance(value, tuple):
        question = playbook.question(answer_id)
        separator = "、" if lang == "ja" else ", "
        return separator.join(question.choice(v).label.get(lang) for v in value)
    if answer_id == "prior_incidents" and isinstance(value, int):
        return t(lang, "message.prior_count", count=value)
    if isinstance(value, int):
        return f"{value:,}"
    if answer_id in ("partner", "description"):
        return escape(str(value))
    return playbook.question(answer_id).choice(str(value)).label.get(lang)


def fact_pairs(playbook: Playbook, answers: Answers, lang: str) -> list[tuple[str, str]]:
    pairs = []
    for answer_id in FACT_IDS:
        text = _fact_value(playbook, answers, answer_id, lang)
        if text is None:
            continue
        label = (
            t(lang, "message.prior_label")
            if answer_id == "prior_incidents"
            else playbook.question(answer_id).label.get(lang)
        )
        pairs.append((label, text))
    return pairs


def _summary_text(playbook: Playbook, view: IncidentView, lang: str) -> str:
    top = option_label(playbook, view.assessment.recommendation, lang)
    # The message's `text` is mrkdwn (notifications, fallback): what the reporter typed is
    # escaped so that "<!channel>" cannot mention anyone.
    return t(
        lang,
        "message.fallback",
        incident_id=view.incident_id,
        partner=escape(view.partner),
        option=top,
    )


def _analysis_blocks(playbook: Playbook, view: IncidentView, lang: str) -> list[Block]:
    assessment = view.assessment
    top = assessment.recommendation
    heading = t(
        lang,
        "panel.recommended",
        option=escape(option_label(playbook, top, lang)),
        count=assessment.final[top],
        total=assessment.total,
    )
    counts = "\n".join(distribution_lines(playbook, assessment, lang))
    blocks: list[Block] = [
        section(heading),
        section(f"{escape(t(lang, 'panel.heading', total=assessment.total))}\n```{counts}```"),
    ]
    # Reasons name the respondents who move (with their words) and, separately labelled, the
    # company's policy and the law: policy is never shown as survey evidence.
    blocks += bullet_sections(t(lang, "report.reasons"), reasons(playbook, assessment, lang))
    for heading, lines in quote_sections(assessment, lang):
        quotes = "\n".join(f"> {escape(line)}" for line in lines)
        blocks.append(section(clip(f"*{escape(heading)}*\n{quotes}", 3000)))
    deadlines = deadline_lines(assessment, lang)
    blocks += bullet_sections(t(lang, "report.deadlines"), deadlines)
    checklist = [item.get(lang) for item in assessment.checklist]
    blocks += bullet_sections(t(lang, "report.checklist"), checklist)
    blocks.append(context(escape(t(lang, "report.survey_basis"))))
    return blocks


def _head_blocks(playbook: Playbook, view: IncidentView, lang: str) -> list[Block]:
    title = t(lang, "message.header", incident_id=view.incident_id, partner=view.partner)
    blocks: list[Block] = [header(title)]
    reporter = t(lang, "message.reported_by", user=f"<@{view.reporter_id}>")
    if view.round > 1:
        reporter += " · " + t(lang, "message.round", round=view.round)
    blocks.append(context(reporter))
    blocks += fields_section(fact_pairs(playbook, view.answers, lang))
    description = view.answers.text("description")
    if description:
        blocks.append(
            section(
                f"*{escape(playbook.question('description').label.get(lang))}*\n"
                + clip(escape(description), 2800)
            )
        )
    return blocks


def approve_value(incident_id: str, round_: int, action: str) -> str:
    """`leak_approve`'s value: the incident, the round and the action the button shows, so a
    click on an old message cannot vote for an action its clicker never saw."""
    return f"{incident_id}:{round_}:{action}"


@dataclass(frozen=True)
class ShownDecision:
    """What a clicked control says it was about (read back from its value or block id).
    `round` and `action` are None on a message posted before they were carried."""

    incident_id: str
    round: int | None = None
    action: str | None = None


def parse_approve_value(value: str) -> ShownDecision:
    incident_id, _, rest = value.partition(":")
    round_text, _, action = rest.partition(":")
    round_ = int(round_text) if round_text.isdecimal() else None
    return ShownDecision(incident_id, round_, action or None)


def decision_block_id(incident_id: str, round_: int) -> str:
    return f"{BlockId.DECISION}:{incident_id}:{round_}"


def parse_decision_block_id(block_id: str) -> ShownDecision:
    """`leak_decision:<incident>:<round>` (the select and Send back share it)."""
    prefix, _, rest = block_id.partition(":")
    if prefix != BlockId.DECISION:
        return ShownDecision("")
    incident_id, _, round_text = rest.partition(":")
    return ShownDecision(incident_id, int(round_text) if round_text.isdecimal() else None)


def decision_controls(
    playbook: Playbook, incident_id: str, recommended: OptionKey, lang: str, round_: int = 1
) -> Block:
    top = option_label(playbook, recommended, lang)
    options = [
        {"text": plain(option_label(playbook, key, lang), 75), "value": key} for key in OPTION_KEYS
    ]
    return {
        "type": "actions",
        "block_id": decision_block_id(incident_id, round_),
        "elements": [
            {
                "type": "button",
                "action_id": ActionId.APPROVE,
                "style": "primary",
                "text": plain(clip(t(lang, "message.approve"), 75), 75),
                "value": approve_value(incident_id, round_, recommended),
                "confirm": {
                    "title": plain(t(lang, "message.confirm_title"), 100),
                    "text": plain(
                        t(lang, "message.confirm_text", option=top, incident_id=incident_id), 300
                    ),
                    "confirm": plain(t(lang, "message.confirm_yes"), 30),
                    "deny": plain(t(lang, "message.confirm_no"), 30),
                },
            },
            {
                "type": "static_select",
                "action_id": ActionId.CHOOSE,
                "placeholder": plain(t(lang, "message.choose"), 150),
                "options": options,
            },
            {
                "type": "button",
                "action_id": ActionId.REJECT,
                "style": "danger",
                "text": plain(t(lang, "message.reject"), 75),
                "value": incident_id,
            },
            docs_button(incident_id, lang),
        ],
    }


def recommendation_message(playbook: Playbook, view: IncidentView, lang: str) -> dict[str, Any]:
    """chat.postMessage arguments (without channel) for a new or re-assessed incident."""
    blocks = _head_blocks(playbook, view, lang)
    blocks.append(divider())
    blocks += _analysis_blocks(playbook, view, lang)
    blocks.append(
        decision_controls(
            playbook, view.incident_id, view.assessment.recommendation, lang, view.round
        )
    )
    return {"text": _summary_text(playbook, view, lang), "blocks": blocks}


def decided_message(
    playbook: Playbook,
    view: IncidentView,
    lang: str,
    *,
    status_line: str,
    controls: Block | None = None,
) -> dict[str, Any]:
    """The same message after a decision or rejection: who, what, when — no decision buttons
    (`controls`: the incident's own, e.g. Close or Reopen)."""
    blocks = _head_blocks(playbook, view, lang)
    # No decision controls any more; the document button stays (beside the outcome).
    blocks.append({**section(status_line), "accessory": docs_button(view.incident_id, lang)})
    if controls is not None:
        blocks.append(controls)
    blocks.append(divider())
    blocks += _analysis_blocks(playbook, view, lang)
    return {"text": _summary_text(playbook, view, lang) + " — " + status_line, "blocks": blocks}
