"""The baseline: a bare Bolt AsyncApp whose listeners only ack(), served like leakbot.

Same signing secret, same Web API (the emulator; Bolt calls auth.test once), same aiohttp
server settings as `leakbot run` (AppRunner, access_log=None, TCPSite), same listeners'
matchers (`/leak`, the intake view's callback id, `leak_approve`). GET /healthz answers 200.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from typing import Any

import _common as common
from aiohttp import web
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient


def build(api_url: str) -> AsyncApp:
    app = AsyncApp(
        client=AsyncWebClient(token=common.TOKEN, base_url=api_url),
        signing_secret=common.SECRET,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
    )

    @app.command("/leak")
    async def leak(ack: AsyncAck) -> None:
        await ack()

    @app.view("leak_intake")
    async def intake(ack: AsyncAck) -> None:
        await ack()

    @app.action("leak_approve")
    async def approve(ack: AsyncAck) -> None:
        await ack()

    return app


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-url", required=True)
    args = parser.parse_args()
    application = build(args.api_url).web_app(path="/slack/events")

    async def healthz(_: web.Request) -> web.Response:
        body: dict[str, Any] = {"ok": True}
        return web.json_response(body)

    application.router.add_get("/healthz", healthz)
    runner = web.AppRunner(application, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host="127.0.0.1", port=args.port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
