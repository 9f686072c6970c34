"""What `leakbot run` and the other commands import at start: not the libraries only some
commands use (Alembic only to migrate, matplotlib only to draw the summary chart)."""

from __future__ import annotations

import subprocess
import sys


def test_start_up_imports_neither_alembic_nor_matplotlib() -> None:
    probe = (
        "import sys, bot.cli, bot.server, bot.slack.app; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'mako', 'matplotlib'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "[]"


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
