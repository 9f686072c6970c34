"""Named crash points for the fault tests: `LEAKBOT_FAILPOINTS="outbox.sent=2"` makes the
process SIGKILL itself the 2nd time it passes `outbox.sent`. Unset (always, in production),
`hit()` is a dictionary lookup that does nothing."""

from __future__ import annotations

import os
import signal
from collections import Counter
from typing import Final


def _parse(text: str) -> dict[str, int]:
    spec: dict[str, int] = {}
    for part in text.split(","):
        name, _, count = part.strip().partition("=")
        if name:
            spec[name] = int(count) if count.strip().isdecimal() else 1
    return spec


_SPEC: Final[dict[str, int]] = _parse(os.environ.get("LEAKBOT_FAILPOINTS", ""))
_PASSED: Counter[str] = Counter()


def hit(name: str) -> None:
    if name not in _SPEC:
        return
    _PASSED[name] += 1
    if _PASSED[name] == _SPEC[name]:
        os.kill(os.getpid(), signal.SIGKILL)
