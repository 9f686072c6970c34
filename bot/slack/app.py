"""Builds the Bolt AsyncApp and the HTTP server (`POST /slack/events`, `GET /healthz`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import Clock
from bot.config import Settings
from bot.domain.playbook import Playbook
from bot.followthrough import FollowThrough, FollowThroughConfig
from bot.home import HomeService
from bot.metrics import CONTENT_TYPE
from bot.scheduler import Scheduler
from bot.service import IncidentService, ServiceConfig
from bot.slack.approvers import ApproverDirectory
from bot.slack.deps import Deps
from bot.slack.form_body import bolt_request
from bot.slack.home import HomeTab
from bot.slack.listeners import register_all
from bot.slack.outbox import OutboxSender
from bot.slack.render import NotificationRenderer
from bot.slack.replay import ReplayGuard
from bot.slack.respond import shared_respond
from bot.slack.verification import SignedRequestCheck
from bot.store import Store

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"


def interactive_client(settings: Settings) -> AsyncWebClient:
    """For calls made while a person waits (views.open, ephemeral replies): retried in place."""
    return AsyncWebClient(
        token=settings.SLACK_BOT_TOKEN,
        base_url=settings.SLACK_API_URL,
        timeout=10,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=1),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def outbox_client(settings: Settings) -> AsyncWebClient:
    """For the outbox: no in-place retries, the outbox retries durably on its own clock."""
    return AsyncWebClient(
        token=settings.SLACK_BOT_TOKEN,
        base_url=settings.SLACK_API_URL,
        timeout=10,
        retry_handlers=[],
    )


@dataclass
class LeakbotApp:
    bolt: AsyncApp
    deps: Deps
    scheduler: Scheduler
    # Tests turn the background sender and scheduler off and drive them explicitly.
    run_outbox: bool = True

    def web_app(self) -> web.Application:
        application = web.Application()
        application.router.add_post(EVENTS_PATH, self._events)
        application.router.add_get("/healthz", self._healthz)
        application.router.add_get("/metrics", self._metrics)
        application.middlewares.append(self.deps.metrics.middleware())
        application.middlewares.append(ReplayGuard(self.deps.clock, path=EVENTS_PATH).middleware())

        async def open_session(_: web.Application) -> None:
            # One keep-alive session for every Web API call: without it slack_sdk opens (and
            # closes) a new session and TCP/TLS connection per call, which costs the event
            # loop several times a bare ack (bench/ack_latency.py, `/leak` at 32 concurrent).
            session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
            self.deps.client.session = session
            self.deps.outbox.client.session = session

        async def close_session(_: web.Application) -> None:
            session, self.deps.client.session = self.deps.client.session, None
            self.deps.outbox.client.session = None
            if session is not None:
                await session.close()

        async def start_outbox(_: web.Application) -> None:
            self.deps.outbox.start()
            self.scheduler.start()

        async def stop_outbox(_: web.Application) -> None:
            self.scheduler.stop()
            await self.deps.outbox.stop()

        application.on_startup.append(open_session)
        if self.run_outbox:
            application.on_startup.append(start_outbox)
            application.on_cleanup.append(stop_outbox)
        application.on_cleanup.append(close_session)
        return application

    async def _events(self, request: web.Request) -> web.Response:
        """Bolt's own aiohttp handler, except that a body Bolt cannot even parse (e.g.
        `payload=not-json`, a JSON list) is a 400, not an unhandled exception (500). An
        interaction's payload is decoded faster than Bolt does (bot/slack/form_body.py)."""
        try:
            parsed = await bolt_request(request)
        except Exception as exc:  # only parsing happens here: JSONDecodeError, AttributeError…
            log.info("unparseable request refused: %s", type(exc).__name__)
            return web.Response(status=400, text="bad request")
        try:
            response = await self.bolt.async_dispatch(parsed)
        except Exception as exc:
            # Bolt catches what its middleware and listeners raise; what escapes is Bolt itself
            # failing on a payload's shape (its error handler reads the body too).
            log.warning("request Bolt could not handle: %s", type(exc).__name__, exc_info=exc)
            return web.Response(status=400, text="bad request")
        return await to_aiohttp_response(response)

    async def _healthz(self, _: web.Request) -> web.Response:
        ok = await self.deps.store.ping()
        body = {"ok": ok, "database": "up" if ok else "down", "outbox_depth": await self._depth(ok)}
        return web.json_response(body, status=200 if ok else 503)

    async def _metrics(self, _: web.Request) -> web.Response:
        depth = await self._depth(await self.deps.store.ping())
        if depth is not None:
            self.deps.metrics.outbox_depth.set(depth)
        return web.Response(
            body=self.deps.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE}
        )

    async def _depth(self, ok: bool) -> int | None:
        if not ok:
            return None
        try:
            return await self.deps.store.outbox_depth()
        except Exception:
            return None


def follow_config(settings: Settings) -> FollowThroughConfig:
    return FollowThroughConfig(
        tz=settings.tz,
        channel_lang=settings.LEAKBOT_LANGUAGE,
        escalation_channel=settings.LEAKBOT_ESCALATION_CHANNEL or "",
        summary_channel=settings.LEAKBOT_SUMMARY_CHANNEL,
        approvers=settings.approvers,
        escalation_approvers=settings.escalation_approvers,
        incident_channels=settings.LEAKBOT_INCIDENT_CHANNELS == "private",
    )


def build_deps(settings: Settings, store: Store, playbook: Playbook, clock: Clock) -> Deps:
    """Everything but Bolt: also used by the CLI (`leakbot summary`, `leakbot doctor`)."""
    client = interactive_client(settings)
    service = IncidentService(
        store,
        playbook,
        ServiceConfig(
            tz=settings.tz,
            channel_lang=settings.LEAKBOT_LANGUAGE,
            escalation_channel=settings.LEAKBOT_ESCALATION_CHANNEL or "",
        ),
        clock,
    )
    follow = FollowThrough(store, service, follow_config(settings), clock)
    renderer = NotificationRenderer(
        service,
        follow,
        company_name=settings.LEAKBOT_COMPANY_NAME,
        company_contact=settings.LEAKBOT_COMPANY_CONTACT,
        playbook_path=settings.LEAKBOT_PLAYBOOK,
    )
    approvers = ApproverDirectory(client, settings.approvers, clock)

    async def lang_of(user_id: str) -> str:
        return await deps.user_lang(user_id)  # the Deps' cached users.info

    renderer.home = HomeTab(
        HomeService(store, settings.tz, clock), playbook, approvers, lang_of, clock
    )
    deps = Deps(
        settings=settings,
        playbook=playbook,
        store=store,
        clock=clock,
        client=client,
        service=service,
        outbox=OutboxSender(store, renderer, outbox_client(settings), clock),
        approvers=approvers,
        follow=follow,
        home=renderer.home,
        escalation=(
            ApproverDirectory(client, settings.escalation_approvers, clock)
            if settings.escalation_approvers
            else None
        ),
    )
    deps.outbox.metrics = deps.metrics
    return deps


def build_scheduler(deps: Deps) -> Scheduler:
    return Scheduler(
        deps.follow,
        deps.client,
        deps.playbook,
        deps.settings.tz,
        deps.clock,
        on_enqueued=deps.outbox.notify,
        playbook_path=deps.settings.LEAKBOT_PLAYBOOK,
    )


def build_app(
    settings: Settings,
    store: Store,
    playbook: Playbook,
    clock: Clock,
    *,
    socket_mode: bool = False,
    run_outbox: bool = True,
) -> LeakbotApp:
    deps = build_deps(settings, store, playbook, clock)
    # Bolt's own signature check is replaced by ours (on the app's clock, and refusing
    # unreadable headers with a 401), run where Bolt runs `before_authorize`.
    bolt = AsyncApp(
        # The name Bolt would derive from this file's name (its listeners' logger names), given:
        # deriving it, Bolt calls inspect.stack(), which resolves the source path of every loaded
        # module (~10,000 lstat calls, ~40 ms of each start's CPU).
        name="app.py",
        client=deps.client,
        signing_secret=settings.SLACK_SIGNING_SECRET or "",
        request_verification_enabled=False,
        before_authorize=SignedRequestCheck(
            None if socket_mode else settings.SLACK_SIGNING_SECRET or "", clock
        ),
        process_before_response=False,
        raise_error_for_unhandled_request=False,
    )

    @bolt.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        # Logged for operators; the person sees a clean answer, never a traceback.
        deps.metrics.failures.labels("listener").inc()
        log.error("listener failed: %s: %s", type(error).__name__, error, exc_info=error)

    # respond() posts through the Web API client's keep-alive session (one connection, not one
    # per click's answer).
    bolt.middleware(shared_respond(lambda: deps.client.session))
    register_all(bolt, deps)
    return LeakbotApp(bolt, deps, build_scheduler(deps), run_outbox)
