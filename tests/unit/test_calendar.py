"""Japanese business days and working hours (bot/domain/calendar.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.calendar import (
    add_working_hours,
    end_of_day,
    is_business_day,
    is_japanese_holiday,
    is_year_end_closure,
    next_business_day_on_or_after,
)

TOKYO = ZoneInfo("Asia/Tokyo")


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TOKYO)


@pytest.mark.parametrize(
    ("day", "business"),
    [
        (date(2026, 11, 26), True),  # Thursday
        (date(2026, 11, 28), False),  # Saturday
        (date(2026, 11, 29), False),  # Sunday
        (date(2026, 11, 23), False),  # 勤労感謝の日 (Monday)
        (date(2026, 11, 3), False),  # 文化の日
        (date(2026, 12, 28), True),
        (date(2026, 12, 29), False),  # year-end closure, a Tuesday
        (date(2026, 12, 31), False),
        (date(2027, 1, 1), False),
        (date(2027, 1, 3), False),
        (date(2027, 1, 4), True),
        (date(2027, 1, 11), False),  # 成人の日
        (date(2026, 9, 22), False),  # 国民の休日 between 敬老の日 and 秋分の日
        (date(2025, 5, 6), False),  # 振替休日
    ],
)
def test_business_days(day: date, business: bool) -> None:
    assert is_business_day(day) is business


def test_holiday_and_closure_helpers() -> None:
    assert is_japanese_holiday(date(2027, 1, 1))
    assert not is_japanese_holiday(date(2026, 12, 29))
    assert is_year_end_closure(date(2026, 12, 29))
    assert is_year_end_closure(date(2027, 1, 3))
    assert not is_year_end_closure(date(2026, 12, 28))
    assert not is_year_end_closure(date(2027, 1, 4))


def test_next_business_day() -> None:
    assert next_business_day_on_or_after(date(2026, 11, 26)) == date(2026, 11, 26)
    assert next_business_day_on_or_after(date(2026, 11, 28)) == date(2026, 11, 30)
    assert next_business_day_on_or_after(date(2026, 11, 21)) == date(2026, 11, 24)
    assert next_business_day_on_or_after(date(2026, 12, 29)) == date(2027, 1, 4)
    # Golden Week 2026: May 3 (Sun) … May 6 (振替休日).
    assert next_business_day_on_or_after(date(2026, 5, 2)) == date(2026, 5, 7)


def test_end_of_day() -> None:
    end = end_of_day(date(2026, 11, 26), TOKYO)
    assert end.isoformat() == "2026-11-26T23:59:59+09:00"


JP = holidays.country_holidays("JP", years=range(2024, 2032))


@settings(max_examples=300, deadline=None)
@given(st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)))
def test_business_days_match_the_holiday_library(day: date) -> None:
    closure = (day.month, day.day) >= (12, 29) or (day.month, day.day) <= (1, 3)
    assert is_business_day(day) is (day.weekday() < 5 and day not in JP and not closure)
    following = next_business_day_on_or_after(day)
    assert following >= day and is_business_day(following)
    assert all(not is_business_day(day + timedelta(days=n)) for n in range((following - day).days))


# --- working hours ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (at(2026, 11, 26, 10), 2, at(2026, 11, 26, 12)),  # inside one day
        (at(2026, 11, 26, 17), 1, at(2026, 11, 26, 18)),  # ends exactly at closing
        (at(2026, 11, 26, 17), 2, at(2026, 11, 27, 10)),  # into the next morning
        (at(2026, 11, 27, 17), 2, at(2026, 11, 30, 10)),  # Friday → Monday (weekend)
        (at(2026, 11, 20, 17), 2, at(2026, 11, 24, 10)),  # Friday → Tuesday (Mon is a holiday)
        (at(2026, 12, 28, 17), 2, at(2027, 1, 4, 10)),  # year end → Jan 4
        (at(2026, 11, 28, 12), 1, at(2026, 11, 30, 10)),  # starts on a Saturday
        (at(2026, 11, 26, 7), 1, at(2026, 11, 26, 10)),  # starts before opening
        (at(2026, 11, 26, 19), 1, at(2026, 11, 27, 10)),  # starts after closing
        (at(2026, 11, 23, 12), 1, at(2026, 11, 24, 10)),  # starts on a holiday
        (at(2026, 11, 26, 10), 9, at(2026, 11, 27, 10)),  # a full working day
        (at(2026, 11, 26, 10), 0.5, at(2026, 11, 26, 10, 30)),
        (at(2026, 11, 26, 10), 27, at(2026, 12, 1, 10)),  # Thu → Fri → Mon → Tue
    ],
)
def test_add_working_hours(start: datetime, hours: float, expected: datetime) -> None:
    assert add_working_hours(start, hours, tz=TOKYO) == expected


def test_add_working_hours_converts_the_start() -> None:
    start = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo
    result = add_working_hours(start, 1, tz=TOKYO)
    assert result == at(2026, 11, 26, 11)
    assert result.utcoffset() == timedelta(hours=9)


def test_add_working_hours_options() -> None:
    saturday = at(2026, 11, 28, 12)
    assert add_working_hours(saturday, 1, tz=TOKYO, weekdays_only=False) == at(2026, 11, 28, 13)
    holiday = at(2026, 11, 23, 12)
    assert add_working_hours(holiday, 1, tz=TOKYO, skip_holidays=False) == at(2026, 11, 23, 13)
    assert add_working_hours(at(2026, 11, 26, 22), 3, tz=TOKYO, start_hour=0, end_hour=24) == at(
        2026, 11, 27, 1
    )
    assert add_working_hours(at(2026, 11, 26, 8), 2, tz=TOKYO, start_hour=8, end_hour=9) == at(
        2026, 11, 27, 9
    )


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 1)),
    minutes=st.integers(min_value=1, max_value=60 * 60),
)
def test_working_hours_properties(start: datetime, minutes: int) -> None:
    begin = start.replace(tzinfo=TOKYO)
    hours = minutes / 60
    result = add_working_hours(begin, hours, tz=TOKYO)
    assert result > begin
    assert result - begin >= timedelta(hours=hours)
    assert is_business_day(result.date())
    assert time(9) < result.time() <= time(18)
    # More working time never ends earlier.
    assert add_working_hours(begin, hours + 0.5, tz=TOKYO) > result
