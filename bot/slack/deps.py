"""What the listeners need, built once per process."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import Clock
from bot.config import Settings
from bot.domain.i18n import normalize_lang
from bot.domain.playbook import Playbook
from bot.followthrough import FollowThrough
from bot.metrics import Metrics
from bot.service import IncidentService
from bot.slack.approvers import ApproverDirectory
from bot.slack.home import HomeTab
from bot.slack.outbox import OutboxSender
from bot.store import Store


@dataclass
class Deps:
    settings: Settings
    playbook: Playbook
    store: Store
    clock: Clock
    client: AsyncWebClient
    service: IncidentService
    outbox: OutboxSender
    approvers: ApproverDirectory
    follow: FollowThrough
    home: HomeTab
    metrics: Metrics = field(default_factory=Metrics)
    # LEAKBOT_ESCALATION_APPROVERS: they decide an incident once it has escalated to them.
    escalation: ApproverDirectory | None = None
    _locales: dict[str, tuple[datetime, str]] = field(default_factory=dict)

    def known_lang(self, user_id: str) -> str:
        """The user's language as last looked up, however old, else the default; never asks
        Slack (for answers due before an ack)."""
        cached = self._locales.get(user_id)
        return cached[1] if cached else self.settings.LEAKBOT_LANGUAGE

    async def user_lang(self, user_id: str) -> str:
        """The user's Slack locale (ja/en), cached for an hour; the default if unknown."""
        now = self.clock.now()
        cached = self._locales.get(user_id)
        if cached and now - cached[0] < timedelta(hours=1):
            return cached[1]
        lang: str = self.settings.LEAKBOT_LANGUAGE
        try:
            response = await self.client.users_info(user=user_id, include_locale=True)
            user = response.get("user") or {}
            lang = normalize_lang(user.get("locale"), self.settings.LEAKBOT_LANGUAGE)
        except Exception:  # locale is a nicety; never fail a request for it
            return lang
        self._locales[user_id] = (now, lang)
        return lang
