"""Closing an incident: its outcomes and who may close with which (issue 12)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

# Public contract (docs/contracts.md): the `outcome` block's option values.
CLOSE_OUTCOMES: Final[tuple[str, ...]] = (
    "continued",
    "continued_with_conditions",
    "suspended",
    "terminated",
    "legal_action",
    "other",
)
# The reporter may close their own incident when trading simply goes on.
REPORTER_OUTCOMES: Final[frozenset[str]] = frozenset({"continued", "continued_with_conditions"})
# How each open regulator deadline is confirmed when closing.
REGULATOR_STATES: Final[tuple[str, ...]] = ("done", "not_required")


def may_close(
    *, actor_id: str, reporter_id: str, approvers: Collection[str], outcome: str | None
) -> bool:
    """Approvers close with any outcome; the reporter with a `continued*` one (`outcome=None`:
    whether they may close at all)."""
    if actor_id in approvers:
        return True
    if actor_id != reporter_id:
        return False
    return outcome is None or outcome in REPORTER_OUTCOMES


def may_reopen(*, actor_id: str, reporter_id: str, approvers: Collection[str]) -> bool:
    return actor_id in approvers or actor_id == reporter_id
