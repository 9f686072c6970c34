"""The modal that asks an approver why an incident goes back to its reporter."""

from __future__ import annotations

from typing import Any

from bot.domain.i18n import t
from bot.slack.blocks.common import MODAL_TITLE_MAX, plain, section
from bot.slack.ids import ActionId, BlockId, CallbackId

REASON_MAX = 1000


def reject_view(lang: str, incident_id: str, metadata: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": CallbackId.REJECT,
        "title": plain(t(lang, "reject.title"), MODAL_TITLE_MAX),
        "submit": plain(t(lang, "reject.submit"), MODAL_TITLE_MAX),
        "close": plain(t(lang, "intake.cancel"), MODAL_TITLE_MAX),
        "private_metadata": metadata,
        "blocks": [
            section(t(lang, "reject.intro", incident_id=incident_id)),
            {
                "type": "input",
                "block_id": BlockId.REJECT_REASON,
                "label": plain(t(lang, "reject.label"), 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ActionId.INPUT,
                    "multiline": True,
                    "max_length": REASON_MAX,
                },
            },
        ],
    }
