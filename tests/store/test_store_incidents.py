"""Incidents: creation (atomic, idempotent, gapless ids), queries, message refs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import StatementError

from bot.store import IncidentRecord, NewTask, OutboxMessage, Store
from tests.store.conftest import T0, NewIncidentFactory, StoreFactory  # noqa: F401

pytestmark = pytest.mark.usefixtures("database_url")


def post(text: str = "hi", **extra: object) -> OutboxMessage:
    return OutboxMessage("recommendation", "chat.postMessage", {"channel": "C1", "text": text}, **extra)  # type: ignore[arg-type]
