"""Serve an ``aiohttp.web.Application`` on 127.0.0.1 on a free port (emulator and apps alike)."""

from __future__ import annotations

import socket
from types import TracebackType

from aiohttp import web

__all__ = ["LocalServer"]


class LocalServer:
    """``async with LocalServer(app) as server:`` -> ``server.url`` is ``http://127.0.0.1:PORT``.

    Binds the socket itself (port 0), so the port is known before any request and no two
    servers race for one. ``shutdown_timeout`` bounds how long ``stop()`` waits for requests
    still running.
    """

    def __init__(self, app: web.Application, *, shutdown_timeout: float = 1.0) -> None:
        self.app = app
        self._shutdown_timeout = shutdown_timeout
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The bound port (after ``start()``)."""
        if self._port is None:
            raise RuntimeError("server not started")
        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Bind and serve."""
        if self._runner is not None:
            raise RuntimeError("server already started")
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=self._shutdown_timeout)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", 0))
            site = web.SockSite(runner, sock)
            await site.start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._port = sock.getsockname()[1]
        self._runner = runner

    async def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> LocalServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
