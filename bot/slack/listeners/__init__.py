"""Bolt listeners grouped by kind; each module has `register(app, deps)`."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.deps import Deps
from bot.slack.listeners import actions, commands, documents, events, home, lifecycle, tasks, views


def register_all(app: AsyncApp, deps: Deps) -> None:
    for module in (commands, actions, views, events, tasks, home, lifecycle, documents):
        module.register(app, deps)
