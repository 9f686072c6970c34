"""Legal and contractual clocks that start when we become aware of a leak.

Not legal advice: each deadline carries its source (the rule's text) and its basis (why it applies
to this case) so that counsel can check it. Which deadlines apply is law and lives here; how long
each one runs is the playbook's data (docs/contracts.md, "Deadlines and duties").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain.answers import Answers
from bot.domain.calendar import end_of_day, next_business_day_on_or_after
from bot.domain.i18n import t
from bot.domain.playbook import DeadlineId, DeadlineRule, Playbook
from bot.domain.text import LANGS, Localized
from bot.domain.vocabulary import PERSONAL_DATA_KINDS, OptionKey

APPI_PERSONS_THRESHOLD = 1000
CA_AG_RESIDENTS_THRESHOLD = 500
WRONGFUL_CAUSES = frozenset({"intentional", "external_attack"})
# The action after which the partner is not asked for a report.
NO_REPORT_ACTION: OptionKey = "continue_unchanged"


@dataclass(frozen=True)
class Deadline:
    """One clock for this case: due (the target), when it counts as overdue, and why it applies."""

    id: DeadlineId
    due: datetime
    rule: DeadlineRule
    basis: Localized
    # Past this moment the deadline is overdue; None: overdue as soon as `due` has passed.
    overdue_after: datetime | None = None
    # Whether `now` (given to compute_deadlines) is past overdue_after, or past due without one.
    overdue: bool = False

    @property
    def overdue_at(self) -> datetime | None:
        """Former name of `overdue_after`, kept for callers not yet moved."""
        return self.overdue_after

    def source(self, lang: str) -> str:
        return self.rule.source.get(lang)

    def label(self, lang: str) -> str:
        return self.rule.label.get(lang)


def has_personal_data(answers: Answers) -> bool:
    return bool(PERSONAL_DATA_KINDS & set(answers.several("data_kinds")))


def _strongly_encrypted(answers: Answers) -> bool:
    return answers.choice("encrypted") == "yes"


def _possibly_wrongful(answers: Answers) -> bool:
    """規則7条3号 covers a *possible* wrongful purpose: an unknown cause cannot rule it out.
    An absent answer is unknown, like `cause=unknown`."""
    cause = answers.choice("cause")
    return cause is None or cause == "unknown" or cause in WRONGFUL_CAUSES


# A reason why a deadline applies: a catalog key and its parameters (a Localized one per language).
Basis = tuple[str, dict[str, object]]


def _localized(bases: list[Basis]) -> Localized:
    def text(lang: str, key: str, params: dict[str, object]) -> str:
        values = {k: v.get(lang) if isinstance(v, Localized) else v for k, v in params.items()}
        return t(lang, key, **values)

    texts = {
        lang: t(lang, "basis.separator").join(text(lang, key, params) for key, params in bases)
        for lang in LANGS
    }
    return Localized(**texts)


def appi_bases(answers: Answers) -> list[Basis]:
    """The reportable cases of PPC Rules Art. 7 that this case meets (catalog keys, params);
    empty when APPI reporting does not apply (no personal data, or strongly encrypted)."""
    if not has_personal_data(answers) or _strongly_encrypted(answers):
        return []
    kinds = set(answers.several("data_kinds"))
    persons = answers.integer("affected_persons")
    cause = answers.choice("cause")
    bases: list[Basis] = []
    if "sensitive_personal" in kinds:
        bases.append(("basis.appi_sensitive", {}))
    if "financial" in kinds:
        bases.append(("basis.appi_financial", {}))
    if cause == "intentional":
        bases.append(("basis.appi_intentional", {}))
    elif cause == "external_attack":
        bases.append(("basis.appi_attack", {}))
    elif cause is None or cause == "unknown":
        bases.append(("basis.appi_cause_unknown", {}))
    if persons is None:
        bases.append(("basis.appi_count_unknown", {}))
    elif persons > APPI_PERSONS_THRESHOLD:
        bases.append(("basis.appi_many", {"count": f"{persons:,}"}))
    return bases


def appi_reportable(answers: Answers) -> bool:
    """PPC guideline 3-5-3-1: personal data not strongly encrypted, and one of the four cases."""
    return bool(appi_bases(answers))


def _day_due(rule: DeadlineRule, start: date, days: int, tz: ZoneInfo) -> datetime:
    day = start + timedelta(days=days - (1 if rule.day_one_is_awareness else 0))
    if rule.skip_non_business_days:
        day = next_business_day_on_or_after(day)
    return end_of_day(day, tz)


def _due(rule: DeadlineRule, aware_at: datetime, tz: ZoneInfo, *, wrongful: bool) -> datetime:
    if rule.hours is not None:
        # Elapsed hours, not wall-clock hours: across a DST change (e.g. America/Los_Angeles)
        # adding to an aware datetime in the same zone would be an hour off.
        return (aware_at.astimezone(UTC) + timedelta(hours=rule.hours)).astimezone(tz)
    days = rule.days_wrongful if (wrongful and rule.days_wrongful is not None) else rule.days
    assert days is not None
    return _day_due(rule, aware_at.date(), days, tz)


def _overdue_after(rule: DeadlineRule, aware_at: datetime, tz: ZoneInfo) -> datetime | None:
    if rule.overdue_after_days is None:
        return None
    # The same day counting as the target: 速報 "overdue after 5 days" also skips closed days.
    return _day_due(rule, aware_at.date(), rule.overdue_after_days, tz)


def _applicable(
    answers: Answers, action: OptionKey | None, playbook: Playbook
) -> dict[DeadlineId, list[Basis]]:
    """Each deadline that applies to this case, with the reasons (catalog keys) why."""
    applies: dict[DeadlineId, list[Basis]] = {"partner_initial": [("basis.partner_initial", {})]}
    if action is None:
        applies["partner_report"] = [("basis.partner_report_undecided", {})]
    elif action != NO_REPORT_ACTION:
        label = playbook.option_labels[action]
        applies["partner_report"] = [("basis.partner_report", {"action": label})]
    appi = appi_bases(answers)
    if appi:
        if answers.choice("relationship") == "shared":
            appi = [*appi, ("basis.appi_shared", {})]
        applies["appi_preliminary"] = appi
        final = appi
        if _possibly_wrongful(answers):
            final = [*appi, ("basis.appi_sixty_days", {})]
        applies["appi_final"] = final
        applies["appi_notify_persons"] = appi
    regions = set(answers.several("regions"))
    if has_personal_data(answers) and "eu" in regions:
        if _strongly_encrypted(answers):
            applies["gdpr_record"] = [("basis.gdpr_record", {})]
        else:
            applies["gdpr_authority"] = [("basis.gdpr_authority", {})]
    if has_personal_data(answers) and "us_ca" in regions and not _strongly_encrypted(answers):
        applies["us_ca_notice"] = [("basis.us_ca_notice", {})]
        persons = answers.integer("affected_persons")
        # Only the total is asked: more than 500 in all may mean more than 500 Californians.
        if persons is None:
            applies["us_ca_ag"] = [("basis.us_ca_ag_unknown", {})]
        elif persons > CA_AG_RESIDENTS_THRESHOLD:
            applies["us_ca_ag"] = [("basis.us_ca_ag_many", {"count": f"{persons:,}"})]
    return applies


def compute_deadlines(
    answers: Answers,
    playbook: Playbook,
    *,
    tz: ZoneInfo,
    now: datetime,
    action: OptionKey | None = None,
) -> list[Deadline]:
    """The deadlines of this case, sorted by due time.

    `action` is the recommended (once decided: the decided) action; the partner's report is not
    asked for when trading continues unchanged. None (not known yet) keeps it.
    """
    aware_at = (answers.moment("aware_at") or now).astimezone(tz)
    wrongful = _possibly_wrongful(answers)
    applies = _applicable(answers, action, playbook)
    # Deadlines counted from awareness first; then those counted from or capped by them.
    dues: dict[DeadlineId, datetime] = {}
    for deadline_id in applies:
        rule = playbook.deadlines.get(deadline_id)
        if rule is not None and rule.counted_from is None:
            dues[deadline_id] = _due(rule, aware_at, tz, wrongful=wrongful)
    result: list[Deadline] = []
    for deadline_id, bases in applies.items():
        rule = playbook.deadlines.get(deadline_id)
        if rule is None:  # a playbook may switch a clock off by leaving it out
            continue
        due = dues.get(deadline_id)
        if rule.counted_from is not None:
            start = dues.get(rule.counted_from)
            if start is None:  # the deadline it counts from does not apply
                continue
            assert rule.days is not None  # the playbook validator requires it
            due = _day_due(rule, start.date(), rule.days, tz)
        assert due is not None
        cap = dues.get(rule.not_after) if rule.not_after else None
        if cap is not None:
            latest = end_of_day(cap.date() - timedelta(days=rule.days_before), tz)
            if rule.hours is None and latest < due:
                due = latest
            assert rule.not_after is not None
            cap_label = playbook.deadlines[rule.not_after].label
            if rule.days_before:
                bases = [
                    *bases,
                    ("basis.days_before", {"days": rule.days_before, "deadline": cap_label}),
                ]
            else:
                bases = [*bases, ("basis.not_after", {"deadline": cap_label})]
        overdue_after = _overdue_after(rule, aware_at, tz)
        overdue = now > (overdue_after or due)
        result.append(Deadline(deadline_id, due, rule, _localized(bases), overdue_after, overdue))
    return sorted(result, key=lambda d: (d.due, d.id))
