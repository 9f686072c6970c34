"""`leakbot draft KIND (--answers FILE.json | --incident LEAK-…)`: a document for a person to check.

Markdown on standard output, or a Word file with `--format docx --out FILE` (docs/contracts.md).
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.clock import SystemClock
from bot.config import ConfigError, Settings
from bot.domain.documents import DOCUMENT_KINDS, IncidentFacts
from bot.domain.i18n import message_of, t
from bot.domain.playbook import Playbook

if TYPE_CHECKING:
    from bot.documents import DocumentFormat
    from bot.store.records import IncidentRecord


def register_draft(commands: Any) -> None:
    """Add `draft` to the `leakbot` subcommands (`commands` is argparse's subparsers action)."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "draft", help="draft a document (PPC report, partner letter, notices) for an incident"
    )
    parser.add_argument("kind", metavar="KIND", help=f"one of: {', '.join(DOCUMENT_KINDS)}")
    parser.add_argument("--answers", metavar="FILE.json", help="answers by id ('-' for stdin)")
    parser.add_argument("--incident", metavar="LEAK-…", help="a stored incident (DATABASE_URL)")
    parser.add_argument("--lang", choices=["ja", "en"], help="language (default LEAKBOT_LANGUAGE)")
    parser.add_argument(
        "--format", choices=["md", "docx"], default="md", help="Markdown (default) or Word"
    )
    parser.add_argument("--out", metavar="FILE", help="write here (needed for docx)")
    parser.add_argument("--now", metavar="ISO8601", help="the current time (default: now)")
    parser.set_defaults(handler=cmd_draft)


def cmd_draft(args: argparse.Namespace, settings: Settings) -> int:
    # bot.cli imports this module to register the command; its helpers are imported here, and
    # the renderer (Jinja2, python-docx) only when drafting.
    from bot.cli import CliError
    from bot.documents import DocumentError, draft

    lang: str = args.lang or settings.LEAKBOT_LANGUAGE
    fmt: DocumentFormat = args.format
    if args.kind not in DOCUMENT_KINDS:
        raise CliError(
            t(lang, "draft.unknown_kind", kind=args.kind, allowed=", ".join(DOCUMENT_KINDS))
        )
    if bool(args.answers) == bool(args.incident):
        raise CliError(t(lang, "draft.needs_source"))
    if fmt == "docx" and not args.out:
        raise CliError(t(lang, "draft.needs_out"))
    now = _now(args, settings, lang)
    playbook = _playbook(settings)
    if args.answers:
        facts = _facts_from_file(args.answers, playbook, settings, lang, now)
    else:
        facts = _facts_from_store(args.incident, playbook, settings, lang, now)
    try:
        document = draft(
            args.kind, facts, lang, fmt, playbook=playbook, templates=_templates(settings)
        )
    except DocumentError as exc:
        raise CliError(t(lang, "draft.failed", error=exc)) from exc
    if not args.out:
        sys.stdout.write(document.text)
        return 0
    try:
        Path(args.out).write_bytes(document.content)
    except OSError as exc:
        raise CliError(
            t(lang, "draft.cannot_write", file=args.out, error=exc.strerror or exc)
        ) from exc
    print(t(lang, "draft.wrote", file=args.out, kind=args.kind, language=lang, format=fmt))
    return 0


def _templates(settings: Settings) -> Path:
    from bot.documents import documents_dir

    return documents_dir(settings.LEAKBOT_PLAYBOOK)


def _playbook(settings: Settings) -> Playbook:
    from bot.cli import _load_playbook

    return _load_playbook(settings)


def _now(args: argparse.Namespace, settings: Settings, lang: str) -> datetime:
    from bot.cli import CliError
    from bot.domain.answers import parse_datetime

    if not args.now:
        return SystemClock().now().astimezone(settings.tz)
    try:
        return parse_datetime(args.now, settings.tz)
    except ValueError as exc:
        raise CliError(t(lang, "cli.bad_now", value=args.now)) from exc


def _facts_from_file(
    path: str, playbook: Playbook, settings: Settings, lang: str, now: datetime
) -> IncidentFacts:
    from bot.cli import CliError
    from bot.cli_input import InputError, load_answers
    from bot.documents import facts_from_answers

    try:
        answers = load_answers(path, playbook, lang=lang, tz=settings.tz, now=now)
    except InputError as exc:
        raise CliError("\n".join(exc.lines)) from exc
    try:
        return facts_from_answers(
            answers,
            playbook,
            lang,
            tz=settings.tz,
            now=now,
            company_name=settings.LEAKBOT_COMPANY_NAME,
            company_contact=settings.LEAKBOT_COMPANY_CONTACT,
        )
    except OverflowError as exc:  # a deadline past year 9999
        raise CliError(t(lang, "cli.out_of_range")) from exc


def _facts_from_store(
    incident_id: str, playbook: Playbook, settings: Settings, lang: str, now: datetime
) -> IncidentFacts:
    import asyncio

    from bot.cli import CliError
    from bot.cli_input import problem_lines
    from bot.documents import facts_from_incident
    from bot.domain.answers import AnswersError
    from bot.store.urls import resolve_database_url

    try:
        resolve_database_url(settings.DATABASE_URL)
    except ValueError as exc:
        raise ConfigError(message_of(exc)) from exc
    record = asyncio.run(_read_incident(settings, incident_id))
    if record is None:
        raise CliError(t(lang, "draft.no_incident", incident_id=incident_id))
    try:
        return facts_from_incident(
            record,
            playbook,
            lang,
            tz=settings.tz,
            now=now,
            company_name=settings.LEAKBOT_COMPANY_NAME,
            company_contact=settings.LEAKBOT_COMPANY_CONTACT,
        )
    except AnswersError as exc:  # stored under an earlier playbook
        raise CliError("\n".join(problem_lines(exc, lang, incident_id))) from exc
    except OverflowError as exc:
        raise CliError(t(lang, "cli.out_of_range")) from exc


async def _read_incident(settings: Settings, incident_id: str) -> IncidentRecord | None:
    from bot.database import database_errors, open_store

    # Reads an existing database only: never creates one or migrates it (one-line errors).
    store = await open_store(
        settings.DATABASE_URL, migrate=False, create=False, require_schema=True
    )
    try:
        async with database_errors(settings.DATABASE_URL):
            return await store.get_incident(incident_id)
    finally:
        await store.close()
