"""The documents a compliance officer sends after a partner's leak, as data for a template.

Pure: from the incident's answers, its deadlines and its recommendation to a context dict that a
template in `playbooks/documents/` turns into words (bot/documents.py renders it). The context
holds facts and codes only; every sentence lives in the templates, so a company can reword them.

What the answers leave open stays None (an empty list for several-of answers): a template writes
調査中 / "under investigation" there and never a guessed value. Every text fact (what a person
typed, the playbook's labels, dates) is wrapped in `Verbatim` so that the renderer escapes it for
the output format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, get_args
from zoneinfo import ZoneInfo

from bot.domain.answers import Answers
from bot.domain.deadlines import APPI_PERSONS_THRESHOLD, WRONGFUL_CAUSES
from bot.domain.playbook import Playbook
from bot.domain.vocabulary import PERSONAL_DATA_KINDS

DocumentKind = Literal[
    "ppc_preliminary",
    "ppc_final",
    "partner_request",
    "notice_persons",
    "gdpr_art33",
    "us_ca_notice",
]
DOCUMENT_KINDS: Final[tuple[DocumentKind, ...]] = get_args(DocumentKind)

# The deadlines each document answers (the partner letter: the partner's two).
DOCUMENT_DEADLINES: Final[dict[DocumentKind, tuple[str, ...]]] = {
    "ppc_preliminary": ("appi_preliminary",),
    "ppc_final": ("appi_final",),
    "partner_request": ("partner_initial", "partner_report"),
    "notice_persons": ("appi_notify_persons",),
    "gdpr_art33": ("gdpr_authority",),
    "us_ca_notice": ("us_ca_notice",),
}

_DATA_SUBJECTS: Final = (("customer_personal", "customers"), ("employee_personal", "employees"))
_JA_WEEKDAYS: Final = "月火水木金土日"
_EN_WEEKDAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTHS: Final = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


class Verbatim(str):
    """A fact's text (typed by a person, or a label from the playbook), not a template's markup.

    The renderer escapes it for the output format, so a partner called "*A* | B" stays literal.
    """

    __slots__ = ()


@dataclass(frozen=True)
class DeadlineFact:
    """One running clock as a document needs it: which one, when, and the rule that sets it."""

    id: str
    due: datetime
    source: str | None = None


@dataclass(frozen=True)
class IncidentFacts:
    """Everything a document is drafted from; nothing else is known to the templates."""

    answers: Answers
    deadlines: Sequence[DeadlineFact]
    recommendation: str | None
    now: datetime
    tz: ZoneInfo
    decided_action: str | None = None
    incident_id: str | None = None
    company_name: str | None = None
    company_contact: str | None = None


def format_date(moment: datetime, lang: str) -> str:
    """2026年11月29日（日） / Sunday, 29 November 2026."""
    if lang == "ja":
        return f"{moment.year}年{moment.month}月{moment.day}日（{_JA_WEEKDAYS[moment.weekday()]}）"
    weekday, month = _EN_WEEKDAYS[moment.weekday()], _EN_MONTHS[moment.month - 1]
    return f"{weekday}, {moment.day} {month} {moment.year}"


def format_moment(moment: datetime, lang: str) -> str:
    """The date as above and the local time with its zone's abbreviation (e.g. JST)."""
    zone = moment.tzname() or ""
    return f"{format_date(moment, lang)} {moment:%H:%M} {zone}".rstrip()


def format_count(number: int, lang: str) -> str:
    return f"{number:,}人" if lang == "ja" else f"{number:,}"


def _label(playbook: Playbook, question_id: str, value: str, lang: str) -> str:
    try:
        return playbook.question(question_id).choice(value).label.get(lang)
    except KeyError:  # a value a newer playbook removed: show the stable key
        return value


def reportable_cases(answers: Answers) -> list[str] | None:
    """Which of PPC Rules Art. 7 items 1–4 the answers meet, as codes for the templates.

    None while the kinds of data are unknown; empty without personal data or when strongly
    encrypted. `*_possible` codes: the answer is unknown, and the guideline counts a possible case.
    """
    kinds = set(answers.several("data_kinds"))
    if not kinds:
        return None
    if not kinds & PERSONAL_DATA_KINDS or answers.choice("encrypted") == "yes":
        return []
    cases: list[str] = []
    if "sensitive_personal" in kinds:
        cases.append("sensitive")  # 1号
    if "financial" in kinds:
        cases.append("financial")  # 2号
    cause = answers.choice("cause")
    if cause in WRONGFUL_CAUSES:
        cases.append("wrongful")  # 3号
    elif cause == "unknown":
        cases.append("wrongful_possible")
    persons = answers.integer("affected_persons")
    if persons is None:
        cases.append("over_1000_possible")  # 4号
    elif persons > APPI_PERSONS_THRESHOLD:
        cases.append("over_1000")
    return cases


def not_applicable_reasons(kind: DocumentKind, facts: IncidentFacts) -> list[str]:
    """Why this document may not be required here (codes; empty: it applies).

    A document applies when the deadline it answers runs for this incident; the codes say which
    answer made the clock not run, so the person can check that answer.
    """
    wanted = DOCUMENT_DEADLINES[kind]
    if kind == "partner_request" or any(d.id in wanted for d in facts.deadlines):
        return []
    answers = facts.answers
    kinds = set(answers.several("data_kinds"))
    regions = set(answers.several("regions"))
    reasons: list[str] = []
    if not kinds:
        reasons.append("data_kinds_unknown")
    elif not kinds & PERSONAL_DATA_KINDS:
        reasons.append("no_personal_data")
    if answers.choice("encrypted") == "yes":
        # GDPR: an encrypted breach is still recorded (Art. 33(5)); the templates say so.
        reasons.append("encrypted_record_only" if kind == "gdpr_art33" else "encrypted")
    if kind == "gdpr_art33" and "eu" not in regions:
        reasons.append("regions_unknown" if not regions else "no_eu")
    if kind == "us_ca_notice" and "us_ca" not in regions:
        reasons.append("regions_unknown" if not regions else "no_us_ca")
    if kind in ("ppc_preliminary", "ppc_final", "notice_persons") and not reasons:
        reasons.append("no_reportable_case")
    return reasons or ["no_deadline"]


def _final_period_days(facts: IncidentFacts, aware_at: datetime) -> int | None:
    """30 or 60: read from the final report's due date (day of awareness is day 1)."""
    final = next((d for d in facts.deadlines if d.id == "appi_final"), None)
    if final is None:
        return None
    elapsed = (final.due.astimezone(facts.tz).date() - aware_at.date()).days + 1
    # A due day on a weekend or holiday moves by a few days: 30 → at most ~36, 60 → 60+.
    return 60 if elapsed > 45 else 30


def _deadline_context(deadline: DeadlineFact, tz: ZoneInfo, lang: str) -> dict[str, Any]:
    due = deadline.due.astimezone(tz)
    return {
        "id": deadline.id,
        "due": Verbatim(format_date(due, lang)),
        "due_moment": Verbatim(format_moment(due, lang)),
        "source": _text(deadline.source),
    }


def _text(text: str | None) -> Verbatim | None:
    return Verbatim(text) if text else None


def build_context(
    kind: DocumentKind, facts: IncidentFacts, playbook: Playbook, lang: str
) -> dict[str, Any]:
    """The template context: facts in words of `lang`, None (or []) where unknown."""
    answers = facts.answers
    tz = facts.tz
    aware = answers.moment("aware_at")
    aware_at = aware.astimezone(tz) if aware else None
    occurred = answers.moment("occurred_at")  # a playbook may add this question

    def one(question_id: str) -> dict[str, Any] | None:
        value = answers.choice(question_id)
        if value is None:
            return None
        return {"code": value, "label": Verbatim(_label(playbook, question_id, value, lang))}

    def several(question_id: str, *, drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        return [
            {"code": value, "label": Verbatim(_label(playbook, question_id, value, lang))}
            for value in answers.several(question_id)
            if value not in drop
        ]

    data_kinds = several("data_kinds")
    persons = answers.integer("affected_persons")
    relationship = one("relationship")
    contract_values = set(answers.several("contract"))
    deadlines = {d.id: _deadline_context(d, tz, lang) for d in facts.deadlines}
    cases = reportable_cases(answers)
    return {
        "kind": kind,
        "lang": lang,
        "incident_id": _text(facts.incident_id),
        "today": Verbatim(format_date(facts.now.astimezone(tz), lang)),
        "company": {
            "name": _text(facts.company_name),
            "contact": _text(facts.company_contact),
        },
        "partner": _text(answers.text("partner")),
        "description": _text(answers.text("description")),
        "aware_at": _text(format_moment(aware_at, lang) if aware_at else None),
        "aware_date": _text(format_date(aware_at, lang) if aware_at else None),
        "occurred_at": _text(format_date(occurred.astimezone(tz), lang) if occurred else None),
        "source": one("source"),
        "relationship": relationship,
        # True / False when the relationship is known, None when not.
        "entrusted": (relationship["code"] == "entrusted") if relationship else None,
        "data_kinds": data_kinds,
        "personal_data_kinds": [k for k in data_kinds if k["code"] in PERSONAL_DATA_KINDS],
        "other_data_kinds": [k for k in data_kinds if k["code"] not in PERSONAL_DATA_KINDS],
        # Whose data it is, where the kinds say so (codes: "customers", "employees").
        "data_subjects": [
            subject
            for kind_code, subject in _DATA_SUBJECTS
            if kind_code in answers.several("data_kinds")
        ],
        "affected_persons": _text(format_count(persons, lang) if persons is not None else None),
        "encrypted": one("encrypted"),
        "regions": several("regions"),
        "cause": one("cause"),
        "damage": one("damage"),
        "partner_response": one("partner_response"),
        # Terms we know the contract has; "none" and "unknown" are not terms.
        "contract_terms": several("contract", drop=("none", "unknown")),
        "contract_has_no_terms": "none" in contract_values,
        "reportable_cases": cases,
        "final_period_days": _final_period_days(facts, aware_at or facts.now.astimezone(tz)),
        "deadlines": deadlines,
        "recommendation": facts.recommendation,
        # The approved action, None until approvers decide (a letter cites only a decision).
        "decision": facts.decided_action,
        "not_applicable": not_applicable_reasons(kind, facts),
    }
