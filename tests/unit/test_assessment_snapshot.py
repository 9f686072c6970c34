"""The stored assessment: the `assess --json` object with a version, and incidents stored before
the respondent panel (version 1, multiplier shares) stay readable. Real databases, no mocks."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.answers import parse_answers
from bot.domain.engine import assess
from bot.domain.explain import assessment_json
from bot.domain.playbook import load_playbook
from bot.service import SNAPSHOT_VERSION, IncidentService, ServiceConfig, assessment_snapshot
from bot.slack.blocks.recommendation import recommendation_message
from bot.slack.render import incident_view
from bot.store import NewIncident, Store

TZ = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=TZ)
PLAYBOOK = load_playbook()
RAW = {
    "partner": "株式会社アクメ",
    "aware_at": "2026-11-26T09:00:00+09:00",
    "cause": "intentional",
    "damage": "confirmed",
    "data_kinds": ["customer_personal"],
    "encrypted": "no",
    "prior_incidents": 0,
}
# What version 1 stored: shares from multipliers, no version, no panel.
V1_SNAPSHOT = {
    "recommendation": "suspend_and_legal",
    "distribution": {
        "continue_unchanged": 0.0,
        "continue_with_concern": 0.01,
        "request_report": 0.2,
        "consider_suspension": 0.19,
        "suspend_and_legal": 0.6,
    },
    "deadlines": [{"id": "partner_report", "due": "2026-12-03T23:59:59+09:00"}],
    "playbook": {"id": "leak", "version": 1},
    "assessed_at": NOW.isoformat(),
}


class _Stopped:
    """A clock that stays at NOW."""

    def now(self) -> datetime:
        return NOW


def _service(store: Store) -> IncidentService:
    config = ServiceConfig(tz=TZ, channel_lang="ja", escalation_channel="C0ESCALATE")
    return IncidentService(store, PLAYBOOK, config, _Stopped())


def test_snapshot_is_the_json_object_with_a_version() -> None:
    answers = parse_answers(RAW, PLAYBOOK, tz=TZ, now=NOW)
    assessment = assess(answers, PLAYBOOK, tz=TZ, now=NOW)
    snapshot = assessment_snapshot(assessment, PLAYBOOK, NOW, "en")
    assert snapshot["version"] == SNAPSHOT_VERSION == 2
    assert snapshot["assessed_at"] == NOW.isoformat() and snapshot["lang"] == "en"
    as_json = assessment_json(PLAYBOOK, assessment, "en")
    assert {key: snapshot[key] for key in as_json} == as_json
    assert snapshot["panel"]["final"]["suspend_and_legal"] == 100
    assert snapshot["distribution"]["suspend_and_legal"] == 1.0


async def test_a_version_1_incident_is_read_and_reassessed(store: Store) -> None:
    record, created = await store.create_incident(
        NewIncident(
            partner="株式会社アクメ",
            reporter_id="U_REPORTER",
            team_id="T1",
            locale="ja",
            answers=RAW,
            assessment=V1_SNAPSHOT,
            recommendation="suspend_and_legal",
            year=2026,
            submission_key=None,
        ),
        now=NOW,
        outbox=[],
    )
    assert created
    service = _service(store)
    stored = await store.get_incident(record.id)
    assert stored is not None and "version" not in stored.assessment
    # The stored answers are assessed again with the panel, at the stored time.
    assessment = service.assessment_of(stored)
    assert assessment.assessed_at == NOW
    assert assessment.recommendation == "suspend_and_legal"
    assert {r.policy.id for r in assessment.policies} == {"intent_with_damage", "reportable"}
    message = recommendation_message(PLAYBOOK, incident_view(service, stored), "ja")
    text = str(message["blocks"])
    assert "100人中" in text and "社内方針「" in text and "%" not in text
