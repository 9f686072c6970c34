"""Work done in a short-lived child interpreter (`python -m …` / `python -c …`), for the server.

Why children at all: a library that only some work needs (Alembic to migrate, matplotlib to draw
the weekly chart, the `holidays` package to list Japan's holidays) would stay in the long-running
server's memory once imported; a child takes it with it when it exits. The child is this
interpreter (`sys.executable`), so it sees the same packages.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


class ChildTimedOut(Exception):
    """The child did not finish in time (it was killed)."""


@dataclass(frozen=True)
class ChildResult:
    returncode: int
    stdout: bytes
    stderr: bytes

    def last_error_line(self, default: str) -> str:
        """The child's last line on stderr (its one-line reason), or `default`."""
        lines = self.stderr.decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else default


async def run_python(
    arguments: Sequence[str],
    *,
    stdin: bytes | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> ChildResult:
    """`sys.executable *arguments`, `stdin` written to it, its output read; killed (and waited
    for) when it outlives `timeout` (ChildTimedOut) or the caller is cancelled (a stop)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *arguments,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env) if env is not None else None,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(stdin), timeout=timeout)
    except TimeoutError:
        raise ChildTimedOut(f"took longer than {timeout:g} s") from None
    finally:
        if process.returncode is None:  # timed out, or cancelled
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await asyncio.shield(process.wait())
    assert process.returncode is not None
    return ChildResult(process.returncode, out, err)
