"""Running the app: the HTTP server or Socket Mode, the outbox, and a clean shutdown.

Start-up order: the database is opened (and migrated), the bot token checked with `auth.test`,
the port(s) bound — and only then do the outbox sender, the scheduler and Socket Mode start, so a
busy port, a wrong database or a refused token ends the process with one line before any
background work ran. SIGTERM and SIGINT are handled from the first step: every wait on the
network (the database, Slack, Socket Mode's reconnect loop) gives way to them, and the process
ends within STOP_SECONDS.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.clock import Clock, SystemClock
from bot.config import ConfigError, Settings
from bot.database import DatabaseUnavailable, open_store
from bot.domain.calendar import remember_japanese_holidays
from bot.domain.playbook import Playbook
from bot.holiday_table import YEARS_AHEAD, YEARS_BACK, HolidayTableFailed, read_in_child
from bot.slack.api_errors import error_text, is_slack_answer
from bot.slack.app import LeakbotApp, build_app
from bot.slack.deciders import approver_set_warning
from bot.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")

# After SIGTERM everything is given this long in total (a container's stop timeout is 10 s).
STOP_SECONDS = 4.0


# How long the scheduler's first run waits for the holiday table (past it, the calendar reads
# the library in this process if it needs a holiday before the table comes).
HOLIDAYS_WAIT_SECONDS = 5.0


async def remember_holidays(clock: Clock, tz: ZoneInfo) -> None:
    """Japan's holidays around this year, listed by a child process, for the calendar
    (bot/holiday_table.py: the library's ~11 MB stay out of this process). A failure is logged:
    the calendar then reads the library here, the same dates."""
    year = clock.now().astimezone(tz).year
    first, last = year - YEARS_BACK, year + YEARS_AHEAD
    try:
        table = await read_in_child(first, last)
    except HolidayTableFailed as exc:
        log.warning(
            "Japan's holidays could not be listed by a child process; "
            "they will be read in this process",
            extra={"error": str(exc)},
        )
        return
    remember_japanese_holidays(table)


async def _start_scheduler(app: LeakbotApp, holidays: asyncio.Future[None]) -> None:
    """The scheduler, once the holiday table is there (or HOLIDAYS_WAIT_SECONDS passed): its
    first runs are the first work that needs it. Aside from the start-up steps, so that the
    server is up (and says so) meanwhile."""
    await asyncio.wait({holidays}, timeout=HOLIDAYS_WAIT_SECONDS)
    app.scheduler.start()


class StartupError(ConfigError):
    """leakbot cannot start as configured; the message is one line naming what to fix."""


class _Stopped(Exception):
    """SIGTERM/SIGINT arrived while a start-up step was waiting."""


async def _unless_stopped(stop: asyncio.Event, work: Awaitable[T]) -> T:
    """`work`'s result, or _Stopped as soon as `stop` is set (`work` is then cancelled)."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(BaseException):
        await asyncio.wait_for(task, STOP_SECONDS / 4)
    raise _Stopped


def freeze_startup_objects() -> None:
    """Move everything built at start (modules, playbook, app; ~150k objects) out of the
    garbage collector's reach: a full collection over them stalled the event loop ~60-100 ms,
    which was the whole p99 of the acks at 32 concurrent requests (bench/ack_latency.py).
    The young generations are collected first, not all: a full collection here cost ~35 ms of
    every start's CPU and found only ~50 unreachable objects (~4 KB of cycles left by imports),
    which stay frozen."""
    gc.collect(1)
    gc.freeze()


def _network_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def _ask_slack(
    settings: Settings, call: Awaitable[AsyncSlackResponse], refused: str
) -> AsyncSlackResponse:
    """One Web API call at start: a refusal (catalog key `refused`) or an unreachable Slack is
    one line, not a traceback."""
    try:
        return await call
    except SlackApiError as exc:
        if not is_slack_answer(exc):  # SLACK_API_URL answered, but not as Slack does
            raise StartupError.of(
                "startup.slack_unreachable", url=settings.SLACK_API_URL, error=error_text(exc)
            ) from exc
        raise StartupError.of(refused, error=error_text(exc)) from exc
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise StartupError.of(
            "startup.slack_unreachable", url=settings.SLACK_API_URL, error=_network_error(exc)
        ) from exc


async def check_bot_token(settings: Settings, client: AsyncWebClient) -> str:
    """`auth.test` once: a refused SLACK_BOT_TOKEN or an unreachable Slack is one line."""
    auth = await _ask_slack(settings, client.auth_test(), "startup.bot_token_refused")
    return str(auth.get("user_id") or "")


async def check_app_token(settings: Settings, client: AsyncWebClient) -> None:
    """Socket Mode's own client retries a refused app token forever; ask once ourselves."""
    await _ask_slack(
        settings,
        client.apps_connections_open(app_token=settings.SLACK_APP_TOKEN or ""),
        "startup.app_token_refused",
    )


def _metrics_only(app: LeakbotApp) -> web.Application:
    """/metrics on its own port (LEAKBOT_METRICS_PORT), e.g. reachable only inside a cluster."""
    application = web.Application()
    application.router.add_get("/metrics", app._metrics)
    return application


@web.middleware
async def _no_metrics_here(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path == "/metrics":
        raise web.HTTPNotFound()
    response: web.StreamResponse = await handler(request)
    return response


async def _bind(app: LeakbotApp, settings: Settings) -> list[web.AppRunner]:
    """Bind every port before anything else starts; a busy port → StartupError naming it."""
    runners: list[web.AppRunner] = []
    main = app.web_app()
    if settings.LEAKBOT_METRICS_PORT is not None:
        main.middlewares.insert(0, _no_metrics_here)
    targets = [("PORT", settings.PORT, main)]
    if settings.LEAKBOT_METRICS_PORT is not None:
        targets.append(("LEAKBOT_METRICS_PORT", settings.LEAKBOT_METRICS_PORT, _metrics_only(app)))
    try:
        for name, port, application in targets:
            runner = web.AppRunner(application, access_log=None, handle_signals=False)
            await runner.setup()
            runners.append(runner)
            try:
                await web.TCPSite(runner, host=settings.LEAKBOT_HOST, port=port).start()
            except OSError as exc:
                raise StartupError.of(
                    "startup.port_busy",
                    name=name,
                    port=port,
                    host=settings.LEAKBOT_HOST,
                    error=exc.strerror or exc,
                ) from exc
    except BaseException:
        for runner in reversed(runners):
            await runner.cleanup()
        raise
    return runners


async def serve(
    settings: Settings, playbook: Playbook, *, socket_mode: bool, clock: Clock | None = None
) -> None:
    """Run until SIGTERM/SIGINT. Raises StartupError / DatabaseUnavailable (one line each)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await _serve(settings, playbook, socket_mode, clock or SystemClock(), stop)
    except _Stopped:
        log.info("leakbot stopped while starting")
    finally:
        for sig in signals:
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(sig)


async def _serve(
    settings: Settings, playbook: Playbook, socket_mode: bool, clock: Clock, stop: asyncio.Event
) -> None:
    store: Store = await _unless_stopped(
        stop, open_store(settings.DATABASE_URL, migrate=True, migrate_in_child=True)
    )
    # Listed beside the rest of the start (a child process); the scheduler waits for them.
    holidays = asyncio.ensure_future(remember_holidays(clock, settings.tz))
    runners: list[web.AppRunner] = []
    scheduling: asyncio.Future[None] | None = None
    socket_handler: Any = None
    socket_connect: asyncio.Task[Any] | None = None
    try:
        # The outbox and the scheduler are started here, after the ports are bound.
        app = build_app(settings, store, playbook, clock, socket_mode=socket_mode, run_outbox=False)
    except BaseException:
        holidays.cancel()
        await asyncio.gather(holidays, return_exceptions=True)
        await store.close()
        raise
    try:
        log.info("checking the Slack tokens", extra={"api_url": settings.SLACK_API_URL})
        await _unless_stopped(stop, check_bot_token(settings, app.deps.client))
        if socket_mode:
            await _unless_stopped(stop, check_app_token(settings, app.deps.client))
        # In Socket Mode the HTTP server still answers /healthz (and /slack/events is unused).
        runners = await _bind(app, settings)
        # Once the port is ours (nothing but auth.test before that): it may ask Slack for groups.
        warning = await _unless_stopped(stop, approver_set_warning(app.deps))
        if warning:
            log.warning(warning)
        app.deps.outbox.start()
        scheduling = asyncio.ensure_future(_start_scheduler(app, holidays))
        if socket_mode:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            socket_handler = AsyncSocketModeHandler(app.bolt, settings.SLACK_APP_TOKEN)
            # Its connect loop retries forever when Slack is unreachable: run it aside, so that
            # a signal still stops the process.
            connect: Coroutine[Any, Any, Any] = socket_handler.connect_async()
            socket_connect = asyncio.ensure_future(connect)
        freeze_startup_objects()
        log.info(
            "leakbot is running",
            extra={
                "mode": "socket" if socket_mode else "http",
                "host": settings.LEAKBOT_HOST,
                "port": settings.PORT,
                "metrics_port": settings.LEAKBOT_METRICS_PORT or settings.PORT,
                "database": store.dialect,
            },
        )
        await stop.wait()
    finally:
        log.info("leakbot is stopping")
        for waiting in (scheduling, holidays):  # (the holidays' child is killed)
            if waiting is not None:
                waiting.cancel()
                await asyncio.gather(waiting, return_exceptions=True)
        await _shutdown(app, runners, socket_handler, socket_connect)
        await store.close()


async def _shutdown(
    app: LeakbotApp,
    runners: list[web.AppRunner],
    socket_handler: Any,
    socket_connect: asyncio.Task[Any] | None,
) -> None:
    """Everything stops within STOP_SECONDS, whatever state Slack's connection is in."""
    await app.scheduler.aclose(STOP_SECONDS / 4)
    if socket_handler is not None:
        with contextlib.suppress(Exception, TimeoutError):
            await asyncio.wait_for(socket_handler.close_async(), STOP_SECONDS / 4)
    if socket_connect is not None and not socket_connect.done():
        socket_connect.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(socket_connect, STOP_SECONDS / 8)
    await app.deps.outbox.stop(grace_seconds=STOP_SECONDS / 2)
    for runner in reversed(runners):
        with contextlib.suppress(Exception, TimeoutError):
            await asyncio.wait_for(runner.cleanup(), STOP_SECONDS / 8)


__all__ = [
    "STOP_SECONDS",
    "DatabaseUnavailable",
    "StartupError",
    "check_bot_token",
    "freeze_startup_objects",
    "serve",
]
