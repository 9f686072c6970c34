"""`leakbot` — run the Slack app, assess a case offline, print or post the weekly summary."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from bot import cli_export
from bot.cli_draft import register_draft
from bot.cli_input import InputError, add_lang_option, load_answers, quiet_on_broken_pipe
from bot.cli_outbox import register as register_outbox
from bot.clock import SystemClock
from bot.config import ConfigError, Settings, load_settings
from bot.domain.answers import Answers, parse_datetime
from bot.domain.engine import assess
from bot.domain.explain import assessment_json, report_text
from bot.domain.i18n import DEFAULT_LANG, LocalizedError, message_of, msg, t
from bot.domain.loading import DataFileError
from bot.domain.playbook import Playbook, load_playbook
from bot.domain.text import LANGS

if TYPE_CHECKING:
    from bot.domain.summary import Week
    from bot.store import Store

EXIT_USAGE = 2


class CliError(LocalizedError):
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

    from bot.store.urls import resolve_database_url

    socket_mode = bool(args.socket or (settings.SLACK_APP_TOKEN and not args.http))
    settings.require_slack(socket=socket_mode)
    try:  # the syntax now; the database itself when it opens (bot/database.py)
        resolve_database_url(settings.DATABASE_URL, create_folder=False)
    except ValueError as exc:
        raise ConfigError(message_of(exc)) from exc
    playbook = _load_playbook(settings)
    # Imported after the playbook is read: parsing the survey's YAML leaves ~1.5 MB of freed
    # memory that the server's imports (~35 MB) then reuse; read after them, it stayed in the
    # process as holes (RSS after start ~1.1 MB higher, bench/memory_startup.py).
    from bot.logs import setup_logging
    from bot.server import serve

    setup_logging(settings.LEAKBOT_LOG_LEVEL)
    try:
        asyncio.run(serve(settings, playbook, socket_mode=socket_mode))
    except KeyboardInterrupt:
        return 0
    return 0


def cmd_summary(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from bot.cli_outbox import post_summary
    from bot.config import refuse_example
    from bot.database import database_errors, open_store
    from bot.domain.summary import parse_week, previous_week

    lang: str = args.lang or settings.LEAKBOT_LANGUAGE
    tz = settings.tz
    now = SystemClock().now()
    try:
        week = parse_week(args.week, tz) if args.week else previous_week(now, tz)
    except ValueError as exc:
        raise CliError(t(lang, "cli.bad_week", value=args.week)) from exc
    if args.post:
        if not settings.SLACK_BOT_TOKEN or not settings.LEAKBOT_SUMMARY_CHANNEL:
            raise ConfigError(msg("cli.post_needs"))
        refuse_example("SLACK_BOT_TOKEN", settings.SLACK_BOT_TOKEN)
        refuse_example("LEAKBOT_SUMMARY_CHANNEL", settings.LEAKBOT_SUMMARY_CHANNEL)
    playbook = _load_playbook(settings)

    async def summary() -> int:
        # Reads an existing database only: never creates one or migrates it.
        store = await open_store(
            settings.DATABASE_URL, migrate=False, create=False, require_schema=True
        )
        try:
            async with database_errors(settings.DATABASE_URL):
                if args.post:
                    return await post_summary(
                        settings, store, playbook, week, now, lang, wait_seconds=args.wait_seconds
                    )
                return await _print_summary(settings, store, playbook, week, lang, now)
        finally:
            await store.close()

    return asyncio.run(summary())


async def _print_summary(
    settings: Settings, store: Store, playbook: Playbook, week: Week, lang: str, now: datetime
) -> int:
    from bot.domain.summary import summary_text
    from bot.slack.app import build_deps

    deps = build_deps(settings, store, playbook, SystemClock())
    data = await deps.follow.summary_data(week, now=now)
    print(summary_text(playbook, data, lang, settings.tz))
    return 0


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    return asyncio.run(_doctor(settings, args.lang or settings.LEAKBOT_LANGUAGE))


async def _doctor(settings: Settings, lang: str) -> int:
    from bot.config import is_example_value
    from bot.database import DatabaseUnavailable, database_errors, open_store
    from bot.doctor import Check, check_database, check_settings, check_slack, exit_code
    from bot.slack.app import interactive_client

    checks = await check_settings(settings)
    try:
        load_playbook(settings.LEAKBOT_PLAYBOOK)
        checks.append(Check("playbook", True, str(settings.LEAKBOT_PLAYBOOK)))
    except DataFileError as exc:
        first_line = str(exc).splitlines()[0]  # the loader's own words: file, place, problem
        checks.append(Check("playbook", False, first_line, msg("doctor.fix_playbook")))
    try:
        store = await open_store(settings.DATABASE_URL, migrate=False, create=False)
        async with database_errors(settings.DATABASE_URL):
            try:
                checks += await check_database(store)
            finally:
                await store.close()
    except DatabaseUnavailable as exc:
        checks.append(Check("database", False, exc.message, msg("doctor.fix_database_url")))
    token = settings.SLACK_BOT_TOKEN
    if token and not is_example_value(token):  # an example token is already a FAIL above
        checks += await check_slack(settings, interactive_client(settings))
    for check in checks:
        print(check.line(lang))
    code = exit_code(checks)
    print(t(lang, "doctor.all_good" if code == 0 else "doctor.see_fail"))
    return code


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    return asyncio.run(_audit_verify(settings, args.lang or settings.LEAKBOT_LANGUAGE))


async def _audit_verify(settings: Settings, lang: str) -> int:
    from bot.database import database_errors, open_store

    # Reads an existing database only: never creates one or migrates it.
    store = await open_store(
        settings.DATABASE_URL, migrate=False, create=False, require_schema=True
    )
    try:
        async with database_errors(settings.DATABASE_URL):
            problems = await store.verify_audit_chain()
            count, head = await store.audit_head()
    finally:
        await store.close()
    if problems:
        for problem in problems:
            print(t(lang, f"audit_verify.{problem.kind}", row=problem.row_id))
        print(t(lang, "audit_verify.tampered", problems=len(problems), rows=count))
        return 1
    print(t(lang, "audit_verify.intact", rows=count, head=head))
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from bot.database import database_errors, open_store

    lang: str = args.lang or settings.LEAKBOT_LANGUAGE

    async def migrate() -> str:
        store = await open_store(settings.DATABASE_URL, migrate=True)
        try:
            async with database_errors(settings.DATABASE_URL):
                status = await store.migration_status()
            return t(lang, "migrate.done", url=store.url, revision=status.current)
        finally:
            await store.close()

    print(asyncio.run(migrate()))
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("leakbot")
    except PackageNotFoundError:  # a source checkout that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="leakbot", description=__doc__)
    parser.add_argument("--version", action="version", version=f"leakbot {_version()}")
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
    add_lang_option(summary_parser)
    summary_parser.add_argument(
        "--wait",
        dest="wait_seconds",
        nargs="?",
        type=float,
        const=60.0,
        default=None,
        metavar="SECONDS",
        help="with --post: wait for Slack's answer (at most SECONDS, default 60)",
    )
    summary_parser.set_defaults(handler=cmd_summary)

    migrate_parser = commands.add_parser(
        "migrate", help="apply the database migrations, then exit (`run` applies them too)"
    )
    add_lang_option(migrate_parser)
    migrate_parser.set_defaults(handler=cmd_migrate)
    register_outbox(commands)

    doctor_parser = commands.add_parser(
        "doctor", help="check tokens, scopes, channels, approvers, database"
    )
    add_lang_option(doctor_parser)
    doctor_parser.set_defaults(handler=cmd_doctor)

    audit_parser = commands.add_parser("audit", help="the audit trail")
    audit_commands = audit_parser.add_subparsers(
        dest="audit_command", required=True, metavar="ACTION"
    )
    verify_parser = audit_commands.add_parser(
        "verify", help="check the hash chain (exit 1 if tampered)"
    )
    add_lang_option(verify_parser)
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
    add_lang_option(assess_parser)
    assess_parser.add_argument("--now", metavar="ISO8601", help="the current time (default: now)")
    assess_parser.set_defaults(handler=cmd_assess)
    register_draft(commands)
    cli_export.register(commands)
    return parser


def _error_lang(args: argparse.Namespace, settings: Settings | None) -> str:
    """`--lang`, else LEAKBOT_LANGUAGE; when the settings themselves are wrong, the raw
    LEAKBOT_LANGUAGE where it is ja or en, else Japanese."""
    chosen: str | None = getattr(args, "lang", None)
    if chosen:
        return chosen
    if settings is not None:
        return settings.LEAKBOT_LANGUAGE
    raw = os.environ.get("LEAKBOT_LANGUAGE", "").strip()
    return raw if raw in LANGS else DEFAULT_LANG


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings: Settings | None = None
    try:
        settings = load_settings()
        handler: Callable[[argparse.Namespace, Settings], int] = args.handler
        return handler(args, settings)
    except (CliError, ConfigError) as exc:  # incl. start-up and database errors
        text = exc.text(_error_lang(args, settings))
        for line in text.splitlines() or [""]:  # one line per problem, each marked
            print(f"leakbot: {line}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
