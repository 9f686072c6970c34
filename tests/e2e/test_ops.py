"""Operating leakbot: /healthz, /metrics, `leakbot doctor`, and the outbox's exactly-once lookup.

Everything runs on each database (`database_url`), on the FakeClock, against the Slack emulator.
`leakbot doctor` runs in-process (`bot.cli.main`) on a worker thread, because it starts its own
event loop (asyncio.run) while the emulator serves from the test's loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from conftest import (
    APPROVER_1,
    APPROVER_2,
    APPROVER_3,
    CHANNEL,
    GROUP,
    MILD_STEPS,
    REPORTER,
    STEPS,
    SUMMARY_CHANNEL,
    Leakbot,
)
from e2e_support import channel_posts, dm_posts, walk_to_confirm
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slackemu import SlackEmulator

from bot.cli import main as leakbot_cli
from bot.doctor import REQUIRED_SCOPES
from bot.store import Store

TOKEN = "xoxb-doctor-token"


# -- helpers ----------------------------------------------------------------------------------


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def get(http: aiohttp.ClientSession, bot: Leakbot, path: str) -> tuple[int, str, str]:
    async with http.get(f"{bot.server.url}{path}") as response:
        return response.status, response.headers.get("Content-Type", ""), await response.text()


async def scrape(http: aiohttp.ClientSession, bot: Leakbot) -> dict[str, Metric]:
    status, content_type, text = await get(http, bot, "/metrics")
    assert status == 200, text
    assert content_type.startswith("text/plain; version=")  # the Prometheus text format
    return {family.name: family for family in text_string_to_metric_families(text)}


def value(families: dict[str, Metric], sample: str, **labels: str) -> float:
    """One sample's value (0 when absent: a labelled counter not incremented yet)."""
    name = sample
    for suffix in ("_total", "_count", "_sum", "_bucket"):
        name = name.removesuffix(suffix)
    family = families[name]
    for found in family.samples:
        if found.name == sample and found.labels == labels:
            return float(found.value)
    return 0.0


def by_labels(families: dict[str, Metric], sample: str) -> dict[tuple[str, ...], float]:
    family = families[sample.removesuffix("_total")]
    return {
        tuple(found.labels.values()): float(found.value)
        for found in family.samples
        if found.name == sample
    }


# -- /healthz ---------------------------------------------------------------------------------


async def test_healthz_reports_the_database_and_the_outbox_depth(
    leakbot: Leakbot, http: aiohttp.ClientSession
) -> None:
    status, content_type, text = await get(http, leakbot, "/healthz")
    assert (status, content_type) == (200, "application/json; charset=utf-8")
    assert json.loads(text) == {"ok": True, "database": "up", "outbox_depth": 0}

    view_id, _ = await walk_to_confirm(leakbot, REPORTER, MILD_STEPS)
    await leakbot.submit_step(view_id, REPORTER, {})  # committed, not delivered yet
    depth = await leakbot.store.outbox_depth()
    assert depth == 2
    status, _, text = await get(http, leakbot, "/healthz")
    assert (status, json.loads(text)) == (200, {"ok": True, "database": "up", "outbox_depth": 2})

    await leakbot.deliver()
    status, _, text = await get(http, leakbot, "/healthz")
    assert (status, json.loads(text)) == (200, {"ok": True, "database": "up", "outbox_depth": 0})


# -- /metrics ---------------------------------------------------------------------------------


async def test_metrics_count_requests_acks_depth_and_deliveries(
    leakbot: Leakbot, http: aiohttp.ClientSession
) -> None:
    families = await scrape(http, leakbot)  # nothing yet (this scrape counts from the next)
    assert by_labels(families, "leakbot_http_requests_total") == {}
    assert value(families, "leakbot_ack_seconds_count") == 0

    view_id, _ = await walk_to_confirm(leakbot, REPORTER, MILD_STEPS)  # /leak + 4 steps
    await leakbot.submit_step(view_id, REPORTER, {})  # the confirmation
    forged = await leakbot.slack.slash_command("/leak", user_id=REPORTER, forge=True)
    assert forged.status == 401
    for _ in range(2):
        assert (await get(http, leakbot, "/healthz"))[0] == 200
    assert (await get(http, leakbot, "/nowhere"))[0] == 404

    families = await scrape(http, leakbot)
    assert by_labels(families, "leakbot_http_requests_total") == {
        ("/slack/events", "200"): 6,
        ("/slack/events", "401"): 1,
        ("/healthz", "200"): 2,
        ("/metrics", "200"): 1,  # the first scrape (a scrape counts once it has answered)
        ("other", "404"): 1,
    }
    assert families["leakbot_ack_seconds"].type == "histogram"
    acks = value(families, "leakbot_ack_seconds_count")
    assert acks == 7  # every request to /slack/events, refused ones too
    assert value(families, "leakbot_ack_seconds_bucket", le="+Inf") == acks
    assert value(families, "leakbot_ack_seconds_sum") > 0
    over_1s = value(families, "leakbot_acks_over_1s_total")
    assert over_1s == acks - value(families, "leakbot_ack_seconds_bucket", le="1.0")
    assert value(families, "leakbot_outbox_depth") == await leakbot.store.outbox_depth() == 2
    assert by_labels(families, "leakbot_slack_calls_total") == {}
    assert value(families, "leakbot_reminders_sent_total") == 0
    assert by_labels(families, "leakbot_failures_total") == {}

    await leakbot.deliver()
    families = await scrape(http, leakbot)
    assert value(families, "leakbot_outbox_depth") == await leakbot.store.outbox_depth() == 0
    assert by_labels(families, "leakbot_slack_calls_total") == {
        ("recommendation", "sent"): 1,
        ("reporter_receipt", "sent"): 1,
    }
    assert value(families, "leakbot_http_requests_total", path="/metrics", status="200") == 2


async def test_metrics_count_reminders_and_failures(
    leakbot: Leakbot, http: aiohttp.ClientSession
) -> None:
    emu, clock = leakbot.emulator, leakbot.clock
    # A recommendation Slack refuses for good: a dead item, counted as a failure.
    emu.fail_next("chat.postMessage", error="channel_not_found")
    lost = await leakbot.report(REPORTER, MILD_STEPS)
    [dead] = await leakbot.store.outbox_items(status="dead")
    assert (dead.incident_id, dead.kind, dead.last_error) == (
        lost.id,
        "recommendation",
        "channel_not_found",
    )
    families = await scrape(http, leakbot)
    assert by_labels(families, "leakbot_failures_total") == {("outbox",): 1}
    assert value(families, "leakbot_slack_calls_total", kind="recommendation", result="dead") == 1
    assert value(families, "leakbot_outbox_depth") == 0

    # A decided incident's tasks, and the clock at 24 h before its first legal deadline.
    clock.advance(seconds=1)
    incident = await leakbot.report(REPORTER, STEPS)
    for approver in (APPROVER_1, APPROVER_2):
        before = len(emu.calls_to("response_url"))
        await leakbot.click(incident, "leak_approve", approver, value=incident.id)
        await emu.wait_for_call("response_url", count=before + 1)
    await leakbot.deliver()
    deadlines = [t for t in await leakbot.store.tasks_for(incident.id) if t.kind == "deadline"]
    first_due = min(task.due_at for task in deadlines if task.due_at is not None)
    clock.set(first_due - timedelta(hours=24))
    await leakbot.app.scheduler.follow_through()
    await leakbot.deliver()

    reminders = [
        item for item in await leakbot.store.outbox_items(status="sent") if item.kind == "reminder"
    ]
    assert reminders, [i.kind for i in await leakbot.store.outbox_items()]
    families = await scrape(http, leakbot)
    assert value(families, "leakbot_reminders_sent_total") == len(reminders)
    assert value(families, "leakbot_slack_calls_total", kind="reminder", result="sent") == len(
        reminders
    )
    sent = await leakbot.store.outbox_items(status="sent")
    for kind in {item.kind for item in sent}:
        counted = value(families, "leakbot_slack_calls_total", kind=kind, result="sent")
        assert counted == len([item for item in sent if item.kind == kind]), kind
    # (The lost incident's escalation, two days on, depends on its dead message: dead too.)
    dead_items = await leakbot.store.outbox_items(status="dead")
    assert by_labels(families, "leakbot_failures_total") == {("outbox",): len(dead_items)}
    assert value(families, "leakbot_outbox_depth") == await leakbot.store.outbox_depth() == 0
    emu.assert_no_rejections()


# -- leakbot doctor ---------------------------------------------------------------------------


# What the doctor requires (manifest.yml's scopes). The emulator refuses calls whose scope was not
# granted, as Slack does.
DOCTOR_SCOPES = tuple(REQUIRED_SCOPES)


def doctor_emulator(
    *,
    scopes: Iterable[str] = DOCTOR_SCOPES,
    valid_tokens: Iterable[str] = (TOKEN,),
    in_escalation_channel: bool = True,
) -> SlackEmulator:
    emu = SlackEmulator(scopes=list(scopes), valid_tokens=list(valid_tokens))
    for user in (APPROVER_1, APPROVER_2, APPROVER_3):
        emu.add_user(user, locale="ja-JP")
    emu.add_usergroup(GROUP, [APPROVER_2, APPROVER_3])
    emu.add_channel(CHANNEL, is_member=in_escalation_channel)
    emu.add_channel(SUMMARY_CHANNEL, is_member=True)
    return emu


class Doctor:
    """Runs `leakbot doctor` with a well-configured environment (overridable per run)."""

    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
        database_url: str,
        workdir: Path,
    ) -> None:
        self.monkeypatch = monkeypatch
        self.capsys = capsys
        self.database_url = database_url
        monkeypatch.chdir(workdir)  # no stray .env
        monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
        monkeypatch.delenv("LEAKBOT_PLAYBOOK", raising=False)
        monkeypatch.delenv("LEAKBOT_LANGUAGE", raising=False)

    async def run(
        self, emu: SlackEmulator, *, lang: str | None = "en", **env: str
    ) -> tuple[int, str]:
        """`leakbot doctor --lang LANG` (`lang=None`: no flag, LEAKBOT_LANGUAGE decides)."""
        values = {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": "doctor-signing-secret",
            "SLACK_API_URL": emu.api_url,
            "DATABASE_URL": self.database_url,
            "LEAKBOT_ESCALATION_CHANNEL": CHANNEL,
            "LEAKBOT_SUMMARY_CHANNEL": SUMMARY_CHANNEL,
            "LEAKBOT_APPROVERS": f"{APPROVER_1},{GROUP}",
            **env,
        }
        for name, setting in values.items():
            self.monkeypatch.setenv(name, setting)
        self.capsys.readouterr()
        flags = ["--lang", lang] if lang else []
        code = await asyncio.to_thread(leakbot_cli, ["doctor", *flags])
        out = self.capsys.readouterr().out
        assert "Traceback" not in out
        return code, out


@pytest.fixture
def doctor(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    database_url: str,
    tmp_path: Path,
) -> Doctor:
    return Doctor(monkeypatch, capsys, database_url, tmp_path)


def line(out: str, name: str) -> str:
    """The check's line and its fix (the indented line after it, if any)."""
    lines = out.splitlines()
    for n, text in enumerate(lines):
        if text.startswith("[") and f"] {name}: " in text:
            follow = lines[n + 1] if n + 1 < len(lines) and lines[n + 1].startswith(" ") else ""
            return f"{text}\n{follow}".rstrip()
    raise AssertionError(f"no {name!r} line in:\n{out}")


async def test_doctor_all_good(doctor: Doctor, store: Store) -> None:
    async with doctor_emulator() as emu:
        code, out = await doctor.run(emu)
    assert code == 0, out
    assert out.rstrip().endswith("leakbot doctor: all good"), out
    assert "[FAIL]" not in out and "[WARN]" not in out
    for name in (
        "settings",
        "playbook",
        "database",
        "bot token",
        "scopes",
        "escalation channel",
        "summary channel",
        "approvers",
    ):
        assert line(out, name).startswith("[OK  ]"), out
    assert "schema up to date" in line(out, "database")
    assert "3 people can approve" in line(out, "approvers")
    assert TOKEN not in out  # the token is never printed


async def test_doctor_speaks_japanese_by_default_and_english_by_setting(
    doctor: Doctor, store: Store
) -> None:
    """Every line from the catalog: Japanese without --lang or LEAKBOT_LANGUAGE, English with
    LEAKBOT_LANGUAGE=en; the marks, ids and Slack's names stay as they are."""
    async with doctor_emulator(in_escalation_channel=False) as emu:
        code, out = await doctor.run(emu, lang=None)
        assert code == 1, out
        assert line(out, "設定") == "[OK  ] 設定: HTTP モード、タイムゾーン Asia/Tokyo"
        assert line(out, "データベース").startswith("[OK  ] データベース: ")
        assert "に接続でき、スキーマは最新です" in line(out, "データベース")
        assert line(out, "エスカレーションチャンネル") == (
            f"[FAIL] エスカレーションチャンネル: {CHANNEL}: bot が参加していません\n"
            f"       → {CHANNEL} で /invite @leakbot と入力してください"
        )
        assert line(out, "承認者") == "[OK  ] 承認者: 承認できるのは3人です"
        assert out.rstrip().endswith("leakbot doctor: 上の FAIL の行を確認してください")
        assert "approve" not in out and "member" not in out  # no English left over

        code, out = await doctor.run(emu, lang=None, LEAKBOT_LANGUAGE="en")
    assert code == 1, out
    assert line(out, "settings") == "[OK  ] settings: HTTP mode, time zone Asia/Tokyo"
    assert line(out, "escalation channel") == (
        f"[FAIL] escalation channel: {CHANNEL}: the bot is NOT a member\n"
        f"       → type /invite @leakbot in {CHANNEL}"
    )
    assert line(out, "approvers") == "[OK  ] approvers: 3 people can approve"
    assert out.rstrip().endswith("leakbot doctor: see FAIL lines above")


async def test_doctor_in_japanese_names_the_missing_scope_and_the_approver_shortfall(
    doctor: Doctor, store: Store
) -> None:
    async with doctor_emulator(
        scopes=[s for s in REQUIRED_SCOPES if s != "channels:history"]
    ) as emu:
        code, out = await doctor.run(emu, lang="ja", LEAKBOT_APPROVERS=f"{APPROVER_1},{APPROVER_2}")
    assert code == 1, out
    assert line(out, "スコープ") == (
        "[FAIL] スコープ: 不足しているスコープ: channels:history（障害後の二重投稿の防止、"
        "bot が参加するチャンネルの確認（公開））\n"
        "       → OAuth & Permissions でスコープを追加し"
        "（または manifest.yml からアプリを作り直し）、アプリを再インストールしてください"
    )
    approvers = line(out, "承認者")
    assert approvers.startswith("[WARN] 承認者: 承認できるのは2人ですが、"), out
    assert "残りの承認者が1人しかおらず、suspend_and_legal に必要な2人の承認" in approvers
    assert "LEAKBOT_APPROVERS に承認者を追加してください" in approvers


async def test_doctor_names_a_missing_scope_and_says_reinstall(
    doctor: Doctor, store: Store
) -> None:
    async with doctor_emulator(
        scopes=[s for s in REQUIRED_SCOPES if s != "channels:history"]
    ) as emu:
        code, out = await doctor.run(emu)
    assert code == 1, out
    scopes = line(out, "scopes")
    assert scopes.startswith("[FAIL]") and "channels:history" in scopes, out
    assert "reinstall" in scopes
    assert "leakbot doctor: see FAIL lines above" in out


async def test_doctor_says_invite_when_the_bot_is_not_in_the_channel(
    doctor: Doctor, store: Store
) -> None:
    async with doctor_emulator(in_escalation_channel=False) as emu:
        code, out = await doctor.run(emu)
    assert code == 1, out
    channel = line(out, "escalation channel")
    assert channel.startswith("[FAIL]") and CHANNEL in channel and "NOT a member" in channel
    assert f"/invite @leakbot in {CHANNEL}" in channel
    assert line(out, "summary channel").startswith("[OK  ]")


async def test_doctor_names_an_approver_who_does_not_exist(doctor: Doctor, store: Store) -> None:
    async with doctor_emulator() as emu:
        code, out = await doctor.run(emu, LEAKBOT_APPROVERS=f"{APPROVER_1},UNOBODY99,{GROUP}")
    assert code == 1, out
    approvers = line(out, "approvers")
    assert approvers.startswith("[FAIL]") and "UNOBODY99: user_not_found" in approvers, out
    assert "LEAKBOT_APPROVERS" in approvers


async def test_doctor_warns_when_two_approvers_cannot_decide_one_of_their_own_cases(
    doctor: Doctor, store: Store
) -> None:
    # Two approvers: when one reports a suspend_and_legal case, only one other may approve it.
    async with doctor_emulator() as emu:
        code, out = await doctor.run(emu, LEAKBOT_APPROVERS=f"{APPROVER_1},{APPROVER_2}")
    assert code == 0, out  # a warning, not a failure
    approvers = line(out, "approvers")
    assert approvers.startswith("[WARN]"), out
    assert "2 people can approve" in approvers and "only 1 other(s) remain" in approvers
    assert "suspend_and_legal needs 2 different approvers" in approvers
    assert "LEAKBOT_APPROVERS" in approvers


async def test_doctor_reports_a_bad_token_with_its_fix(doctor: Doctor, store: Store) -> None:
    async with doctor_emulator(valid_tokens=["xoxb-the-real-token"]) as emu:
        code, out = await doctor.run(emu)
    assert code == 1, out
    token = line(out, "bot token")
    assert token.startswith("[FAIL] bot token: auth.test failed: invalid_auth"), out
    assert "Bot User OAuth Token" in token and "SLACK_BOT_TOKEN" in token
    assert line(out, "database").startswith("[OK  ]")


async def test_doctor_reports_an_unreachable_database(
    doctor: Doctor, db_kind: str, tmp_path: Path
) -> None:
    if db_kind == "postgresql":
        dead = "postgresql://postgres@127.0.0.1:1/leakbot"  # nothing listens on port 1
    else:
        blocker = tmp_path / "not-a-folder"
        blocker.write_text("")
        dead = f"sqlite:///{blocker / 'leakbot.db'}"  # its folder cannot exist
    async with doctor_emulator() as emu:
        code, out = await doctor.run(emu, DATABASE_URL=dead)
    assert code == 1, out
    database = line(out, "database")
    assert database.startswith("[FAIL] database:"), out
    assert "DATABASE_URL" in database
    assert line(out, "bot token").startswith("[OK  ]")  # the other checks still run


async def test_doctor_reports_a_database_without_schema(doctor: Doctor, db_kind: str) -> None:
    # `database_url` without the `store` fixture: a fresh, empty database (migrate=False); on
    # SQLite no file yet, and doctor does not create one.
    async with doctor_emulator() as emu:
        code, out = await doctor.run(emu)
    assert code == 1, out
    database = line(out, "database")
    missing = "no database there yet" if db_kind == "sqlite" else "schema at None"
    assert database.startswith("[FAIL] database:") and missing in database, out
    assert "leakbot migrate" in database and "leakbot run" in database


# -- the outbox's exactly-once lookup ---------------------------------------------------------


async def test_a_post_whose_answer_was_lost_is_found_not_repeated(
    leakbot: Leakbot, raw_sql: Any
) -> None:
    """Slack stored the recommendation but its answer never reached leakbot (simulated: the
    delivered item is put back to pending, as if never recorded). The next attempt looks the
    message up by the outbox id in its metadata and records it instead of posting again."""
    emu = leakbot.emulator
    record = await leakbot.report(REPORTER, MILD_STEPS)
    [item, receipt] = await leakbot.store.outbox_items(record.id)
    assert (item.kind, item.status, item.attempts) == ("recommendation", "sent", 1)
    assert receipt.status == "sent"
    [post] = channel_posts(emu)
    assert post.response is not None
    ts = post.response["ts"]
    assert post.args["metadata"] == {
        "event_type": "leakbot_outbox",
        "event_payload": {"outbox_id": item.id},
    }

    await raw_sql(
        "UPDATE outbox SET status = 'pending', sent_at = NULL, result = NULL, "
        f"lease_until = NULL, leased_by = NULL WHERE id = {item.id}"
    )
    posts_before = len(emu.calls_to("chat.postMessage"))
    assert await leakbot.deliver() == 1

    [lookup] = emu.calls_to("conversations.history")
    assert lookup.ok and lookup.args["channel"] == CHANNEL
    assert str(lookup.args.get("include_all_metadata")).lower() in ("true", "1")
    assert len(emu.calls_to("chat.postMessage")) == posts_before  # not posted again
    assert len(channel_posts(emu)) == 1 and len(emu.messages(CHANNEL)) == 1
    [again, _] = await leakbot.store.outbox_items(record.id)
    assert (again.status, again.attempts) == ("sent", 2)
    assert again.result == {"channel": CHANNEL, "ts": ts}
    stored = await leakbot.store.get_incident(record.id)
    assert stored is not None and (stored.channel_id, stored.message_ts) == (CHANNEL, ts)
    assert len(dm_posts(emu, REPORTER)) == 1

    # And the decision still updates that one message.
    before = len(emu.calls_to("response_url"))
    await leakbot.click(record, "leak_approve", APPROVER_1, value=record.id)
    await emu.wait_for_call("response_url", count=before + 1)
    await leakbot.deliver()
    [update] = emu.successful_calls_to("chat.update")
    assert update.args["ts"] == ts
    emu.assert_no_rejections()


def manifest_bot_scopes() -> list[str]:
    """The bot scopes manifest.yml asks for (what an installed app is granted)."""
    manifest = yaml.safe_load((Path(__file__).parents[2] / "manifest.yml").read_text("utf-8"))
    return list(manifest["oauth_config"]["scopes"]["bot"])


async def test_doctor_checks_the_channels_with_the_manifests_scopes(
    doctor: Doctor, store: Store
) -> None:
    """Installed with exactly manifest.yml's scopes (the emulator refuses any method outside
    them with missing_scope, as Slack does), doctor still checks both channels."""
    scopes = manifest_bot_scopes()
    assert set(REQUIRED_SCOPES) <= set(scopes)
    async with doctor_emulator(scopes=scopes) as emu:
        code, out = await doctor.run(emu)
        refused = [c.method for c in emu.calls if c.error == "missing_scope"]
    assert refused == [], refused
    assert code == 0, out
    assert "[WARN]" not in out
    for name in ("escalation channel", "summary channel"):
        assert line(out, name).startswith("[OK  ]") and "the bot is a member" in line(out, name)
    async with doctor_emulator(scopes=scopes, in_escalation_channel=False) as emu:
        code, out = await doctor.run(emu)
    assert code == 1
    assert "NOT a member" in line(out, "escalation channel")


async def test_the_emulator_refuses_a_method_outside_the_granted_scopes() -> None:
    # What made doctor's old conversations.info check a warning at best, as Slack answers it.
    async with doctor_emulator(scopes=manifest_bot_scopes()) as emu:
        client = AsyncWebClient(token=TOKEN, base_url=emu.api_url)
        with pytest.raises(SlackApiError) as refused:
            await client.conversations_info(channel=CHANNEL)
        history = await client.conversations_history(channel=CHANNEL, limit=1)
    assert refused.value.response["error"] == "missing_scope"
    assert "channels:read" in refused.value.response["needed"]
    assert history["ok"] is True
