"""`leakbot export` (docs/contracts.md): every stored incident, one CSV row / JSON object each.

Incidents, approvals, deadline tasks and closures are written through the Store; the CLI runs
in-process (`bot.cli.main`, on a thread: it starts its own event loop) on SQLite and PostgreSQL,
and its output is parsed back and compared with what the Store returns.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.domain.export import BASE_COLUMNS
from bot.store import NewIncident, NewTask, Store
from bot.store.export import iter_export

from .cli_support import CliRun

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def _incident(partner: str, **answers: Any) -> NewIncident:
    return NewIncident(
        partner=partner,
        reporter_id="UREPORTER1",
        team_id="T1",
        locale="ja",
        answers={"partner": partner, "cause": "negligence", **answers},
        assessment={"recommendation": "request_report"},
        recommendation="request_report",
        year=2026,
    )


async def _history(store: Store) -> list[str]:
    """Four incidents: decided with deadlines and a later round, pending, rejected, closed."""
    first, _ = await store.create_incident(
        _incident("株式会社アクメ", data_kinds=["customer_personal", "trade_secret"]), now=T0
    )
    await store.create_tasks(
        first.id,
        [
            NewTask(
                "deadline",
                "appi_preliminary",
                {"ja": "速報", "en": "Preliminary"},
                None,
                T0 + timedelta(days=3),
            ),
            NewTask(
                "deadline",
                "partner_report",
                {"ja": "報告", "en": "Report"},
                "UREPORTER1",
                T0 + timedelta(days=7),
            ),
            NewTask("checklist", "ask_report", {"ja": "依頼", "en": "Ask"}, None, None),
        ],
        now=T0,
    )
    await store.record_approval(
        first.id,
        approver_id="UAPPROVER1",
        action="consider_suspension",
        required=1,
        now=T0 + timedelta(hours=5),
    )
    second, _ = await store.create_incident(
        _incident('Globex, Inc. "東京"\n支店'), now=T0 + timedelta(days=2)
    )
    third, _ = await store.create_incident(_incident("山田商事"), now=T0 + timedelta(days=3))
    await store.reject(
        third.id, actor_id="UAPPROVER2", reason="重複", now=T0 + timedelta(days=3, hours=1)
    )
    fourth, _ = await store.create_incident(_incident("Initech"), now=T0 + timedelta(days=10))
    await store.record_approval(
        fourth.id,
        approver_id="UAPPROVER1",
        action="request_report",
        required=1,
        now=T0 + timedelta(days=10, hours=1),
    )
    closed = await store.close_with_outcome(
        fourth.id,
        actor_id="UAPPROVER1",
        outcome="continued_with_conditions",
        note="再発防止策を条件に継続",
        regulator=[],
        done_task_ids=[],
        now=T0 + timedelta(days=20),
    )
    assert closed is not None
    return [first.id, second.id, third.id, fourth.id]


@pytest.fixture
def run_export(run_cli: CliRun, monkeypatch: pytest.MonkeyPatch) -> CliRun:
    """`leakbot export ARGS` against the test database, in English: (exit code, out, err)."""
    monkeypatch.setenv("LEAKBOT_LANGUAGE", "en")
    return lambda *args: run_cli("export", *args)


async def test_csv_rows_equal_the_stored_incidents(
    store: Store, run_export: CliRun, tmp_path: Path
) -> None:
    ids = await _history(store)
    target = tmp_path / "incidents.csv"
    code, out, err = await run_export("--out", str(target))
    assert (code, err) == (0, "")
    assert "4" in out and str(target) in out

    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for Excel
    # CRLF after the header and each of the 4 rows; the only bare \n are inside the quoted
    # partner cells of the second incident (its name and its `answer.partner`).
    assert raw.count(b"\r\n") == 5 and raw.count(b"\n") == 5 + 2 and raw.endswith(b"\r\n")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert [row["id"] for row in rows] == ids
    header = next(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert tuple(header[: len(BASE_COLUMNS)]) == BASE_COLUMNS

    for row in rows:
        stored = await store.get_incident(row["id"])
        assert stored is not None
        assert row["status"] == stored.status
        assert row["partner"] == stored.partner  # Japanese, quotes, comma and newline round-trip
        assert row["answer.partner"] == stored.answers["partner"]
        assert row["recommendation"] == stored.recommendation
        assert row["decided_action"] == (stored.decided_action or "")
        assert row["decided_by"] == "; ".join(stored.decided_by)
        assert row["created_at"] == stored.created_at.isoformat()
        assert row["decided_at"] == (stored.decided_at.isoformat() if stored.decided_at else "")
        closure = await store.latest_closure(row["id"])
        assert row["outcome"] == (closure.outcome if closure else "")

    first, second, third, fourth = rows
    assert first["partner"] == "株式会社アクメ"
    assert first["answer.data_kinds"] == "customer_personal; trade_secret"
    assert first["decided_action"] == "consider_suspension"
    assert first["followed_recommendation"] == "false"
    assert first["approvals"] == "UAPPROVER1:consider_suspension@1"
    assert first["deadline.appi_preliminary.due_at"] == (T0 + timedelta(days=3)).isoformat()
    assert first["deadline.appi_preliminary.status"] == "open"
    assert first["deadline.partner_report.due_at"] == (T0 + timedelta(days=7)).isoformat()
    assert first["deadline.gdpr_authority.due_at"] == ""
    assert second["partner"] == 'Globex, Inc. "東京"\n支店'
    assert second["status"] == "pending" and second["followed_recommendation"] == ""
    assert third["status"] == "rejected" and third["decision_reason"] == "重複"
    assert fourth["status"] == "closed" and fourth["followed_recommendation"] == "true"
    assert fourth["outcome"] == "continued_with_conditions"
    assert first["outcome"] == second["outcome"] == third["outcome"] == ""


async def test_jsonl_and_json_carry_the_same_incidents(store: Store, run_export: CliRun) -> None:
    ids = await _history(store)
    code, out, err = await run_export("--format", "jsonl")
    assert (code, err) == (0, "")
    lines = [json.loads(line) for line in out.splitlines()]
    assert [item["id"] for item in lines] == ids
    first = lines[0]
    assert first["partner"] == "株式会社アクメ"
    assert first["answers"]["data_kinds"] == ["customer_personal", "trade_secret"]
    assert first["decided_by"] == ["UAPPROVER1"]
    assert [(a["approver_id"], a["action"], a["round"]) for a in first["approvals"]] == [
        ("UAPPROVER1", "consider_suspension", 1)
    ]
    assert {d["ref"]: d["status"] for d in first["deadlines"]} == {
        "appi_preliminary": "open",
        "partner_report": "open",
    }
    assert "outcome" in first and first["outcome"] is None
    assert lines[3]["outcome"] == "continued_with_conditions"

    code, out, _ = await run_export("--format", "json")
    assert code == 0
    assert json.loads(out) == lines


async def test_later_round_deadline_is_exported_once(store: Store, run_export: CliRun) -> None:
    incident, _ = await store.create_incident(_incident("Umbrella"), now=T0)
    preliminary = NewTask("deadline", "appi_preliminary", {"en": "Prelim"}, None)
    await store.create_tasks(
        incident.id, [NewTask(**{**_task_fields(preliminary), "due_at": T0})], now=T0
    )
    await store.record_approval(
        incident.id, approver_id="UAPPROVER1", action="request_report", required=1, now=T0
    )
    await store.reopen_for_new_round(
        incident.id,
        assessment={"recommendation": "request_report"},
        recommendation="request_report",
        actor_id="UREPORTER1",
        reason="updated",
        now=T0 + timedelta(days=1),
    )
    later_due = T0 + timedelta(days=4)
    await store.create_tasks(
        incident.id,
        [NewTask(**{**_task_fields(preliminary), "due_at": later_due})],
        now=T0 + timedelta(days=1),
    )
    pages = [page async for page in iter_export(store)]
    (exported,) = [item for page in pages for item in page]
    assert exported.round == 2
    assert [(d.ref, d.round, d.due_at) for d in exported.deadlines] == [
        ("appi_preliminary", 2, later_due)
    ]


def _task_fields(task: NewTask) -> dict[str, Any]:
    return {
        "kind": task.kind,
        "ref": task.ref,
        "title": task.title,
        "owner_id": task.owner_id,
        "due_at": task.due_at,
    }


async def test_since_filters_by_creation_day(store: Store, run_export: CliRun) -> None:
    ids = await _history(store)
    code, out, _ = await run_export("--format", "jsonl", "--since", "2026-05-04")
    assert code == 0
    # LEAKBOT_TIMEZONE defaults to Asia/Tokyo: 2026-05-04 00:00 JST = 05-03 15:00 UTC.
    assert [json.loads(line)["id"] for line in out.splitlines()] == ids[2:]
    code, out, _ = await run_export("--format", "jsonl", "--since", "2026-05-04T09:00:00+00:00")
    assert code == 0
    assert [json.loads(line)["id"] for line in out.splitlines()] == ids[2:]
    code, out, _ = await run_export("--format", "json", "--since", "2030-01-01")
    assert (code, json.loads(out)) == (0, [])


async def test_pages_cover_every_incident_once(store: Store) -> None:
    created = [
        (await store.create_incident(_incident(f"取引先{n}"), now=T0 + timedelta(minutes=n)))[0].id
        for n in range(7)
    ]
    pages = [page async for page in iter_export(store, page_size=3)]
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [item.id for page in pages for item in page] == created


async def test_csv_cells_never_start_a_formula(
    store: Store, run_export: CliRun, tmp_path: Path
) -> None:
    record, _ = await store.create_incident(_incident('=HYPERLINK("http://x")'), now=T0)
    await store.reject(record.id, actor_id="UAPPROVER1", reason="+1 dup", now=T0)
    target = tmp_path / "x.csv"
    code, _, _ = await run_export("--out", str(target))
    assert code == 0
    (row,) = csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"), newline=""))
    assert row["partner"] == '\'=HYPERLINK("http://x")'
    assert row["answer.partner"] == '\'=HYPERLINK("http://x")'
    assert row["decision_reason"] == "'+1 dup"
    code, out, _ = await run_export("--format", "jsonl")
    assert json.loads(out)["partner"] == '=HYPERLINK("http://x")'  # JSON keeps the text as is


async def test_export_collects_garbage_less_often_then_as_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While exporting, the cyclic collector's first threshold is `EXPORT_GC_THRESHOLD`; after
    it (an error included), the process's thresholds are back."""
    import gc

    from bot import cli_export

    seen: list[tuple[int, ...]] = []

    async def pages(*_: Any) -> int:
        seen.append(gc.get_threshold())
        raise OSError("disk full")

    monkeypatch.setattr(cli_export, "_export_pages", pages)
    before = gc.get_threshold()
    with pytest.raises(OSError):
        await cli_export._export(None, None, "csv", None, io.StringIO())  # type: ignore[arg-type]
    assert seen == [(cli_export.EXPORT_GC_THRESHOLD, 10, 10)] != [before]
    assert gc.get_threshold() == before


async def test_empty_store_gives_a_header_only_csv(store: Store, run_export: CliRun) -> None:
    code, out, _ = await run_export()
    assert code == 0
    assert out.startswith("\ufeffid,status,partner,")
    assert out.count("\r\n") == 1


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--format", "xlsx"), "--format"),
        (("--since", "yesterday"), "--since"),
        (("--since", "2026-13-01"), "--since"),
        (("--out", "/nonexistent-dir/x.csv"), "/nonexistent-dir/x.csv"),
    ],
)
async def test_bad_arguments_exit_2_with_one_line(
    store: Store, run_export: CliRun, args: tuple[str, ...], fragment: str, tmp_path: Path
) -> None:
    code, out, err = await run_export(*args)
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("leakbot: ") and fragment in lines[0]
    assert "Traceback" not in err
    assert list(tmp_path.glob("*.part")) == []


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://nobody@127.0.0.1:1/leakbot",  # nothing listens there
        "sqlite:///{tmp}/no-such-folder/leakbot.db",  # never created by an export
    ],
)
async def test_a_database_it_cannot_read_is_one_line_and_nothing_is_created(
    cli: CliRun, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str
) -> None:
    monkeypatch.setenv("LEAKBOT_LANGUAGE", "en")
    monkeypatch.setenv("DATABASE_URL", url.format(tmp=tmp_path))
    out_file = tmp_path / "out.csv"
    code, _, err = await cli("export", "--out", str(out_file))
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("leakbot: ") and "DATABASE_URL" in lines[0]
    assert "Traceback" not in err
    assert not out_file.exists() and list(tmp_path.glob("*.part")) == []
    assert not (tmp_path / "no-such-folder").exists()


def _as_bound_by_file_modes() -> list[str]:
    """The command prefix under which this process's file modes bind: none for a user; root,
    who writes a 0444 file anyway, without the capabilities that let it (util-linux setpriv)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root ignores file modes here, and there is no setpriv to drop that")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]


async def test_a_read_only_sqlite_file_is_exported(
    store: Store, database_url: str, db_kind: str, clean_cli_settings: None, tmp_path: Path
) -> None:
    """`leakbot export` (a child process, as an operator runs it) of a copy of the database
    whose file is read-only (0444) gives the incidents; in a read-only folder (0555) too while
    SQLite's -shm and -wal files are there, and without them (SQLite cannot read a WAL file
    then) one line naming the folder, exit 2."""
    if db_kind != "sqlite":
        pytest.skip("a file's modes: SQLite only")
    ids = await _history(store)
    await store.close()  # the test's file, closed before it is copied
    folder = tmp_path / "read-only"
    folder.mkdir()
    copy = folder / "leakbot.db"
    shutil.copyfile(database_url.removeprefix("sqlite:///"), copy)
    copy.chmod(0o444)
    prefix = _as_bound_by_file_modes()

    def export() -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{copy}", "LEAKBOT_LANGUAGE": "en"}
        command = [*prefix, sys.executable, "-m", "bot.cli", "export", "--format", "jsonl"]
        return subprocess.run(
            command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )

    try:
        for folder_mode in (0o755, 0o555):  # the first run leaves the -shm and -wal files
            folder.chmod(folder_mode)
            done = export()
            assert (done.returncode, done.stderr) == (0, ""), folder_mode
            assert [json.loads(line)["id"] for line in done.stdout.splitlines()] == ids
        assert sorted(path.name for path in folder.iterdir()) == [
            "leakbot.db",
            "leakbot.db-shm",
            "leakbot.db-wal",
        ]
        folder.chmod(0o755)
        for path in folder.glob("leakbot.db-*"):
            path.unlink()
        folder.chmod(0o555)
        done = export()
        assert done.returncode == 2 and done.stdout == ""
        lines = done.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"leakbot: DATABASE_URL sqlite:///{copy}")
        assert "folder is read-only" in lines[0] and "Traceback" not in done.stderr
        assert list(folder.iterdir()) == [copy]  # nothing written beside it
    finally:
        folder.chmod(0o755)
