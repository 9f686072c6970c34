"""Small Block Kit helpers that keep every text inside Slack's limits."""

from __future__ import annotations

from typing import Any, Final

Block = dict[str, Any]

SECTION_TEXT_MAX: Final = 3000
FIELD_TEXT_MAX: Final = 2000
HEADER_TEXT_MAX: Final = 150
BUTTON_TEXT_MAX: Final = 75
OPTION_TEXT_MAX: Final = 75
MODAL_TITLE_MAX: Final = 24
CONTEXT_ELEMENTS_MAX: Final = 10
MESSAGE_BLOCKS_MAX: Final = 50
MODAL_BLOCKS_MAX: Final = 100
PRIVATE_METADATA_MAX: Final = 3000


def clip(text: str, limit: int) -> str:
    """Cut `text` to `limit` characters, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str, limit: int = SECTION_TEXT_MAX, *, emoji: bool = True) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": emoji}


def mrkdwn(text: str, limit: int = SECTION_TEXT_MAX) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit)}


def section(text: str, *, block_id: str | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(text)}
    if block_id:
        block["block_id"] = block_id
    return block


def fields_section(pairs: list[tuple[str, str]]) -> list[Block]:
    """Label/value pairs as section fields, 10 per block (Slack's limit)."""
    texts = [mrkdwn(f"*{escape(label)}*\n{value}", FIELD_TEXT_MAX) for label, value in pairs]
    return [{"type": "section", "fields": texts[i : i + 10]} for i in range(0, len(texts), 10)]


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, HEADER_TEXT_MAX)}


def context(*texts: str) -> Block:
    return {
        "type": "context",
        "elements": [mrkdwn(text) for text in texts[:CONTEXT_ELEMENTS_MAX]],
    }


def divider() -> Block:
    return {"type": "divider"}


def bullet_sections(title: str, lines: list[str], *, formatted: bool = False) -> list[Block]:
    """A titled list, split over as many sections as the 3,000-character limit needs.

    Lines are plain text and escaped, unless `formatted` says they are mrkdwn already (with
    user mentions, say) and every user-typed part of them was escaped by the caller."""
    blocks: list[Block] = []
    current = f"*{escape(title)}*"
    for line in lines:
        item = "\n• " + clip(line if formatted else escape(line), SECTION_TEXT_MAX - 200)
        if len(current) + len(item) > SECTION_TEXT_MAX:
            blocks.append(section(current))
            current = ""
        current += item
    if current:
        blocks.append(section(current.lstrip("\n")))
    return blocks
