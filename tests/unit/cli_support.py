"""What the CLI tests share besides fixtures (tests/unit/conftest.py has those)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import IO, Any, Final

from bot.config import Settings

# Every environment variable the CLI's settings read: unset for the tests.
SETTINGS_ENV: Final = tuple(Settings.model_fields)
# The installed console script, for tests of what a shell sees (exit codes, pipes, stdin).
LEAKBOT: Final = Path(sys.executable).with_name("leakbot")
# `run_cli` (conftest.py): the CLI in-process with these arguments -> (exit code, stdout, stderr).
CliRun = Callable[..., Awaitable[tuple[int, str, str]]]


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without the settings, plus `extra`: for `leakbot` children."""
    env = {name: value for name, value in os.environ.items() if name not in SETTINGS_ENV}
    env.update(extra)
    return env


def run_leakbot(
    args: Sequence[str], cwd: Path, *, input: str | None = None, stdin: IO[Any] | None = None
) -> subprocess.CompletedProcess[str]:
    """The console script as a shell runs it (no settings in its environment); text output,
    never raising on an exit code."""
    return subprocess.run(
        [str(LEAKBOT), *args],
        input=input,
        stdin=stdin,
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=cwd,
        timeout=120,
        check=False,
    )
