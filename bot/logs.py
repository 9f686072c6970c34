"""Structured JSON logs, one object per line, that never carry secrets."""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

# Slack tokens and anything that looks like a signing secret or signature never reach the logs.
_SECRET = re.compile(r"(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|v0=[0-9a-f]{64})")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# Keys whose values are user-typed content; they are dropped rather than logged.
_CONTENT_KEYS = frozenset({"description", "answers", "text", "blocks", "reason", "payload", "body"})


# The incident a piece of work is about: every log line of its flow carries it.
current_incident: ContextVar[str | None] = ContextVar("current_incident", default=None)


def bind_incident(incident_id: str | None) -> None:
    """Mark the rest of this task's work (and its log lines) as being about `incident_id`."""
    current_incident.set(incident_id or None)


class IncidentFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "incident_id", None) is None:
            record.incident_id = current_incident.get()
        return True


def redact(text: str) -> str:
    return _SECRET.sub("[redacted]", text)


# Libraries whose DEBUG lines (INFO for SQLAlchemy: SQL with its parameters) carry request and
# response bodies, payloads and SQL parameters — what people typed. Their logger levels are not
# enough: Bolt gives each of its loggers an explicit level copied from the root's when the app is
# built (so `LEAKBOT_LOG_LEVEL=DEBUG` turned on "Responding with status: 200 body: …").
_LIBRARY_FLOORS = {
    "slack_bolt": logging.INFO,
    "slack_sdk": logging.INFO,
    "aiohttp": logging.INFO,
    "aiosqlite": logging.INFO,
    "asyncpg": logging.INFO,
    "sqlalchemy": logging.WARNING,
}
# Bolt logs the raw body of a request whose signature fails, at INFO.
_BODY = re.compile(r"\bbody: .*", re.DOTALL)


class LibraryFilter(logging.Filter):
    """Drops the libraries' chatty lines, and the request bodies in Bolt's and the SDK's."""

    def filter(self, record: logging.LogRecord) -> bool:
        root_name = record.name.partition(".")[0]
        floor = _LIBRARY_FLOORS.get(root_name)
        if floor is None:
            return True
        if record.levelno < floor:
            return False
        if root_name in ("slack_bolt", "slack_sdk"):
            message = record.getMessage()
            if "body: " in message:
                record.msg, record.args = _BODY.sub("body: [omitted]", message), None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key in _STANDARD or key.startswith("_") or (key == "incident_id" and value is None):
                continue
            data[key] = "[omitted]" if key in _CONTENT_KEYS else value
        if record.exc_info and record.exc_info[0] is not None:
            data["error_type"] = record.exc_info[0].__name__
            data["traceback"] = redact(self.formatException(record.exc_info))
        return redact(json.dumps(data, ensure_ascii=False, default=str))


def setup_logging(level: str = "INFO", stream: Any = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(IncidentFilter())
    handler.addFilter(LibraryFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Bolt and the SDK log request bodies at DEBUG; keep them at INFO at most.
    # The SDK's clients test their own logger's `.level` (not the effective level) before
    # formatting whole request and response bodies for logger.debug: a child left at NOTSET
    # costs every Web API call that work for nothing (bench/ack_latency.py), so set it.
    for noisy in (
        "slack_bolt",
        "slack_sdk",
        "aiohttp.access",
        "slack_sdk.web.async_base_client",
        "slack_sdk.webhook.async_client",
    ):
        logging.getLogger(noisy).setLevel(max(logging.INFO, logging.getLevelName(level)))
    # The database drivers and SQLAlchemy log statements with their parameters.
    for driver in ("aiosqlite", "asyncpg"):
        logging.getLogger(driver).setLevel(max(logging.INFO, logging.getLevelName(level)))
    logging.getLogger("sqlalchemy").setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # APScheduler logs every run of every job at INFO.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.getLevelName(level)))
