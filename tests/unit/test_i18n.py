"""The message catalog: both languages, same placeholders, and every key the code uses exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml

from bot.doctor import REQUIRED_SCOPES
from bot.domain.i18n import catalog, normalize_lang, placeholders, t
from bot.domain.survey import AgeBand, Occupation
from bot.domain.text import LANGS
from bot.domain.vocabulary import CORE_ANSWERS
from bot.store.outbox_admin import RequeueOutcome
from bot.store.records import AuditProblemKind

ROOT = Path(__file__).resolve().parents[2]
BOT = ROOT / "bot"
RESOURCES = BOT / "resources"
CATALOG_FILES = sorted(RESOURCES.glob("messages*.yml"))
KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


def _file(path: Path) -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    return data


def test_catalog_files_exist() -> None:
    assert RESOURCES / "messages.yml" in CATALOG_FILES


@pytest.mark.parametrize("path", CATALOG_FILES, ids=lambda p: p.name)
def test_every_key_in_both_languages_per_file(path: Path) -> None:
    data = _file(path)
    assert set(data) == set(LANGS), path.name
    ja, en = data["ja"] or {}, data["en"] or {}
    assert sorted(set(ja) - set(en)) == [], f"{path.name}: only in ja"
    assert sorted(set(en) - set(ja)) == [], f"{path.name}: only in en"
    for lang, texts in data.items():
        for key, text in (texts or {}).items():
            assert KEY.match(str(key)), (path.name, key)
            assert isinstance(text, str) and text.strip(), (path.name, lang, key)


def test_every_key_in_both_languages() -> None:
    texts = catalog()
    assert set(texts) == set(LANGS)
    assert set(texts["ja"]) == set(texts["en"])
    assert len(texts["ja"]) >= 50


def test_no_key_in_two_files() -> None:
    seen: dict[str, str] = {}
    for path in CATALOG_FILES:
        for key in _file(path)["ja"] or {}:
            assert key not in seen, f"{key} in {seen.get(key)} and {path.name}"
            seen[key] = path.name


def test_same_placeholders_in_both_languages() -> None:
    texts = catalog()
    for key, ja in texts["ja"].items():
        assert placeholders(ja) == placeholders(texts["en"][key]), key


def test_every_text_formats() -> None:
    """No stray braces: every text formats with its own placeholders filled in."""
    for lang in LANGS:
        for key, text in catalog()[lang].items():
            params = {name: "X" for name in placeholders(text)}
            assert t(lang, key, **params), (lang, key)


def test_japanese_texts_are_japanese() -> None:
    japanese = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
    texts = catalog()
    # Age bands and a few symbols-only texts need no kana or kanji; nearly every other text does.
    without = [key for key, text in texts["ja"].items() if not japanese.search(text)]
    assert len(without) <= len(texts["ja"]) // 10, without


# --- keys used in the code ----------------------------------------------------------------------


def _sources() -> list[Path]:
    return sorted(BOT.rglob("*.py"))


def _key_args(node: ast.expr) -> tuple[list[str], list[str]]:
    """Literal keys and f-string prefixes an expression can evaluate to."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value], []
    if isinstance(node, ast.IfExp):
        keys_a, prefixes_a = _key_args(node.body)
        keys_b, prefixes_b = _key_args(node.orelse)
        return keys_a + keys_b, prefixes_a + prefixes_b
    if isinstance(node, ast.JoinedStr) and node.values:
        first = node.values[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return [], [first.value]
    return [], []


# Where each catalog call has its key: `t(lang, KEY, ...)`, and the messages rendered later
# (`msg(KEY, ...)`, `Msg(KEY, ...)`, an error's `.of(KEY, ...)`).
KEY_ARGUMENT = {"t": 1, "msg": 0, "Msg": 0, "of": 0}


def _used_in_code() -> tuple[dict[str, str], dict[str, str]]:
    """(literal key → where, f-string prefix → where) of every catalog call."""
    keys: dict[str, str] = {}
    prefixes: dict[str, str] = {}
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else None
            if isinstance(node.func, ast.Attribute):
                name = node.func.attr
            position = KEY_ARGUMENT.get(name or "")
            if position is None or len(node.args) <= position:
                continue
            found_keys, found_prefixes = _key_args(node.args[position])
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            keys.update(dict.fromkeys(found_keys, where))
            prefixes.update(dict.fromkeys(found_prefixes, where))
    return keys, prefixes


def _catalog_like_literals() -> dict[str, str]:
    """Strings in the domain code and CLI that look like catalog keys of a known area, e.g.
    `problem("answer.required")` or `key = "report.comments" if ... else ...`."""
    areas = {key.split(".")[0] for key in catalog()["ja"]}
    found: dict[str, str] = {}
    for path in [*sorted((BOT / "domain").glob("*.py")), BOT / "cli.py"]:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and KEY.match(node.value)
                and node.value.split(".")[0] in areas
            ):
                found[node.value] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return found


def test_the_scan_finds_the_calls() -> None:
    keys, prefixes = _used_in_code()
    assert {"report.title", "cli.bad_now", "panel.policy_up", "panel.policy_down"} <= set(keys)
    assert {"panel.fact.", "panel.policy_kind.", "age.", "occupation."} <= set(prefixes)
    # Operator output: messages rendered when printed, in the reader's language.
    assert {"settings.not_set", "database.missing_file", "startup.port_busy"} <= set(keys)
    assert {"doctor.check.", "doctor.scope.", "audit_verify.", "outbox.item_"} <= set(prefixes)
    assert {"answer.required", "answer.unknown_id", "panel.quotes_general"} <= set(
        _catalog_like_literals()
    )


def test_every_key_used_in_code_exists() -> None:
    keys, _ = _used_in_code()
    keys.update(_catalog_like_literals())
    texts = catalog()
    missing = {key: where for key, where in keys.items() if key not in texts["ja"]}
    assert missing == {}


def test_every_key_family_used_in_code_exists() -> None:
    _, prefixes = _used_in_code()
    texts = catalog()
    for prefix, where in prefixes.items():
        assert any(key.startswith(prefix) for key in texts["ja"]), (prefix, where)


def test_families_are_complete() -> None:
    texts = catalog()["ja"]
    families = {
        "age.": {f"age.{band}" for band in get_args(AgeBand)},
        "occupation.": {f"occupation.{o}" for o in get_args(Occupation)},
        # A clause for every value of every choice answer, and for the integer answers.
        "panel.fact.": {
            f"panel.fact.{answer_id}.{value}"
            for answer_id, (kind, values) in CORE_ANSWERS.items()
            if kind in ("one_of", "several_of")
            for value in values or ()
        }
        | {f"panel.fact.prior_incidents.{n}" for n in ("none", "one", "several")}
        | {"panel.fact.affected_persons"},
        "panel.policy_kind.": {f"panel.policy_kind.{kind}" for kind in ("law", "company")},
        # What each scope `leakbot doctor` requires is for.
        "doctor.scope.": {f"doctor.scope.{scope.replace(':', '_')}" for scope in REQUIRED_SCOPES},
        "audit_verify.": {f"audit_verify.{kind}" for kind in get_args(AuditProblemKind)}
        | {"audit_verify.tampered", "audit_verify.intact"},
        "outbox.item_": {f"outbox.item_{outcome}" for outcome in get_args(RequeueOutcome)},
    }
    for prefix, expected in families.items():
        present = {key for key in texts if key.startswith(prefix)}
        assert present == expected, prefix


def test_every_problem_key_of_the_answer_parser_exists() -> None:
    source = (BOT / "domain" / "answers.py").read_text(encoding="utf-8")
    used = set(re.findall(r'"(answer\.[a-z_]+)"', source))
    assert {"answer.required", "answer.not_a_choice", "answer.unknown_id"} <= used
    assert used <= set(catalog()["en"])


# --- languages ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ja-JP", "ja"),
        ("ja", "ja"),
        ("JA_jp", "ja"),
        ("en-US", "en"),
        ("en-GB", "en"),
        ("en", "en"),
        ("fr-FR", "ja"),
        ("zh-CN", "ja"),
        ("", "ja"),
        (None, "ja"),
    ],
)
def test_normalize_lang(value: str | None, expected: str) -> None:
    assert normalize_lang(value) == expected


def test_normalize_lang_other_default() -> None:
    assert normalize_lang("fr-FR", "en") == "en"
    assert normalize_lang(None, "en") == "en"
    assert normalize_lang("ja-JP", "en") == "ja"


def test_t_fills_placeholders_and_falls_back_to_default() -> None:
    assert t("en", "answer.too_long", max=10, length=12) == "Use at most 10 characters (now 12)."
    assert t("ja-JP", "report.reasons") == "理由"
    assert t("en-US", "report.reasons") == "Why"
    assert t("fr-FR", "report.reasons") == "理由"
