"""respond() through the app's keep-alive session: Bolt's bodies, one connection."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.slack.respond import SessionRespond

ANSWERS: list[Any] = [
    {"text": "done", "response_type": "ephemeral", "replace_original": False},
    {"text": "again", "blocks": [{"type": "divider"}], "thread_ts": "1.2"},
    {"text": {"text": "whole", "replace_original": True}},
]


async def test_same_bodies_as_bolt_over_one_connection() -> None:
    seen: list[tuple[str, int, Any]] = []

    async def answer(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        seen.append((request.match_info["who"], peer[1] if peer else -1, await request.json()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/{who}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        for kwargs in ANSWERS:
            response = await AsyncRespond(response_url=f"http://127.0.0.1:{port}/bolt")(**kwargs)
            assert response.status_code == 200
        async with aiohttp.ClientSession() as session:
            ours = SessionRespond(
                response_url=f"http://127.0.0.1:{port}/ours", session=lambda: session
            )
            for kwargs in ANSWERS:
                response = await ours(**kwargs)
                assert response.status_code == 200
    finally:
        await runner.cleanup()
    bolt = [(port, body) for who, port, body in seen if who == "bolt"]
    mine = [(port, body) for who, port, body in seen if who == "ours"]
    assert [body for _, body in mine] == [body for _, body in bolt]
    assert len({port for port, _ in bolt}) == len(ANSWERS)  # Bolt: a connection per answer
    assert len({port for port, _ in mine}) == 1  # ours: the session's kept-alive connection


async def test_without_a_session_it_still_answers() -> None:
    bodies: list[Any] = []

    async def answer(request: web.Request) -> web.Response:
        bodies.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/r", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/r"
        await SessionRespond(response_url=url, session=lambda: None)(text="hi")
    finally:
        await runner.cleanup()
    assert bodies == [{"text": "hi"}]
