"""`free_port`: the port a `leakbot run` child gets is one no bind(0) can take from it.

A CI run once saw the bot not start: the port had been picked by binding port 0 and closing it,
and a server binding port 0 afterwards (the emulator) can get that same port (here about one
bind(0) in 12,000 right after). The ports now come from outside the kernel's ephemeral range,
each held by a lock file until the test process ends.
"""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from leakbot_process import _LOCKS, ephemeral_range, free_port


def test_ports_are_outside_the_ephemeral_range_free_and_never_given_twice() -> None:
    ephemeral = ephemeral_range()
    ports = [free_port() for _ in range(40)]
    assert len(set(ports)) == len(ports)
    assert [p for p in ports if p in ephemeral] == []
    for port in ports:  # nothing listens there: the child can bind it
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))


def test_bind_0_never_returns_a_port_given_out() -> None:
    ports = {free_port() for _ in range(10)}
    for _ in range(2000):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            assert sock.getsockname()[1] not in ports


def test_a_port_given_to_another_process_stays_its_own_until_it_ends() -> None:
    here = Path(__file__).parent
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, leakbot_process as p; print(p.free_port(), flush=True); sys.stdin.read()",
        ],
        cwd=here,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    port = int(child.stdout.readline())
    fd = os.open(_LOCKS / f"{port}.lock", os.O_RDWR)
    try:
        with pytest.raises(BlockingIOError):  # what free_port tries first: it moves on
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        child.stdin.close()
        assert child.wait(30) == 0
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released with the process
    finally:
        os.close(fd)
