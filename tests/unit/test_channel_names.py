"""The private incident channel's name (bot/domain/channel_names.py): Slack's rules."""

from __future__ import annotations

import re

import pytest

from bot.domain.channel_names import MAX_CHANNEL_NAME, incident_channel_name, partner_slug
from bot.notifications import Notification

SLACK_NAME = re.compile(r"^[a-z0-9_-]{1,80}$")


@pytest.mark.parametrize(
    ("partner", "expected"),
    [
        ("Globex Inc.", "leak-2026-0001-globex-inc"),
        ("  ACME  Corp / Tokyo ", "leak-2026-0001-acme-corp-tokyo"),
        ("株式会社アクメ", "leak-2026-0001"),
        ("Société Générale", "leak-2026-0001-societe-generale"),
        ("アクメ Japan 株式会社", "leak-2026-0001-japan"),
        ("<!channel>", "leak-2026-0001-channel"),
        ("", "leak-2026-0001"),
    ],
)
def test_names_follow_slacks_rules(partner: str, expected: str) -> None:
    name = incident_channel_name("LEAK-2026-0001", partner)
    assert name == expected
    assert SLACK_NAME.match(name)


def test_a_long_partner_name_is_cut_to_80_without_a_trailing_hyphen() -> None:
    name = incident_channel_name("LEAK-2026-0001", "Very Long Partner " * 10)
    assert len(name) <= MAX_CHANNEL_NAME and SLACK_NAME.match(name)
    assert name.startswith("leak-2026-0001-very-long-partner-") and not name.endswith("-")


def test_slug_drops_what_slack_refuses() -> None:
    assert partner_slug("A.B C") == "a-b-c"
    assert partner_slug("株式会社") == ""


def test_within_survives_the_outbox_row() -> None:
    note = Notification(kind="tasks", incident_id="LEAK-2026-0001", thread="recommendation")
    placed = Notification(**{**note.__dict__, "within": "incident_channel"})
    row = placed.to_outbox()
    assert Notification.from_payload(row.payload, "LEAK-2026-0001") == placed
    assert Notification.from_payload(note.to_outbox().payload, "LEAK-2026-0001").within is None
    channel = Notification(kind="incident_channel", facts={"name": "x", "members": []})
    assert channel.to_outbox().method == "conversations.create"
