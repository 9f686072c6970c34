"""Fixtures of the CLI tests: a clean environment, and the CLI run in-process.

`clean_cli_settings`: no setting from the developer's shell or a stray `.env` reaches the CLI
(every variable `Settings` reads is unset; the working directory is the test's own). `cli`:
`bot.cli.main(ARGS)` in that environment, on a thread because the CLI starts its own event loop;
it returns (exit code, stdout, stderr). `run_cli`: the same against the test's database (both
kinds, see tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from pathlib import Path

import pytest

from bot.cli import main

from .cli_support import SETTINGS_ENV, CliRun


@pytest.fixture
def clean_cli_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


async def _in_process(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()

    def call() -> int:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            return main(list(args))

    code = await asyncio.to_thread(call)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def cli(clean_cli_settings: None) -> CliRun:
    """`bot.cli.main(ARGS)` with no settings but those the test sets."""
    return _in_process


@pytest.fixture
def run_cli(cli: CliRun, monkeypatch: pytest.MonkeyPatch, database_url: str) -> CliRun:
    """`cli` against the test's database."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    return cli
