"""`Approvers`: the approvers known, and the groups Slack did not answer for; the answer given
instead of a refusal that would be a guess (bot/slack/deciders.py)."""

from __future__ import annotations

from bot.domain.i18n import t
from bot.slack.approvers import Approvers
from bot.slack.deciders import approvers_unknown_text


def test_approvers_are_a_set_with_their_unresolved_groups() -> None:
    approvers = Approvers({"U1", "U2"}, ["S2", "S1"])
    assert approvers == frozenset({"U1", "U2"}) and "U1" in approvers
    assert approvers.unresolved == frozenset({"S1", "S2"})
    assert Approvers().unresolved == frozenset() and not Approvers()
    # A set operation gives a plain set: what is unresolved is never carried along by accident.
    assert type(approvers | {"U3"}) is frozenset


def test_a_refusal_is_a_guess_only_for_someone_outside_while_a_group_is_unresolved() -> None:
    complete = Approvers({"U1"})
    partial = Approvers({"U1"}, ["SAPPROVERS"])
    assert not complete.unsure_of("U9")
    assert not partial.unsure_of("U1")  # known: whatever refused them, it was not the group
    assert partial.unsure_of("U9")


def test_the_answer_names_the_groups_in_the_persons_language() -> None:
    partial = Approvers({"U1"}, ["S2", "S1"])
    assert approvers_unknown_text("ja", "U9", Approvers({"U1"})) is None
    assert approvers_unknown_text("ja", "U1", partial, "LEAK-2026-0001") is None
    for lang in ("ja", "en"):
        text = approvers_unknown_text(lang, "U9", partial, "LEAK-2026-0001")
        assert text == t(
            lang,
            "approve.approvers_unknown",
            incident_id="LEAK-2026-0001",
            groups="<!subteam^S1> <!subteam^S2>",
        )
        short = approvers_unknown_text(lang, "U9", partial)
        assert short == t(lang, "approve.approvers_unknown_short") and len(short) <= 150
    assert "Nothing was recorded" in str(approvers_unknown_text("en", "U9", partial, "X"))
    assert "何も記録していません" in str(approvers_unknown_text("ja", "U9", partial, "X"))
