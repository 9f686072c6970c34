"""`leakbot assess` input (docs/contracts.md, `leakbot assess`): bad answer files, and the
terminal questions. Through the real entry point: `main(argv)` in process and the console script."""

from __future__ import annotations

import codecs
import io
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.cli import main
from bot.cli_input import (
    EXIT_BROKEN_PIPE,
    EXIT_INTERRUPTED,
    MAX_ANSWERS_BYTES,
    ask_answers,
    normalize_datetime,
    normalize_integer,
    split_choices,
)
from bot.domain.answers import AnswersError, parse_answers
from bot.domain.playbook import load_playbook

from .cli_support import LEAKBOT, clean_env, run_leakbot

pytestmark = pytest.mark.usefixtures("clean_cli_settings")

PLAYBOOK = load_playbook()
TOKYO = ZoneInfo("Asia/Tokyo")
NOW = "2026-12-01T10:00"
NOW_AT = datetime(2026, 12, 1, 10, 0, tzinfo=TOKYO)
HUGE = "1" + "0" * 5000  # more digits than Python converts by default (4300)


def _file(tmp_path: Path, data: bytes | str, name: str = "answers.json") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def _bad(capsys: pytest.CaptureFixture[str], path: Path | str, *extra: str) -> list[str]:
    code = main(["assess", "--answers", str(path), "--now", NOW, *extra])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert lines and all(line.startswith("leakbot: ") for line in lines), lines
    return lines


def _ok(capsys: pytest.CaptureFixture[str], path: Path | str) -> dict[str, Any]:
    code = main(["assess", "--answers", str(path), "--now", NOW, "--json"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    data: dict[str, Any] = json.loads(out)
    return data


# --- bad answer files (issue 10, item 6) --------------------------------------------------------


def test_a_number_over_the_digit_limit(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _file(tmp_path, '{"affected_persons": ' + HUGE + "}")
    (line,) = _bad(capsys, path, "--lang", "en")
    assert str(path) in line and '"affected_persons"' in line and "5,001 digits" in line
    (line,) = _bad(capsys, path)
    assert "回答「affected_persons」" in line and "5,001桁" in line
    # Also where no number is expected at all, and inside a list.
    path = _file(tmp_path, '{"regions": [' + HUGE + '], "cause": -' + HUGE + "}")
    lines = _bad(capsys, path, "--lang", "en")
    assert len(lines) == 2
    assert any('"cause"' in line and "5,001 digits" in line for line in lines)
    assert any("5,001 digits" in line and '"cause"' not in line for line in lines)


def test_a_long_but_valid_looking_number_is_out_of_range(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = _file(tmp_path, '{"affected_persons": ' + "9" * 25 + "}")
    (line,) = _bad(capsys, path, "--lang", "en")
    assert '"affected_persons"' in line and "from 0 to 1000000000" in line


def test_a_file_over_one_megabyte(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Exactly the limit is read; one byte more is refused.
    body = '{"cause": "negligence"}'
    at_limit = _file(tmp_path, body + " " * (MAX_ANSWERS_BYTES - len(body)), "limit.json")
    assert at_limit.stat().st_size == MAX_ANSWERS_BYTES
    assert _ok(capsys, at_limit)["deadlines"]
    over = _file(tmp_path, body + " " * (MAX_ANSWERS_BYTES + 1 - len(body)), "over.json")
    (line,) = _bad(capsys, over, "--lang", "en")
    assert str(over) in line and "too large" in line and "1,000,000 bytes" in line
    (line,) = _bad(capsys, over)
    assert "大きすぎます" in line


def test_dev_zero_is_read_no_further_than_the_limit(capsys: pytest.CaptureFixture[str]) -> None:
    (line,) = _bad(capsys, "/dev/zero", "--lang", "en")
    assert "/dev/zero" in line and "too large" in line


def test_duplicate_keys(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _file(tmp_path, '{"cause": "negligence", "damage": "none", "cause": "intentional"}')
    (line,) = _bad(capsys, path, "--lang", "en")
    assert '"cause"' in line and "more than once" in line
    (line,) = _bad(capsys, path)
    assert "回答「cause」" in line and "2回以上" in line
    # Together with other problems: one line each.
    path = _file(tmp_path, '{"cause": "x", "cause": "y", "damage": "lots", "damage": "none"}')
    lines = _bad(capsys, path, "--lang", "en")
    assert len(lines) == 3  # cause twice, damage twice, and the value of cause
    assert sum("more than once" in line for line in lines) == 2
    assert any('"y" is not allowed' in line for line in lines)


def test_python_looking_values(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    raw = {
        "encrypted": "True",
        "data_kinds": "['customer_personal']",
        "affected_persons": "None",
        "cause": True,
    }
    lines = _bad(capsys, _file(tmp_path, json.dumps(raw)), "--lang", "en")
    assert len(lines) == 4
    by_answer = {answer_id: line for answer_id in raw for line in lines if f'"{answer_id}"' in line}
    assert set(by_answer) == set(raw)
    assert (
        "looks like Python" in by_answer["encrypted"]
        and "yes, no, unknown" in by_answer["encrypted"]
    )
    assert "JSON list" in by_answer["data_kinds"] and "customer_personal" in by_answer["data_kinds"]
    assert "whole number" in by_answer["affected_persons"]
    # The JSON value true is shown as JSON, not as Python's True.
    assert "(not true)" in by_answer["cause"] and "True" not in by_answer["cause"]
    assert "intentional, negligence" in by_answer["cause"]


@pytest.mark.parametrize("encoding", ["shift_jis", "cp932", "euc_jp"])
def test_not_utf8(capsys: pytest.CaptureFixture[str], tmp_path: Path, encoding: str) -> None:
    path = _file(tmp_path, '{"description": "顧客名簿が流出"}'.encode(encoding))
    (line,) = _bad(capsys, path, "--lang", "en")
    assert str(path) in line and "save the file as UTF-8" in line
    (line,) = _bad(capsys, path)
    assert "UTF-8で保存し直してください" in line


def test_a_utf8_bom_is_accepted(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = json.dumps({"cause": "negligence", "description": "顧客名簿"}, ensure_ascii=False)
    path = _file(tmp_path, codecs.BOM_UTF8 + text.encode("utf-8"))
    assert _ok(capsys, path)["deadlines"]


def test_a_bom_from_stdin_is_accepted(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = codecs.BOM_UTF8 + b'{"cause": "negligence"}'
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8"))
    assert _ok(capsys, "-")["deadlines"]


def test_contradictory_answers(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    raw = {
        "data_kinds": ["internal_minor", "management_critical"],
        "contract": ["none", "confidentiality_remedies"],
    }
    lines = _bad(capsys, _file(tmp_path, json.dumps(raw)), "--lang", "en")
    assert len(lines) == 2
    assert any(
        '"data_kinds"' in line and "internal_minor" in line and "management_critical" in line
        for line in lines
    )
    assert any('"contract"' in line and "contradict" in line for line in lines)
    lines = _bad(capsys, _file(tmp_path, json.dumps(raw)))
    assert all("矛盾" in line for line in lines)


def test_bad_files_through_the_console_script(tmp_path: Path) -> None:
    cases: dict[str, tuple[bytes, int, str]] = {
        "digits.json": (b'{"affected_persons": ' + HUGE.encode() + b"}", 1, "5,001 digits"),
        "dupes.json": (b'{"cause": "negligence", "cause": "unknown"}', 1, "more than once"),
        "python.json": (b'{"encrypted": "False", "regions": "[\'jp\']"}', 2, "looks like"),
        "sjis.json": ('{"description": "漏洩"}'.encode("shift_jis"), 1, "save the file as UTF-8"),
        "both.json": (b'{"data_kinds": ["management_critical", "internal_minor"]}', 1, "contra"),
        "big.json": (b"{}" + b" " * MAX_ANSWERS_BYTES, 1, "too large"),
    }
    for name, (data, count, expected) in cases.items():
        path = _file(tmp_path, data, name)
        done = run_leakbot(
            ["assess", "--answers", str(path), "--lang", "en", "--now", NOW], tmp_path
        )
        assert (done.returncode, done.stdout) == (2, ""), (name, done.stderr)
        assert "Traceback" not in done.stderr, name
        lines = done.stderr.splitlines()
        assert len(lines) == count, (name, lines)
        assert all(line.startswith("leakbot: ") for line in lines), name
        assert expected in lines[0], (name, lines)
    # stdin from /dev/zero: read up to the limit, then refused.
    with open("/dev/zero", "rb") as zero:
        done = run_leakbot(
            ["assess", "--answers", "-", "--lang", "en", "--now", NOW], tmp_path, stdin=zero
        )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "leakbot: -: too large (at most 1,000,000 bytes); give a JSON file with the answers only."
    ]


# --- the terminal (issue 10, item 7) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026/11/30 10:00", datetime(2026, 11, 30, 10, 0, tzinfo=TOKYO)),
        ("2026-11-30T10:00", datetime(2026, 11, 30, 10, 0, tzinfo=TOKYO)),
        ("2026-11-30 10:00", datetime(2026, 11, 30, 10, 0, tzinfo=TOKYO)),
        ("2026/11/30", datetime(2026, 11, 30, 0, 0, tzinfo=TOKYO)),
        ("2026年11月30日", datetime(2026, 11, 30, 0, 0, tzinfo=TOKYO)),
        ("2026年11月30日 10時30分", datetime(2026, 11, 30, 10, 30, tzinfo=TOKYO)),
        ("2026年11月30日10時", datetime(2026, 11, 30, 10, 0, tzinfo=TOKYO)),
        ("2026年11月30日 9:05", datetime(2026, 11, 30, 9, 5, tzinfo=TOKYO)),
        ("２０２６／１１／３０　１０：００", datetime(2026, 11, 30, 10, 0, tzinfo=TOKYO)),
        ("2026-11-30T10:00:00+00:00", datetime(2026, 11, 30, 19, 0, tzinfo=TOKYO)),
    ],
)
def test_dates_as_people_type_them(text: str, expected: datetime) -> None:
    iso = normalize_datetime(text)
    answers = parse_answers({"aware_at": iso}, PLAYBOOK, tz=TOKYO, now=NOW_AT, partial=True)
    assert answers.moment("aware_at") == expected


@pytest.mark.parametrize("text", ["2026/13/01", "2026年2月30日", "昨日", "30/11/2026"])
def test_impossible_dates_are_still_refused(text: str) -> None:
    with pytest.raises(AnswersError) as caught:
        parse_answers(
            {"aware_at": normalize_datetime(text)}, PLAYBOOK, tz=TOKYO, now=NOW_AT, partial=True
        )
    assert [p.key for p in caught.value.problems] == ["answer.not_datetime"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1,200", "1200"), ("１，２００", "1200"), ("1200人", "1200"), ("12,34", "12,34"), ("5", "5")],
)
def test_numbers_as_people_type_them(text: str, expected: str) -> None:
    assert normalize_integer(text) == expected


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("1、2", ["1", "2"]),
        ("1，2", ["1", "2"]),
        ("１, management_critical", ["1", "management_critical"]),
        ("1 2;3・4", ["1", "2", "3", "4"]),
        ("、", []),
    ],
)
def test_choice_separators(text: str, parts: list[str]) -> None:
    assert split_choices(text) == parts


def _reader(lines: list[str]) -> Iterator[str]:
    yield from lines
    raise AssertionError("asked more often than expected")


def _ask(lines: list[str], lang: str = "en") -> tuple[dict[str, Any], str]:
    feed = _reader(lines)
    out = io.StringIO()
    raw = ask_answers(PLAYBOOK, lang, TOKYO, NOW_AT, read=lambda _prompt: next(feed), out=out)
    return raw, out.getvalue()


# One line per asked question, in the playbook's order (partner is not asked).
TYPED = [
    "2026年11月30日 10時30分",  # aware_at
    "1,2",  # source: one choice only → refused, asked again
    "４",  # source: media, a full-width number
    "entrusted",  # relationship
    "1、２，management_critical",  # data_kinds: 、 and a full-width comma
    "1,200",  # affected_persons
    "2",  # encrypted: no
    "jp eu",  # regions: a space separates too
    "intentional",  # cause
    "confirmed",  # damage
    "",  # partner_response: unknown
    "",  # dependency: unknown
    "、",  # contract: nothing chosen → unknown
    "",  # description
]


def test_typed_answers() -> None:
    raw, out = _ask(TYPED)
    answers = parse_answers(raw, PLAYBOOK, tz=TOKYO, now=NOW_AT, partial=True)
    assert answers.moment("aware_at") == datetime(2026, 11, 30, 10, 30, tzinfo=TOKYO)
    assert answers.choice("source") == "media"
    assert answers.several("data_kinds") == (
        "customer_personal",
        "employee_personal",
        "management_critical",
    )
    assert answers.integer("affected_persons") == 1200
    assert answers.several("regions") == ("jp", "eu")
    assert answers.several("contract") == ()
    assert out.count("Only one choice is allowed") == 1
    assert 'you entered "1,2"' in out


def test_single_choice_refuses_several_in_japanese() -> None:
    lines = ["", "2、3", "2", *[""] * 11]
    raw, out = _ask(lines, "ja")
    assert raw == {"source": "third_party"}
    assert "選べるのは1つだけです（「2、3」）" in out


def test_ctrl_c_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(_prompt: str) -> str:
        raise KeyboardInterrupt

    out = io.StringIO()
    with pytest.raises(SystemExit) as stopped:
        ask_answers(PLAYBOOK, "en", TOKYO, NOW_AT, read=interrupted, out=out)
    assert stopped.value.code == EXIT_INTERRUPTED == 130
    assert out.getvalue().endswith("\n")
    assert capsys.readouterr().err == "leakbot: Interrupted.\n"


def test_typed_answers_through_the_console_script(tmp_path: Path) -> None:
    done = run_leakbot(
        ["assess", "--lang", "en", "--now", NOW, "--json"], tmp_path, input="\n".join(TYPED) + "\n"
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.count("Only one choice is allowed") == 1
    data = json.loads(done.stdout.rsplit("> ", 1)[1])  # after the last prompt
    due = {d["id"]: d["due"] for d in data["deadlines"]}
    # Aware Mon Nov 30 (typed as 2026年11月30日 10時30分): GDPR 72 hours later.
    assert due["gdpr_authority"] == "2026-12-03T10:30:00+09:00"


def _read_until(stream: Any, marker: bytes, timeout: float = 60) -> bytes:
    seen = b""
    end = time.monotonic() + timeout
    while marker not in seen:
        left = end - time.monotonic()
        assert left > 0, seen
        ready, _, _ = select.select([stream], [], [], left)
        if ready:
            chunk = os.read(stream.fileno(), 4096)
            assert chunk, seen  # the process ended before asking
            seen += chunk
    return seen


# read(2)'s number as /proc/PID/syscall shows it while a process waits in it.
READ_SYSCALL = {"x86_64": "0", "aarch64": "63"}


def _wait_until_reading_stdin(pid: int, timeout: float = 60) -> None:
    """Until the process waits in read(0, …). Ctrl-C between its prompt and that read stays
    pending until the read returns: sent then, the test would race with the process."""
    number = READ_SYSCALL.get(os.uname().machine)
    syscall = Path(f"/proc/{pid}/syscall")
    if number is None or not syscall.exists():
        pytest.skip("needs /proc/PID/syscall (Linux, x86_64 or aarch64)")
    end = time.monotonic() + timeout
    while True:
        fields = syscall.read_text().split()
        if fields[:2] == [number, "0x0"]:
            return
        assert time.monotonic() < end, fields
        select.select([], [], [], 0.01)  # look again in 10 ms


def test_ctrl_c_exits_130_on_its_own_line(tmp_path: Path) -> None:
    with subprocess.Popen(
        [str(LEAKBOT), "assess", "--lang", "en", "--now", NOW],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
        cwd=tmp_path,
        # Ctrl-C as a terminal delivers it: a test run started in the background by a
        # non-interactive shell has SIGINT ignored, and a child would inherit that.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    ) as process:
        assert process.stdin and process.stdout and process.stderr
        _read_until(process.stdout, b"> ")
        _wait_until_reading_stdin(process.pid)
        process.send_signal(signal.SIGINT)
        # stdin stays open: closing it (as communicate() does) could end the read with EOF first.
        process.wait(timeout=60)
        out, err = process.stdout.read(), process.stderr.read()
    assert process.returncode == 130
    assert out == b"\n"  # the rest of the prompt's line
    assert err.decode() == "leakbot: Interrupted.\n"


@pytest.mark.parametrize("interactive", [True, False])
def test_a_closed_pipe_ends_quietly(tmp_path: Path, interactive: bool) -> None:
    """`leakbot assess | head -1`: the reader is gone before leakbot writes."""
    answers = _file(tmp_path, '{"cause": "negligence"}')
    args = [] if interactive else ["--answers", str(answers)]
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody reads stdout
    try:
        done = subprocess.run(
            [str(LEAKBOT), "assess", "--lang", "en", "--now", NOW, *args],
            input=("\n" * 20).encode(),
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=clean_env(),
            cwd=tmp_path,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.stderr == b""
    assert done.returncode == EXIT_BROKEN_PIPE


def test_a_pipe_to_head_prints_the_first_line_only(tmp_path: Path) -> None:
    answers = _file(tmp_path, '{"cause": "negligence"}')
    done = subprocess.run(
        ["bash", "-c", f"'{LEAKBOT}' assess --answers '{answers}' --lang en --now {NOW} | head -1"],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0
    assert len(done.stdout.splitlines()) == 1
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr
