"""`leakbot export [--format csv|json|jsonl] [--since DATE] [--out FILE]` (docs/contracts.md).

Streams: incidents are read a page at a time and written as they come (constant memory). With
`--out`, the file appears only when complete (written beside it, then renamed), so a failed
export never leaves half a file under the name asked for.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import os
import sys
import tempfile
from contextlib import aclosing, suppress
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from bot.config import ConfigError, Settings
from bot.domain.i18n import t

FORMATS = ("csv", "json", "jsonl")


def register(commands: Any) -> None:
    """Add the `export` subcommand to the `leakbot` parser's subparsers."""
    parser = commands.add_parser(
        "export", help="every incident as CSV (Excel-ready), a JSON array or JSON lines"
    )
    parser.add_argument("--format", default="csv", metavar="csv|json|jsonl", help="default csv")
    parser.add_argument(
        "--since",
        metavar="DATE",
        help="only incidents created from this date (YYYY-MM-DD in LEAKBOT_TIMEZONE) or time",
    )
    parser.add_argument("--out", metavar="FILE", help="write to FILE (default: standard output)")
    parser.set_defaults(handler=cmd_export)


def parse_since(text: str, tz: ZoneInfo) -> datetime:
    """`2026-11-01` → that day's start in `tz`; an ISO 8601 time without offset is in `tz`."""
    value = text.strip()
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(0), tzinfo=tz)
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(value) from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli import CliError, _load_playbook
    from bot.store.urls import resolve_database_url

    lang = settings.LEAKBOT_LANGUAGE
    fmt = str(args.format).strip().lower()
    if fmt not in FORMATS:
        raise CliError(t(lang, "export.bad_format", value=args.format))
    since = None
    if args.since is not None:
        try:
            since = parse_since(args.since, settings.tz)
        except ValueError as exc:
            raise CliError(t(lang, "export.bad_since", value=args.since)) from exc
    try:
        resolve_database_url(settings.DATABASE_URL, create_folder=False)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    playbook = _load_playbook(settings)
    if args.out is None:
        try:
            asyncio.run(_export_to_stdout(settings, playbook, fmt, since))
        except BrokenPipeError:  # `leakbot export | head`: the reader left, not an error
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush is silent
        return 0
    target = Path(args.out)
    try:
        handle, temp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".part", dir=target.parent
        )
    except OSError as exc:
        raise CliError(
            t(lang, "export.unwritable", file=args.out, error=exc.strerror or exc)
        ) from exc
    try:
        with open(handle, "w", encoding="utf-8", newline="") as out:
            count = asyncio.run(_export(settings, playbook, fmt, since, out))
        os.replace(temp_name, target)
    except OSError as exc:
        raise CliError(
            t(lang, "export.unwritable", file=args.out, error=exc.strerror or exc)
        ) from exc
    finally:
        with suppress(FileNotFoundError):
            os.unlink(temp_name)
    print(t(lang, "export.done", count=count, file=args.out))
    return 0


async def _export_to_stdout(
    settings: Settings, playbook: Any, fmt: str, since: datetime | None
) -> int:
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # stdout replaced by a text stream (tests, embedding)
        return await _export(settings, playbook, fmt, since, sys.stdout)
    sys.stdout.flush()
    # UTF-8 and CRLF whatever the terminal's locale; detached so sys.stdout stays usable.
    out = io.TextIOWrapper(buffer, encoding="utf-8", newline="")
    try:
        return await _export(settings, playbook, fmt, since, out)
    finally:
        out.flush()
        out.detach()


# The cyclic garbage collector's first threshold while exporting (Python's default: 700). Each
# page decodes into ~20 containers per incident: at 700 the collector ran ~1,400 times per 100,000
# incidents, ~1/4 of the CSV export's main thread CPU on SQLite (bench/README.md). Nothing here
# waits on a cycle to free memory; collections still run, ~70 times less often.
EXPORT_GC_THRESHOLD = 50_000


async def _export(
    settings: Settings, playbook: Any, fmt: str, since: datetime | None, out: TextIO
) -> int:
    thresholds = gc.get_threshold()
    gc.set_threshold(EXPORT_GC_THRESHOLD, 10, 10)
    try:
        return await _export_pages(settings, playbook, fmt, since, out)
    finally:
        gc.set_threshold(*thresholds)


async def _export_pages(
    settings: Settings, playbook: Any, fmt: str, since: datetime | None, out: TextIO
) -> int:
    from bot.database import database_errors, open_store
    from bot.domain.export import CsvLayout, json_separator, write_csv_lines, write_json_texts
    from bot.store.export import iter_csv_lines, iter_json_lines
    from bot.store.urls import resolve_database_url

    if not resolve_database_url(settings.DATABASE_URL, create_folder=False).startswith(
        "postgresql"
    ):
        from bot.store.sqlite_library import switch_off_memory_statistics

        # SQLite's pages are read on two connections at once: without the statistics they no
        # longer wait for each other at every allocation (bot/store/sqlite_library.py).
        switch_off_memory_statistics()
    # Reads an existing database only: never creates one or migrates it. A database failure
    # is one line (exit 2); the output file's own errors are the caller's to word.
    store = await open_store(
        settings.DATABASE_URL, migrate=False, create=False, require_schema=True
    )
    try:
        async with database_errors(settings.DATABASE_URL, writing=True):
            if fmt == "csv":
                out.write("\ufeff")  # the BOM: Excel then reads the file as UTF-8
                # The database flattens each incident into its row (bot/store/export.py).
                # aclosing: on an error mid-export (a closed pipe, a full disk) the pages'
                # read connection is returned before the store closes.
                layout = CsvLayout(playbook)
                async with aclosing(iter_csv_lines(store, layout=layout, since=since)) as pages:
                    return await write_csv_lines(pages, out, layout=layout)
            texts = iter_json_lines(store, since=since, separator=json_separator(fmt))
            async with aclosing(texts) as lines:
                return await write_json_texts(lines, out, fmt=fmt)
    finally:
        await store.close()
