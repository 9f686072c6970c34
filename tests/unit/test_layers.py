"""The layers point one way (docs/architecture.md): domain ← store ← application ← edges.

Read from the source with `ast`, so an import inside a function counts as much as one at the
top, and nothing is imported to check it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[2] / "bot"

# The application: the domain and the store together, saying what to tell whom.
APPLICATION = (
    "bot.service",
    "bot.followthrough",
    "bot.notifications",
    "bot.home",
    "bot.lifecycle",
    "bot.updates",
    "bot.documents",
    "bot.drafting",
    "bot.incident_channels",
)
# What reaches the outside world: Slack, the command line, the HTTP server and its timers.
EDGES = (
    "bot.slack",
    "bot.cli",
    "bot.cli_draft",
    "bot.cli_export",
    "bot.cli_input",
    "bot.cli_outbox",
    "bot.database",
    "bot.server",
    "bot.scheduler",
    "bot.doctor",
    "bot.summary_chart",
    "bot.holiday_table",
)
# Leaves: helpers that import nothing of `bot`, so that the store and the edges may share them
# (the domain may not: running a child process is not pure).
LEAVES = ("bot.python_child",)
# Third-party packages only the store or the edges may use.
IO_LIBRARIES = ("slack_sdk", "slack_bolt", "sqlalchemy", "aiohttp", "alembic", "asyncpg")

# Per layer: the imports its modules must not make.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "bot.domain": ("bot.store", *APPLICATION, *EDGES, *LEAVES, *IO_LIBRARIES),
    "bot.store": (*APPLICATION, *EDGES, "slack_sdk", "slack_bolt", "aiohttp"),
    **{module: (*EDGES, "slack_sdk", "slack_bolt", "aiohttp") for module in APPLICATION},
    **{leaf: ("bot",) for leaf in LEAVES},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(BOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every module name `source` (the text of `module`) imports, relative imports resolved."""
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join([*base, node.module] if node.module else base)
            else:
                prefix = node.module or ""
            found.add(prefix)
            # `from bot import service` imports the module bot.service.
            found.update(f"{prefix}.{alias.name}" for alias in node.names)
    return found


def _within(name: str, target: str) -> bool:
    return name == target or name.startswith(target + ".")


def violations(source: str, module: str, *, is_package: bool = False) -> list[str]:
    """`module imports name` for each import its layer forbids."""
    layer = next((layer for layer in FORBIDDEN if _within(module, layer)), None)
    if layer is None:
        return []
    return sorted(
        f"{module} imports {name}"
        for name in imported(source, module, is_package=is_package)
        if any(_within(name, banned) for banned in FORBIDDEN[layer])
    )


def test_every_layer_is_present() -> None:
    # The check below must have modules to look at in every layer it names.
    modules = {module_name(path) for path in BOT.rglob("*.py")}
    for layer in FORBIDDEN:
        assert any(_within(module, layer) for module in modules), layer


def test_imports_point_one_way() -> None:
    found: list[str] = []
    checked = 0
    for path in sorted(BOT.rglob("*.py")):
        module = module_name(path)
        found += violations(
            path.read_text(encoding="utf-8"), module, is_package=path.name == "__init__.py"
        )
        checked += any(_within(module, layer) for layer in FORBIDDEN)
    assert found == []
    assert checked > 20  # the domain, the store and the application were all read


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("bot.domain.engine", "from bot.store import Store\n", ["bot.store"]),
        ("bot.domain.engine", "import sqlalchemy.exc\n", ["sqlalchemy.exc"]),
        ("bot.domain.engine", "from slack_sdk.web import WebClient\n", ["slack_sdk.web"]),
        ("bot.domain.engine", "import aiohttp\n", ["aiohttp"]),
        ("bot.domain.engine", "from bot.slack.blocks import common\n", ["bot.slack.blocks"]),
        ("bot.domain.engine", "from ..store import records\n", ["bot.store"]),
        ("bot.domain.engine", "def f():\n    import slack_bolt\n", ["slack_bolt"]),
        ("bot.store.repository", "from bot.slack.ids import ActionId\n", ["bot.slack.ids"]),
        ("bot.store.repository", "from bot.service import Unavailable\n", ["bot.service"]),
        ("bot.store.repository", "from bot import followthrough\n", ["bot.followthrough"]),
        ("bot.store", "from ..notifications import Notification\n", ["bot.notifications"]),
        ("bot.service", "from bot.slack.blocks.common import escape\n", ["bot.slack.blocks"]),
        ("bot.followthrough", "from bot.slack import render\n", ["bot.slack"]),
        ("bot.notifications", "import slack_sdk\n", ["slack_sdk"]),
        ("bot.service", "from bot.cli import main\n", ["bot.cli"]),
        ("bot.domain.calendar", "from bot.python_child import run_python\n", ["bot.python_child"]),
        ("bot.python_child", "from bot.domain import calendar\n", ["bot.domain"]),
    ],
)
def test_the_check_catches_a_wrong_import(module: str, source: str, expected: list[str]) -> None:
    # Synthetic modules, so that the check above cannot pass by seeing nothing.
    found = violations(source, module, is_package=module == "bot.store")
    assert found, source
    assert all(any(name in line for name in expected) for line in found), found


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("bot.domain.engine", "from bot.domain.playbook import Playbook\nimport yaml\n"),
        ("bot.store.repository", "from bot.domain.vocabulary import OPTION_KEYS\n"),
        ("bot.store.repository", "from sqlalchemy import select\n"),
        ("bot.service", "from bot.store import Store\nimport sqlalchemy.exc\n"),
        ("bot.slack.outbox", "from bot.service import IncidentService\nimport aiohttp\n"),
        ("bot.store.migrate", "from bot.python_child import run_python\n"),
        ("bot.slack_notes", "import slack_bolt\n"),  # not a layer the rules name
    ],
)
def test_the_check_allows_the_direction(module: str, source: str) -> None:
    assert violations(source, module) == []
