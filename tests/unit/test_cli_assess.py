"""`leakbot assess` (docs/contracts.md, "Command line"): in-process and through the console
script."""

from __future__ import annotations

import io
import json
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.domain.explain import display_width
from bot.domain.playbook import load_playbook
from bot.domain.vocabulary import OPTION_KEYS

from .cli_support import run_leakbot

pytestmark = pytest.mark.usefixtures("clean_cli_settings")

PLAYBOOK = load_playbook()
NOW = "2026-11-26T10:00"

SCENARIOS: dict[str, tuple[dict[str, Any], set[str]]] = {
    "nothing": ({}, {"request_report"}),
    "intentional_critical_confirmed": (
        {"cause": "intentional", "data_kinds": ["management_critical"], "damage": "confirmed"},
        {"suspend_and_legal"},
    ),
    "minor_negligence": (
        {
            "cause": "negligence",
            "data_kinds": ["internal_minor"],
            "damage": "none",
            "partner_response": "cooperative",
            "dependency": "high",
        },
        {"continue_with_concern", "request_report"},
    ),
    "repeat_and_slow": (
        {"prior_incidents": 2, "partner_response": "slow"},
        {"consider_suspension", "suspend_and_legal"},
    ),
    "personal_data_everywhere": (
        {
            "aware_at": "2026-11-26T09:00",
            "data_kinds": ["customer_personal"],
            "encrypted": "no",
            "cause": "external_attack",
            "regions": ["jp", "eu", "us_ca"],
            "relationship": "shared",
            "partner": "株式会社サンプル",
            "description": "テスト",
        },
        set(OPTION_KEYS),
    ),
}


def _write(tmp_path: Path, data: Any, name: str = "answers.json") -> Path:
    path = tmp_path / name
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    path.write_text(text, encoding="utf-8")
    return path


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["assess", *args])
    out, err = capsys.readouterr()
    return code, out, err


SURVEY_COUNTS = {
    "continue_unchanged": 1,
    "continue_with_concern": 14,
    "request_report": 43,
    "consider_suspension": 25,
    "suspend_and_legal": 17,
}


def _check_contract(data: dict[str, Any], allowed: set[str]) -> None:
    assert list(data) == [
        "recommendation",
        "distribution",
        "survey",
        "panel",
        "moved",
        "policies",
        "quotes",
        "reasons",
        "deadlines",
        "checklist",
    ]
    assert data["recommendation"] in allowed
    final = data["panel"]["final"]
    counts = data["panel"]["counts"]
    for key in ("distribution", "survey"):
        assert list(data[key]) == list(OPTION_KEYS)
        assert all(isinstance(v, float) for v in data[key].values())
    assert list(counts) == list(final) == list(OPTION_KEYS)
    assert sum(counts.values()) == sum(final.values()) == 100
    # Every share is a count of the 100 respondents, exactly.
    assert data["distribution"] == {key: final[key] / 100 for key in OPTION_KEYS}
    assert data["survey"] == {key: SURVEY_COUNTS[key] / 100 for key in OPTION_KEYS}
    # The recommendation is the 51st of the 100 lined up from the mildest reaction.
    lined_up = [key for key in OPTION_KEYS for _ in range(final[key])]
    assert data["recommendation"] == lined_up[50]
    survey = PLAYBOOK.loaded_survey
    for moved in data["moved"]:
        assert set(moved) == {"answer", "from", "to", "when", "quote"}
        answer = survey.answer(moved["answer"])
        assert moved["from"] == answer.choice != moved["to"]
        assert moved["quote"] in answer.comment_ja
        answer_id, _, value = moved["when"].partition(":")
        assert answer_id in {i for s in answer.stances for i in s.when} and value
    for policy in data["policies"]:
        assert set(policy) == {"id", "kind", "text", "moved"}
        assert policy["kind"] in ("law", "company") and isinstance(policy["moved"], int)
    for quote in data["quotes"]:
        assert set(quote) == {"answer", "reaction", "text"}
        assert quote["reaction"] == data["recommendation"]
    assert data["reasons"] and all(isinstance(r, str) and r for r in data["reasons"])
    assert data["deadlines"]
    for deadline in data["deadlines"]:
        assert set(deadline) == {"id", "due", "overdue_after", "overdue", "basis", "source"}
        assert isinstance(deadline["id"], str) and isinstance(deadline["source"], str)
        assert isinstance(deadline["basis"], str) and deadline["basis"]
        assert isinstance(deadline["overdue"], bool)
        due = datetime.fromisoformat(deadline["due"])
        assert due.utcoffset() is not None
        if deadline["overdue_after"] is not None:
            assert datetime.fromisoformat(deadline["overdue_after"]) >= due
    assert "partner_report" in [d["id"] for d in data["deadlines"]]
    assert data["checklist"] and all(isinstance(item, str) and item for item in data["checklist"])


# --- --json -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SCENARIOS))
@pytest.mark.parametrize("lang", ["ja", "en"])
def test_json_contract(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, lang: str
) -> None:
    raw, allowed = SCENARIOS[name]
    path = _write(tmp_path, raw)
    code, out, err = _run(capsys, "--answers", str(path), "--json", "--now", NOW, "--lang", lang)
    assert (code, err) == (0, "")
    data = json.loads(out)
    _check_contract(data, allowed)
    checklist = [item.get(lang) for item in PLAYBOOK.checklists[data["recommendation"]]]
    assert data["checklist"] == checklist


def test_json_nothing_is_the_survey(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _write(tmp_path, {})
    _, out, _ = _run(capsys, "--answers", str(path), "--json", "--now", NOW)
    data = json.loads(out)
    assert data["panel"]["counts"] == data["panel"]["final"] == SURVEY_COUNTS
    assert data["distribution"] == data["survey"]
    assert data["moved"] == [] and data["policies"] == []


def test_json_minor_negligence_keeps_whoever_suspends(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = _write(tmp_path, SCENARIOS["minor_negligence"][0])
    _, out, _ = _run(capsys, "--answers", str(path), "--json", "--now", NOW)
    data = json.loads(out)
    # The panel is not tuned to look tidy: the 17 who suspend at once stay counted.
    assert data["panel"]["final"]["suspend_and_legal"] == 17
    assert [(m["answer"], m["to"]) for m in data["moved"]] == [(33, "continue_with_concern")]


def test_json_repeat_partner_is_labelled_policy(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = _write(tmp_path, SCENARIOS["repeat_and_slow"][0])
    _, out, _ = _run(capsys, "--answers", str(path), "--json", "--now", NOW, "--lang", "en")
    data = json.loads(out)
    (policy,) = data["policies"]
    assert (policy["id"], policy["kind"]) == ("repeat_partner", "company")
    assert policy["moved"] == 58 - 1  # all below consider_suspension except #53 (再発 → 中止)
    assert any(r.startswith("Company policy:") and "57 of 100" in r for r in data["reasons"])


def test_json_deadlines(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _write(tmp_path, SCENARIOS["personal_data_everywhere"][0])
    _, out, _ = _run(capsys, "--answers", str(path), "--json", "--now", NOW, "--lang", "en")
    data = json.loads(out)
    due = {d["id"]: d["due"] for d in data["deadlines"]}
    # Aware Thu Nov 26: the 速報 target Sun Nov 29 moves to Mon Nov 30; an unknown count may
    # mean more than 500 Californians (Attorney General: notice + 15 days).
    assert due == {
        "partner_initial": "2026-11-28T23:59:59+09:00",
        "gdpr_authority": "2026-11-29T09:00:00+09:00",
        "appi_notify_persons": "2026-11-30T23:59:59+09:00",
        "appi_preliminary": "2026-11-30T23:59:59+09:00",
        "partner_report": "2026-12-10T23:59:59+09:00",
        "us_ca_notice": "2026-12-26T23:59:59+09:00",
        "us_ca_ag": "2027-01-10T23:59:59+09:00",
        "appi_final": "2027-01-25T23:59:59+09:00",
    }
    assert [d["due"] for d in data["deadlines"]] == sorted(d["due"] for d in data["deadlines"])
    sources = {d["id"]: d["source"] for d in data["deadlines"]}
    assert "GDPR Art. 33" in sources["gdpr_authority"]
    assert "1798.82" in sources["us_ca_notice"]
    # relationship=shared: the reasons say that counsel should confirm who reports.
    assert PLAYBOOK.shared_relationship_note.en in data["reasons"]


def test_json_appi_final_over_year_end(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    raw = {
        "aware_at": "2026-12-02T10:00",
        "data_kinds": ["customer_personal"],
        "encrypted": "no",
        "cause": "negligence",  # an unknown cause would mean 60 days
    }
    path = _write(tmp_path, raw)
    _, out, _ = _run(capsys, "--answers", str(path), "--json", "--now", "2026-12-02T12:00")
    due = {d["id"]: d["due"] for d in json.loads(out)["deadlines"]}
    assert due["appi_final"] == "2027-01-04T23:59:59+09:00"


def test_json_other_time_zone(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAKBOT_TIMEZONE", "America/Los_Angeles")
    raw = {"aware_at": "2026-11-26T09:00", "data_kinds": ["customer_personal"], "regions": ["eu"]}
    path = _write(tmp_path, raw)
    code, out, _ = _run(capsys, "--answers", str(path), "--json", "--now", NOW)
    assert code == 0
    due = {d["id"]: d["due"] for d in json.loads(out)["deadlines"]}
    assert due["gdpr_authority"] == "2026-11-29T09:00:00-08:00"
    assert all(value.endswith("-08:00") for value in due.values())


def test_answers_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(SCENARIOS["repeat_and_slow"][0])))
    code, out, _ = _run(capsys, "--answers", "-", "--json", "--now", NOW)
    assert code == 0
    assert json.loads(out)["recommendation"] in SCENARIOS["repeat_and_slow"][1]


def test_json_through_the_console_script(tmp_path: Path) -> None:
    for name, (raw, allowed) in SCENARIOS.items():
        path = _write(tmp_path, raw, f"{name}.json")
        done = run_leakbot(["assess", "--answers", str(path), "--json", "--now", NOW], tmp_path)
        assert (done.returncode, done.stderr) == (0, ""), name
        _check_contract(json.loads(done.stdout), allowed)


# --- readable report ----------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_readable_report(capsys: pytest.CaptureFixture[str], tmp_path: Path, lang: str) -> None:
    path = _write(tmp_path, SCENARIOS["personal_data_everywhere"][0])
    code, out, err = _run(capsys, "--answers", str(path), "--now", NOW, "--lang", lang)
    assert (code, err) == (0, "")
    _, json_out, _ = _run(capsys, "--answers", str(path), "--now", NOW, "--lang", lang, "--json")
    top = json.loads(json_out)["recommendation"]
    label = PLAYBOOK.option_labels[top].get(lang)
    lines = out.splitlines()
    assert label in lines[0]
    assert any(line.startswith("▶") and label in line for line in lines)
    assert "█" in out and "░" in out
    for rule_id in ("partner_report", "appi_final", "gdpr_authority", "us_ca_notice"):
        assert PLAYBOOK.deadlines[rule_id].label.get(lang) in out
        assert PLAYBOOK.deadlines[rule_id].source.get(lang) in out
    year = "2027年1月25日" if lang == "ja" else "25 Jan 2027"
    assert year in out
    for item in PLAYBOOK.checklists[top]:
        assert f"[ ] {item.get(lang)}" in out
    assert PLAYBOOK.shared_relationship_note.get(lang) in out


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_distribution_columns_line_up(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, lang: str
) -> None:
    path = _write(tmp_path, SCENARIOS["repeat_and_slow"][0])
    _, out, _ = _run(capsys, "--answers", str(path), "--now", NOW, "--lang", lang)
    row = r"^[▶ ] .*(of 100 \(survey: +\d+\)|100人中 *\d+人（調査: +\d+人）)$"
    rows = [line for line in out.splitlines() if re.match(row, line)]
    assert len(rows) == 5
    # The bar starts in the same terminal column on every row (CJK characters are two wide).
    bar_starts = {display_width(re.split("[█░]", row, maxsplit=1)[0]) for row in rows}
    assert len(bar_starts) == 1
    assert len({display_width(row) for row in rows}) == 1


def test_readable_report_nothing_known(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _write(tmp_path, {})
    code, out, _ = _run(capsys, "--answers", str(path), "--now", NOW, "--lang", "en")
    assert code == 0
    assert "Request a report and improvement plan" in out.splitlines()[0]
    assert "No regulator deadline applies" in out
    assert "▶ Request a report and improvement plan" in out
    assert " 43 of 100 (survey:  43)" in out
    assert "all 100 respondents stay with their survey answer" in out


# --- bad input ----------------------------------------------------------------------------------


def _bad(capsys: pytest.CaptureFixture[str], *args: str, lines: int = 1) -> list[str]:
    code, out, err = _run(capsys, *args)
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    found = err.splitlines()
    assert len(found) == lines, found
    assert all(line.startswith("leakbot: ") for line in found)
    return found


def test_unknown_id(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _write(tmp_path, {"colour": "red"})
    (line,) = _bad(capsys, "--answers", str(path), "--lang", "en", "--now", NOW)
    assert str(path) in line and '"colour"' in line
    assert "No such answer id" in line and "data_kinds" in line and "prior_incidents" in line


def test_bad_value(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _write(tmp_path, {"cause": "sabotage"})
    (line,) = _bad(capsys, "--answers", str(path), "--lang", "en", "--now", NOW)
    assert '"cause"' in line and '"sabotage" is not allowed' in line
    assert "intentional, negligence, external_attack, unknown" in line


def test_bad_value_in_japanese(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _write(tmp_path, {"cause": "sabotage"})
    (line,) = _bad(capsys, "--answers", str(path), "--now", NOW)
    assert "回答「cause」" in line and "選べる値" in line and "intentional" in line


def test_wrong_type(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _write(tmp_path, {"affected_persons": "many"})
    (line,) = _bad(capsys, "--answers", str(path), "--lang", "en", "--now", NOW)
    assert '"affected_persons"' in line and "whole number" in line


def test_one_line_per_problem(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    raw = {"colour": "red", "cause": "x", "data_kinds": 5, "affected_persons": -1}
    path = _write(tmp_path, raw)
    found = _bad(capsys, "--answers", str(path), "--lang", "en", "--now", NOW, lines=4)
    named = {answer_id for answer_id in raw for line in found if f'"{answer_id}"' in line}
    assert named == set(raw)


def test_unreadable_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    (line,) = _bad(capsys, "--answers", str(missing), "--lang", "en")
    assert str(missing) in line and "cannot read" in line
    (line,) = _bad(capsys, "--answers", str(tmp_path), "--lang", "en")
    assert "cannot read" in line
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00")
    (line,) = _bad(capsys, "--answers", str(binary), "--lang", "en")
    assert "cannot read" in line


def test_invalid_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _write(tmp_path, '{"cause": "negligence",')
    (line,) = _bad(capsys, "--answers", str(path), "--lang", "en")
    assert str(path) in line and "not valid JSON" in line


def test_not_an_object(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for text in ('["cause"]', '"cause"', "42", "null"):
        path = _write(tmp_path, text)
        (line,) = _bad(capsys, "--answers", str(path), "--lang", "en")
        assert "expected a JSON object keyed by answer id" in line


@pytest.mark.parametrize("now", ["yesterday", "2026-13-01", "26/11/2026 10:00"])
def test_bad_now(capsys: pytest.CaptureFixture[str], tmp_path: Path, now: str) -> None:
    path = _write(tmp_path, {})
    (line,) = _bad(capsys, "--answers", str(path), "--lang", "en", "--now", now)
    assert "--now" in line and "ISO 8601" in line


def test_aware_at_after_now(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _write(tmp_path, {"aware_at": "2026-11-27T00:00"})
    (line,) = _bad(capsys, "--answers", str(path), "--lang", "en", "--now", NOW)
    assert '"aware_at"' in line and "future" in line


def test_bad_setting(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAKBOT_TIMEZONE", "Mars/Olympus")
    path = _write(tmp_path, {})
    (line,) = _bad(capsys, "--answers", str(path))
    assert "LEAKBOT_TIMEZONE" in line


def test_bad_input_through_the_console_script(tmp_path: Path) -> None:
    cases = {
        "unknown.json": ('{"colour": "red"}', '"colour"'),
        "value.json": ('{"damage": "lots"}', '"damage"'),
        "broken.json": ("{", "not valid JSON"),
        "list.json": ("[]", "JSON object"),
    }
    for name, (text, expected) in cases.items():
        path = _write(tmp_path, text, name)
        done = run_leakbot(
            ["assess", "--answers", str(path), "--lang", "en", "--now", NOW], tmp_path
        )
        assert done.returncode == 2, name
        assert done.stdout == ""
        assert "Traceback" not in done.stderr
        lines = done.stderr.splitlines()
        assert len(lines) == 1 and expected in lines[0], (name, lines)


# --- interactive mode ---------------------------------------------------------------------------

# One line per asked question, in the playbook's order (partner is not asked).
INTERACTIVE_INPUT = "\n".join(
    [
        "2026-11-26T09:00",  # aware_at
        "4",  # source: media, by number
        "entrusted",  # relationship, by value
        "1, management_critical",  # data_kinds: by number and by value
        "many",  # affected_persons: invalid → asked again
        "1500",
        "2",  # encrypted: no
        "",  # regions: unknown
        "9",  # cause: no such number → asked again
        "intentional",
        "confirmed",  # damage
        "",  # partner_response: unknown
        "",  # dependency: unknown
        ",",  # contract: nothing chosen → unknown
        "",  # description
    ]
)


def _asked_questions() -> list[str]:
    return [qid for step in PLAYBOOK.steps for qid in step.questions if qid != "partner"]


def test_interactive_input_matches_the_questions() -> None:
    assert _asked_questions() == [
        "aware_at",
        "source",
        "relationship",
        "data_kinds",
        "affected_persons",
        "encrypted",
        "regions",
        "cause",
        "damage",
        "partner_response",
        "dependency",
        "contract",
        "description",
    ]


def _check_interactive_report(out: str, lang: str) -> None:
    retry = "Please try again" if lang == "en" else "もう一度入力してください"
    assert out.count(retry) == 2
    label = PLAYBOOK.option_labels["suspend_and_legal"].get(lang)
    report = out[out.index("leakbot recommends" if lang == "en" else "leakbot 推奨") :]
    assert label in report.splitlines()[0]
    assert PLAYBOOK.deadlines["appi_final"].label.get(lang) in report
    assert "█" in report


def test_interactive_through_the_console_script(tmp_path: Path) -> None:
    done = run_leakbot(
        ["assess", "--lang", "en", "--now", NOW], tmp_path, input=INTERACTIVE_INPUT + "\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    _check_interactive_report(done.stdout, "en")
    # What was picked shows in the reasons: media (by number) as a fact no respondent speaks
    # to, management-critical (by value) with the respondent it moves (#67).
    assert "it came out in the media" in done.stdout
    assert "because management-critical information leaked" in done.stdout


def test_interactive_in_process(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(INTERACTIVE_INPUT + "\n"))
    code, out, err = _run(capsys, "--now", NOW)
    assert (code, err) == (0, "")
    _check_interactive_report(out, "ja")


def test_interactive_end_of_input(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n\n"))
    code, _, err = _run(capsys, "--now", NOW, "--lang", "en")
    assert code == 2
    assert err.splitlines() == ["leakbot: Interrupted."]


def test_absurdly_deep_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _write(tmp_path, "[" * 100_000 + "]" * 100_000)
    (line,) = _bad(capsys, "--answers", str(path), "--lang", "en")
    assert "not valid JSON" in line


def test_deadlines_beyond_year_9999(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _write(tmp_path, {})
    (line,) = _bad(capsys, "--answers", str(path), "--lang", "en", "--now", "9999-12-31T00:00")
    assert "9999" in line
