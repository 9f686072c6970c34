"""Every Slack action id, block id and callback id in one place.

The values are public contracts (docs/contracts.md, "Slack"): outside tests rely on them.
"""

from __future__ import annotations

from enum import StrEnum


class ActionId(StrEnum):
    # Public contract: the recommendation message's controls.
    APPROVE = "leak_approve"
    REJECT = "leak_reject"
    CHOOSE = "leak_choose"
    # Follow-up tasks (issue 4): value = task id.
    TASK_DONE = "leak_task_done"
    # Documents (issue 13): the incident message's button (value = incident id) and a task's
    # draft button (value = "incident id|document kind").
    DOCS = "leak_docs"
    TASK_DRAFT = "leak_task_draft"
    # Inside the intake modal.
    BACK = "leak_back"
    INPUT = "value"  # the action id of every answer's input element


class BlockId(StrEnum):
    DECISION = "leak_decision"
    NAVIGATION = "leak_navigation"
    REJECT_REASON = "reason"
    # The document modal's inputs.
    DOC_KIND = "doc_kind"
    DOC_LANG = "doc_lang"
    DOC_FORMAT = "doc_format"


class CallbackId(StrEnum):
    INTAKE = "leak_intake"
    REJECT = "leak_reject_reason"
    DONE = "leak_done"
    DOCS = "leak_docs"


SLASH_COMMAND = "/leak"
