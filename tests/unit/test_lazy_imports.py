"""What `leakbot run` and the other commands import at start: not the libraries only some
commands or features use (Alembic only to migrate, matplotlib only to draw the summary chart,
holidays at the first deadline, python-docx and Jinja2 when drafting, the PostgreSQL dialect only
for a PostgreSQL database)."""

from __future__ import annotations

import json
import subprocess
import sys

# Loaded later, by the features that need them (the names as in sys.modules).
LATER = (
    "alembic",
    "mako",
    "matplotlib",
    "holidays",
    "docx",
    "jinja2",
    "sqlalchemy.dialects.postgresql",
    "asyncpg",
)


def _loaded_of(later: tuple[str, ...], code: str) -> list[str]:
    """Which of `later` are imported after running `code` in a fresh interpreter."""
    probe = (
        f"import json, sys; {code}; later = {later!r}; print(json.dumps(sorted("
        "n for n in later if any(m == n or m.startswith(n + '.') for m in sys.modules))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    loaded: list[str] = json.loads(result.stdout)
    return loaded


def test_start_up_imports_none_of_what_features_load_later() -> None:
    assert _loaded_of(LATER, "import bot.cli, bot.server, bot.slack.app, bot.logs") == []


def test_the_first_deadline_imports_holidays() -> None:
    code = (
        "from datetime import date; from bot.domain.calendar import is_business_day; "
        "assert 'holidays' not in sys.modules; assert not is_business_day(date(2026, 1, 12))"
    )
    assert _loaded_of(("holidays",), code) == ["holidays"]


def test_drawing_the_chart_imports_matplotlib_with_the_agg_backend() -> None:
    probe = (
        "import sys; from bot.domain.playbook import load_playbook; "
        "from bot.domain.chart import WeeklyActions; from bot.summary_chart import render_chart; "
        "assert 'matplotlib' not in sys.modules; "
        "render_chart(load_playbook(), WeeklyActions((), {}), 'en'); "
        "import matplotlib; print(matplotlib.get_backend().lower())"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "agg"
