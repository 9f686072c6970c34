"""The guided intake modal: one view per playbook step, then a summary to confirm.

Input blocks use the answer id as `block_id` and select values are the answer values
(docs/contracts.md). Steps replace each other with `response_action: update`, so there is no
push-stack limit, and the answers so far travel in `private_metadata`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.domain.i18n import t
from bot.domain.playbook import Playbook, Question
from bot.slack.blocks.common import (
    MODAL_TITLE_MAX,
    OPTION_TEXT_MAX,
    PRIVATE_METADATA_MAX,
    Block,
    clip,
    context,
    escape,
    fields_section,
    plain,
    section,
)
from bot.slack.ids import ActionId, BlockId, CallbackId

RawAnswers = dict[str, Any]


class MetadataTooLong(ValueError):
    """The answers do not fit in private_metadata (JSON escapes count: a quote, a newline or a
    control character in a text takes 2 to 6 characters there)."""

    def __init__(self, excess: int) -> None:
        super().__init__(
            f"intake answers exceed private_metadata's {PRIVATE_METADATA_MAX} characters "
            f"by {excess}"
        )
        self.excess = excess


@dataclass
class IntakeState:
    """What the modal carries between steps (serialised into private_metadata)."""

    step: int
    lang: str
    answers: RawAnswers = field(default_factory=dict)
    channel_id: str | None = None
    # Set when the modal updates an existing incident's facts (issue 12, `leak_update`).
    incident_id: str | None = None

    def to_metadata(self) -> str:
        data: dict[str, Any] = {"s": self.step, "l": self.lang, "a": self.answers}
        data["c"] = self.channel_id
        if self.incident_id:
            data["i"] = self.incident_id
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        if len(text) > PRIVATE_METADATA_MAX:
            raise MetadataTooLong(len(text) - PRIVATE_METADATA_MAX)
        return text

    @classmethod
    def from_metadata(cls, text: str) -> IntakeState:
        """Raises ValueError for metadata that this app did not write."""
        data = json.loads(text or "{}")
        if not isinstance(data, dict) or not isinstance(data.get("a"), dict):
            raise ValueError("not leakbot intake metadata")
        step = data.get("s")
        lang = data.get("l")
        if not isinstance(step, int) or lang not in ("ja", "en"):
            raise ValueError("not leakbot intake metadata")
        channel = data.get("c")
        incident = data.get("i")
        return cls(
            step,
            lang,
            dict(data["a"]),
            channel if isinstance(channel, str) else None,
            incident if isinstance(incident, str) else None,
        )


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": plain(label, OPTION_TEXT_MAX), "value": value}


def _element(question: Question, lang: str, current: Any, tz_now: datetime) -> dict[str, Any]:
    element: dict[str, Any]
    if question.kind == "text":
        element = {"type": "plain_text_input", "action_id": ActionId.INPUT}
        element["multiline"] = question.id == "description"
        if question.max_length:
            element["max_length"] = question.max_length
        if question.placeholder:
            element["placeholder"] = plain(question.placeholder.get(lang), 150)
        if isinstance(current, str) and current:
            element["initial_value"] = current
    elif question.kind == "datetime":
        element = {"type": "datetimepicker", "action_id": ActionId.INPUT}
        moment = current if isinstance(current, int) else int(tz_now.timestamp())
        element["initial_date_time"] = moment
    elif question.kind == "integer":
        element = {
            "type": "number_input",
            "action_id": ActionId.INPUT,
            "is_decimal_allowed": False,
            "min_value": str(question.min_value if question.min_value is not None else 0),
        }
        if current is not None and str(current).strip():
            element["initial_value"] = str(current)
    elif question.kind == "one_of":
        options = [_option(c.value, c.label.get(lang)) for c in question.choices]
        element = {"type": "static_select", "action_id": ActionId.INPUT, "options": options}
        element["placeholder"] = plain(t(lang, "intake.choose"), 150)
        picked = [o for o in options if o["value"] == current]
        if picked:
            element["initial_option"] = picked[0]
    else:  # several_of
        options = [_option(c.value, c.label.get(lang)) for c in question.choices]
        element = {"type": "checkboxes", "action_id": ActionId.INPUT, "options": options}
        chosen = set(current) if isinstance(current, list) else set()
        initial = [o for o in options if o["value"] in chosen]
        if initial:
            element["initial_options"] = initial
    return element


def _input_block(question: Question, lang: str, current: Any, now: datetime) -> Block:
    block: Block = {
        "type": "input",
        "block_id": question.id,
        "label": plain(question.label.get(lang), 2000),
        "element": _element(question, lang, current, now),
        "optional": not question.required,
    }
    if question.help:
        block["hint"] = plain(question.help.get(lang), 2000)
    return block


def _modal(
    lang: str, state: IntakeState, blocks: list[Block], submit_key: str, *, back: bool
) -> dict[str, Any]:
    if back:
        blocks.append(
            {
                "type": "actions",
                "block_id": BlockId.NAVIGATION,
                "elements": [
                    {
                        "type": "button",
                        "action_id": ActionId.BACK,
                        "text": plain(t(lang, "intake.back"), 75),
                        "value": str(state.step),
                    }
                ],
            }
        )
    return {
        "type": "modal",
        "callback_id": CallbackId.INTAKE,
        "title": plain(t(lang, "intake.title"), MODAL_TITLE_MAX),
        "submit": plain(t(lang, submit_key), MODAL_TITLE_MAX),
        "close": plain(t(lang, "intake.cancel"), MODAL_TITLE_MAX),
        "private_metadata": state.to_metadata(),
        "blocks": blocks,
    }


def step_view(playbook: Playbook, state: IntakeState, now: datetime) -> dict[str, Any]:
    """The modal for `state.step` (0-based), prefilled with the answers given so far."""
    lang = state.lang
    step = playbook.steps[state.step]
    total = len(playbook.steps) + 1  # the summary to confirm is the last step
    progress = t(
        lang, "intake.progress", step=state.step + 1, total=total, title=step.title.get(lang)
    )
    blocks: list[Block] = [context(escape(progress))]
    if state.step == 0:
        blocks.insert(0, section(t(lang, "intake.intro")))
    for question_id in step.questions:
        question = playbook.question(question_id)
        blocks.append(_input_block(question, lang, state.answers.get(question_id), now))
    return _modal(lang, state, blocks, "intake.next", back=state.step > 0)


def _choice_text(question: Question, value: Any, lang: str) -> str:
    try:
        return question.choice(str(value)).label.get(lang)
    except KeyError:  # not one of the choices: shown as typed, never trusted
        return escape(str(value))


def answer_text(playbook: Playbook, question: Question, value: Any, lang: str) -> str:
    """An answer as a person reads it (raw modal values, before parsing)."""
    if value is None or value == "" or value == []:
        return t(lang, "intake.unknown")
    if question.kind == "one_of":
        return _choice_text(question, value, lang)
    if question.kind == "several_of":
        # A value that is not a list (a forged or stale payload) is shown as one value; the
        # submission's validation then names the problem instead of this page failing.
        values = value if isinstance(value, list) else [value]
        return ("、" if lang == "ja" else ", ").join(
            _choice_text(question, v, lang) for v in values
        )
    if question.kind == "datetime" and isinstance(value, int):
        fallback = datetime.fromtimestamp(value).isoformat()
        return f"<!date^{value}^{{date_short_pretty}} {{time}}|{fallback}>"
    return escape(str(value))


def confirm_view(playbook: Playbook, state: IntakeState) -> dict[str, Any]:
    """The last step: every answer, to check before submitting."""
    lang = state.lang
    total = len(playbook.steps) + 1
    progress = t(
        lang, "intake.progress", step=total, total=total, title=t(lang, "intake.confirm_title")
    )
    blocks: list[Block] = [context(escape(progress)), section(t(lang, "intake.confirm_intro"))]
    for step in playbook.steps:
        pairs = [
            (
                playbook.question(qid).label.get(lang),
                clip(
                    answer_text(playbook, playbook.question(qid), state.answers.get(qid), lang),
                    1900,
                ),
            )
            for qid in step.questions
        ]
        blocks.append(section(f"*{escape(step.title.get(lang))}*"))
        blocks.extend(fields_section(pairs))
    return _modal(lang, state, blocks, "intake.submit", back=True)


def done_view(lang: str, incident_id: str, partner: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": CallbackId.DONE,
        "title": plain(t(lang, "intake.title"), MODAL_TITLE_MAX),
        "close": plain(t(lang, "intake.close"), MODAL_TITLE_MAX),
        "blocks": [
            section(t(lang, "intake.done", incident_id=incident_id, partner=escape(partner))),
        ],
    }


def _encoded_length(text: str) -> int:
    return len(json.dumps(text, ensure_ascii=False)) - 2


def too_long_errors(
    playbook: Playbook, step: int, answers: RawAnswers, excess: int, lang: str
) -> dict[str, str]:
    """Field errors for a step whose answers would not fit in the modal's private_metadata:
    the step's longest text, and about how long it may be."""
    questions = [playbook.question(qid) for qid in playbook.steps[step].questions]
    texts = [
        (q.id, answers[q.id])
        for q in questions
        if q.kind == "text" and isinstance(answers.get(q.id), str)
    ]
    if not texts:  # nothing here to shorten (not with the shipped playbook's limits)
        return {questions[0].id: t(lang, "intake.invalid")[:150]}
    qid, value = max(texts, key=lambda item: _encoded_length(item[1]))
    encoded = max(_encoded_length(value), 1)
    allowed = max(len(value) - -(-excess * len(value) // encoded) - 1, 0)
    return {qid: t(lang, "answer.too_long", max=allowed, length=len(value))[:150]}


def state_values_of(view: Any) -> dict[str, Any]:
    """`view.state.values`, or {} where a payload has anything else there."""
    state = view.get("state") if isinstance(view, dict) else None
    values = state.get("values") if isinstance(state, dict) else None
    return values if isinstance(values, dict) else {}


def values_from_state(playbook: Playbook, state_values: dict[str, Any], step: int) -> RawAnswers:
    """Read the step's inputs from `view.state.values` into raw answers (unvalidated).

    Shapes follow Slack's payloads; anything malformed is passed on as-is for the parser to
    reject with a field error, never an exception here.
    """
    raw: RawAnswers = {}
    for question_id in playbook.steps[step].questions:
        block = state_values.get(question_id)
        element = block.get(ActionId.INPUT) if isinstance(block, dict) else None
        if not isinstance(element, dict):
            continue
        kind = element.get("type")
        value: Any
        if kind == "plain_text_input" or kind == "number_input":
            value = element.get("value")
        elif kind == "datetimepicker":
            value = element.get("selected_date_time")
        elif kind == "static_select":
            option = element.get("selected_option")
            value = option.get("value") if isinstance(option, dict) else None
        elif kind in ("checkboxes", "multi_static_select"):
            options = element.get("selected_options")
            listed = options if isinstance(options, list) else []
            value = [o.get("value") for o in listed if isinstance(o, dict)] or None
        else:
            value = element.get("value")
        raw[question_id] = value
    return raw
