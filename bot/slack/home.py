"""The App Home tab at the Slack edge: one person's view, in their language, from the database.

Used twice: by the `app_home_opened` listener (the person is looking: publish at once) and by
the outbox (`home` notifications after a change: rendered when sent). Whether the person is an
approver (user groups included) comes from the approver directory, cached.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import Clock
from bot.domain.playbook import Playbook
from bot.home import HomeService, week_start
from bot.service import Unavailable
from bot.slack.approvers import ApproverDirectory
from bot.slack.blocks.home import home_unavailable_view, home_view

log = logging.getLogger(__name__)


class HomeTab:
    def __init__(
        self,
        home: HomeService,
        playbook: Playbook,
        directory: ApproverDirectory,
        lang_of: Callable[[str], Awaitable[str]],
        clock: Clock,
    ) -> None:
        self.home = home
        self.playbook = playbook
        self.directory = directory
        self.lang_of = lang_of
        self.clock = clock

    async def view_for(self, user_id: str, *, opened: bool) -> dict[str, Any]:
        """The person's tab (`opened`: they are opening it); raises `bot.service.Unavailable`
        when the database is down."""
        lang = await self.lang_of(user_id)
        approver = user_id in await self.directory.members()
        snapshot = await self.home.snapshot(user_id, approver=approver, opened=opened)
        now = self.clock.now()
        tz = self.home.tz
        return home_view(
            self.playbook,
            snapshot,
            lang=lang,
            tz=tz,
            now=now,
            week_start=week_start(now, tz),
            approver=approver,
        )

    async def publish(self, client: AsyncWebClient, user_id: str, *, opened: bool) -> None:
        """Publish the person's tab now (they opened it, or clicked in it)."""
        try:
            view = await self.view_for(user_id, opened=opened)
        except Unavailable as exc:
            log.error("app home unavailable: %s", exc)
            view = home_unavailable_view(await self.lang_of(user_id))
        await client.views_publish(user_id=user_id, view=view)
