"""Running a probe in a fresh interpreter, for what is settled once per process (imports,
library-wide settings): the probe prints JSON as its last line of output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def run_json(code: str, *, cwd: Path | None = None, timeout: float = 120) -> Any:
    """`python -c code`, which must succeed; the JSON value of its last line of output."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])
