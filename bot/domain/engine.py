"""The recommendation: the survey's 100 respondents as a panel, then the company's named policy.

Each respondent's reaction in a case is their own stance for the known answers (the most severe
where several apply), otherwise the reaction they chose; unknown answers trigger nothing. The
playbook's policy rules then lift (or lower) respondents. The recommendation is the panel's
median: the 100 lined up from the mildest reaction to the most severe, the 51st's reaction, which
never turns milder when someone moves to a more severe one. Every share is a count of people.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.answers import Answers
from bot.domain.conditions import holds, matched_facts
from bot.domain.deadlines import Deadline, compute_deadlines
from bot.domain.playbook import Playbook, Policy
from bot.domain.survey import Stance, SurveyAnswer
from bot.domain.text import Localized
from bot.domain.vocabulary import CORE_ANSWERS, OPTION_KEYS, OptionKey, severity

Counts = dict[OptionKey, int]
Fact = tuple[str, str]  # (answer id, value) as the case states it: ("cause", "intentional")


@dataclass(frozen=True)
class Move:
    """A respondent whose own stance gives another reaction than the one they chose."""

    number: int
    choice: OptionKey
    reaction: OptionKey
    stance: Stance
    facts: tuple[Fact, ...]  # the case's answers that meet the stance's condition
    final: OptionKey  # after policy


@dataclass(frozen=True)
class PolicyResult:
    """A policy whose condition holds in this case, and how many respondents it moved."""

    policy: Policy
    moved: int


@dataclass(frozen=True)
class Quote:
    """A respondent whose reaction in this case is the recommended one, in their own words."""

    answer: SurveyAnswer
    reaction: OptionKey
    # Set when their stance's condition holds in this case: their words are said "under the
    # same conditions" and the quote is the stance's exact span.
    stance: Stance | None

    def text(self, lang: str) -> str:
        if self.stance is not None:
            return self.stance.words(lang)
        return self.answer.comment(lang).replace("\n", " ")


@dataclass(frozen=True)
class Assessment:
    recommendation: OptionKey
    total: int  # respondents in the panel
    survey_counts: Counts  # as the survey was answered
    counts: Counts  # the panel in this case, before policy
    final: Counts  # after policy
    moves: tuple[Move, ...]
    policies: tuple[PolicyResult, ...]
    quotes: tuple[Quote, ...]
    # The two largest groups, when fewer than a third hold the recommended reaction itself.
    split: tuple[OptionKey, OptionKey] | None
    # Known facts no respondent's stance names: only policy acts on them.
    silent_facts: tuple[Fact, ...]
    deadlines: tuple[Deadline, ...]
    checklist: tuple[Localized, ...]
    notes: tuple[Localized, ...]
    assessed_at: datetime

    @property
    def distribution(self) -> dict[OptionKey, float]:
        """The final counts as shares of the panel (count / 100)."""
        return {key: self.final[key] / self.total for key in OPTION_KEYS}

    @property
    def survey(self) -> dict[OptionKey, float]:
        return {key: self.survey_counts[key] / self.total for key in OPTION_KEYS}

    @property
    def median_position(self) -> int:
        """Which respondent, counted from the mildest, gives the recommendation (51 of 100)."""
        return median_index(self.total) + 1


def median_index(total: int) -> int:
    """0-based: the 51st of 100; with an even number a tie leans to the more severe side."""
    return total // 2


def _count(reactions: list[OptionKey]) -> Counts:
    counts = dict.fromkeys(OPTION_KEYS, 0)
    for reaction in reactions:
        counts[reaction] += 1
    return counts


def median_reaction(reactions: list[OptionKey]) -> OptionKey:
    lined_up = sorted(reactions, key=severity)
    return lined_up[median_index(len(lined_up))]


def policy_holds(policy: Policy, answers: Answers, deadlines: tuple[Deadline, ...]) -> bool:
    if policy.when and not holds(policy.when, answers.values):
        return False
    if policy.any_deadline:
        return any(deadline.id in policy.any_deadline for deadline in deadlines)
    return True


def apply_policies(
    panel: list[OptionKey], applying: list[Policy]
) -> tuple[list[OptionKey], dict[str, int]]:
    """Each respondent's reaction after policy, and how many each policy moved.

    A respondent goes to the highest floor (`at_least`) above them, else the lowest ceiling
    (`at_most`) below them: a floor wins over a ceiling, so a legal minimum is never capped. A
    move counts for the first listed policy that sets the bound reached.
    """
    floors = [p for p in applying if p.at_least is not None]
    ceilings = [p for p in applying if p.at_most is not None]
    moved = {policy.id: 0 for policy in applying}
    final: list[OptionKey] = []
    for reaction in panel:
        after = reaction
        cause: Policy | None = None
        ceiling = min(ceilings, key=lambda p: severity(p.bound), default=None)
        if ceiling is not None and severity(ceiling.bound) < severity(after):
            after, cause = ceiling.bound, ceiling
        floor = max(floors, key=lambda p: severity(p.bound), default=None)
        if floor is not None and severity(floor.bound) > severity(after):
            after, cause = floor.bound, floor
        if cause is not None and after != reaction:
            moved[cause.id] += 1
        final.append(after)
    return final, moved


def split_of(
    final: Counts, recommendation: OptionKey, total: int
) -> tuple[OptionKey, OptionKey] | None:
    if final[recommendation] * 3 >= total:
        return None
    largest = sorted(OPTION_KEYS, key=lambda key: (-final[key], -severity(key)))
    return largest[0], largest[1]


def _quotes(
    survey: tuple[SurveyAnswer, ...],
    panel: list[OptionKey],
    final: list[OptionKey],
    answers: Answers,
    recommendation: OptionKey,
    limit: int,
) -> tuple[Quote, ...]:
    """Respondents whose reaction in this case is the recommended one, by their own choice or
    stance (not lifted there by policy, and without a caveat that holds here): first those whose
    stance condition holds ("under the same conditions"), then those without any condition."""
    same: list[Quote] = []
    unconditional: list[Quote] = []
    others: list[Quote] = []
    for answer, reaction, after in zip(survey, panel, final, strict=True):
        if (
            reaction != recommendation
            or after != recommendation
            or answer.has_caveat(answers.values)
        ):
            continue
        stance = answer.applicable_stance(answers.values)
        if stance is not None:
            same.append(Quote(answer, reaction, stance))
        elif not answer.stances and not answer.caveats:
            unconditional.append(Quote(answer, reaction, None))
        else:
            others.append(Quote(answer, reaction, None))
    return tuple([*same, *unconditional, *others][:limit])


def _silent_facts(answers: Answers, stance_facts: frozenset[str]) -> tuple[Fact, ...]:
    """The case's known facts that no respondent's stance names ("unknown" is no fact)."""
    silent: list[Fact] = []
    for answer_id, (kind, _) in CORE_ANSWERS.items():
        value = answers.get(answer_id)
        if kind in ("one_of", "several_of"):
            items = (
                value if isinstance(value, tuple) else (value,) if isinstance(value, str) else ()
            )
            silent += [
                (answer_id, item)
                for item in items
                if item != "unknown" and f"{answer_id}:{item}" not in stance_facts
            ]
        elif (
            kind in ("integer", "counted")
            and isinstance(value, int)
            and answer_id not in stance_facts
        ):
            silent.append((answer_id, str(value)))
    return tuple(silent)


def assess(answers: Answers, playbook: Playbook, *, tz: ZoneInfo, now: datetime) -> Assessment:
    survey = playbook.loaded_survey
    case = answers.values
    panel = [answer.reaction(case) for answer in survey.answers]
    # Policies look at the regulator clocks, which do not depend on the action; the partner's
    # report does (none when trading continues unchanged), so the list is final only once the
    # recommendation is known.
    regulator_clocks = tuple(compute_deadlines(answers, playbook, tz=tz, now=now))
    applying = [p for p in playbook.policies if policy_holds(p, answers, regulator_clocks)]
    final, moved = apply_policies(panel, applying)
    moves = tuple(
        Move(
            answer.number,
            answer.choice,
            reaction,
            stance,
            matched_facts(stance.when, case),
            after,
        )
        for answer, reaction, after in zip(survey.answers, panel, final, strict=True)
        if reaction != answer.choice and (stance := answer.applicable_stance(case)) is not None
    )
    recommendation = median_reaction(final)
    deadlines = tuple(compute_deadlines(answers, playbook, tz=tz, now=now, action=recommendation))
    final_counts = _count(final)
    notes: list[Localized] = []
    if answers.choice("relationship") == "shared":
        notes.append(playbook.shared_relationship_note)
    return Assessment(
        recommendation=recommendation,
        total=len(panel),
        survey_counts=dict(survey.counts),
        counts=_count(panel),
        final=final_counts,
        moves=moves,
        policies=tuple(PolicyResult(p, moved[p.id]) for p in applying),
        quotes=_quotes(
            survey.answers,
            panel,
            final,
            answers,
            recommendation,
            playbook.limits.max_reason_comments,
        ),
        split=split_of(final_counts, recommendation, len(panel)),
        silent_facts=_silent_facts(answers, survey.stance_facts),
        deadlines=deadlines,
        checklist=playbook.checklists[recommendation],
        notes=tuple(notes),
        assessed_at=now,
    )
