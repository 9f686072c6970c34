"""`leakbot` — run the Slack app, assess a case offline, print or post the weekly summary."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from bot.cli_input import InputError, load_answers, quiet_on_broken_pipe
from bot.clock import SystemClock
from bot.config import ConfigError, Settings, load_settings
from bot.domain.answers import Answers, parse_datetime
from bot.domain.engine import assess
from bot.domain.explain import assessment_json, report_text
from bot.domain.i18n import t
from bot.domain.loading import DataFileError
from bot.domain.playbook import Playbook, load_playbook

EXIT_USAGE = 2


class CliError(Exception):
    """A problem the person can fix; printed as one line, exit code 2."""


def _load_playbook(settings: Settings) -> Playbook:
    try:
        return load_playbook(settings.LEAKBOT_PLAYBOOK)
    except DataFileError as exc:
        raise CliError(str(exc)) from exc


@quiet_on_broken_pipe
def cmd_assess(args: argparse.Namespace, settings: Settings) -> int:
    lang: str = args.lang or settings.LEAKBOT_LANGUAGE
    tz = settings.tz
    playbook = _load_playbook(settings)
    if args.now:
        try:
            now = parse_datetime(args.now, tz)
        except ValueError as exc:
            raise CliError(t(lang, "cli.bad_now", value=args.now)) from exc
    else:
        now = SystemClock().now().astimezone(tz)
    try:
        answers: Answers = load_answers(args.answers, playbook, lang=lang, tz=tz, now=now)
    except InputError as exc:
        raise CliError(str(exc)) from exc
    try:
        assessment = assess(answers, playbook, tz=tz, now=now)
    except OverflowError as exc:  # a deadline past year 9999 (e.g. --now 9999-12-31)
        raise CliError(t(lang, "cli.out_of_range")) from exc
    if args.json:
        print(json.dumps(assessment_json(playbook, assessment, lang), ensure_ascii=False, indent=2))
    else:
        print(report_text(playbook, assessment, lang))
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from bot.logs import setup_logging
    from bot.server import serve
    from bot.store.urls import resolve_database_url

    socket_mode = bool(args.socket or (settings.SLACK_APP_TOKEN and not args.http))
    settings.require_slack(socket=socket_mode)
    try:
        resolve_database_url(settings.DATABASE_URL)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    playbook = _load_playbook(settings)
    setup_logging(settings.LEAKBOT_LOG_LEVEL)
    try:
        asyncio.run(serve(settings, playbook, socket_mode=socket_mode))
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        raise CliError(f"cannot start: {exc.strerror or exc}") from exc
    return 0


def cmd_summary(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from bot.domain.summary import parse_week, previous_week
    from bot.store.urls import resolve_database_url

    lang: str = args.lang or settings.LEAKBOT_LANGUAGE
    tz = settings.tz
    now = SystemClock().now()
    try:
        week = parse_week(args.week, tz) if args.week else previous_week(now, tz)
    except ValueError as exc:
        raise CliError(f"--week: {exc}") from exc
    if args.post and (not settings.SLACK_BOT_TOKEN or not settings.LEAKBOT_SUMMARY_CHANNEL):
        raise ConfigError("--post needs SLACK_BOT_TOKEN and LEAKBOT_SUMMARY_CHANNEL")
    try:
        resolve_database_url(settings.DATABASE_URL)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    playbook = _load_playbook(settings)
    return asyncio.run(_summary(settings, playbook, week, lang, now, post=args.post))


async def _summary(
    settings: Settings, playbook: Playbook, week: Any, lang: str, now: datetime, *, post: bool
) -> int:
    from bot.domain.summary import summary_text
    from bot.slack.app import build_deps, build_scheduler
    from bot.store import Store

    store = await Store.open(settings.DATABASE_URL)
    try:
        deps = build_deps(settings, store, playbook, SystemClock())
        if not post:
            data = await deps.follow.summary_data(week, now=now)
            print(summary_text(playbook, data, lang, settings.tz))
            return 0
        queued = await build_scheduler(deps).post_summary(week, now=now)
        await deps.outbox.drain()
        state = "posted" if queued else "already posted earlier"
        print(f"leakbot: summary {week.label} {state} to {settings.LEAKBOT_SUMMARY_CHANNEL}")
        return 0
    finally:
        await store.close()


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    return asyncio.run(_doctor(settings))


async def _doctor(settings: Settings) -> int:
    from bot.doctor import Check, check_database, check_settings, check_slack, exit_code
    from bot.slack.app import interactive_client
    from bot.store import Store
    from bot.store.urls import resolve_database_url

    checks = await check_settings(settings)
    try:
        load_playbook(settings.LEAKBOT_PLAYBOOK)
        checks.append(Check("playbook", True, str(settings.LEAKBOT_PLAYBOOK)))
    except DataFileError as exc:
        checks.append(Check("playbook", False, str(exc).splitlines()[0], "fix the playbook file"))
    try:
        resolve_database_url(settings.DATABASE_URL)
        store = await Store.open(settings.DATABASE_URL, migrate=False)
    except Exception as exc:
        checks.append(Check("database", False, str(exc).splitlines()[0], "check DATABASE_URL"))
    else:
        try:
            checks += await check_database(store)
        finally:
            await store.close()
    if settings.SLACK_BOT_TOKEN:
        checks += await check_slack(settings, interactive_client(settings))
    for check in checks:
        print(check.line())
    code = exit_code(checks)
    print("leakbot doctor: " + ("all good" if code == 0 else "see FAIL lines above"))
    return code


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    return asyncio.run(_audit_verify(settings))


async def _audit_verify(settings: Settings) -> int:
    from bot.store import Store
    from bot.store.urls import resolve_database_url

    try:
        resolve_database_url(settings.DATABASE_URL)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    store = await Store.open(settings.DATABASE_URL)
    try:
        problems = await store.verify_audit_chain()
        count, head = await store.audit_head()
    finally:
        await store.close()
    if problems:
        for problem in problems:
            print(f"leakbot audit: {problem}")
        print(f"leakbot audit: TAMPERED — {len(problems)} problem(s) in {count} rows")
        return 1
    print(f"leakbot audit: intact — {count} rows, every hash verified; head {head}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="leakbot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run_parser = commands.add_parser(
        "run", help="run the Slack app (Socket Mode if SLACK_APP_TOKEN is set)"
    )
    mode = run_parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--http", action="store_true", help="force HTTP mode (POST /slack/events on PORT)"
    )
    mode.add_argument(
        "--socket", action="store_true", help="force Socket Mode (needs SLACK_APP_TOKEN)"
    )
    run_parser.set_defaults(handler=cmd_run)

    summary_parser = commands.add_parser("summary", help="the weekly summary (print, or --post)")
    summary_parser.add_argument(
        "--week", metavar="YYYY-Www", help="ISO week (default: the last complete week)"
    )
    summary_parser.add_argument(
        "--post", action="store_true", help="post it to LEAKBOT_SUMMARY_CHANNEL"
    )
    summary_parser.add_argument(
        "--lang", choices=["ja", "en"], help="language (default LEAKBOT_LANGUAGE)"
    )
    summary_parser.set_defaults(handler=cmd_summary)

    doctor_parser = commands.add_parser(
        "doctor", help="check tokens, scopes, channels, approvers, database"
    )
    doctor_parser.set_defaults(handler=cmd_doctor)

    audit_parser = commands.add_parser("audit", help="the audit trail")
    audit_commands = audit_parser.add_subparsers(
        dest="audit_command", required=True, metavar="ACTION"
    )
    verify_parser = audit_commands.add_parser(
        "verify", help="check the hash chain (exit 1 if tampered)"
    )
    verify_parser.set_defaults(handler=cmd_audit)

    assess_parser = commands.add_parser("assess", help="recommend an action for a case, offline")
    assess_parser.add_argument(
        "--answers",
        metavar="FILE.json",
        help="answers by id ('-' for stdin); without it, asks in the terminal",
    )
    assess_parser.add_argument(
        "--json", action="store_true", help="print the contract's JSON object"
    )
    assess_parser.add_argument(
        "--lang", choices=["ja", "en"], help="language (default LEAKBOT_LANGUAGE)"
    )
    assess_parser.add_argument("--now", metavar="ISO8601", help="the current time (default: now)")
    assess_parser.set_defaults(handler=cmd_assess)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        handler: Callable[[argparse.Namespace, Settings], int] = args.handler
        return handler(args, settings)
    except (CliError, ConfigError) as exc:
        for line in str(exc).splitlines() or [""]:  # one line per problem, each marked
            print(f"leakbot: {line}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
