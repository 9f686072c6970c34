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
    # Inside the intake modal.
    BACK = "leak_back"
    INPUT = "value"  # the action id of every answer's input element


class BlockId(StrEnum):
    DECISION = "leak_decision"
    NAVIGATION = "leak_navigation"
    REJECT_REASON = "reason"


class CallbackId(StrEnum):
    INTAKE = "leak_intake"
    REJECT = "leak_reject_reason"
    DONE = "leak_done"


SLASH_COMMAND = "/leak"
