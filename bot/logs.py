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
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Bolt and the SDK log request bodies at DEBUG; keep them at INFO at most.
    for noisy in ("slack_bolt", "slack_sdk", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, logging.getLevelName(level)))
    # APScheduler logs every run of every job at INFO.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.getLevelName(level)))
