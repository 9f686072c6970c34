"""Who may approve: LEAKBOT_APPROVERS user IDs plus the members of its user groups (cached)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import Clock
from bot.slack.api_errors import error_text

log = logging.getLogger(__name__)


class Approvers(frozenset[str]):
    """The user ids known to approve, and `unresolved`: the groups whose members Slack could not
    be asked for and were never learnt. Someone outside the set may be in those."""

    unresolved: frozenset[str]

    def __new__(cls, members: Iterable[str] = (), unresolved: Iterable[str] = ()) -> Approvers:
        approvers = super().__new__(cls, members)
        approvers.unresolved = frozenset(unresolved)
        return approvers

    def unsure_of(self, user_id: str) -> bool:
        """Whether a refusal of `user_id` would be a guess (an unresolved group may hold them)."""
        return bool(self.unresolved) and user_id not in self


class ApproverDirectory:
    def __init__(
        self, client: AsyncWebClient, ids: tuple[str, ...], clock: Clock, *, ttl_seconds: int = 300
    ) -> None:
        self.client = client
        self.users = frozenset(i for i in ids if not i.startswith("S"))
        self.groups = tuple(i for i in ids if i.startswith("S"))
        self.clock = clock
        self.ttl = timedelta(seconds=ttl_seconds)
        self._cache: dict[str, tuple[datetime, frozenset[str]]] = {}

    async def _group(self, group_id: str) -> frozenset[str] | None:
        """The group's members; None when Slack could not be asked and none are remembered."""
        now = self.clock.now()
        cached = self._cache.get(group_id)
        if cached and now - cached[0] < self.ttl:
            return cached[1]
        try:
            response = await self.client.usergroups_users_list(usergroup=group_id)
        except Exception as exc:
            # Keep deciding with what we knew rather than locking every approver out.
            error = error_text(exc) if isinstance(exc, SlackApiError) else type(exc).__name__
            log.warning(
                "could not resolve approver group", extra={"group": group_id, "error": error}
            )
            return cached[1] if cached else None
        members = frozenset(str(user) for user in response.get("users") or [])
        self._cache[group_id] = (now, members)
        return members

    async def members(self) -> Approvers:
        """Everyone known to approve; a group Slack could not be asked about, and whose members
        were never learnt, adds nobody and is named in `unresolved`."""
        everyone = set(self.users)
        unresolved = []
        for group_id in self.groups:
            found = await self._group(group_id)
            if found is None:
                unresolved.append(group_id)
            else:
                everyone |= found
        return Approvers(everyone, unresolved)

    def known_members(self) -> frozenset[str] | None:
        """The approvers as last resolved, however old, without asking Slack (for answers due
        before an ack); None while a group was never resolved."""
        everyone = set(self.users)
        for group_id in self.groups:
            cached = self._cache.get(group_id)
            if cached is None:
                return None
            everyone |= cached[1]
        return frozenset(everyone)

    async def mentions(self) -> str:
        """How to mention the approvers in a message (groups as groups)."""
        parts = [f"<@{user}>" for user in sorted(self.users)]
        parts += [f"<!subteam^{group}>" for group in self.groups]
        return " ".join(parts)
