"""The end-to-end harness: leakbot's real HTTP server, signed requests, a local Slack.

`leakbot` starts the app (Bolt + aiohttp) on 127.0.0.1 with its Web API client pointed at the
`emulator`, over each database of `database_url` (SQLite file and PostgreSQL). Time comes from a
`FakeClock`; nothing sleeps — tests wait on the emulator's answered calls or drain the outbox.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from slackemu import FakeClock, LocalServer, SlackEmulator, SlackReply, SlackSender

from bot.config import Settings, load_settings
from bot.domain.playbook import Playbook, load_playbook
from bot.slack.app import LeakbotApp, build_app
from bot.store import IncidentRecord, Store

SECRET = "e2e-signing-secret-0123456789abcdef"
CHANNEL = "CESCALATE1"
SUMMARY_CHANNEL = "CSUMMARY01"
REPORTER = "UREPORTER1"
REPORTER_EN = "UREPORTER2"
APPROVER_1 = "UAPPROVER1"
APPROVER_2 = "UAPPROVER2"  # an approver through the user group
APPROVER_3 = "UAPPROVER3"
STRANGER = "USTRANGER1"
GROUP = "SAPPROVERS"
SECOND_LEVEL = "UESCALATE1"  # LEAKBOT_ESCALATION_APPROVERS of the `escalating` fixture
T0 = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo

# One valid answer set, by step, as a person enters it in the modal.
STEPS: list[dict[str, Any]] = [
    {"partner": "株式会社アクメ", "source": "partner_notice", "relationship": "entrusted"},
    {
        "data_kinds": ["customer_personal"],
        "affected_persons": 1200,
        "encrypted": "no",
        "regions": ["jp", "eu"],
    },
    {"cause": "intentional", "damage": "confirmed", "partner_response": "concealing"},
    {
        "dependency": "low",
        "contract": ["confidentiality_remedies"],
        "description": "委託先の従業員が顧客名簿を持ち出した",
    },
]
MILD_STEPS: list[dict[str, Any]] = [
    {"partner": "Globex Inc.", "source": "partner_notice", "relationship": "entrusted"},
    {"data_kinds": ["internal_minor"], "encrypted": "no"},
    {"cause": "negligence", "damage": "none", "partner_response": "cooperative"},
    {"dependency": "high", "contract": ["prevention_plan_required"]},
]


MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"


@functools.cache
def manifest_scopes() -> tuple[str, ...]:
    """The bot scopes manifest.yml asks for: the emulator refuses calls that need others."""
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return tuple(manifest["oauth_config"]["scopes"]["bot"])


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
async def emulator(clock: FakeClock) -> AsyncIterator[SlackEmulator]:
    # Granted exactly the manifest's scopes: a call that needs another one is refused.
    async with SlackEmulator(clock=clock, scopes=manifest_scopes()) as emu:
        emu.add_user(REPORTER, locale="ja-JP", real_name="報告 太郎")
        emu.add_user(REPORTER_EN, locale="en-US", real_name="Rita Reporter")
        for user in (APPROVER_1, APPROVER_2, APPROVER_3):
            emu.add_user(user, locale="ja-JP")
        emu.add_user(STRANGER, locale="en-US", real_name="Sam Stranger")
        emu.add_usergroup(GROUP, [APPROVER_2, APPROVER_3])
        emu.add_channel(CHANNEL, is_member=True)
        emu.add_channel(SUMMARY_CHANNEL, is_member=True)
        yield emu


@pytest.fixture
def no_rejections(emulator: SlackEmulator) -> Iterator[None]:
    """After the test: nothing leakbot sent was refused by the emulator's Block Kit checks.
    (Opt-in, `pytestmark = pytest.mark.usefixtures("no_rejections")`: the emulator's own tests
    provoke rejections on purpose.)"""
    yield
    emulator.assert_no_rejections()


def settings_for(emulator: SlackEmulator, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "SLACK_BOT_TOKEN": "xoxb-e2e-token",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": emulator.api_url,
        "DATABASE_URL": database_url,
        "LEAKBOT_ESCALATION_CHANNEL": CHANNEL,
        "LEAKBOT_SUMMARY_CHANNEL": SUMMARY_CHANNEL,
        "LEAKBOT_APPROVERS": f"{APPROVER_1},{GROUP}",
        "LEAKBOT_LANGUAGE": "ja",
        "LEAKBOT_TIMEZONE": "Asia/Tokyo",
    }
    values.update(overrides)
    return load_settings(_env_file=None, **values)


@dataclass
class Leakbot:
    """A running leakbot and the means to talk to it as Slack and as a person."""

    app: LeakbotApp
    store: Store
    server: LocalServer
    slack: SlackSender
    emulator: SlackEmulator
    clock: FakeClock
    playbook: Playbook
    views_seen: list[str] = field(default_factory=list)

    async def deliver(self) -> int:
        """Make every Slack call that is due now (the outbox), as the background task would."""
        return await self.app.deps.outbox.drain()

    async def open_modal(self, user_id: str) -> str:
        before = len(self.emulator.calls_to("views.open"))
        reply = await self.slack.slash_command("/leak", user_id=user_id)
        assert reply.status == 200, reply.text
        call = await self.emulator.wait_for_call("views.open", count=before + 1)
        assert call.ok and call.response is not None, call.response
        view_id = str(call.response["view"]["id"])
        # The language switch (if any) follows the open; wait for it so steps are predictable.
        # (users.info is cached by the app: a second modal of the same user may not call it.)
        info = await self.emulator.wait_for_call(
            "users.info", where=lambda c: c.args.get("user") == user_id
        )
        locale = str(((info.response or {}).get("user") or {}).get("locale") or "")
        if locale and not locale.lower().startswith(self.app.deps.settings.LEAKBOT_LANGUAGE):
            await self.emulator.wait_for_call(
                "views.update", where=lambda c: c.args.get("view_id") == view_id
            )
        return view_id

    async def submit_step(
        self, view_id: str, user_id: str, answers: Mapping[str, Any], **options: Any
    ) -> SlackReply:
        reply = await self.slack.view_submission(
            view_id, user_id=user_id, answers=answers, **options
        )
        assert reply.status == 200, reply.text
        return reply

    async def report(
        self, user_id: str = REPORTER, steps: list[dict[str, Any]] | None = None
    ) -> IncidentRecord:
        """Walk the whole modal and confirm; returns the stored incident (messages delivered)."""
        view_id = await self.open_modal(user_id)
        for answers in steps or STEPS:
            reply = await self.submit_step(view_id, user_id, answers)
            assert (reply.json or {}).get("response_action") == "update", reply.json
        reply = await self.submit_step(view_id, user_id, {})
        assert (reply.json or {}).get("response_action") == "update", reply.json
        records = await self.store.list_incidents(limit=1000)
        record = max(records, key=lambda r: r.created_at)
        await self.deliver()
        return record

    async def close_in_store(self, incident_id: str) -> None:
        """Closed straight in the store as the close modal closes it (an approver, no task
        confirmed done), for a test about what follows a close, not the close itself."""
        closed = await self.store.close_with_outcome(
            incident_id,
            actor_id=APPROVER_1,
            outcome="terminated",
            note=None,
            regulator=[],
            done_task_ids=[],
            now=self.clock.now(),
        )
        assert closed is not None

    def recommendation_ts(self, incident: IncidentRecord) -> str:
        for message in self.emulator.messages(CHANNEL):
            if message.get("thread_ts"):
                continue  # a reply in a thread (follow-ups), not the recommendation
            if incident.id in str(message.get("text", "")):
                return str(message["ts"])
        raise AssertionError(f"no recommendation message for {incident.id}")

    async def click(
        self, incident: IncidentRecord, action_id: str, user_id: str, **kwargs: Any
    ) -> SlackReply:
        ts = self.recommendation_ts(incident)
        reply = await self.slack.block_actions(
            action_id, user_id=user_id, channel_id=CHANNEL, message_ts=ts, **kwargs
        )
        assert reply.status == 200, reply.text
        return reply


@functools.cache
def _playbook(path: Path) -> Playbook:
    """Loaded once per session: it is immutable, and loading takes a good part of a second."""
    return load_playbook(path)


async def start_leakbot(
    emulator: SlackEmulator,
    clock: FakeClock,
    database_url: str,
    *,
    run_outbox: bool = False,
    store: Store | None = None,
    **overrides: Any,
) -> Leakbot:
    """leakbot's app served on a free port; `store`: one the test opened itself (else one on
    `database_url`). stop_leakbot closes it either way."""
    settings = settings_for(emulator, database_url, **overrides)
    playbook = _playbook(settings.LEAKBOT_PLAYBOOK)
    if store is None:
        store = await Store.open(settings.DATABASE_URL)
    app = build_app(settings, store, playbook, clock, run_outbox=run_outbox)
    server = LocalServer(app.web_app())
    await server.start()
    slack = SlackSender(server.url, SECRET, clock=clock, emulator=emulator)
    return Leakbot(app, store, server, slack, emulator, clock, playbook)


async def stop_leakbot(bot: Leakbot) -> None:
    await bot.slack.close()
    await bot.server.stop()
    await bot.store.close()


@contextlib.asynccontextmanager
async def running_leakbot(
    emulator: SlackEmulator, clock: FakeClock, database_url: str, **overrides: Any
) -> AsyncIterator[Leakbot]:
    """start_leakbot … stop_leakbot, for fixtures: `async with running_leakbot(…) as bot`."""
    bot = await start_leakbot(emulator, clock, database_url, **overrides)
    try:
        yield bot
    finally:
        await stop_leakbot(bot)


@pytest.fixture
async def leakbot(
    emulator: SlackEmulator, clock: FakeClock, database_url: str, store: Store
) -> AsyncIterator[Leakbot]:
    # `store` (unused here) makes the PostgreSQL database a copy of a migrated template, which
    # is much faster than migrating every test's database.
    async with running_leakbot(emulator, clock, database_url) as bot:
        yield bot


@pytest.fixture
async def escalating(
    emulator: SlackEmulator, clock: FakeClock, database_url: str
) -> AsyncIterator[Leakbot]:
    """leakbot with a second level of approvers (LEAKBOT_ESCALATION_APPROVERS)."""
    emulator.add_user(SECOND_LEVEL, locale="ja-JP")
    async with running_leakbot(
        emulator, clock, database_url, LEAKBOT_ESCALATION_APPROVERS=SECOND_LEVEL
    ) as bot:
        yield bot
