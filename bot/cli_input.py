"""The answers of `leakbot assess`: read from a JSON file (bounded, strict) or asked in a terminal.

Every problem becomes one line for stderr (docs/contracts.md, `leakbot assess`): the file is
read up to a bound (so `/dev/zero` cannot fill memory), must be UTF-8 (a BOM is fine), and may
name each answer once; numbers too long for Python to convert are caught before they crash.
"""

from __future__ import annotations

import argparse
import codecs
import functools
import json
import os
import re
import sys
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final, ParamSpec, TextIO
from zoneinfo import ZoneInfo

from bot.domain.answers import Answers, AnswersError, contradictions, parse_answers
from bot.domain.i18n import t
from bot.domain.playbook import Playbook, Question

MAX_ANSWERS_BYTES: Final = 1_000_000  # 1 MB: answers are a few hundred bytes
# Integers longer than this are refused while parsing (far beyond any allowed answer, and
# below Python's int max str digits, whose ValueError would otherwise escape json.loads).
MAX_NUMBER_DIGITS: Final = 30
EXIT_INTERRUPTED: Final = 130  # 128 + SIGINT, as shells report Ctrl-C
EXIT_BROKEN_PIPE: Final = 141  # 128 + SIGPIPE, as a tool killed by a closed pipe


def add_lang_option(parser: argparse.ArgumentParser) -> None:
    """`--lang ja|en`: the language of what the command prints (default LEAKBOT_LANGUAGE)."""
    parser.add_argument("--lang", choices=["ja", "en"], help="language (default LEAKBOT_LANGUAGE)")


class InputError(Exception):
    """Problems with the answers, one line each (without the `leakbot: ` prefix)."""

    def __init__(self, lines: Sequence[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = list(lines)


@dataclass(frozen=True)
class _LongNumber:
    """Stands in for an integer with too many digits, so the problem can name its answer."""

    digits: int


def problem_lines(error: AnswersError, lang: str, source: str) -> list[str]:
    return [
        t(
            lang,
            "cli.answer_problem",
            file=source,
            answer_id=problem.answer_id,
            message=t(lang, problem.key, **problem.params),
        )
        for problem in error.problems
    ]


def _read_bounded(path: str) -> bytes:
    """At most MAX_ANSWERS_BYTES + 1 bytes: one more than allowed tells that it is too large."""
    if path == "-":
        binary = getattr(sys.stdin, "buffer", None)
        if binary is None:  # a text stream put in place of stdin (tests, embedding)
            return sys.stdin.read(MAX_ANSWERS_BYTES + 1).encode("utf-8")
        data: bytes = binary.read(MAX_ANSWERS_BYTES + 1)
        return data
    with Path(path).open("rb") as file:
        return file.read(MAX_ANSWERS_BYTES + 1)


def _parse_int(text: str) -> int | _LongNumber:
    digits = len(text.lstrip("-"))
    return _LongNumber(digits) if digits > MAX_NUMBER_DIGITS else int(text)


def read_answers_file(path: str, lang: str) -> tuple[dict[str, Any], list[str]]:
    """The raw answers of a JSON file, and the file-level problems found in it (a repeated
    answer, a number too long). Raises InputError when the file cannot be used at all."""
    try:
        data = _read_bounded(path)
    except OSError as exc:
        raise InputError([t(lang, "cli.unreadable", file=path, error=exc.strerror or exc)]) from exc
    if len(data) > MAX_ANSWERS_BYTES:
        raise InputError([t(lang, "cli.too_large", file=path, limit=f"{MAX_ANSWERS_BYTES:,}")])
    try:
        text = data.decode("utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8")
    except UnicodeDecodeError as exc:
        raise InputError([t(lang, "cli.not_utf8", file=path)]) from exc
    duplicates: list[str] = []

    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen and key not in duplicates:
                duplicates.append(key)
            seen[key] = value
        return seen

    try:
        raw = json.loads(text, object_pairs_hook=unique_keys, parse_int=_parse_int)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError; RecursionError: deep nesting
        raise InputError([t(lang, "cli.bad_json", file=path, error=exc)]) from exc
    if not isinstance(raw, dict):
        raise InputError([t(lang, "cli.not_object", file=path)])
    lines = [t(lang, "cli.duplicate_key", file=path, answer_id=key) for key in duplicates]
    answers: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, _LongNumber):
            lines.append(
                t(
                    lang,
                    "cli.number_too_long",
                    file=path,
                    answer_id=key,
                    digits=f"{value.digits:,}",
                )
            )
        elif digits := _longest(value):
            lines.append(t(lang, "cli.number_too_long_nested", file=path, digits=f"{digits:,}"))
        else:
            answers[key] = value
    return answers, lines


def _longest(value: Any) -> int:
    if isinstance(value, _LongNumber):
        return value.digits
    if isinstance(value, list):
        return max((_longest(item) for item in value), default=0)
    if isinstance(value, dict):
        return max((_longest(item) for item in value.values()), default=0)
    return 0


def load_answers(
    path: str | None, playbook: Playbook, *, lang: str, tz: ZoneInfo, now: datetime
) -> Answers:
    """The answers from `path` ('-' = stdin), or asked in the terminal when it is None.

    Raises InputError with every problem at once; Ctrl-C while asking exits 130.
    """
    if path is not None:
        raw, lines = read_answers_file(path, lang)
        source = path
    else:
        raw, lines, source = ask_answers(playbook, lang, tz, now), [], "input"
    contradicting = contradictions(raw)
    try:
        answers = parse_answers(raw, playbook, tz=tz, now=now, partial=True)
    except AnswersError as exc:
        found = [*exc.problems, *contradicting]
        raise InputError(lines + problem_lines(AnswersError(found), lang, source)) from exc
    if contradicting:
        lines += problem_lines(AnswersError(contradicting), lang, source)
    if lines:
        raise InputError(lines)
    return answers


# --- the terminal ----------------------------------------------------------------------------

# Separators between several choices: commas (also full-width, turned ASCII by NFKC), the
# Japanese 、 and ・, semicolons and spaces.
_SEPARATORS: Final = re.compile(r"[,、・;\s]+")
_GROUPED_DIGITS: Final = re.compile(r"\d{1,3}(?:,\d{3})+")
_DATE_TIME: Final = re.compile(
    r"(?P<year>\d{4})\s*[-/年]\s*(?P<month>\d{1,2})\s*[-/月]\s*(?P<day>\d{1,2})\s*日?"
    r"(?:\s*(?:T|\s)\s*|\s*)"
    r"(?:(?P<hour>\d{1,2})\s*(?::\s*(?P<minute>\d{2})|時\s*(?:(?P<jminute>\d{1,2})\s*分)?))?"
)


def normalize_datetime(text: str) -> str:
    """`2026/11/30 10:00`, `2026年11月30日 10時30分`, `2026-11-30T10:00` → ISO 8601; other
    text (e.g. with an offset) is left for the ISO 8601 parser to accept or refuse."""
    folded = unicodedata.normalize("NFKC", text).strip()
    match = _DATE_TIME.fullmatch(folded)
    if match is None:
        return folded
    hour = int(match["hour"] or 0)
    minute = int(match["minute"] or match["jminute"] or 0)
    return (
        f"{int(match['year']):04d}-{int(match['month']):02d}-{int(match['day']):02d}"
        f"T{hour:02d}:{minute:02d}"
    )


def normalize_integer(text: str) -> str:
    """`1,200`, `１２００`, `1200人` → `1200`; anything else is left for the parser to refuse."""
    folded = unicodedata.normalize("NFKC", text).strip().removesuffix("人").removesuffix("名")
    folded = folded.strip()
    if _GROUPED_DIGITS.fullmatch(folded):
        return folded.replace(",", "")
    return folded


def split_choices(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKC", text)
    return [part for part in _SEPARATORS.split(folded) if part]


def _pick(question: Question, text: str) -> str:
    if text.isdecimal() and 1 <= int(text) <= len(question.choices):
        return question.choices[int(text) - 1].value
    return text


def ask_answers(
    playbook: Playbook,
    lang: str,
    tz: ZoneInfo,
    now: datetime,
    read: Callable[[str], str] = input,
    out: TextIO | None = None,
) -> dict[str, Any]:
    """Ask each question in the terminal; empty input leaves the answer unknown.

    End of input → InputError ("Interrupted."); Ctrl-C → a newline (so the shell's prompt starts
    on its own line), the same message on stderr, and exit 130.
    """
    out = out or sys.stdout
    try:
        return _ask_all(playbook, lang, tz, now, read, out)
    except EOFError as exc:
        raise InputError([t(lang, "cli.interrupted")]) from exc
    except KeyboardInterrupt:
        print(file=out, flush=True)
        print(f"leakbot: {t(lang, 'cli.interrupted')}", file=sys.stderr, flush=True)
        raise SystemExit(EXIT_INTERRUPTED) from None


def _ask_all(
    playbook: Playbook,
    lang: str,
    tz: ZoneInfo,
    now: datetime,
    read: Callable[[str], str],
    out: TextIO,
) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    print(t(lang, "cli.prompt_intro"), file=out)
    total = len(playbook.steps)
    for number, step in enumerate(playbook.steps, start=1):
        print(f"\n[{number}/{total}] {step.title.get(lang)}", file=out)
        for question_id in step.questions:
            question = playbook.question(question_id)
            if question.id == "partner":
                continue  # not needed for a recommendation
            raw_value = _ask_one(playbook, question, lang, tz, now, read, out)
            if raw_value is not None:
                raw[question.id] = raw_value
    return raw


def _ask_one(
    playbook: Playbook,
    question: Question,
    lang: str,
    tz: ZoneInfo,
    now: datetime,
    read: Callable[[str], str],
    out: TextIO,
) -> Any:
    print(f"\n{question.label.get(lang)}", file=out)
    if question.help:
        print(f"  ({question.help.get(lang)})", file=out)
    if question.choices:
        print(t(lang, "cli.prompt_choices"), file=out)
        for index, choice in enumerate(question.choices, start=1):
            print(f"  {index}. {choice.value} — {choice.label.get(lang)}", file=out)
    while True:
        text = read("> ").strip()
        if not text:
            return None
        value: Any = text
        if question.choices:
            picked = [_pick(question, part) for part in split_choices(text)]
            if not picked:  # only separators: nothing chosen, the answer stays unknown
                return None
            if question.kind == "one_of" and len(picked) > 1:
                print(t(lang, "cli.prompt_one_only", text=text), file=out)
                continue
            value = picked if question.kind == "several_of" else picked[0]
        elif question.kind == "datetime":
            value = normalize_datetime(text)
        elif question.kind in ("integer", "counted"):
            value = normalize_integer(text)
        try:
            parse_answers({question.id: value}, playbook, tz=tz, now=now, partial=True)
        except AnswersError as exc:
            problem = exc.problems[0]
            print(
                t(lang, "cli.prompt_retry", message=t(lang, problem.key, **problem.params)),
                file=out,
            )
            continue
        return value


# --- a closed stdout ---------------------------------------------------------------------------

_P = ParamSpec("_P")


def quiet_on_broken_pipe(command: Callable[_P, int]) -> Callable[_P, int]:
    """`leakbot assess | head -1`: when the reader goes away, stop without a traceback.

    Python's own exit would flush stdout again and print "Exception ignored … BrokenPipeError",
    so stdout is pointed at /dev/null first (the recipe of Python's signal docs).
    """

    @functools.wraps(command)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> int:
        try:
            code = command(*args, **kwargs)
            sys.stdout.flush()
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return EXIT_BROKEN_PIPE
        return code

    return run
