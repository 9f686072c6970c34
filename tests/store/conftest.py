"""Helpers for the store tests (the database fixtures live in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.store import IncidentRecord, NewIncident, Store

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)

NewIncidentFactory = Callable[..., NewIncident]
Closer = Callable[..., Awaitable[IncidentRecord]]


def new_incident(**overrides: Any) -> NewIncident:
    values: dict[str, Any] = {
        "partner": "株式会社アクメ",
        "reporter_id": "U_REPORTER",
        "team_id": "T1",
        "locale": "ja",
        "answers": {
            "partner": "株式会社アクメ",
            "cause": "negligence",
            "data_kinds": ["trade_secret"],
        },
        "assessment": {
            "recommendation": "request_report",
            "distribution": {"request_report": 0.43},
        },
        "recommendation": "request_report",
        "year": 2026,
        "submission_key": None,
    }
    values.update(overrides)
    return NewIncident(**values)


@pytest.fixture
def make_new() -> NewIncidentFactory:
    return new_incident


@pytest.fixture
def t0() -> datetime:
    return T0


async def _close(store: Store, incident_id: str, *, actor_id: str, now: datetime) -> IncidentRecord:
    """Closed as the close modal closes it (`close_with_outcome`), no task confirmed done."""
    closed = await store.close_with_outcome(
        incident_id,
        actor_id=actor_id,
        outcome="terminated",
        note=None,
        regulator=[],
        done_task_ids=[],
        now=now,
    )
    assert closed is not None
    return closed


@pytest.fixture
def close() -> Closer:
    return _close
