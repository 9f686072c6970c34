"""Words for an assessment: reasons, quotes, deadlines and text bars, in the user's language.

Shared by the CLI report, `assess --json` and the Slack message builders.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime

from bot.domain.engine import Assessment, FactorReason
from bot.domain.i18n import t
from bot.domain.playbook import Playbook
from bot.domain.survey import SurveyAnswer
from bot.domain.vocabulary import BUCKETED_ANSWERS, OptionKey

BAR_WIDTH = 20
_WEEKDAYS_JA = "月火水木金土日"


def percent(share: float) -> str:
    return f"{share * 100:.0f}%"


def bar(share: float, width: int = BAR_WIDTH) -> str:
    filled = round(share * width)
    return "█" * filled + "░" * (width - filled)


def format_moment(moment: datetime, lang: str) -> str:
    if lang == "ja":
        weekday = _WEEKDAYS_JA[moment.weekday()]
        return f"{moment.year}年{moment.month}月{moment.day}日({weekday}) {moment:%H:%M}"
    return f"{moment:%a} {moment.day} {moment:%b %Y %H:%M} {moment.tzname() or ''}".strip()


def format_date(moment: datetime, lang: str) -> str:
    if lang == "ja":
        return f"{moment.year}年{moment.month}月{moment.day}日({_WEEKDAYS_JA[moment.weekday()]})"
    return f"{moment:%a} {moment.day} {moment:%b %Y}"


def option_label(playbook: Playbook, key: OptionKey, lang: str) -> str:
    return playbook.option_labels[key].get(lang)


def fact(playbook: Playbook, factor: str, value: str, lang: str) -> str:
    """ "Cause: Intentional (theft or misuse)" — a stated fact in words."""
    if factor in BUCKETED_ANSWERS:
        return t(lang, f"fact.{factor}.{value}")
    question = playbook.question(factor)
    return f"{question.label.get(lang)}: {question.choice(value).label.get(lang)}"


def factor_reason(playbook: Playbook, reason: FactorReason, top: OptionKey, lang: str) -> str:
    params = {
        "fact": fact(playbook, reason.factor, reason.value, lang),
        "why": reason.effect.why.get(lang),
        "option": option_label(playbook, top, lang),
        "delta": f"{abs(reason.delta) * 100:.0f}",
        "direction": t(lang, "reason.up" if reason.delta >= 0 else "reason.down"),
    }
    if reason.effect.answers:
        numbers = ", ".join(f"#{n}" for n in reason.effect.answers)
        return t(lang, "reason.factor", answers=numbers, **params)
    return t(lang, "reason.factor_no_answers", **params)


def quote(answer: SurveyAnswer, lang: str) -> str:
    return t(
        lang,
        "reason.quote",
        comment=answer.comment(lang).replace("\n", " "),
        age=t(lang, f"age.{answer.age_band}"),
        occupation=t(lang, f"occupation.{answer.occupation}"),
        number=answer.number,
    )


def factor_reasons(playbook: Playbook, assessment: Assessment, lang: str) -> list[str]:
    if not assessment.factors:
        share = percent(assessment.survey[assessment.recommendation])
        return [t(lang, "reason.nothing_known", share=share)]
    return [factor_reason(playbook, r, assessment.recommendation, lang) for r in assessment.factors]


def reasons(playbook: Playbook, assessment: Assessment, lang: str) -> list[str]:
    """Reasons as sentences: the factors that moved the result most, then respondents' words."""
    lines = factor_reasons(playbook, assessment, lang)
    lines += [quote(answer, lang) for answer in assessment.quotes]
    lines += [note.get(lang) for note in assessment.notes]
    return lines


def display_width(text: str) -> int:
    """Terminal columns: wide and full-width (CJK) characters take two, combining marks none."""
    return sum(
        0 if unicodedata.combining(char) else 2 if unicodedata.east_asian_width(char) in "WF" else 1
        for char in text
    )


def pad_to_width(text: str, width: int) -> str:
    """`text` padded with spaces to `width` terminal columns (`str.ljust` counts characters)."""
    return text + " " * max(0, width - display_width(text))


def distribution_lines(playbook: Playbook, assessment: Assessment, lang: str) -> list[str]:
    width = max(display_width(option_label(playbook, key, lang)) for key in assessment.distribution)
    lines = []
    for key, share in assessment.distribution.items():
        mark = "▶" if key == assessment.recommendation else " "
        label = pad_to_width(option_label(playbook, key, lang), width)
        survey = percent(assessment.survey[key])
        lines.append(f"{mark} {label} {bar(share)} {percent(share):>4}  ▏{survey:>4}")
    return lines


def deadline_lines(assessment: Assessment, lang: str) -> list[str]:
    lines = []
    for deadline in assessment.deadlines:
        due = format_moment(deadline.due, lang)
        if deadline.overdue_at is not None:
            due += " / " + t(
                lang, "deadline.overdue_after", date=format_date(deadline.overdue_at, lang)
            )
        lines.append(
            t(
                lang,
                "deadline.line",
                label=deadline.label(lang),
                due=due,
                source=deadline.source(lang),
            )
        )
    return lines


def report_text(playbook: Playbook, assessment: Assessment, lang: str) -> str:
    """The readable report of `leakbot assess` (plain text, for a terminal)."""
    top = option_label(playbook, assessment.recommendation, lang)
    out = [t(lang, "report.title", option=top), "", t(lang, "report.distribution")]
    out += distribution_lines(playbook, assessment, lang)
    out += ["", t(lang, "report.reasons")]
    out += [f"- {line}" for line in factor_reasons(playbook, assessment, lang)]
    if assessment.quotes:
        key = "report.comments" if assessment.quotes_match_case else "report.comments_general"
        out += ["", t(lang, key)]
        out += [f"- {quote(answer, lang)}" for answer in assessment.quotes]
    out += ["", t(lang, "report.deadlines")]
    out += [f"- {line}" for line in deadline_lines(assessment, lang)]
    if not any(d.rule.regulator for d in assessment.deadlines):
        out.append(f"  ({t(lang, 'report.no_deadlines')})")
    out += ["", t(lang, "report.checklist")]
    out += [f"[ ] {item.get(lang)}" for item in assessment.checklist]
    if assessment.notes:
        out += ["", t(lang, "report.notes")]
        out += [f"! {note.get(lang)}" for note in assessment.notes]
    out += ["", t(lang, "report.survey_basis")]
    return "\n".join(out)


def assessment_json(playbook: Playbook, assessment: Assessment, lang: str) -> dict[str, object]:
    """The exact object of `leakbot assess --json` (docs/contracts.md)."""
    return {
        "recommendation": assessment.recommendation,
        "distribution": dict(assessment.distribution),
        "survey": dict(assessment.survey),
        "reasons": reasons(playbook, assessment, lang),
        "deadlines": [
            {"id": d.id, "due": d.due.isoformat(), "source": d.source(lang)}
            for d in assessment.deadlines
        ],
        "checklist": [item.get(lang) for item in assessment.checklist],
    }
