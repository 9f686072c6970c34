"""Building the app at start: Bolt is given its app name, so that it does not derive one from
the caller's frame with `inspect.stack()` (which resolves the source path of every loaded module
and reads the callers' sources into linecache: ~40 ms of CPU and ~0.5 MB at every start)."""

from __future__ import annotations

import inspect

import pytest
from conftest import _playbook, settings_for
from slackemu import FakeClock, SlackEmulator

from bot.slack.app import build_app
from bot.store import Store


async def test_building_the_app_does_not_walk_the_stack(
    emulator: SlackEmulator,
    database_url: str,
    store: Store,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("inspect.stack() while building the app")

    monkeypatch.setattr(inspect, "stack", refuse)
    settings = settings_for(emulator, database_url)
    app = build_app(settings, store, _playbook(settings.LEAKBOT_PLAYBOOK), clock, run_outbox=False)
    # The name Bolt derived before (this module's file name): its listeners' logger names.
    assert app.bolt.name == "app.py"


async def test_listeners_answer_response_urls_through_the_shared_session(
    emulator: SlackEmulator, database_url: str, store: Store, clock: FakeClock
) -> None:
    """`respond()` goes through the Web API client's keep-alive session (bot/slack/respond.py):
    Bolt's own `respond` posts the same body over a new connection, so only the wiring tells
    them apart."""
    settings = settings_for(emulator, database_url)
    app = build_app(settings, store, _playbook(settings.LEAKBOT_PLAYBOOK), clock, run_outbox=False)
    names = [
        getattr(getattr(m, "func", None), "__qualname__", "")
        for m in app.bolt._async_middleware_list
    ]
    assert "shared_respond.<locals>.middleware" in names, names
