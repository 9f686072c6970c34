"""bot/holiday_table.py: Japan's holidays listed by a child process for the server, the same
dates as the library's, and the calendar using them without importing the library."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from fresh_interpreter import run_json

from bot.domain import calendar
from bot.domain.calendar import holiday_calendar_version, japanese_holidays_from_library
from bot.holiday_table import HolidayTableFailed, parse_table, read_in_child, table_json
from bot.server import remember_holidays

JST = ZoneInfo("Asia/Tokyo")


@dataclass
class FixedClock:
    moment: datetime

    def now(self) -> datetime:
        return self.moment


@pytest.fixture(autouse=True)
def forget_remembered() -> None:
    """Each test starts with nothing remembered (the table is the process's)."""
    calendar._remembered.clear()


def test_the_table_is_the_librarys() -> None:
    table = parse_table(table_json(2024, 2027).encode(), 2024, 2027)
    assert set(table) == {2024, 2025, 2026, 2027}
    for year, days in table.items():
        assert days == japanese_holidays_from_library(year)
    assert date(2026, 5, 5) in table[2026]  # Children's Day
    assert date(2026, 11, 23) in table[2026]  # Labour Thanksgiving Day


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (b"not json", "unreadable answer"),
        (b'{"years": {}}', "unreadable answer"),
        (b'{"version": "0.0", "years": {"2026": []}}', "this process has another"),
        (b'{"version": "V", "years": {"2026": ["2026-13-01"]}}', "unreadable answer"),
        (b'{"version": "V", "years": {"2026": []}}', "listed years [2026]"),
    ],
)
def test_an_answer_that_is_not_the_table_is_refused(answer: bytes, reason: str) -> None:
    answer = answer.replace(b'"V"', json.dumps(holiday_calendar_version()).encode())
    with pytest.raises(HolidayTableFailed, match=reason.replace("[", r"\[")):
        parse_table(answer, 2026, 2027)


async def test_a_child_lists_the_years() -> None:
    table = await read_in_child(2025, 2026)
    assert table == {
        2025: japanese_holidays_from_library(2025),
        2026: japanese_holidays_from_library(2026),
    }


def test_the_child_refuses_years_backwards() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.holiday_table", "--first", "2027", "--last", "2026"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert "--last is before --first" in result.stderr


async def test_the_server_remembers_the_years_around_now() -> None:
    await remember_holidays(FixedClock(datetime(2026, 12, 31, 16, 0, tzinfo=UTC)), JST)
    # 2027-01-01 01:00 in Tokyo: the years around 2027.
    assert sorted(calendar._remembered) == [2025, 2026, 2027, 2028, 2029, 2030]
    assert calendar._remembered[2027] == japanese_holidays_from_library(2027)


def test_with_the_table_the_calendar_never_imports_the_library() -> None:
    """In a fresh interpreter: the server's way (the child's table), then business days of
    remembered years; a year outside the table is read from the library, as before."""
    probe = """
import asyncio, json, sys
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo
from bot.domain.calendar import is_business_day, next_business_day_on_or_after
from bot.server import remember_holidays

class Clock:
    def now(self):
        return datetime(2026, 12, 4, tzinfo=UTC)

asyncio.run(remember_holidays(Clock(), ZoneInfo("Asia/Tokyo")))
answers = [is_business_day(date(2026, 11, 23)), is_business_day(date(2026, 11, 24)),
           next_business_day_on_or_after(date(2026, 12, 29)).isoformat()]
before = "holidays" in sys.modules
answers.append(is_business_day(date(2040, 11, 23)))  # a Friday holiday, not in the table
print(json.dumps([answers, before, "holidays" in sys.modules]))
"""
    answers, imported_with_table, imported_after = run_json(probe)
    # Nov 23 is a holiday; Dec 29 – Jan 3 is the year-end closure.
    assert answers == [False, True, "2027-01-04", False]
    assert (imported_with_table, imported_after) == (False, True)
