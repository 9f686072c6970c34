"""Legal and contractual deadlines (docs/contracts.md, "Deadlines"), shipped playbook."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.answers import Answers, parse_answers
from bot.domain.deadlines import Deadline, appi_reportable, compute_deadlines
from bot.domain.playbook import load_playbook

TOKYO = ZoneInfo("Asia/Tokyo")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
PLAYBOOK = load_playbook()
APPI = {"appi_preliminary", "appi_final", "appi_notify_persons"}
# A personal-data case that APPI makes reportable (unknown count = possibly over 1,000).
REPORTABLE = {"data_kinds": ["customer_personal"], "encrypted": "no"}


def _answers(raw: dict[str, Any], *, tz: ZoneInfo = TOKYO, now: datetime | None = None) -> Answers:
    now = now or datetime(2030, 1, 1, tzinfo=tz)
    return parse_answers(raw, PLAYBOOK, tz=tz, now=now, partial=True)


def _deadlines(
    raw: dict[str, Any], *, tz: ZoneInfo = TOKYO, now: datetime | None = None
) -> dict[str, Deadline]:
    now = now or datetime(2030, 1, 1, tzinfo=tz)
    found = compute_deadlines(_answers(raw, tz=tz, now=now), PLAYBOOK, tz=tz, now=now)
    ids = [d.id for d in found]
    assert len(set(ids)) == len(ids)
    return {d.id: d for d in found}


def _end_of(day: date, tz: ZoneInfo = TOKYO) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=tz)


# --- examples (docs/contracts.md, "Deadlines") ---------------------------------------------------


def test_final_report_skips_year_end() -> None:
    found = _deadlines({**REPORTABLE, "aware_at": "2026-12-02T15:00"})
    assert set(found) >= APPI
    # Day 1 is Dec 2, day 30 is Dec 31 (year-end closure) → Mon Jan 4, 2027.
    assert found["appi_final"].due == _end_of(date(2027, 1, 4))
    assert found["appi_final"].due.isoformat() == "2027-01-04T23:59:59+09:00"


def test_final_report_sixty_days_for_an_attack() -> None:
    found = _deadlines(
        {**REPORTABLE, "cause": "external_attack", "affected_persons": 10, "aware_at": "2026-11-26"}
    )
    # Day 60 is Sun Jan 24, 2027 → Mon Jan 25.
    assert found["appi_final"].due.date() == date(2027, 1, 25)


def test_final_report_sixty_days_when_intentional() -> None:
    found = _deadlines({**REPORTABLE, "cause": "intentional", "aware_at": "2026-04-01T09:00"})
    nominal = date(2026, 4, 1) + timedelta(days=59)  # May 30, 2026: a Saturday
    assert found["appi_final"].due.date() == date(2026, 6, 1)
    assert nominal.weekday() == 5


def test_small_negligent_leak_is_not_reportable() -> None:
    raw = {
        "data_kinds": ["customer_personal"],
        "encrypted": "no",
        "affected_persons": 500,
        "cause": "negligence",
        "aware_at": "2026-11-26T10:00",
    }
    found = _deadlines(raw)
    assert not APPI & set(found)
    assert "partner_report" in found
    assert found["partner_report"].due == _end_of(date(2026, 12, 3))
    assert not appi_reportable(_answers(raw))


@pytest.mark.parametrize(
    ("change", "reportable"),
    [
        ({}, True),  # unknown count: possibly more than 1,000
        ({"affected_persons": 1000}, False),
        ({"affected_persons": 1001}, True),
        ({"affected_persons": 5, "data_kinds": ["sensitive_personal"]}, True),
        ({"affected_persons": 5, "data_kinds": ["financial"]}, True),
        ({"affected_persons": 5, "cause": "intentional"}, True),
        ({"affected_persons": 5, "cause": "external_attack"}, True),
        ({"affected_persons": 5, "cause": "unknown"}, False),
        ({"affected_persons": 5000, "encrypted": "yes"}, False),
        ({"affected_persons": 5000, "encrypted": "unknown"}, True),
        ({"data_kinds": ["financial"], "encrypted": "yes"}, False),
        ({"data_kinds": ["employee_personal"]}, True),
        ({"data_kinds": ["trade_secret", "management_critical"]}, False),
        ({"data_kinds": []}, False),
    ],
)
def test_when_appi_applies(change: dict[str, Any], reportable: bool) -> None:
    raw = {**REPORTABLE, "aware_at": "2026-11-26T10:00", **change}
    found = _deadlines(raw)
    assert (set(found) >= APPI) is reportable
    assert not (APPI & set(found)) or reportable
    assert appi_reportable(_answers(raw)) is reportable
    assert "partner_report" in found


def test_nothing_known_only_partner_report() -> None:
    now = datetime(2026, 11, 26, 10, 0, tzinfo=TOKYO)
    found = _deadlines({}, now=now)
    assert set(found) == {"partner_report"}
    assert found["partner_report"].due == _end_of(date(2026, 12, 3))  # awareness defaults to now


def test_gdpr_exactly_72_hours() -> None:
    found = _deadlines({**REPORTABLE, "regions": ["eu"], "aware_at": "2026-11-26T09:30"})
    aware = datetime(2026, 11, 26, 9, 30, tzinfo=TOKYO)
    assert found["gdpr_authority"].due == aware + timedelta(hours=72)
    assert found["gdpr_authority"].due.isoformat() == "2026-11-29T09:30:00+09:00"


def test_gdpr_applies_even_when_appi_does_not() -> None:
    found = _deadlines(
        {
            "data_kinds": ["customer_personal"],
            "encrypted": "yes",
            "regions": ["eu", "jp"],
            "aware_at": "2026-11-26T09:30",
        }
    )
    assert "gdpr_authority" in found
    assert not APPI & set(found)


def test_regions_need_personal_data() -> None:
    found = _deadlines(
        {"data_kinds": ["trade_secret"], "regions": ["eu", "us_ca"], "aware_at": "2026-11-26"}
    )
    assert set(found) == {"partner_report"}


def test_california_thirty_days() -> None:
    found = _deadlines({**REPORTABLE, "regions": ["us_ca"], "aware_at": "2026-11-26T10:00"})
    assert found["us_ca_notice"].due.date() == date(2026, 11, 26) + timedelta(days=30)
    assert found["us_ca_notice"].due == _end_of(date(2026, 12, 26))
    assert "gdpr_authority" not in found


def test_encrypted_yes_no_appi() -> None:
    found = _deadlines(
        {
            "data_kinds": ["customer_personal", "sensitive_personal"],
            "encrypted": "yes",
            "cause": "intentional",
            "aware_at": "2026-11-26T10:00",
        }
    )
    assert not APPI & set(found)


def test_preliminary_three_days_overdue_after_five() -> None:
    found = _deadlines({**REPORTABLE, "aware_at": "2026-11-26T10:00"})
    preliminary = found["appi_preliminary"]
    assert preliminary.due == _end_of(date(2026, 11, 29))
    assert preliminary.overdue_at == _end_of(date(2026, 12, 1))
    notify = found["appi_notify_persons"]
    assert notify.due == preliminary.due  # the same "promptly" target
    assert found["appi_final"].overdue_at is None


def test_sorted_by_due_date() -> None:
    found = compute_deadlines(
        _answers({**REPORTABLE, "regions": ["eu", "us_ca"], "aware_at": "2026-11-26T10:00"}),
        PLAYBOOK,
        tz=TOKYO,
        now=datetime(2030, 1, 1, tzinfo=TOKYO),
    )
    assert [d.due for d in found] == sorted(d.due for d in found)
    for deadline in found:
        assert deadline.source("ja") and deadline.source("en")
        assert deadline.label("ja") and deadline.label("en")


def test_time_without_offset_is_in_the_configured_zone() -> None:
    answers = _answers({**REPORTABLE, "regions": ["eu"], "aware_at": "2026-11-26T23:30"})
    aware = answers.moment("aware_at")
    assert aware is not None and aware.utcoffset() == timedelta(hours=9)
    found = _deadlines({**REPORTABLE, "regions": ["eu"], "aware_at": "2026-11-26T23:30"})
    for deadline in found.values():
        assert deadline.due.isoformat().endswith("+09:00"), deadline.id
    assert found["gdpr_authority"].due.isoformat() == "2026-11-29T23:30:00+09:00"


def test_time_with_offset_is_converted_to_the_configured_zone() -> None:
    # 16:00 UTC on Nov 26 is 01:00 on Nov 27 in Tokyo: the Tokyo date counts.
    found = _deadlines({**REPORTABLE, "regions": ["eu"], "aware_at": "2026-11-26T16:00:00Z"})
    assert found["partner_report"].due == _end_of(date(2026, 12, 4))
    assert found["gdpr_authority"].due.isoformat() == "2026-11-30T01:00:00+09:00"


def test_another_time_zone() -> None:
    now = datetime(2027, 1, 1, tzinfo=LOS_ANGELES)
    found = _deadlines(
        {**REPORTABLE, "regions": ["eu", "us_ca"], "aware_at": "2026-12-02T15:00"},
        tz=LOS_ANGELES,
        now=now,
    )
    for deadline in found.values():
        assert deadline.due.tzinfo is not None
        assert deadline.due.utcoffset() == timedelta(hours=-8), deadline.id
    assert found["appi_final"].due.isoformat() == "2027-01-04T23:59:59-08:00"
    assert found["gdpr_authority"].due.isoformat() == "2026-12-05T15:00:00-08:00"
    assert found["us_ca_notice"].due.date() == date(2027, 1, 1)


def test_gdpr_72_elapsed_hours_across_daylight_saving() -> None:
    # DST starts in Los Angeles on Sun Mar 8, 2026: 72 real hours end at 13:00 PDT, not 12:00.
    now = datetime(2026, 4, 1, tzinfo=LOS_ANGELES)
    found = _deadlines(
        {**REPORTABLE, "regions": ["eu"], "aware_at": "2026-03-06T12:00"},
        tz=LOS_ANGELES,
        now=now,
    )
    due = found["gdpr_authority"].due
    aware = datetime(2026, 3, 6, 12, 0, tzinfo=LOS_ANGELES)
    assert due.astimezone(UTC) - aware.astimezone(UTC) == timedelta(hours=72)
    assert due.isoformat() == "2026-03-09T13:00:00-07:00"


# --- properties ---------------------------------------------------------------------------------

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

JP_HOLIDAYS = holidays.country_holidays("JP", years=range(2024, 2032))


def _oracle_business_day(day: date) -> bool:
    year_end = (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)
    return day.weekday() < 5 and day not in JP_HOLIDAYS and not year_end


aware_moments = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31, 23, 59)
).map(lambda moment: moment.replace(second=0, microsecond=0))


@SETTINGS
@given(
    aware=aware_moments,
    cause=st.sampled_from(["intentional", "negligence", "external_attack", "unknown"]),
)
def test_final_report_due_day_is_the_first_business_day(aware: datetime, cause: str) -> None:
    raw = {**REPORTABLE, "cause": cause, "aware_at": aware.isoformat()}
    found = _deadlines(raw, now=datetime(2031, 1, 1, tzinfo=TOKYO))
    wrongful = cause in ("intentional", "external_attack")
    nominal = aware.date() + timedelta(days=59 if wrongful else 29)
    due = found["appi_final"].due
    assert due.tzinfo is not None and due.utcoffset() == timedelta(hours=9)
    assert due.time() == time(23, 59, 59)
    assert due.date() >= nominal
    assert _oracle_business_day(due.date())
    day = nominal
    while day < due.date():
        assert not _oracle_business_day(day), day
        day += timedelta(days=1)
    # The partner's report comes early enough to feed the final report.
    assert found["partner_report"].due <= due - timedelta(days=7)
    assert found["partner_report"].due <= _end_of(aware.date() + timedelta(days=7))
    assert found["appi_preliminary"].due == _end_of(aware.date() + timedelta(days=3))
    assert found["appi_preliminary"].overdue_at == _end_of(aware.date() + timedelta(days=5))


@SETTINGS
@given(aware=aware_moments, regions=st.lists(st.sampled_from(["jp", "eu", "us_ca", "other"])))
def test_every_deadline_after_awareness(aware: datetime, regions: list[str]) -> None:
    raw = {**REPORTABLE, "regions": regions, "aware_at": aware.isoformat()}
    found = _deadlines(raw, now=datetime(2031, 1, 1, tzinfo=TOKYO))
    aware_at = aware.replace(tzinfo=TOKYO)
    for deadline in found.values():
        assert deadline.due > aware_at, deadline.id
    assert ("gdpr_authority" in found) is ("eu" in regions)
    assert ("us_ca_notice" in found) is ("us_ca" in regions)
    if "gdpr_authority" in found:
        assert found["gdpr_authority"].due - aware_at == timedelta(hours=72)
