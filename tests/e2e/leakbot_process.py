"""`leakbot` as a real process: run a command, or start `leakbot run` and stop it with a signal.

The child gets a clean environment (no SLACK_*/LEAKBOT_*/DATABASE_URL/PORT from the test run) and
a working directory without `.env`. Nothing sleeps: the tests wait on the process's own output
and exit, with timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import random
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

WAIT = 30.0  # seconds: a bound on waiting for the child, never a sleep
LEAKBOT = [sys.executable, "-m", "bot.cli"]  # the development install (editable)
_OWN_SETTINGS = ("SLACK_", "LEAKBOT_", "DATABASE_URL", "PORT", "POSTGRES_")


# Ports for `leakbot run` children (and addresses where nothing may listen) come from just
# below the kernel's ephemeral range: bind(0) and connect() in any process (the emulator, every
# LocalServer, a client's socket, another job on the machine) never pick those, so none can take
# the port between its choice and the child's bind, nor between two lives of a SIGKILLed child
# (a port from bind(0)-and-close could be: here about one bind(0) in 12,000 right after it got
# the same port).
# A lock file per port keeps other test processes using this function off the same port.
_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LINUX_EPHEMERAL = (32768, 60999)  # the default, where /proc does not say
_SPAN = 8192
_LOCKS = Path(tempfile.gettempdir()) / "leakbot-e2e-ports"
_held: dict[int, int] = {}  # port -> the open lock file keeping it ours until the process ends


def ephemeral_range() -> range:
    """The ports the kernel hands out for bind(0) and outgoing connections."""
    try:
        low, high = (int(v) for v in _EPHEMERAL.read_text().split())
    except (OSError, ValueError):
        low, high = _LINUX_EPHEMERAL
    return range(low, high + 1)


def _outside_ephemeral() -> range:
    ephemeral = ephemeral_range()
    below = range(max(1024, ephemeral.start - _SPAN), ephemeral.start)
    above = range(ephemeral.stop, min(65536, ephemeral.stop + _SPAN))
    return below if len(below) >= len(above) else above


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now and that nothing but its taker will bind
    while this test process lives (never handed out twice, and outside the ephemeral range)."""
    _LOCKS.mkdir(exist_ok=True)
    ports = _outside_ephemeral()
    start = random.SystemRandom().randrange(len(ports))
    for i in range(len(ports)):
        port = ports[(start + i) % len(ports)]
        if port in _held:
            continue
        fd = os.open(_LOCKS / f"{port}.lock", os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another test process's: next
            with socket.socket() as sock:
                # As the child's server binds (SO_REUSEADDR): a TIME_WAIT does not stop it.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("127.0.0.1", port))
        except OSError:
            os.close(fd)
            continue
        _held[port] = fd
        return port
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop - 1} (held here: {len(_held)})")


def clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_SETTINGS)}
    # Coverage of the repository's `bot` must not leak in through PYTHONPATH either.
    env.pop("PYTHONPATH", None)
    env.update(values)
    return env


@dataclass
class Finished:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]

    @property
    def plain_err_lines(self) -> list[str]:
        """stderr without the JSON log lines (what a person reads at the terminal)."""
        return [line for line in self.err_lines if not line.startswith("{")]


async def run_command(
    args: Sequence[str],
    env: Mapping[str, str],
    cwd: Path | str,
    *,
    command: Sequence[str] = LEAKBOT,
    timeout: float = 60.0,
) -> Finished:
    proc = await asyncio.create_subprocess_exec(
        *command,
        *args,
        env=dict(env),
        cwd=str(cwd),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return Finished(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"))


@dataclass
class BotProcess:
    """`leakbot run …` with its stderr (JSON log lines and one-line errors) read as it comes."""

    args: Sequence[str]
    env: Mapping[str, str]
    cwd: Path | str
    command: Sequence[str] = field(default_factory=lambda: list(LEAKBOT))
    lines: list[str] = field(default_factory=list)
    proc: asyncio.subprocess.Process | None = None
    _reader: asyncio.Task[None] | None = None
    _seen: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.command,
            *self.args,
            env=dict(self.env),
            cwd=str(self.cwd),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        async for raw in self.proc.stderr:
            self.lines.append(raw.decode(errors="replace").rstrip())
            self._seen.set()

    def messages(self) -> list[str]:
        """The `message` of each JSON log line so far."""
        found = []
        for line in self.lines:
            with contextlib.suppress(ValueError, AttributeError):
                found.append(str(json.loads(line).get("message")))
        return found

    async def wait_for_message(self, message: str, timeout: float = WAIT) -> None:
        async def seen() -> None:
            while message not in self.messages():
                if self._reader is not None and self._reader.done():
                    raise AssertionError(f"exited before {message!r}:\n" + self.text())
                self._seen.clear()
                await self._seen.wait()

        await asyncio.wait_for(seen(), timeout)

    async def wait_exit(self, timeout: float = WAIT) -> int:
        assert self.proc is not None
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        if self._reader is not None:
            await asyncio.wait_for(self._reader, timeout)
        return code

    async def signal_and_time(self, sig: signal.Signals = signal.SIGTERM) -> tuple[int, float]:
        """Send `sig`; (exit code, seconds until the process ended)."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(sig)
        code = await self.wait_exit()
        return code, time.monotonic() - started

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.wait_exit()

    def text(self) -> str:
        return "\n".join(self.lines)


class Blackhole:
    """A TCP port that accepts connections and never answers (Slack unreachable, the worst
    way: every request waits for its timeout)."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.port = 0
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> Blackhole:
        async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._writers.append(writer)

        self.server = await asyncio.start_server(hold, "127.0.0.1", 0)
        self.port = int(self.server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *_: object) -> None:
        for writer in self._writers:
            writer.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"


SIGTERM = signal.SIGTERM
SIGINT = signal.SIGINT
