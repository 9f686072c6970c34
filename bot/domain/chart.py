"""The weekly summary's chart data: incidents per ISO week, stacked by what was decided.

Pure: the store counts incidents per (week, decided action, status); this module shapes the
counts into the series the chart draws (bot/summary_chart.py) and tests check.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Final
from zoneinfo import ZoneInfo

from bot.domain.summary import Week, week_of
from bot.domain.vocabulary import OPTION_KEYS

CHART_WEEKS: Final[int] = 12
REJECTED: Final[str] = "rejected"
UNDECIDED: Final[str] = "undecided"
# Stack order, bottom to top: the five actions mildest first, then sent back, then undecided.
CATEGORIES: Final[tuple[str, ...]] = (*OPTION_KEYS, REJECTED, UNDECIDED)


@dataclass(frozen=True)
class WeeklyActions:
    """Incidents reported in each of `weeks` (oldest first), per category of CATEGORIES."""

    weeks: tuple[Week, ...]
    counts: dict[str, tuple[int, ...]]

    def total(self, category: str) -> int:
        return sum(self.counts.get(category, ()))

    @property
    def decided(self) -> dict[str, int]:
        """Decisions among these incidents, per action (what the chart sets beside the survey)."""
        return {key: self.total(key) for key in OPTION_KEYS}


def chart_weeks(week: Week, tz: ZoneInfo, count: int = CHART_WEEKS) -> tuple[Week, ...]:
    """`count` ISO weeks ending with `week`, oldest first."""
    monday = week.start.date()
    return tuple(week_of(monday - timedelta(weeks=back), tz) for back in range(count - 1, -1, -1))


def category(decided_action: str | None, status: str) -> str:
    """What an incident counts as in the chart: its decided action (also once closed), sent
    back when rejected, else undecided."""
    if decided_action in OPTION_KEYS:
        return decided_action
    if status == REJECTED:
        return REJECTED
    return UNDECIDED


def stack(
    weeks: tuple[Week, ...], rows: Iterable[tuple[int, str | None, str, int]]
) -> WeeklyActions:
    """Rows of (week index into `weeks`, decided action, status, incidents) → the stacked series."""
    counts = {key: [0] * len(weeks) for key in CATEGORIES}
    for index, decided_action, status, number in rows:
        if 0 <= index < len(weeks):
            counts[category(decided_action, status)][index] += int(number)
    return WeeklyActions(weeks, {key: tuple(values) for key, values in counts.items()})
