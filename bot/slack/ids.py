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
    # App Home (issue 14): opens the intake modal, as `/leak` does.
    HOME_REPORT = "leak_home_report"
    # Issue 12: how the partner's report was, asked when its task is marked done
    # (value = "<task id>:<quality>").
    REPORT_SUFFICIENT = "leak_report_sufficient"
    REPORT_INSUFFICIENT = "leak_report_insufficient"
    REPORT_MISSING = "leak_report_missing"
    # Issue 12: close and reopen an incident (value = incident id).
    CLOSE = "leak_close"
    REOPEN = "leak_reopen"
    # Issue 12: new facts (value = incident id): the intake modal, filled in.
    UPDATE = "leak_update"
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
    # Issue 12: the close modal (public contract: `outcome`, `note`), the incident's controls.
    OUTCOME = "outcome"
    NOTE = "note"
    REGULATOR = "regulator"  # + ":<deadline id>", done / not required
    REGULATOR_REASON = "regulator_reason"  # + ":<deadline id>"
    INCIDENT = "leak_incident"
    # The document modal's inputs.
    DOC_KIND = "doc_kind"
    DOC_LANG = "doc_lang"
    DOC_FORMAT = "doc_format"


class CallbackId(StrEnum):
    INTAKE = "leak_intake"
    REJECT = "leak_reject_reason"
    DONE = "leak_done"
    CLOSE = "leak_close_outcome"
    DOCS = "leak_docs"


SLASH_COMMAND = "/leak"
