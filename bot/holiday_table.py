"""Japan's national holidays for the server, listed by a child (`python -m bot.holiday_table`).

Why a child: the `holidays` library loads every one of its ~250 countries to give one
(`country_holidays("JP")` imports the package `holidays.countries`, whose `__init__` imports them
all): ~11 MB of the server's memory for good and ~80 ms of CPU at the first deadline or
working-hours computation after a start, for a table of ~20 dates a year (bench/README.md,
"Issue 14, fifth pass"). The child lists the years around today and exits; the server gives the
table to the calendar (`bot.domain.calendar.remember_japanese_holidays`). A year outside it, or
a child that failed, is read from the library in the process, as before: the same dates.

    python -m bot.holiday_table --first 2025 --last 2029   # JSON on stdout
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date
from typing import Final

from bot.domain.calendar import holiday_calendar_version, japanese_holidays_from_library

# Around the current year: deadlines and escalations fall within days or weeks of now; an
# incident re-timed after a settings change may reach back a year or two.
YEARS_BACK: Final[int] = 2
YEARS_AHEAD: Final[int] = 3
CHILD_TIMEOUT_SECONDS: Final[float] = 30.0


class HolidayTableFailed(Exception):
    """The child failed or answered something else than the table."""


def table_json(first: int, last: int) -> str:
    """The holidays of years `first`..`last` (the library's, in this process) as JSON."""
    years = {
        str(year): sorted(day.isoformat() for day in japanese_holidays_from_library(year))
        for year in range(first, last + 1)
    }
    return json.dumps({"version": holiday_calendar_version(), "years": years})


def parse_table(text: bytes, first: int, last: int) -> dict[int, frozenset[date]]:
    """The child's answer; HolidayTableFailed unless it is the table of exactly those years,
    from the library version this process has."""
    try:
        answer = json.loads(text)
        version = answer["version"]
        listed = answer["years"].items()
        years = {int(year): frozenset(map(date.fromisoformat, days)) for year, days in listed}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise HolidayTableFailed(f"unreadable answer: {type(exc).__name__}: {exc}") from None
    if version != holiday_calendar_version():
        raise HolidayTableFailed(f"the child read holidays {version}, this process has another")
    if set(years) != set(range(first, last + 1)):
        raise HolidayTableFailed(f"the child listed years {sorted(years)}")
    return years


async def read_in_child(
    first: int, last: int, *, timeout: float = CHILD_TIMEOUT_SECONDS
) -> dict[int, frozenset[date]]:
    """The holidays of years `first`..`last`, listed by a child process."""
    from bot.python_child import ChildTimedOut, run_python

    arguments = ["-m", "bot.holiday_table", "--first", str(first), "--last", str(last)]
    try:
        result = await run_python(arguments, timeout=timeout)
    except ChildTimedOut as exc:
        raise HolidayTableFailed(str(exc)) from None
    if result.returncode != 0:
        detail = result.last_error_line("no reason given")
        raise HolidayTableFailed(f"the child exited {result.returncode}: {detail}")
    return parse_table(result.stdout, first, last)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.holiday_table")
    parser.add_argument("--first", type=int, required=True, help="first year")
    parser.add_argument("--last", type=int, required=True, help="last year")
    args = parser.parse_args(argv)
    if args.last < args.first:
        print("--last is before --first", file=sys.stderr)
        return 2
    try:
        sys.stdout.write(table_json(args.first, args.last))
    except Exception as exc:  # one line on stderr: the parent logs it
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
