"""Words for an assessment: counts of respondents, reasons, quotes, deadlines, in ja and en.

Shared by the CLI report, `assess --json` and the Slack message builders.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime

from bot.domain.deadlines import Deadline
from bot.domain.engine import Assessment, Fact, Move
from bot.domain.i18n import t
from bot.domain.playbook import Playbook
from bot.domain.survey import SurveyAnswer
from bot.domain.vocabulary import OPTION_KEYS, OptionKey

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


def fact_clause(fact: Fact, lang: str) -> str:
    """A known answer as a clause: "the leak was intentional" / 「漏洩が故意による」."""
    answer_id, value = fact
    if answer_id == "prior_incidents":
        number = int(value)
        key = "none" if number == 0 else "one" if number == 1 else "several"
        return t(lang, f"panel.fact.prior_incidents.{key}", count=f"{number:,}")
    if answer_id == "affected_persons":
        return t(lang, "panel.fact.affected_persons", count=f"{int(value):,}")
    return t(lang, f"panel.fact.{answer_id}.{value}")


def facts_clause(facts: tuple[Fact, ...], lang: str) -> str:
    return t(lang, "panel.fact_and").join(fact_clause(fact, lang) for fact in facts)


def quote(answer: SurveyAnswer, lang: str, text: str | None = None) -> str:
    """A respondent's words with who they are: 「…」（30代/会社員、回答 #14）."""
    return t(
        lang,
        "reason.quote",
        comment=(text if text is not None else answer.comment(lang)).replace("\n", " "),
        age=t(lang, f"age.{answer.age_band}"),
        occupation=t(lang, f"occupation.{answer.occupation}"),
        number=answer.number,
    )


def quote_sections(assessment: Assessment, lang: str) -> list[tuple[str, list[str]]]:
    """Quotes under the recommendation, titled: "under the same conditions" only for words said
    under a condition that holds in this case, the others as respondents who take this action."""
    same = [q for q in assessment.quotes if q.stance is not None]
    others = [q for q in assessment.quotes if q.stance is None]
    sections: list[tuple[str, list[str]]] = []
    for key, quotes in (("panel.quotes_same", same), ("panel.quotes_general", others)):
        if quotes:
            sections.append((t(lang, key), [quote(q.answer, lang, q.text(lang)) for q in quotes]))
    return sections


def _move_groups(assessment: Assessment) -> list[list[Move]]:
    """Respondents who change their answer, grouped by the facts that move them and where to:
    those who move to the recommended reaction first, then the largest group first."""
    groups: dict[tuple[tuple[Fact, ...], OptionKey], list[Move]] = {}
    for move in assessment.moves:
        groups.setdefault((move.facts, move.reaction), []).append(move)
    top = assessment.recommendation
    return sorted(
        groups.values(),
        key=lambda moves: (moves[0].reaction != top, -len(moves), moves[0].number),
    )


def median_line(playbook: Playbook, assessment: Assessment, lang: str) -> str:
    top = assessment.recommendation
    return t(
        lang,
        "panel.median",
        total=assessment.total,
        position=assessment.median_position,
        action=option_label(playbook, top, lang),
        count=assessment.final[top],
    )


def split_line(playbook: Playbook, assessment: Assessment, lang: str) -> str | None:
    if assessment.split is None:
        return None
    first, second = assessment.split
    return t(
        lang,
        "panel.split",
        total=assessment.total,
        action_a=option_label(playbook, first, lang),
        count_a=assessment.final[first],
        action_b=option_label(playbook, second, lang),
        count_b=assessment.final[second],
    )


def panel_reasons(playbook: Playbook, assessment: Assessment, lang: str) -> list[str]:
    """Why, as sentences: the median, a split panel, the respondents who change their answer
    (grouped, one quote each), the policy rules that moved anyone, the facts only policy speaks
    to, and notes. Every number is a count of respondents."""
    lines = [median_line(playbook, assessment, lang)]
    split = split_line(playbook, assessment, lang)
    if split:
        lines.append(split)
    groups = _move_groups(assessment)
    if not groups:
        lines.append(t(lang, "panel.as_answered", total=assessment.total))
    for moves in groups[: playbook.limits.max_reason_factors]:
        first = moves[0]
        line = t(
            lang,
            "panel.moved",
            total=assessment.total,
            count=len(moves),
            action=option_label(playbook, first.reaction, lang),
            facts=facts_clause(first.facts, lang),
            quote=first.stance.words(lang),
            number=first.number,
        )
        if first.final != first.reaction:  # a policy rule below puts them elsewhere
            line += t(lang, "panel.moved_then", action=option_label(playbook, first.final, lang))
        lines.append(line)
    for result in assessment.policies:
        if result.moved == 0:
            continue
        policy = result.policy
        lines.append(
            t(
                lang,
                "panel.policy_up" if policy.at_least is not None else "panel.policy_down",
                label=t(lang, f"panel.policy_kind.{policy.kind}"),
                text=policy.text.get(lang),
                total=assessment.total,
                count=result.moved,
                action=option_label(playbook, policy.bound, lang),
            )
        )
    if assessment.silent_facts:
        separator = t(lang, "panel.fact_separator")
        facts = separator.join(fact_clause(fact, lang) for fact in assessment.silent_facts)
        lines.append(t(lang, "panel.silent", facts=facts))
    lines += [note.get(lang) for note in assessment.notes]
    return lines


def reasons(playbook: Playbook, assessment: Assessment, lang: str) -> list[str]:
    """The reasons of `assess --json` and the reports (quotes are listed separately)."""
    return panel_reasons(playbook, assessment, lang)


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
    """One line per reaction: the count in this case (after policy) and in the survey."""
    width = max(display_width(option_label(playbook, key, lang)) for key in OPTION_KEYS)
    digits = len(str(assessment.total))  # counts right-aligned: the columns line up
    lines = []
    for key in OPTION_KEYS:
        mark = "▶" if key == assessment.recommendation else " "
        label = pad_to_width(option_label(playbook, key, lang), width)
        count = t(
            lang,
            "panel.row",
            count=f"{assessment.final[key]:>{digits}}",
            total=assessment.total,
            survey=f"{assessment.survey_counts[key]:>{digits}}",
        )
        lines.append(f"{mark} {label} {bar(assessment.distribution[key])} {count}")
    return lines


def deadline_lines(assessment: Assessment, lang: str) -> list[str]:
    lines = []
    for deadline in assessment.deadlines:
        due = format_moment(deadline.due, lang)
        if deadline.overdue_after is not None:
            due += " / " + t(
                lang, "deadline.overdue_after", date=format_date(deadline.overdue_after, lang)
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
    out = [t(lang, "report.title", option=top), ""]
    out += [t(lang, "panel.heading", total=assessment.total)]
    out += distribution_lines(playbook, assessment, lang)
    out += ["", t(lang, "report.reasons")]
    out += [f"- {line}" for line in reasons(playbook, assessment, lang)]
    for heading, lines in quote_sections(assessment, lang):
        out += ["", heading]
        out += [f"- {line}" for line in lines]
    out += ["", t(lang, "report.deadlines")]
    out += [f"- {line}" for line in deadline_lines(assessment, lang)]
    if not any(d.rule.regulator for d in assessment.deadlines):
        out.append(f"  ({t(lang, 'report.no_deadlines')})")
    out += ["", t(lang, "report.checklist")]
    out += [f"[ ] {item.get(lang)}" for item in assessment.checklist]
    out += ["", t(lang, "report.survey_basis")]
    return "\n".join(out)


def _deadline_json(deadline: Deadline, lang: str) -> dict[str, object]:
    overdue_after = deadline.overdue_after
    return {
        "id": deadline.id,
        "due": deadline.due.isoformat(),
        "overdue_after": overdue_after.isoformat() if overdue_after else None,
        "overdue": deadline.overdue,
        "basis": deadline.basis.get(lang),
        "source": deadline.source(lang),
    }


def assessment_json(playbook: Playbook, assessment: Assessment, lang: str) -> dict[str, object]:
    """The exact object of `leakbot assess --json` (docs/contracts.md)."""
    return {
        "recommendation": assessment.recommendation,
        "distribution": assessment.distribution,
        "survey": assessment.survey,
        "panel": {"counts": dict(assessment.counts), "final": dict(assessment.final)},
        "moved": [
            {
                "answer": move.number,
                "from": move.choice,
                "to": move.reaction,
                "when": ", ".join(f"{answer_id}:{value}" for answer_id, value in move.facts),
                "quote": move.stance.quote,
            }
            for move in assessment.moves
        ],
        "policies": [
            {
                "id": result.policy.id,
                "kind": result.policy.kind,
                "text": result.policy.text.get(lang),
                "moved": result.moved,
            }
            for result in assessment.policies
        ],
        "quotes": [
            {"answer": q.answer.number, "reaction": q.reaction, "text": q.text(lang)}
            for q in assessment.quotes
        ],
        "reasons": reasons(playbook, assessment, lang),
        "deadlines": [_deadline_json(d, lang) for d in assessment.deadlines],
        "checklist": [item.get(lang) for item in assessment.checklist],
    }
