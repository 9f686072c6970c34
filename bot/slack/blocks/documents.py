"""Block Kit for drafting documents in Slack: the incident message's button, the modal that
picks a document, a language and a format, and a task's draft button."""

from __future__ import annotations

from typing import Any

from bot.domain.documents import DOCUMENT_KINDS
from bot.domain.i18n import t
from bot.slack.blocks.common import Block, clip, plain, section
from bot.slack.ids import ActionId, BlockId, CallbackId

LANGS = ("ja", "en")
FORMATS = ("md", "docx")


def docs_button(incident_id: str, lang: str) -> dict[str, Any]:
    """`leak_docs`: opens the document modal for this incident."""
    return {
        "type": "button",
        "action_id": ActionId.DOCS,
        "text": plain(t(lang, "docs.button"), 75),
        "value": incident_id,
    }


def task_draft_button(incident_id: str, document: str, lang: str) -> dict[str, Any]:
    """A task's button that drafts its document (value: incident id and document kind)."""
    return {
        "type": "button",
        "action_id": ActionId.TASK_DRAFT,
        "text": plain(t(lang, "docs.task_button"), 75),
        "value": f"{incident_id}|{document}",
    }


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": plain(text, 75), "value": value}


def _select(block_id: str, label: str, options: list[dict[str, Any]], initial: int) -> Block:
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, 2000),
        "element": {
            "type": "static_select",
            "action_id": ActionId.INPUT,
            "options": options,
            "initial_option": options[initial],
        },
    }


def docs_modal(incident_id: str, lang: str, *, document: str | None = None) -> dict[str, Any]:
    """The modal: which document, in which language and format (private_metadata: incident)."""
    kinds = [_option(t(lang, f"docs.kind.{kind}"), kind) for kind in DOCUMENT_KINDS]
    langs = [_option(t(lang, f"docs.lang.{code}"), code) for code in LANGS]
    formats = [_option(t(lang, f"docs.format.{fmt}"), fmt) for fmt in FORMATS]
    kind_index = DOCUMENT_KINDS.index(document) if document in DOCUMENT_KINDS else 0
    return {
        "type": "modal",
        "callback_id": CallbackId.DOCS,
        "private_metadata": incident_id,
        "title": plain(clip(t(lang, "docs.modal_title"), 24), 24),
        "submit": plain(clip(t(lang, "docs.modal_submit"), 24), 24),
        "close": plain(clip(t(lang, "docs.modal_close"), 24), 24),
        "blocks": [
            section(t(lang, "docs.modal_intro", incident_id=incident_id)),
            _select(BlockId.DOC_KIND, t(lang, "docs.kind_label"), kinds, kind_index),
            _select(
                BlockId.DOC_LANG,
                t(lang, "docs.lang_label"),
                langs,
                LANGS.index(lang) if lang in LANGS else 0,
            ),
            _select(BlockId.DOC_FORMAT, t(lang, "docs.format_label"), formats, 0),
        ],
    }


def chosen(values: Any, block_id: str) -> str:
    """The value picked in one of the modal's selects ("" when missing or malformed)."""
    block = values.get(block_id) if isinstance(values, dict) else None
    element = block.get(ActionId.INPUT) if isinstance(block, dict) else None
    option = element.get("selected_option") if isinstance(element, dict) else None
    value = option.get("value") if isinstance(option, dict) else None
    return value if isinstance(value, str) else ""
