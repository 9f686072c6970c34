"""Honest start-up: `leakbot run` (and the other commands) as real processes.

A refused token, an unreachable Slack, a busy port or a wrong database ends the process with one
`leakbot: …` line naming the setting (exit 2) before any background work ran; SIGTERM and Ctrl-C
stop it within 5 seconds in every state, Socket Mode included; /metrics can move to its own port.
"""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from conftest import APPROVER_1, CHANNEL, GROUP, SUMMARY_CHANNEL
from leakbot_process import SIGINT, SIGTERM, Blackhole, BotProcess, clean_env, free_port
from leakbot_process import run_command as leakbot
from slackemu import SlackApiFailure, SlackEmulator
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[2]
TOKEN = "xoxb-startup-token"
APP_TOKEN = "xapp-1-startup-token"
STOP_WITHIN = 5.0  # seconds, the promise for SIGTERM / Ctrl-C


@pytest.fixture
async def emulator() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator(valid_tokens=[TOKEN, APP_TOKEN]) as emu:
        emu.add_channel(CHANNEL, is_member=True)
        emu.add_channel(SUMMARY_CHANNEL, is_member=True)
        yield emu


def settings(api_url: str, database_url: str, port: int, **extra: str) -> dict[str, str]:
    values = {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": "startup-signing-secret",
        "SLACK_API_URL": api_url,
        "DATABASE_URL": database_url,
        "LEAKBOT_ESCALATION_CHANNEL": CHANNEL,
        "LEAKBOT_SUMMARY_CHANNEL": SUMMARY_CHANNEL,
        "LEAKBOT_APPROVERS": f"{APPROVER_1},{GROUP}",
        "LEAKBOT_HOST": "127.0.0.1",
        "PORT": str(port),
        "LEAKBOT_LANGUAGE": "en",  # the lines below in English; Japanese: test_*_in_japanese
    }
    return clean_env(**{**values, **extra})


def one_line(result: Any) -> str:
    """The single line a person reads (JSON log lines aside), and no traceback anywhere."""
    assert "Traceback" not in result.err, result.err
    lines = result.plain_err_lines
    assert len(lines) == 1, result.err
    assert lines[0].startswith("leakbot: "), lines
    return str(lines[0])


# -- settings ----------------------------------------------------------------------------------


async def test_the_shipped_example_env_is_refused_by_run_and_doctor(tmp_path: Path) -> None:
    shutil.copy(REPO / ".env.example", tmp_path / ".env")  # LEAKBOT_LANGUAGE=ja
    env = clean_env(DATABASE_URL=f"sqlite:///{tmp_path / 'leakbot.db'}")
    result = await leakbot(["run"], env, tmp_path)
    assert result.code == 2
    line = one_line(result)
    assert line.startswith("leakbot: SLACK_BOT_TOKEN が .env.example の記入例 "), line
    assert "のままです。実際の値を設定してください" in line, line
    env["LEAKBOT_LANGUAGE"] = "en"  # the environment wins over .env
    result = await leakbot(["run"], env, tmp_path)
    assert result.code == 2
    line = one_line(result)
    assert "SLACK_BOT_TOKEN" in line and "example value" in line, line

    doctor = await leakbot(["doctor"], env, tmp_path)
    assert doctor.code == 1, doctor.out
    [settings_line] = [ln for ln in doctor.out.splitlines() if "] settings:" in ln]
    assert settings_line.startswith("[FAIL]") and "SLACK_BOT_TOKEN" in settings_line
    assert "example value" in settings_line
    # The example token is not tried against Slack (that would only add a second failure).
    assert "bot token" not in doctor.out


async def test_a_token_slack_refuses_is_one_line_naming_it(
    emulator: SlackEmulator, tmp_path: Path
) -> None:
    env = settings(
        emulator.api_url, f"sqlite:///{tmp_path / 'l.db'}", free_port(), SLACK_BOT_TOKEN="xoxb-no"
    )
    result = await leakbot(["run", "--http"], env, tmp_path)
    assert result.code == 2
    line = one_line(result)
    assert "SLACK_BOT_TOKEN" in line and "invalid_auth" in line, line
    assert "xoxb-no" not in result.err  # never printed
    assert [call.method for call in emulator.calls] == ["auth.test"]


async def test_start_up_errors_in_japanese(emulator: SlackEmulator, tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'l.db'}"
    env = settings(
        emulator.api_url, database, free_port(), SLACK_BOT_TOKEN="xoxb-no", LEAKBOT_LANGUAGE="ja"
    )
    result = await leakbot(["run", "--http"], env, tmp_path)
    assert result.code == 2
    assert one_line(result) == (
        "leakbot: SLACK_BOT_TOKEN が Slack に拒否されました（auth.test: invalid_auth）。"
        "OAuth & Permissions の Bot User OAuth Token（xoxb-…）をコピーして設定してください"
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        env = settings(emulator.api_url, database, port, LEAKBOT_LANGUAGE="ja")
        result = await leakbot(["run", "--http"], env, tmp_path)
    assert result.code == 2
    line = one_line(result)
    assert line.startswith(f"leakbot: PORT {port}: 127.0.0.1:{port} で待ち受けできません: "), line
    assert line.endswith("（待ち受けるアドレスは LEAKBOT_HOST で設定します）"), line


async def test_an_unreachable_slack_is_one_line_naming_the_url(tmp_path: Path) -> None:
    dead_url = f"http://127.0.0.1:{free_port()}/api/"  # nothing listens there
    env = settings(dead_url, f"sqlite:///{tmp_path / 'l.db'}", free_port())
    result = await leakbot(["run", "--http"], env, tmp_path)
    assert result.code == 2
    line = one_line(result)
    assert "SLACK_API_URL" in line and "cannot be reached" in line, line


async def test_a_server_that_is_not_slack_is_one_line_for_run_and_doctor(
    emulator: SlackEmulator, tmp_path: Path
) -> None:
    """SLACK_API_URL answered by something else (here a path the emulator does not serve: its
    web server's text "404: Not Found"): the URL named, never a traceback."""
    elsewhere = emulator.api_url.replace("/api/", "/elsewhere/")
    env = settings(elsewhere, f"sqlite:///{tmp_path / 'l.db'}", free_port())
    result = await leakbot(["run", "--http"], env, tmp_path)
    assert result.code == 2
    line = one_line(result)
    assert "SLACK_API_URL" in line and "cannot be reached" in line, line
    assert "HTTP 404, not a Slack answer" in line, line
    doctor = await leakbot(["doctor"], env, tmp_path)
    assert "Traceback" not in doctor.err, doctor.err
    assert doctor.code == 1, doctor.out
    assert "HTTP 404, not a Slack answer" in doctor.out, doctor.out


async def test_a_busy_port_is_one_line_and_nothing_started_before(
    emulator: SlackEmulator, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        env = settings(emulator.api_url, f"sqlite:///{tmp_path / 'l.db'}", port)
        result = await leakbot(["run", "--http"], env, tmp_path)
    assert result.code == 2
    line = one_line(result)
    assert line.startswith(f"leakbot: PORT {port}: cannot listen on 127.0.0.1:{port}"), line
    # No scheduler, no outbox: the only Slack call was the token check.
    assert [call.method for call in emulator.calls] == ["auth.test"]
    loggers = {json.loads(ln)["logger"] for ln in result.err_lines if ln.startswith("{")}
    assert not {"bot.scheduler", "bot.slack.outbox", "bot.followthrough"} & loggers, loggers
    assert not any(name.startswith("apscheduler") for name in loggers), loggers


async def test_metrics_port_equal_to_port_is_refused(tmp_path: Path) -> None:
    env = settings("http://127.0.0.1:9/api/", "", 4000, LEAKBOT_METRICS_PORT="4000")
    result = await leakbot(["run", "--http"], env, tmp_path)
    assert result.code == 2
    assert "LEAKBOT_METRICS_PORT" in one_line(result)


# -- the database ------------------------------------------------------------------------------


def _wrong(database_url: str, tmp_path: Path) -> tuple[str, str]:
    """A DATABASE_URL that cannot work on this kind of database, and the words that say why."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'nothing-here' / 'leakbot.db'}", "no database there yet"
    wrong = make_url(database_url).set(database="leakbot_no_such_db", password="hunter2")
    return wrong.render_as_string(hide_password=False), 'database "leakbot_no_such_db"'


@pytest.mark.parametrize(
    "command", [["summary"], ["audit", "verify"], ["outbox", "list"], ["run", "--http"]]
)
async def test_a_wrong_database_is_one_line_naming_database_url(
    database_url: str, tmp_path: Path, emulator: SlackEmulator, command: list[str]
) -> None:
    url, why = _wrong(database_url, tmp_path)
    if command[0] == "run" and url.startswith("sqlite"):
        # `run` creates a missing SQLite file; a file it cannot create is its failure.
        blocker = tmp_path / "a-file"
        blocker.write_text("")
        url, why = f"sqlite:///{blocker / 'leakbot.db'}", "cannot create its folder"
    result = await leakbot(command, settings(emulator.api_url, url, free_port()), tmp_path)
    assert result.code == 2, result.err
    line = one_line(result)
    assert line.startswith("leakbot: DATABASE_URL "), line
    assert why in line, line
    assert "hunter2" not in result.err + result.out
    assert not (tmp_path / "nothing-here").exists()  # nothing created on the way


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("command", [["migrate"], ["run", "--http"], ["summary"]])
async def test_a_wrong_role_or_a_refused_connection_is_one_line(
    database_url: str, tmp_path: Path, emulator: SlackEmulator, command: list[str]
) -> None:
    role = make_url(database_url).set(username="leakbot_no_such_role", password="hunter2")
    refused = make_url(database_url).set(port=free_port(), password="hunter2")
    for url, why in (
        (role, 'role "leakbot_no_such_role" does not exist'),
        (refused, "connection refused"),
    ):
        text = url.render_as_string(hide_password=False)
        result = await leakbot(command, settings(emulator.api_url, text, free_port()), tmp_path)
        assert result.code == 2, result.err
        line = one_line(result)
        assert line.startswith("leakbot: DATABASE_URL ") and why in line, line
        assert "hunter2" not in result.err and "***" in line


async def test_doctor_reports_a_wrong_database_in_its_database_line(
    database_url: str, tmp_path: Path, emulator: SlackEmulator
) -> None:
    url, why = _wrong(database_url, tmp_path)
    result = await leakbot(["doctor"], settings(emulator.api_url, url, free_port()), tmp_path)
    assert result.code == 1 and "Traceback" not in result.out + result.err
    [database] = [ln for ln in result.out.splitlines() if "] database:" in ln]
    assert database.startswith("[FAIL] database: DATABASE_URL") and why in database, result.out
    assert "hunter2" not in result.out


async def test_summary_and_audit_verify_do_not_create_or_migrate_a_database(
    database_url: str, raw_sql: Any, tmp_path: Path
) -> None:
    """`database_url` without `store`: an empty database (or, for SQLite, no file yet)."""
    env = settings("http://127.0.0.1:9/api/", database_url, free_port())
    for command in (["summary"], ["audit", "verify"], ["outbox", "list"]):
        result = await leakbot(command, env, tmp_path)
        assert result.code == 2, result.err
        line = one_line(result)
        assert "leakbot migrate" in line, line
    if database_url.startswith("sqlite"):
        assert not Path(make_url(database_url).database or "").exists()
    else:
        tables = await raw_sql(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
        assert tables == [(0,)]

    migrated = await leakbot(["migrate"], env, tmp_path)
    assert migrated.code == 0, migrated.err
    assert "up to date" in migrated.out
    audit = await leakbot(["audit", "verify"], env, tmp_path)
    assert audit.code == 0 and "intact — 0 rows" in audit.out, audit.out + audit.err


# -- stopping ----------------------------------------------------------------------------------


async def test_http_mode_stops_on_sigterm_and_ctrl_c_within_five_seconds(
    emulator: SlackEmulator, tmp_path: Path
) -> None:
    env = settings(emulator.api_url, f"sqlite:///{tmp_path / 'l.db'}", free_port())
    for sig in (SIGTERM, SIGINT):
        bot = BotProcess(["run", "--http"], env, tmp_path)
        await bot.start()
        try:
            await bot.wait_for_message("leakbot is running")
            code, seconds = await bot.signal_and_time(sig)
        finally:
            await bot.kill()
        assert code == 0, bot.text()
        assert seconds < STOP_WITHIN, seconds
        assert "Traceback" not in bot.text()


async def test_socket_mode_stops_on_sigterm_while_slack_does_not_answer(tmp_path: Path) -> None:
    """Slack unreachable the worst way (connections accepted, never answered): the token check
    would wait for its timeouts; SIGTERM ends it at once."""
    async with Blackhole() as slack:
        env = settings(slack.url, f"sqlite:///{tmp_path / 'l.db'}", free_port())
        env["SLACK_APP_TOKEN"] = APP_TOKEN
        bot = BotProcess(["run", "--socket"], env, tmp_path)
        await bot.start()
        try:
            await bot.wait_for_message("checking the Slack tokens")
            code, seconds = await bot.signal_and_time(SIGTERM)
        finally:
            await bot.kill()
    assert code == 0, bot.text()
    assert seconds < STOP_WITHIN, seconds
    assert "Traceback" not in bot.text()


async def test_socket_mode_stops_on_sigterm_and_ctrl_c_while_it_cannot_connect(
    emulator: SlackEmulator, tmp_path: Path
) -> None:
    """The Web API answers, but the WebSocket URL it hands out refuses connections: Socket
    Mode's client retries forever; SIGTERM and Ctrl-C still end the process within 5 s."""
    dead_ws = f"ws://127.0.0.1:{free_port()}/link"
    emulator.register_method("apps.connections.open", lambda args: {"url": dead_ws})
    env = settings(emulator.api_url, f"sqlite:///{tmp_path / 'l.db'}", free_port())
    env["SLACK_APP_TOKEN"] = APP_TOKEN
    for sig in (SIGTERM, SIGINT):
        bot = BotProcess(["run", "--socket"], env, tmp_path)
        # Counted before the start: this run's first attempt may come before or after its
        # "running" line, and a retry after a refused connection can be many seconds later.
        opened = len(emulator.calls_to("apps.connections.open"))
        await bot.start()
        try:
            await bot.wait_for_message("leakbot is running")
            await emulator.wait_for_call("apps.connections.open", count=opened + 1, timeout=30)
            code, seconds = await bot.signal_and_time(sig)
        finally:
            await bot.kill()
        assert code == 0, bot.text()
        assert seconds < STOP_WITHIN, seconds


async def test_socket_mode_with_a_refused_app_token_is_one_line(
    emulator: SlackEmulator, tmp_path: Path
) -> None:
    def refuse(args: dict[str, Any]) -> dict[str, Any]:
        raise SlackApiFailure("invalid_auth")

    emulator.register_method("apps.connections.open", refuse)
    env = settings(emulator.api_url, f"sqlite:///{tmp_path / 'l.db'}", free_port())
    env["SLACK_APP_TOKEN"] = APP_TOKEN
    result = await leakbot(["run", "--socket"], env, tmp_path)
    assert result.code == 2
    line = one_line(result)
    assert "SLACK_APP_TOKEN" in line and "invalid_auth" in line, line
    assert APP_TOKEN not in result.err


# -- addresses ---------------------------------------------------------------------------------


async def test_metrics_on_their_own_port_and_the_bind_address(
    emulator: SlackEmulator, tmp_path: Path
) -> None:
    port, metrics_port = free_port(), free_port()
    env = settings(
        emulator.api_url,
        f"sqlite:///{tmp_path / 'l.db'}",
        port,
        LEAKBOT_METRICS_PORT=str(metrics_port),
    )
    bot = BotProcess(["run", "--http"], env, tmp_path)
    await bot.start()
    try:
        await bot.wait_for_message("leakbot is running")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
                assert (await response.json())["database"] == "up"
            async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                assert response.status == 404
            async with http.get(f"http://127.0.0.1:{metrics_port}/metrics") as response:
                assert response.status == 200
                text = await response.text()
            async with http.get(f"http://127.0.0.1:{metrics_port}/healthz") as response:
                assert response.status == 404
        assert "leakbot_http_requests_total" in text
        assert 'path="/healthz",status="200"' in text  # the main port's requests are counted
        running = [json.loads(ln) for ln in bot.lines if '"leakbot is running"' in ln]
        assert running and running[0]["host"] == "127.0.0.1"
        assert running[0]["metrics_port"] == metrics_port
        code, _ = await bot.signal_and_time(SIGTERM)
        assert code == 0
    finally:
        await bot.kill()
