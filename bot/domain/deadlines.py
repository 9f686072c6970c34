"""Legal and contractual clocks that start when we become aware of a leak.

Not legal advice: each deadline carries its source so that counsel can check it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain.answers import Answers
from bot.domain.calendar import end_of_day, next_business_day_on_or_after
from bot.domain.playbook import DeadlineId, DeadlineRule, Playbook
from bot.domain.vocabulary import PERSONAL_DATA_KINDS

APPI_PERSONS_THRESHOLD = 1000
WRONGFUL_CAUSES = frozenset({"intentional", "external_attack"})
# The partner's report must arrive in time to feed the final APPI report.
PARTNER_REPORT_LEAD_DAYS = 7


@dataclass(frozen=True)
class Deadline:
    id: DeadlineId
    due: datetime
    rule: DeadlineRule
    overdue_at: datetime | None = None

    def source(self, lang: str) -> str:
        return self.rule.source.get(lang)

    def label(self, lang: str) -> str:
        return self.rule.label.get(lang)


def has_personal_data(answers: Answers) -> bool:
    return bool(PERSONAL_DATA_KINDS & set(answers.several("data_kinds")))


def appi_reportable(answers: Answers) -> bool:
    """PPC guideline 3-5-3-1: personal data not strongly encrypted, and one of the four cases."""
    if not has_personal_data(answers) or answers.choice("encrypted") == "yes":
        return False
    kinds = set(answers.several("data_kinds"))
    persons = answers.integer("affected_persons")
    return bool(
        "sensitive_personal" in kinds
        or "financial" in kinds
        or answers.choice("cause") in WRONGFUL_CAUSES
        or persons is None  # unknown counts as possibly more than 1,000
        or persons > APPI_PERSONS_THRESHOLD
    )


def _due(rule: DeadlineRule, aware_at: datetime, tz: ZoneInfo, *, wrongful: bool) -> datetime:
    if rule.hours is not None:
        # Elapsed hours, not wall-clock hours: across a DST change (e.g. America/Los_Angeles)
        # adding to an aware datetime in the same zone would be an hour off.
        return (aware_at.astimezone(UTC) + timedelta(hours=rule.hours)).astimezone(tz)
    days = rule.days_wrongful if (wrongful and rule.days_wrongful is not None) else rule.days
    assert days is not None
    day = aware_at.astimezone(tz).date() + timedelta(
        days=days - (1 if rule.day_one_is_awareness else 0)
    )
    if rule.skip_non_business_days:
        day = next_business_day_on_or_after(day)
    return end_of_day(day, tz)


def compute_deadlines(
    answers: Answers, playbook: Playbook, *, tz: ZoneInfo, now: datetime
) -> list[Deadline]:
    aware_at = (answers.moment("aware_at") or now).astimezone(tz)
    wrongful = answers.choice("cause") in WRONGFUL_CAUSES
    regions = set(answers.several("regions"))
    applies: list[DeadlineId] = ["partner_report"]
    if appi_reportable(answers):
        applies += ["appi_preliminary", "appi_final", "appi_notify_persons"]
    if has_personal_data(answers) and "eu" in regions:
        applies.append("gdpr_authority")
    if has_personal_data(answers) and "us_ca" in regions:
        applies.append("us_ca_notice")
    result: list[Deadline] = []
    for deadline_id in applies:
        rule = playbook.deadlines.get(deadline_id)
        if rule is None:  # a playbook may switch a clock off by leaving it out
            continue
        due = _due(rule, aware_at, tz, wrongful=wrongful)
        overdue_at = (
            end_of_day(aware_at.date() + timedelta(days=rule.overdue_after_days), tz)
            if rule.overdue_after_days is not None
            else None
        )
        result.append(Deadline(deadline_id, due, rule, overdue_at))
    final = next((d for d in result if d.id == "appi_final"), None)
    if final is not None:
        latest = end_of_day(final.due.date() - timedelta(days=PARTNER_REPORT_LEAD_DAYS), tz)
        result = [
            Deadline(d.id, min(d.due, latest), d.rule, d.overdue_at)
            if d.id == "partner_report"
            else d
            for d in result
        ]
    return sorted(result, key=lambda d: (d.due, d.id))
