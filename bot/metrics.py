"""Prometheus metrics (`GET /metrics`): requests, slow acks, outbox depth, reminders, failures.

One registry per app instance, so that tests running several apps in one process keep their
figures apart.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

SLOW_ACK_SECONDS = 1.0
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "leakbot_http_requests",
            "HTTP requests by path and status",
            ["path", "status"],
            registry=self.registry,
        )
        self.ack_seconds = Histogram(
            "leakbot_ack_seconds",
            "Time to answer Slack (the ack), seconds",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0),
            registry=self.registry,
        )
        self.slow_acks = Counter(
            "leakbot_acks_over_1s",
            "Slack requests answered in more than one second",
            registry=self.registry,
        )
        self.outbox_depth = Gauge(
            "leakbot_outbox_depth", "Slack calls waiting in the outbox", registry=self.registry
        )
        self.slack_calls = Counter(
            "leakbot_slack_calls",
            "Outbox deliveries by kind and result",
            ["kind", "result"],
            registry=self.registry,
        )
        self.reminders_sent = Counter(
            "leakbot_reminders_sent", "Reminder messages delivered", registry=self.registry
        )
        self.failures = Counter(
            "leakbot_failures", "Failures by where they happened", ["where"], registry=self.registry
        )

    def middleware(self) -> Middleware:
        @web.middleware
        async def measure(request: web.Request, handler: Handler) -> web.StreamResponse:
            started = time.perf_counter()
            status = 500
            try:
                response = await handler(request)
                status = response.status
                return response
            except web.HTTPException as exc:
                status = exc.status
                raise
            finally:
                elapsed = time.perf_counter() - started
                path = (
                    request.path
                    if request.path in ("/slack/events", "/healthz", "/metrics")
                    else "other"
                )
                self.requests.labels(path, str(status)).inc()
                if path == "/slack/events":
                    self.ack_seconds.observe(elapsed)
                    if elapsed > SLOW_ACK_SECONDS:
                        self.slow_acks.inc()

        return measure

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


CONTENT_TYPE = CONTENT_TYPE_LATEST
