"""Running the app: the HTTP server or Socket Mode, the outbox, and a clean shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal

from aiohttp import web

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.domain.playbook import Playbook
from bot.slack.app import LeakbotApp, build_app
from bot.slack.deciders import approver_set_warning
from bot.store import Store

log = logging.getLogger(__name__)


async def start_http(app: LeakbotApp, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app.web_app(), access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host=host, port=port).start()
    return runner


def freeze_startup_objects() -> None:
    """Move everything built at start (modules, playbook, app; ~150k objects) out of the
    garbage collector's reach: a full collection over them stalled the event loop ~60-100 ms,
    which was the whole p99 of the acks at 32 concurrent requests (bench/ack_latency.py)."""
    gc.collect()
    gc.freeze()


async def serve(
    settings: Settings, playbook: Playbook, *, socket_mode: bool, clock: Clock | None = None
) -> None:
    store = await Store.open(settings.DATABASE_URL)
    app = build_app(settings, store, playbook, clock or SystemClock(), socket_mode=socket_mode)
    warning = await approver_set_warning(app.deps)
    if warning:
        log.warning(warning)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    # In Socket Mode the HTTP server still answers /healthz (and /slack/events is unused).
    runner = await start_http(app, "0.0.0.0", settings.PORT)
    socket_handler = None
    if socket_mode:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        socket_handler = AsyncSocketModeHandler(app.bolt, settings.SLACK_APP_TOKEN)
        await socket_handler.connect_async()  # type: ignore[no-untyped-call]
    freeze_startup_objects()
    log.info(
        "leakbot is running",
        extra={
            "mode": "socket" if socket_mode else "http",
            "port": settings.PORT,
            "database": store.dialect,
        },
    )
    try:
        await stop.wait()
    finally:
        log.info("leakbot is stopping")
        if socket_handler is not None:
            await socket_handler.close_async()  # type: ignore[no-untyped-call]
        await runner.cleanup()
        await store.close()
