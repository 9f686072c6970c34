"""The issue-12 Block Kit builders alone, checked against Slack's limits (the emulator's
validator), and the values their controls carry."""

from __future__ import annotations

import json

import pytest
from slackemu import validate_message, validate_view

from bot.domain.closing import CLOSE_OUTCOMES, may_close, may_reopen
from bot.slack.blocks.lifecycle import (
    OpenDeadline,
    close_view,
    incident_controls,
    list_page_message,
    parse_report_value,
    partner_report_question,
    report_value,
)
from bot.slack.blocks.recommendation import (
    ShownDecision,
    approve_value,
    decision_block_id,
    parse_approve_value,
    parse_decision_block_id,
)
from bot.slack.listeners.listing import ListArgs, parse_list_args


def test_approve_values_round_trip_and_old_ones_read_as_unversioned() -> None:
    value = approve_value("LEAK-2026-0012", 3, "consider_suspension")
    assert parse_approve_value(value) == ShownDecision("LEAK-2026-0012", 3, "consider_suspension")
    assert parse_approve_value("LEAK-2026-0012") == ShownDecision("LEAK-2026-0012", None, None)
    assert parse_approve_value("LEAK-2026-0012:x:") == ShownDecision("LEAK-2026-0012", None, None)
    block_id = decision_block_id("LEAK-2026-0012", 2)
    assert parse_decision_block_id(block_id) == ShownDecision("LEAK-2026-0012", 2)
    assert parse_decision_block_id("leak_decision:LEAK-2026-0012").round is None
    assert parse_decision_block_id("other:LEAK-2026-0012:2") == ShownDecision("")


def test_report_values() -> None:
    assert parse_report_value(report_value(42, "insufficient")) == (42, "insufficient")
    assert parse_report_value("42:great") is None
    assert parse_report_value("x:missing") is None


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_partner_report_question_is_valid(lang: str) -> None:
    message = partner_report_question(7, "取引先の事故報告書" * 20, lang, "done")
    assert validate_message(message["text"], message["blocks"]) == []
    actions = [
        e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert actions == ["leak_report_sufficient", "leak_report_insufficient", "leak_report_missing"]


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_close_view_with_many_deadlines_stays_within_the_limits(lang: str) -> None:
    deadlines = [OpenDeadline(f"deadline_{n}", "期限" * 200, "2026-12-01") for n in range(40)]
    metadata = json.dumps({"i": "LEAK-2026-0001", "l": lang, "d": [d.ref for d in deadlines]})
    view = close_view(
        lang, "LEAK-2026-0001", "<!channel> Acme", CLOSE_OUTCOMES, deadlines, metadata
    )
    assert validate_view(view) == []
    assert len(view["blocks"]) <= 100
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert blocks["outcome"]["optional"] is False and blocks["note"]["optional"] is True
    assert "<!channel>" not in json.dumps(view["blocks"][0])  # the partner name is escaped


@pytest.mark.parametrize("status", ["pending", "decided", "rejected", "closed"])
def test_incident_controls(status: str) -> None:
    block = incident_controls("LEAK-2026-0001", status, "ja")
    if status == "pending":
        assert block is None  # the decision controls are there instead
        return
    assert block is not None and validate_message("x", [block]) == []
    expected = ["leak_reopen"] if status == "closed" else ["leak_update", "leak_close"]
    assert [button["action_id"] for button in block["elements"]] == expected
    assert {button["value"] for button in block["elements"]} == {"LEAK-2026-0001"}


def test_list_page_message_and_arguments() -> None:
    lines = [f"*LEAK-2026-{n:04d}* partner — status" for n in range(30)]
    message = list_page_message(
        "en",
        lines,
        scope="all",
        partner="acme",
        first=31,
        total=75,
        next_command="/leak list all acme page 3",
    )
    assert validate_message(message["text"], message["blocks"]) == []
    assert message["text"].startswith("Incidents (all): 31–60 of 75")
    assert parse_list_args("") == ListArgs("open", None, 1)
    assert parse_list_args("CLOSED 株式会社 アクメ page 2") == ListArgs(
        "closed", "株式会社 アクメ", 2
    )
    assert parse_list_args("all page") == ListArgs("all", "page", 1)
    assert parse_list_args("Acme page 0") == ListArgs("open", "Acme", 1)


def test_who_may_close_and_reopen() -> None:
    approvers = {"UAPPROVER1"}
    assert may_close(
        actor_id="UAPPROVER1", reporter_id="UR", approvers=approvers, outcome="terminated"
    )
    assert may_close(actor_id="UR", reporter_id="UR", approvers=approvers, outcome="continued")
    assert not may_close(actor_id="UR", reporter_id="UR", approvers=approvers, outcome="suspended")
    assert not may_close(actor_id="US", reporter_id="UR", approvers=approvers, outcome=None)
    assert may_reopen(actor_id="UR", reporter_id="UR", approvers=approvers)
    assert not may_reopen(actor_id="US", reporter_id="UR", approvers=approvers)
