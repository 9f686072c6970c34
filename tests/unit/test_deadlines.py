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
from bot.domain.playbook import Playbook, load_playbook

TOKYO = ZoneInfo("Asia/Tokyo")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
PLAYBOOK = load_playbook()
APPI = {"appi_preliminary", "appi_final", "appi_notify_persons"}
# A personal-data case that APPI makes reportable (unknown count = possibly over 1,000); the cause
# is stated, because an unknown cause is a possibly wrongful purpose (60-day final report).
REPORTABLE = {"data_kinds": ["customer_personal"], "encrypted": "no", "cause": "negligence"}


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
    # 14 days from Thu Nov 26 (no final report caps it).
    assert found["partner_report"].due == _end_of(date(2026, 12, 10))
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
        ({"affected_persons": 5, "cause": "unknown"}, True),  # possibly wrongful (Rule 7(iii))
        ({"affected_persons": 5, "cause": None}, True),  # not answered = unknown
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
    raw = {key: value for key, value in raw.items() if value is not None}
    found = _deadlines(raw)
    assert (set(found) >= APPI) is reportable
    assert not (APPI & set(found)) or reportable
    assert appi_reportable(_answers(raw)) is reportable
    assert "partner_report" in found


def test_nothing_known_only_partner_deadlines() -> None:
    now = datetime(2026, 11, 26, 10, 0, tzinfo=TOKYO)
    found = _deadlines({}, now=now)
    assert set(found) == {"partner_initial", "partner_report"}
    # Awareness defaults to now: Thu Nov 26 + 2 and + 14 days.
    assert found["partner_initial"].due == _end_of(date(2026, 11, 28))
    assert found["partner_report"].due == _end_of(date(2026, 12, 10))


def test_gdpr_exactly_72_hours() -> None:
    found = _deadlines({**REPORTABLE, "regions": ["eu"], "aware_at": "2026-11-26T09:30"})
    aware = datetime(2026, 11, 26, 9, 30, tzinfo=TOKYO)
    assert found["gdpr_authority"].due == aware + timedelta(hours=72)
    assert found["gdpr_authority"].due.isoformat() == "2026-11-29T09:30:00+09:00"


def test_gdpr_applies_even_when_appi_does_not() -> None:
    found = _deadlines(
        {
            "data_kinds": ["customer_personal"],
            "encrypted": "no",
            "cause": "negligence",
            "affected_persons": 20,
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
    assert set(found) == {"partner_initial", "partner_report"}


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
    # Thu Nov 26 + 3 = Sun Nov 29 → Mon Nov 30; + 5 = Tue Dec 1 (a business day).
    assert preliminary.due == _end_of(date(2026, 11, 30))
    assert preliminary.overdue_after == _end_of(date(2026, 12, 1))
    notify = found["appi_notify_persons"]
    assert notify.due == preliminary.due  # the same "promptly" target
    assert found["appi_final"].overdue_after is None


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
    assert found["partner_report"].due == _end_of(date(2026, 12, 11))  # Nov 27 + 14
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


# --- issue 10: new rules (hand-checked against a calendar) -------------------------------------


def _variant(**rules: dict[str, Any]) -> Playbook:
    """The shipped playbook with some deadline rules changed (a company's own tuning)."""
    deadlines = dict(PLAYBOOK.deadlines)
    for deadline_id, change in rules.items():
        deadlines[deadline_id] = deadlines[deadline_id].model_copy(update=change)  # type: ignore[index]
    return PLAYBOOK.model_copy(update={"deadlines": deadlines})


def test_partner_initial_two_days_from_awareness() -> None:
    found = _deadlines({**REPORTABLE, "aware_at": "2026-12-30T18:00"})
    # Wed Dec 30 + 2 = Fri Jan 1: the partner's facts are not moved past the year end.
    assert found["partner_initial"].due == _end_of(date(2027, 1, 1))
    # 速報: Dec 30 + 3 = Sat Jan 2 (closure to Jan 3) → Mon Jan 4.
    assert found["appi_preliminary"].due == _end_of(date(2027, 1, 4))
    assert found["partner_initial"].basis.en.startswith("Every incident")
    assert "速報" in found["partner_initial"].basis.ja  # never after the preliminary report


def test_partner_initial_never_after_the_preliminary_report() -> None:
    tight = _variant(appi_preliminary={"days": 1, "skip_non_business_days": False})
    answers = _answers({**REPORTABLE, "aware_at": "2026-11-26T10:00"})
    found = {
        d.id: d
        for d in compute_deadlines(answers, tight, tz=TOKYO, now=datetime(2030, 1, 1, tzinfo=TOKYO))
    }
    assert found["appi_preliminary"].due == _end_of(date(2026, 11, 27))
    assert found["partner_initial"].due == _end_of(date(2026, 11, 27))  # not Nov 28


def test_partner_report_fourteen_days_and_ten_before_the_final_report() -> None:
    found = _deadlines({**REPORTABLE, "aware_at": "2026-12-02T15:00"})
    # Dec 2 + 14 = Dec 16; the final report is due Mon Jan 4, 2027 (10 days before: Dec 25).
    assert found["partner_report"].due == _end_of(date(2026, 12, 16))
    assert "10 days before" in found["partner_report"].basis.en
    assert "10日前" in found["partner_report"].basis.ja
    # A company giving its partners 30 days: capped at Dec 25, 10 days before Jan 4.
    generous = _variant(partner_report={"days": 30})
    answers = _answers({**REPORTABLE, "aware_at": "2026-12-02T15:00"})
    capped = {
        d.id: d
        for d in compute_deadlines(
            answers, generous, tz=TOKYO, now=datetime(2030, 1, 1, tzinfo=TOKYO)
        )
    }
    assert capped["partner_report"].due == _end_of(date(2026, 12, 25))
    # Without a final report (not reportable), the 30 days run in full: Jan 1, 2027.
    small = _answers({**REPORTABLE, "affected_persons": 10, "aware_at": "2026-12-02T15:00"})
    uncapped = {
        d.id: d
        for d in compute_deadlines(
            small, generous, tz=TOKYO, now=datetime(2030, 1, 1, tzinfo=TOKYO)
        )
    }
    assert "appi_final" not in uncapped
    assert uncapped["partner_report"].due == _end_of(date(2027, 1, 1))


@pytest.mark.parametrize(
    ("action", "asked"),
    [
        ("continue_unchanged", False),
        ("continue_with_concern", True),
        ("request_report", True),
        ("consider_suspension", True),
        ("suspend_and_legal", True),
    ],
)
def test_partner_report_unless_trading_continues_unchanged(action: str, asked: bool) -> None:
    now = datetime(2030, 1, 1, tzinfo=TOKYO)
    answers = _answers({**REPORTABLE, "aware_at": "2026-11-26T10:00"})
    found = {
        d.id: d
        for d in compute_deadlines(answers, PLAYBOOK, tz=TOKYO, now=now, action=action)  # type: ignore[arg-type]
    }
    assert ("partner_report" in found) is asked
    assert "partner_initial" in found  # always
    if asked:
        label = PLAYBOOK.option_labels[action]  # type: ignore[index]
        assert label.ja in found["partner_report"].basis.ja
        assert label.en in found["partner_report"].basis.en


def test_cause_unknown_is_a_possibly_wrongful_purpose() -> None:
    raw = {**REPORTABLE, "cause": "unknown", "affected_persons": 5, "aware_at": "2026-11-26T10:00"}
    found = _deadlines(raw)
    assert set(found) >= APPI
    # Day 60 is Sun Jan 24, 2027 → Mon Jan 25 (as for an attack).
    assert found["appi_final"].due == _end_of(date(2027, 1, 25))
    basis = found["appi_final"].basis
    assert "規則7条3号" in basis.ja and "原因不明" in basis.ja and "60日" in basis.ja
    assert "cause unknown" in basis.en and "possibly a wrongful purpose" in basis.en
    assert "60 days" in basis.en
    assert "60日" not in found["appi_preliminary"].basis.ja


@pytest.mark.parametrize(
    ("change", "ja", "en"),
    [
        ({"data_kinds": ["sensitive_personal"]}, "規則7条1号 要配慮個人情報", "Art. 7(i)"),
        ({"data_kinds": ["financial"]}, "規則7条2号", "Art. 7(ii)"),
        ({"cause": "intentional"}, "規則7条3号 不正の目的によるおそれ（故意）", "(intentional)"),
        ({"cause": "external_attack"}, "（外部からの攻撃）", "(external attack)"),
        (
            {"affected_persons": 1001},
            "本人の数が1,000人超（1,001人）",
            "more than 1,000 persons (1,001)",
        ),
        ({"affected_persons": None}, "人数不明", "number of persons unknown"),
    ],
)
def test_appi_basis_names_the_rule(change: dict[str, Any], ja: str, en: str) -> None:
    raw = {**REPORTABLE, "affected_persons": 5, "aware_at": "2026-11-26T10:00", **change}
    found = _deadlines({key: value for key, value in raw.items() if value is not None})
    for deadline_id in APPI:
        assert ja in found[deadline_id].basis.ja, deadline_id
        assert en in found[deadline_id].basis.en, deadline_id
    assert "規則7条3号" not in found["appi_preliminary"].basis.ja or "cause" in change


def test_shared_data_asks_counsel_who_reports() -> None:
    found = _deadlines({**REPORTABLE, "relationship": "shared", "aware_at": "2026-11-26T10:00"})
    assert "弁護士に確認" in found["appi_preliminary"].basis.ja
    assert "ask counsel" in found["appi_final"].basis.en
    entrusted = _deadlines({**REPORTABLE, "relationship": "entrusted", "aware_at": "2026-11-26"})
    assert "counsel" not in entrusted["appi_final"].basis.en


@pytest.mark.parametrize(
    ("aware_at", "due", "overdue_after"),
    [
        # Fri Dec 25, 2026: + 3 = Mon Dec 28 (open); + 5 = Wed Dec 30 (closed to Jan 3) → Mon Jan 4.
        ("2026-12-25T10:00", date(2026, 12, 28), date(2027, 1, 4)),
        # Sat Dec 26: + 3 = Tue Dec 29 → Mon Jan 4; + 5 = Thu Dec 31 → Mon Jan 4.
        ("2026-12-26T10:00", date(2027, 1, 4), date(2027, 1, 4)),
        # Golden Week 2026: Thu Apr 30 + 3 = Sun May 3; May 4, 5 and the substitute holiday
        # May 6 follow → Thu May 7; + 5 = Tue May 5 → Thu May 7.
        ("2026-04-30T10:00", date(2026, 5, 7), date(2026, 5, 7)),
        # Golden Week 2027: Tue Apr 27 + 3 = Fri Apr 30 (open); + 5 = Sun May 2, then May 3–5
        # → Thu May 6.
        ("2027-04-27T10:00", date(2027, 4, 30), date(2027, 5, 6)),
        # Mon Apr 26, 2027 + 3 = Thu Apr 29 (Showa Day) → Fri Apr 30; + 5 = Sat May 1 → Thu May 6.
        ("2027-04-26T10:00", date(2027, 4, 30), date(2027, 5, 6)),
        # An ordinary week: Mon Nov 16, 2026 + 3 = Thu Nov 19; + 5 = Sat Nov 21 → Mon Nov 23
        # is Labour Thanksgiving Day → Tue Nov 24.
        ("2026-11-16T10:00", date(2026, 11, 19), date(2026, 11, 24)),
    ],
)
def test_preliminary_report_skips_closed_days(
    aware_at: str, due: date, overdue_after: date
) -> None:
    found = _deadlines({**REPORTABLE, "aware_at": aware_at})
    assert found["appi_preliminary"].due == _end_of(due)
    assert found["appi_preliminary"].overdue_after == _end_of(overdue_after)
    assert found["appi_notify_persons"].due == _end_of(due)


def test_california_attorney_general_over_500_residents() -> None:
    raw = {**REPORTABLE, "regions": ["us_ca"], "aware_at": "2026-11-26T10:00"}
    found = _deadlines({**raw, "affected_persons": 600})
    # Notice: Nov 26 + 30 = Sat Dec 26 (calendar days); Attorney General: + 15 = Sun Jan 10, 2027.
    assert found["us_ca_notice"].due == _end_of(date(2026, 12, 26))
    assert found["us_ca_ag"].due == _end_of(date(2027, 1, 10))
    assert "600" in found["us_ca_ag"].basis.en and "500" in found["us_ca_ag"].basis.ja
    assert "us_ca_ag" not in _deadlines({**raw, "affected_persons": 500})
    unknown = _deadlines(raw)
    assert unknown["us_ca_ag"].due == _end_of(date(2027, 1, 10))
    assert "possibly more than 500" in unknown["us_ca_ag"].basis.en
    assert "人数不明" in unknown["us_ca_ag"].basis.ja


def test_strong_encryption_lifts_california_and_gdpr_is_record_only() -> None:
    found = _deadlines(
        {
            "data_kinds": ["customer_personal"],
            "encrypted": "yes",
            "affected_persons": 5000,
            "regions": ["eu", "us_ca"],
            "aware_at": "2026-11-26T09:30",
        }
    )
    assert set(found) == {"partner_initial", "partner_report", "gdpr_record"}
    record = found["gdpr_record"]
    assert record.due.isoformat() == "2026-11-29T09:30:00+09:00"
    assert not record.rule.regulator
    assert "33条5項" in record.basis.ja and "Art. 33(5)" in record.basis.en
    assert "33(5)" in record.source("en") and "33条5項" in record.source("ja")
    for encrypted in ("no", "unknown"):
        plain = _deadlines(
            {
                "data_kinds": ["customer_personal"],
                "encrypted": encrypted,
                "affected_persons": 5000,
                "regions": ["eu", "us_ca"],
                "aware_at": "2026-11-26T09:30",
            }
        )
        assert {"gdpr_authority", "us_ca_notice", "us_ca_ag"} <= set(plain)
        assert "gdpr_record" not in plain


def test_overdue_against_now() -> None:
    raw = {**REPORTABLE, "regions": ["eu"], "aware_at": "2026-11-26T10:00"}
    # 速報: due Mon Nov 30, overdue after Tue Dec 1 (end of day).
    on_due_day_evening = datetime(2026, 12, 1, 12, 0, tzinfo=TOKYO)
    found = _deadlines(raw, now=on_due_day_evening)
    assert found["appi_preliminary"].due < on_due_day_evening
    assert found["appi_preliminary"].overdue is False  # past the target, not yet overdue
    assert found["gdpr_authority"].overdue is True  # Nov 29 10:00 has passed
    assert found["partner_initial"].overdue is True  # Sat Nov 28
    assert found["appi_final"].overdue is False
    later = _deadlines(raw, now=datetime(2026, 12, 2, 0, 0, tzinfo=TOKYO))
    assert later["appi_preliminary"].overdue is True
    earlier = _deadlines(raw, now=datetime(2026, 11, 26, 10, 0, tzinfo=TOKYO))
    assert not any(d.overdue for d in earlier.values())
    for deadline in earlier.values():
        if deadline.id != "appi_preliminary":
            assert deadline.overdue_after is None, deadline.id


def test_every_deadline_has_a_basis_in_both_languages() -> None:
    raw = {**REPORTABLE, "regions": ["eu", "us_ca", "jp"], "aware_at": "2026-11-26T10:00"}
    found = _deadlines(raw)
    assert set(found) == {
        "partner_initial",
        "partner_report",
        *APPI,
        "gdpr_authority",
        "us_ca_notice",
        "us_ca_ag",
    }
    for deadline in found.values():
        assert deadline.basis.ja and deadline.basis.en, deadline.id
        assert deadline.basis.ja != deadline.basis.en, deadline.id


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
    wrongful = cause in ("intentional", "external_attack", "unknown")
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
    assert found["partner_report"].due <= due - timedelta(days=10)
    assert found["partner_report"].due <= _end_of(aware.date() + timedelta(days=14))
    # 速報: the first business day on or after day +3 (target) and day +5 (overdue after).
    for deadline_id, days, moment in (
        ("appi_preliminary", 3, found["appi_preliminary"].due),
        ("appi_preliminary", 5, found["appi_preliminary"].overdue_after),
        ("appi_notify_persons", 3, found["appi_notify_persons"].due),
    ):
        assert moment is not None and moment.time() == time(23, 59, 59), deadline_id
        nominal_day = aware.date() + timedelta(days=days)
        assert moment.date() >= nominal_day, deadline_id
        assert _oracle_business_day(moment.date()), deadline_id
        day = nominal_day
        while day < moment.date():
            assert not _oracle_business_day(day), (deadline_id, day)
            day += timedelta(days=1)
    # The partner's first facts come no later than the preliminary report's target.
    assert found["partner_initial"].due <= found["appi_preliminary"].due


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


# --- the playbook's deadline references ---------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"partner_report": {"not_after": "partner_initial"}}, "partner_report.not_after"),
        ({"us_ca_ag": {"counted_from": "us_ca_ag"}}, "us_ca_ag.counted_from"),
        # partner_report is capped by appi_final, which then is no longer counted from awareness.
        ({"appi_final": {"counted_from": "us_ca_notice"}}, "appi_final must be a deadline"),
        ({"us_ca_notice": None}, "us_ca_notice is not in the playbook"),
        ({"us_ca_ag": {"counted_from": "gdpr_authority", "days": None, "hours": 1}}, "needs"),
    ],
)
def test_playbook_refuses_deadline_references_it_cannot_count(
    change: dict[str, Any], message: str
) -> None:
    data = PLAYBOOK.model_dump(mode="json")
    for deadline_id, update in change.items():
        if update is None:
            del data["deadlines"][deadline_id]
        else:
            data["deadlines"][deadline_id].update(update)
    with pytest.raises(ValueError, match=message):
        Playbook.model_validate(data, context={"survey": PLAYBOOK.loaded_survey})


def test_the_shipped_playbook_validates_again() -> None:
    data = PLAYBOOK.model_dump(mode="json")
    again = Playbook.model_validate(data, context={"survey": PLAYBOOK.loaded_survey})
    assert again.deadlines == PLAYBOOK.deadlines
