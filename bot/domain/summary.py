"""The weekly summary: what happened in an ISO week, beside the survey, in ja and en.

The store aggregates (so that a million incidents stay fast); this module only shapes and words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from bot.domain.explain import bar, format_date, format_moment, option_label, percent
from bot.domain.i18n import t
from bot.domain.playbook import Playbook
from bot.domain.vocabulary import OPTION_KEYS

WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
LIST_LIMIT = 10


@dataclass(frozen=True)
class Week:
    year: int
    number: int
    start: datetime  # Monday 00:00 in the configured timezone
    end: datetime  # the next Monday 00:00

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.number:02d}"


def parse_week(text: str, tz: ZoneInfo) -> Week:
    """`2026-W48` → that ISO week; ValueError for anything else."""
    match = WEEK.match(text.strip())
    if not match:
        raise ValueError(f"not an ISO week like 2026-W48: {text!r}")
    year, number = int(match.group(1)), int(match.group(2))
    try:
        monday = date.fromisocalendar(year, number, 1)
    except ValueError as exc:
        raise ValueError(f"{year} has no week {number}") from exc
    return week_of(monday, tz)


def week_of(day: date, tz: ZoneInfo) -> Week:
    iso = day.isocalendar()
    monday = day - timedelta(days=iso.weekday - 1)
    start = datetime.combine(monday, time(0), tzinfo=tz)
    return Week(
        iso.year, iso.week, start, datetime.combine(monday + timedelta(days=7), time(0), tzinfo=tz)
    )


def previous_week(now: datetime, tz: ZoneInfo) -> Week:
    """The last complete ISO week before `now` (what Monday's summary covers)."""
    return week_of(now.astimezone(tz).date() - timedelta(days=7), tz)


@dataclass(frozen=True)
class IncidentLine:
    id: str
    partner: str
    status: str
    recommendation: str
    decided_action: str | None
    created_at: datetime
    decided_at: datetime | None = None
    permalink: str | None = None


@dataclass(frozen=True)
class DeadlineLine:
    incident_id: str
    partner: str
    ref: str
    title: dict[str, str]
    due_at: datetime
    owner_id: str | None


T = TypeVar("T")


@dataclass(frozen=True)
class Counted(Generic[T]):
    """The first items of a list and how many there are in all ("and N more")."""

    items: tuple[T, ...]
    total: int

    @property
    def more(self) -> int:
        return max(self.total - len(self.items), 0)


@dataclass(frozen=True)
class WeekData:
    week: Week
    as_of: datetime
    opened: Counted[IncidentLine]
    decided: Counted[IncidentLine]
    decisions_by_action: dict[str, int]
    pending: Counted[IncidentLine]
    overdue: Counted[DeadlineLine]
    upcoming: Counted[DeadlineLine]
    repeat_partners: Counted[tuple[str, int]]
    open_incidents: Counted[IncidentLine]
    extra: dict[str, str] = field(default_factory=dict)
    # Of the week's decisions: the median time from report to decision, and how many decided
    # the recommended action (of `sum(decisions_by_action.values())`).
    median_decision: timedelta | None = None
    followed_recommendation: int = 0
    # Overdue deadlines owed to a regulator or to affected persons (`regulator: true` rules).
    regulator_overdue: int = 0

    @property
    def decisions(self) -> int:
        return sum(self.decisions_by_action.values())


def _age(since: datetime, now: datetime, lang: str) -> str:
    hours = max(int((now - since).total_seconds() // 3600), 0)
    if hours < 48:
        return t(lang, "summary.age_hours", hours=hours)
    return t(lang, "summary.age_days", days=hours // 24)


def duration_text(span: timedelta, lang: str) -> str:
    """A duration in the unit a person reads best: minutes, hours, or days with one decimal."""
    minutes = max(int(span.total_seconds() // 60), 0)
    if minutes < 120:
        return t(lang, "summary.duration_minutes", minutes=minutes)
    if minutes < 48 * 60:
        return t(lang, "summary.duration_hours", hours=minutes // 60)
    return t(lang, "summary.duration_days", days=f"{minutes / 1440:.1f}")


def figure_lines(data: WeekData, lang: str) -> tuple[str, ...]:
    """The week's counts, then the decision figures: median time to decision, how often the
    approvers followed the recommendation, overdue regulator deadlines."""
    lines = [
        t(
            lang,
            "summary.counts",
            opened=data.opened.total,
            decided=data.decided.total,
            pending=data.pending.total,
            overdue=data.overdue.total,
        )
    ]
    if data.median_decision is not None and data.decisions:
        lines.append(
            t(
                lang,
                "summary.median_decision",
                duration=duration_text(data.median_decision, lang),
                count=data.decisions,
            )
        )
        lines.append(
            t(
                lang,
                "summary.followed",
                followed=data.followed_recommendation,
                count=data.decisions,
            )
        )
    else:
        lines.append(t(lang, "summary.no_decisions"))
    lines.append(t(lang, "summary.regulator_overdue", count=data.regulator_overdue))
    return tuple(lines)


def decision_lines(playbook: Playbook, data: WeekData, lang: str) -> list[str]:
    """This week's decisions by action, as text bars beside the survey's shares."""
    total = sum(data.decisions_by_action.values())
    survey = playbook.loaded_survey.shares
    width = max(_display_width(option_label(playbook, key, lang)) for key in OPTION_KEYS)
    lines = []
    for key in OPTION_KEYS:
        count = data.decisions_by_action.get(key, 0)
        share = count / total if total else 0.0
        label = option_label(playbook, key, lang)
        pad = " " * (width - _display_width(label))
        lines.append(
            f"{label}{pad} {bar(share)} {count:>4} ({percent(share):>4}) ▏{percent(survey[key]):>4}"
        )
    return lines


def _display_width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def incident_line(
    playbook: Playbook, line: IncidentLine, lang: str, tz: ZoneInfo, now: datetime
) -> str:
    action = line.decided_action or line.recommendation
    label = option_label(playbook, action, lang) if action in OPTION_KEYS else action
    status = t(lang, f"summary.status.{line.status}")
    return t(
        lang,
        "summary.incident_line",
        incident_id=line.id,
        partner=line.partner,
        status=status,
        action=label,
        age=_age(line.created_at, now, lang),
    )


def deadline_line(line: DeadlineLine, lang: str, tz: ZoneInfo) -> str:
    return t(
        lang,
        "summary.deadline_line",
        incident_id=line.incident_id,
        partner=line.partner,
        title=line.title.get(lang) or line.title.get("en") or line.ref,
        due=format_moment(line.due_at.astimezone(tz), lang),
    )


def more_line(count: int, lang: str) -> str:
    return t(lang, "summary.more", count=count)


@dataclass(frozen=True)
class SummarySection:
    title: str
    lines: tuple[str, ...]
    preformatted: bool = False


def summary_sections(
    playbook: Playbook, data: WeekData, lang: str, tz: ZoneInfo
) -> list[SummarySection]:
    """The summary as titled sections of plain lines (text output and Slack blocks share it)."""
    now = data.as_of

    def listed(counted: Counted[IncidentLine]) -> tuple[str, ...]:
        lines = [incident_line(playbook, item, lang, tz, now) for item in counted.items]
        if counted.more:
            lines.append(more_line(counted.more, lang))
        return tuple(lines) or (t(lang, "summary.none"),)

    def deadlines(counted: Counted[DeadlineLine]) -> tuple[str, ...]:
        lines = [deadline_line(item, lang, tz) for item in counted.items]
        if counted.more:
            lines.append(more_line(counted.more, lang))
        return tuple(lines) or (t(lang, "summary.none"),)

    partners = [
        t(lang, "summary.partner_line", partner=partner, count=count)
        for partner, count in data.repeat_partners.items
    ]
    if data.repeat_partners.more:
        partners.append(t(lang, "summary.more_partners", count=data.repeat_partners.more))
    return [
        SummarySection(t(lang, "summary.counts_title"), figure_lines(data, lang)),
        SummarySection(
            t(lang, "summary.decisions_title"), tuple(decision_lines(playbook, data, lang)), True
        ),
        SummarySection(
            t(lang, "summary.opened_title", count=data.opened.total), listed(data.opened)
        ),
        SummarySection(
            t(lang, "summary.pending_title", count=data.pending.total), listed(data.pending)
        ),
        SummarySection(
            t(lang, "summary.overdue_title", count=data.overdue.total), deadlines(data.overdue)
        ),
        SummarySection(
            t(lang, "summary.upcoming_title", count=data.upcoming.total), deadlines(data.upcoming)
        ),
        SummarySection(
            t(lang, "summary.partners_title", count=data.repeat_partners.total),
            tuple(partners) or (t(lang, "summary.none"),),
        ),
    ]


def summary_title(data: WeekData, lang: str) -> str:
    last_day = data.week.end - timedelta(days=1)
    return t(
        lang,
        "summary.title",
        week=data.week.label,
        start=format_date(data.week.start, lang),
        end=format_date(last_day, lang),
    )


def summary_text(playbook: Playbook, data: WeekData, lang: str, tz: ZoneInfo) -> str:
    """The summary as plain text (`leakbot summary`)."""
    out = [
        summary_title(data, lang),
        t(lang, "summary.as_of", when=format_moment(data.as_of.astimezone(tz), lang)),
    ]
    for section in summary_sections(playbook, data, lang, tz):
        out += ["", f"■ {section.title}"]
        out += [line if section.preformatted else f"- {line}" for line in section.lines]
    open_lines = [
        incident_line(playbook, item, lang, tz, data.as_of) for item in data.open_incidents.items
    ]
    out += ["", f"■ {t(lang, 'summary.open_title', count=data.open_incidents.total)}"]
    out += [f"- {line}" for line in open_lines] or [f"- {t(lang, 'summary.none')}"]
    if data.open_incidents.more:
        out.append(f"- {more_line(data.open_incidents.more, lang)}")
    out += ["", t(lang, "report.survey_basis")]
    return "\n".join(out)
