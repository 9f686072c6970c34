"""Japanese business days and working hours, with national holidays from the `holidays` library."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

# Years whose holidays were read elsewhere (the server: bot/holiday_table.py, by a child
# process): the same dates as the library's, without its ~11 MB in this process.
_remembered: dict[int, frozenset[date]] = {}


def remember_japanese_holidays(table: Mapping[int, frozenset[date]]) -> None:
    """Use `table` (year → that year's national holidays, as `japanese_holidays_from_library`
    gives them) instead of the library for those years."""
    _remembered.update(table)


@lru_cache(maxsize=64)
def japanese_holidays_from_library(year: int) -> frozenset[date]:
    """`year`'s national holidays, from the `holidays` library: imported at the first call, not
    at start (its `country_holidays` loads all its countries: ~11 MB and ~80 ms)."""
    import holidays

    return frozenset(holidays.country_holidays("JP", years=year).keys())


def _japan_holidays(year: int) -> frozenset[date]:
    remembered = _remembered.get(year)
    return remembered if remembered is not None else japanese_holidays_from_library(year)


def holiday_calendar_version() -> str:
    """Which national holidays `is_japanese_holiday` knows: the `holidays` library's version (a
    new release may add or move one). Read from its metadata, without importing it."""
    from importlib.metadata import version

    return version("holidays")


def is_japanese_holiday(day: date) -> bool:
    return day in _japan_holidays(day.year)


def is_year_end_closure(day: date) -> bool:
    """Dec 29 – Jan 3, which the PPC's day counting treats like a holiday."""
    return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and not is_japanese_holiday(day) and not is_year_end_closure(day)


def next_business_day_on_or_after(day: date) -> date:
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def end_of_day(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=tz)


def add_working_hours(
    start: datetime,
    hours: float,
    *,
    tz: ZoneInfo,
    start_hour: int = 9,
    end_hour: int = 18,
    weekdays_only: bool = True,
    skip_holidays: bool = True,
) -> datetime:
    """The moment `hours` of working time after `start` (working time = [start_hour, end_hour)
    on working days in `tz`)."""
    remaining = timedelta(hours=hours)
    cursor = start.astimezone(tz)

    def working(day: date) -> bool:
        if weekdays_only and day.weekday() >= 5:
            return False
        return not (skip_holidays and (is_japanese_holiday(day) or is_year_end_closure(day)))

    for _ in range(3660):  # ten years of days: a bound, not an expected path
        day = cursor.date()
        opens = datetime.combine(day, time(start_hour), tzinfo=tz)
        closes = (
            datetime.combine(day, time(end_hour), tzinfo=tz)
            if end_hour < 24
            else datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
        )
        if working(day) and cursor < closes:
            cursor = max(cursor, opens)
            available = closes - cursor
            if remaining <= available:
                return cursor + remaining
            remaining -= available
        cursor = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    raise ValueError("working hours never reach the requested time")
