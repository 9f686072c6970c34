"""`leakbot draft` (docs/contracts.md): from an answers file, and from an incident in a real store.

The CLI runs in-process (`bot.cli.main`, on a thread for the store tests: it starts its own event
loop) against the same database the test wrote through the service, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import docx
import pytest

from bot.cli import main
from bot.domain.documents import DOCUMENT_KINDS
from bot.domain.engine import assess
from bot.domain.playbook import load_playbook
from bot.service import IncidentService, ServiceConfig
from bot.store import NewIncident, Store

from .cli_support import CliRun

pytestmark = pytest.mark.usefixtures("clean_cli_settings")

PLAYBOOK = load_playbook()
TZ = ZoneInfo("Asia/Tokyo")
NOW = "2026-11-26T10:00"
ANSWERS: dict[str, Any] = {
    "partner": "株式会社サンプル物流",
    "aware_at": "2026-11-25T09:00",
    "relationship": "entrusted",
    "data_kinds": ["customer_personal"],
    "affected_persons": 1200,
    "encrypted": "no",
    "cause": "external_attack",
    "regions": ["jp"],
}


def _answers_file(tmp_path: Path, data: Any = ANSWERS) -> str:
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


def _date(moment: datetime) -> str:
    return f"{moment.year}年{moment.month}月{moment.day}日"


def test_markdown_on_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["draft", "ppc_preliminary", "--answers", _answers_file(tmp_path), "--now", NOW])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out.startswith("# 個人データの漏えい等報告書（速報）")
    assert "株式会社サンプル物流" in out and "1,200人" in out


def test_company_details_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAKBOT_COMPANY_NAME", "Leakbot KK")
    monkeypatch.setenv("LEAKBOT_COMPANY_CONTACT", "legal@example.com")
    answers = _answers_file(tmp_path)
    code = main(["draft", "gdpr_art33", "--answers", answers, "--lang", "en", "--now", NOW])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "| Controller | Leakbot KK |" in out
    assert "legal@example.com" in out


def test_docx_written_to_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "report.docx"
    answers = _answers_file(tmp_path)
    code = main(
        ["draft", "ppc_final", "--answers", answers, "--format", "docx", "--out", str(target)]
    )
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert str(target) in out
    document = docx.Document(io.BytesIO(target.read_bytes()))
    cells = [cell.text for table in document.tables for r in table.rows for cell in r.cells]
    assert "株式会社サンプル物流" in cells
    assert "1,200人" in cells


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["draft", "ppc_draft", "--answers", "ANSWERS"], "ppc_preliminary"),
        (["draft", "ppc_final", "--answers", "ANSWERS", "--format", "docx"], "--out"),
        (["draft", "ppc_final"], "--incident"),
        (
            ["draft", "ppc_final", "--answers", "ANSWERS", "--incident", "LEAK-2026-0001"],
            "--answers",
        ),
        (["draft", "ppc_final", "--answers", "MISSING"], "missing.json"),
        (["draft", "ppc_final", "--answers", "BAD"], "bad.json"),
        (["draft", "ppc_final", "--answers", "ANSWERS", "--now", "yesterday"], "--now"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    (tmp_path / "bad.json").write_text('{"cause": "sunspots"}', encoding="utf-8")
    files = {
        "ANSWERS": _answers_file(tmp_path),
        "MISSING": str(tmp_path / "missing.json"),
        "BAD": str(tmp_path / "bad.json"),
    }
    code = main([files.get(arg, arg) for arg in [*args, "--lang", "en"]])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("leakbot: ") and needle in lines[0]


class _FixedClock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


async def test_draft_from_a_stored_incident(store: Store, run_cli: CliRun, tmp_path: Path) -> None:
    created_at = datetime(2026, 11, 25, 15, 0, tzinfo=TZ)
    service = IncidentService(
        store, PLAYBOOK, ServiceConfig(TZ, "ja", "C0123456789"), _FixedClock(created_at)
    )
    record, _ = await service.submit(
        ANSWERS, reporter_id="UREPORTER1", team_id=None, locale="ja", submission_key=None
    )
    # The deadlines the document must state: the engine's, for the stored answers.
    deadlines = {
        d.id: d.due
        for d in assess(service.answers_of(record), PLAYBOOK, tz=TZ, now=created_at).deadlines
    }

    for kind in DOCUMENT_KINDS:
        code, out, err = await run_cli("draft", kind, "--incident", record.id, "--now", NOW)
        assert (code, err) == (0, ""), (kind, err)
        assert "株式会社サンプル物流" in out, kind
    code, out, _ = await run_cli("draft", "ppc_final", "--incident", record.id, "--now", NOW)
    assert f"| 社内管理番号 | {record.id} |" in out
    assert _date(deadlines["appi_final"]) in out
    assert _date(deadlines["appi_preliminary"]) in out
    assert "60日以内" in out  # an external attack: wrongful purpose
    assert "該当する（当社が個人データの取扱いを委託している委託先での事案）" in out

    code, out, _ = await run_cli("draft", "partner_request", "--incident", record.id, "--now", NOW)
    assert _date(deadlines["partner_report"]) in out.split("### 2.")[1]

    target = tmp_path / "letter.docx"
    code, out, err = await run_cli(
        "draft",
        "partner_request",
        "--incident",
        record.id,
        "--format",
        "docx",
        "--out",
        str(target),
    )
    assert (code, err) == (0, "")
    document = docx.Document(io.BytesIO(target.read_bytes()))
    texts = [p.text for p in document.paragraphs]
    assert "株式会社サンプル物流 御中" in texts
    assert "拝啓" in "\n".join(texts) and "敬具" in texts


async def test_unknown_incident_exits_2(store: Store, run_cli: CliRun) -> None:
    code, out, err = await run_cli("draft", "ppc_final", "--incident", "LEAK-2026-9999")
    assert (code, out) == (2, "")
    assert err.strip().splitlines() == [
        "leakbot: インシデント LEAK-2026-9999 はデータベースにありません。"
    ]


async def test_stored_answers_the_playbook_no_longer_accepts_exit_2(
    store: Store, run_cli: CliRun
) -> None:
    stale = NewIncident(
        partner="Globex",
        reporter_id="UREPORTER1",
        team_id=None,
        locale="en",
        answers={"partner": "Globex", "cause": "sunspots"},
        assessment={"recommendation": "request_report"},  # no assessed_at: created_at is used
        recommendation="request_report",
        year=2026,
    )
    record, _ = await store.create_incident(stale, now=datetime(2026, 11, 25, tzinfo=TZ))
    code, out, err = await run_cli("draft", "ppc_final", "--incident", record.id, "--lang", "en")
    assert (code, out) == (2, "")
    lines = err.strip().splitlines()
    assert (
        len(lines) == 1 and lines[0].startswith(f"leakbot: {record.id}: ") and "cause" in lines[0]
    )


def test_the_cli_loads_jinja_and_word_only_when_drafting() -> None:
    import subprocess
    import sys

    probe = "import sys, bot.cli; print(sorted({'jinja2', 'docx'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
