"""Drafted documents (docs/contracts.md, `leakbot draft`): every KIND in Japanese and English.

Each required item is asserted by name, facts are filled in, what the answers leave open reads
調査中 / "under investigation", and a field absent from the answers never shows a value.
"""

from __future__ import annotations

import dataclasses
import io
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import docx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.documents import (
    Draft,
    documents_dir,
    draft,
    facts_from_answers,
    md_escape,
    md_unescape,
)
from bot.domain.answers import parse_answers
from bot.domain.documents import DOCUMENT_KINDS, DeadlineFact, IncidentFacts
from bot.domain.playbook import load_playbook

PLAYBOOK = load_playbook()
TZ = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=TZ)
LANGS = ("ja", "en")
UNKNOWN = {"ja": "調査中", "en": "under investigation"}
NOT_REQUIRED = {"ja": "不要な可能性があります", "en": "may not be required"}

# A case with every answer known and personal data of EU and California residents.
FULL: dict[str, Any] = {
    "partner": "株式会社サンプル物流",
    "aware_at": "2026-11-25T09:00",
    "source": "partner_notice",
    "relationship": "entrusted",
    "data_kinds": ["customer_personal", "financial"],
    "affected_persons": 1200,
    "encrypted": "no",
    "regions": ["jp", "eu", "us_ca"],
    "cause": "external_attack",
    "damage": "possible",
    "partner_response": "slow",
    "dependency": "high",
    "contract": ["confidentiality_remedies", "prevention_plan_required"],
    "description": "配送委託先のサーバーが不正アクセスを受けた",
}
MINIMAL: dict[str, Any] = {"partner": "株式会社ミニマル"}

# Every item each document must carry, by name, in this order.
REQUIRED: dict[str, dict[str, tuple[str, ...]]] = {
    "ppc": {
        "ja": (
            "報告者",
            "発覚日",
            "発生日",
            "該当する事態（規則7条）",
            "確報の期限",
            "委託先での事案か",
            "| 1 | 概要 |",
            "| 2 | 漏えい等が発生し又は発生したおそれがある個人データの項目 |",
            "本人の数 |",
            "| 4 | 原因 |",
            "| 5 | 二次被害又はそのおそれの有無及びその内容 |",
            "| 6 | 本人への対応の実施状況 |",
            "| 7 | 公表の実施状況 |",
            "| 8 | 再発防止のための措置 |",
            "| 9 | その他参考となる事項 |",
        ),
        "en": (
            "Reporter",
            "Date of discovery",
            "Date of occurrence",
            "Reportable case (PPC Rules Art. 7)",
            "Final report due",
            "entrusted contractor",
            "| 1 | Overview (概要) |",
            "(漏えい等が発生し又は発生したおそれがある個人データの項目) |",
            "(本人の数) |",
            "| 4 | Cause (原因) |",
            "(二次被害又はそのおそれの有無及びその内容) |",
            "(本人への対応の実施状況) |",
            "(公表の実施状況) |",
            "(再発防止のための措置) |",
            "(その他参考となる事項) |",
        ),
    },
    "partner_request": {
        "ja": (
            "御中",
            "拝啓",
            "敬具",
            "## 記",
            "第一報",
            "事故報告書及び再発防止策",
            "| 1 | 事実経過",
            "| 2 | 原因 |",
            "| 3 | 漏えいした項目・件数・期間 |",
            "| 4 | 影響を受ける本人",
            "| 5 | 二次被害の有無 |",
            "| 6 | 実施済み・予定の措置 |",
            "| 7 | 再発防止策 |",
            "| 8 | ログ等の保全",
            "契約上の定め",
            "以上",
        ),
        "en": (
            "Dear Sir or Madam",
            "First written facts",
            "Incident report and prevention plan",
            "| 1 | The course of events",
            "| 2 | The cause |",
            "| 3 | The items, number of records and period of the leak |",
            "| 4 | The persons affected",
            "| 5 | Whether there is secondary damage |",
            "| 6 | The measures taken and planned |",
            "| 7 | The measures to prevent recurrence |",
            "| 8 | Preservation of logs",
            "Contract terms",
            "Yours faithfully",
        ),
    },
    "notice_persons": {
        "ja": (
            "規則10条",
            "| 1 | 概要 |",
            "| 2 | 漏えい等が発生し又は発生したおそれがある個人データの項目 |",
            "| 3 | 原因 |",
            "| 4 | 二次被害又はそのおそれの有無及びその内容 |",
            "| 5 | その他参考となる事項 |",
            "お問い合わせ窓口",
        ),
        "en": (
            "PPC Rules Art. 10",
            "| 1 | Overview |",
            "| 2 | Items of personal data leaked or possibly leaked |",
            "| 3 | Cause |",
            "| 4 | Secondary damage or risk of it, and its nature |",
            "| 5 | Other relevant matters |",
            "Inquiries",
        ),
    },
    "gdpr_art33": {
        "ja": (
            "72時間",
            "| (a) | 侵害の性質",
            "| (a) | 関係する個人データの種類",
            "データ主体の種類及びおおよその数",
            "個人データの記録の種類及びおおよその件数",
            "| (b) | データ保護責任者その他の連絡先",
            "| (c) | 侵害により生じうる結果",
            "| (d) | 侵害への対処",
        ),
        "en": (
            "72 hours",
            "| (a) | Nature of the breach |",
            "| (a) | Categories of personal data concerned |",
            "| (a) | Categories and approximate number of data subjects concerned |",
            "| (a) | Categories and approximate number of personal data records concerned |",
            "| (b) | Name and contact details of the data protection officer or other contact",
            "| (c) | Likely consequences of the breach |",
            "| (d) | Measures taken or proposed",
        ),
    },
    "us_ca_notice": {
        lang: (
            "# Notice of Data Breach",
            "## What Happened",
            "## What Information Was Involved",
            "## What We Are Doing",
            "## What You Can Do",
            "## For More Information",
        )
        for lang in LANGS
    },
}

# The deadlines whose dates each document states (partner_request: see its own tests below).
STATED_DEADLINES: dict[str, tuple[str, ...]] = {
    "ppc_preliminary": ("appi_preliminary", "appi_final", "appi_notify_persons"),
    "ppc_final": ("appi_preliminary", "appi_final", "appi_notify_persons"),
    "partner_request": ("partner_report",),
    "notice_persons": ("appi_notify_persons",),
    "gdpr_art33": ("gdpr_authority", "partner_report"),
    "us_ca_notice": ("us_ca_notice",),
}

# The rows that must read "unknown" with MINIMAL answers.
UNKNOWN_ROWS: dict[str, dict[str, tuple[str, ...]]] = {
    "ppc": {
        "ja": ("| 発覚日 |", "| 発生日 |", "本人の数 |", "| 4 | 原因 |", "| 5 | 二次被害"),
        "en": ("| Date of discovery", "| Date of occurrence", "(本人の数) |", "(原因) |"),
    },
    "partner_request": {
        "ja": ("| 事案の概要 |", "| 漏えい等した情報の種類 |", "| 影響を受ける本人の数 |"),
        "en": ("| Overview |", "| Kinds of information |", "| Persons affected |"),
    },
    "notice_persons": {
        "ja": ("| 2 | 漏えい等が発生し", "| 3 | 原因 |", "| 4 | 二次被害"),
        "en": ("| 2 | Items of personal data", "| 3 | Cause |", "| 4 | Secondary damage"),
    },
    "gdpr_art33": {
        "ja": ("| (a) | 侵害の性質", "| (a) | 関係する個人データの種類", "| (c) |"),
        "en": ("| (a) | Nature of the breach", "| (a) | Categories of personal data", "| (c) |"),
    },
    "us_ca_notice": {
        "ja": ("| 個人情報の種類 |", "| 影響を受ける人数 |", "| 原因 |"),
        "en": ("| Types of personal information |", "| Number of persons affected |", "| Cause |"),
    },
}


def _group(kind: str) -> str:
    return "ppc" if kind.startswith("ppc_") else kind


def make_facts(raw: dict[str, Any], lang: str = "ja", **extra: Any) -> IncidentFacts:
    answers = parse_answers(raw, PLAYBOOK, tz=TZ, now=NOW, partial=True)
    return facts_from_answers(answers, PLAYBOOK, lang, tz=TZ, now=NOW, **extra)


def render(kind: str, facts: IncidentFacts, lang: str) -> str:
    return draft(kind, facts, lang, "md", playbook=PLAYBOOK).text


def local_date(moment: datetime, lang: str) -> str:
    """How a due date must read: 2026年11月28日 / 28 November 2026."""
    day = moment.astimezone(TZ)
    if lang == "ja":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {day:%B} {day.year}"


def label(question_id: str, value: str, lang: str) -> str:
    return PLAYBOOK.question(question_id).choice(value).label.get(lang)


def row(markdown: str, start: str) -> str:
    rows = [line for line in markdown.splitlines() if line.startswith("|") and start in line]
    assert len(rows) == 1, f"expected one table row with {start!r}, found {rows}"
    return rows[0]


KIND_LANGS = [(kind, lang) for kind in DOCUMENT_KINDS for lang in LANGS]


@pytest.mark.parametrize(("kind", "lang"), KIND_LANGS)
def test_every_required_item_is_present_in_order(kind: str, lang: str) -> None:
    text = render(kind, make_facts(FULL, lang), lang)
    positions = []
    for item in REQUIRED[_group(kind)][lang]:
        assert item in text, f"{kind}/{lang}: {item!r} missing"
        positions.append(text.index(item))
    assert positions == sorted(positions), f"{kind}/{lang}: items out of order"


@pytest.mark.parametrize(("kind", "lang"), KIND_LANGS)
def test_facts_are_filled_in(kind: str, lang: str) -> None:
    facts = make_facts(FULL, lang)
    text = render(kind, facts, lang)
    assert "株式会社サンプル物流" in text
    assert "配送委託先のサーバーが不正アクセスを受けた" in text
    if kind != "notice_persons":  # 規則10条 does not ask the notice to state the count
        assert ("1,200人" if lang == "ja" else "1,200") in text
    assert label("data_kinds", "customer_personal", lang) in text
    assert label("data_kinds", "financial", lang) in text
    assert label("cause", "external_attack", lang) in text
    due = {deadline.id: deadline.due for deadline in facts.deadlines}
    for deadline_id in STATED_DEADLINES[kind]:
        assert local_date(due[deadline_id], lang) in text, f"{kind}/{lang}: {deadline_id} date"
    assert NOT_REQUIRED[lang] not in text  # every document applies to this case


@pytest.mark.parametrize("lang", LANGS)
def test_ppc_report_states_the_case_the_basis_and_the_entrustment(lang: str) -> None:
    facts = make_facts(FULL, lang)
    text = render("ppc_final", facts, lang)
    cases = row(text, "規則7条）" if lang == "ja" else "Reportable case")
    for item in ("2号", "3号", "4号") if lang == "ja" else ("7(ii)", "7(iii)", "7(iv)"):
        assert item in cases
    assert ("1号" if lang == "ja" else "7(i):") not in cases  # no sensitive data in FULL
    # An external attack: wrongful purpose, so the final report has 60 days (day 1 = awareness).
    final = row(text, "確報の期限" if lang == "ja" else "Final report due")
    assert ("60日以内" if lang == "ja" else "within 60 days") in final
    entrusted = row(
        text, "| 委託先での事案か |" if lang == "ja" else "| Did it occur at an entrusted"
    )
    assert ("該当する" if lang == "ja" else "yes") in entrusted
    negligent = render("ppc_final", make_facts({**FULL, "cause": "negligence"}, lang), lang)
    assert ("30日以内" if lang == "ja" else "within 30 days") in row(
        negligent, "確報の期限" if lang == "ja" else "Final report due"
    )


@pytest.mark.parametrize("lang", LANGS)
def test_partner_request_gives_both_due_dates_from_the_deadlines(lang: str) -> None:
    first = datetime(2026, 11, 27, 23, 59, tzinfo=TZ)
    report = datetime(2026, 12, 9, 23, 59, tzinfo=TZ)
    deadlines = [DeadlineFact("partner_initial", first), DeadlineFact("partner_report", report)]
    facts = dataclasses.replace(make_facts(FULL, lang), deadlines=deadlines)
    text = render("partner_request", facts, lang)
    initial_part, report_part = text.split("### 2.")
    assert local_date(first, lang) in initial_part.split("### 1.")[1]
    assert local_date(report, lang) in report_part
    for term in ("confidentiality_remedies", "prevention_plan_required"):
        assert label("contract", term, lang) in text


@pytest.mark.parametrize("lang", LANGS)
def test_partner_request_without_due_dates_says_they_are_to_be_set(lang: str) -> None:
    facts = dataclasses.replace(make_facts(FULL, lang), deadlines=[])
    text = render("partner_request", facts, lang)
    to_be_set = "期日は追ってご連絡いたします" if lang == "ja" else "date to be confirmed"
    assert text.count(to_be_set) == 2


@pytest.mark.parametrize(("kind", "lang"), KIND_LANGS)
def test_unknowns_are_marked_under_investigation(kind: str, lang: str) -> None:
    text = render(kind, make_facts(MINIMAL, lang), lang)
    for start in UNKNOWN_ROWS[_group(kind)][lang]:
        assert UNKNOWN[lang] in row(text, start), f"{kind}/{lang}: {start}"


TEMPLATE_TEXT = "\n".join(p.read_text(encoding="utf-8") for p in documents_dir().glob("*.j2"))


def _shown_values(field: str, lang: str) -> list[str]:
    """What FULL's value of `field` looks like in a document."""
    value = FULL[field]
    if field == "affected_persons":
        return ["1,200"]
    if field == "aware_at":
        return [local_date(datetime(2026, 11, 25, tzinfo=TZ), lang)]
    if field in ("partner", "description"):
        return [value]
    values = value if isinstance(value, list) else [value]
    labels = [label(field, item, lang) for item in values]
    # A label that is also a template's own word (e.g. "Japan") proves nothing either way.
    return [text for text in labels if text not in TEMPLATE_TEXT]


@pytest.mark.parametrize("field", [field for field in FULL if field != "dependency"])
@pytest.mark.parametrize("lang", LANGS)
def test_a_field_absent_from_the_answers_never_shows_a_value(field: str, lang: str) -> None:
    without = {key: value for key, value in FULL.items() if key != field}
    shown = _shown_values(field, lang)
    assert shown, f"{field}: nothing to look for"
    facts = make_facts(without, lang)
    for kind in DOCUMENT_KINDS:
        text = render(kind, facts, lang)
        for value in shown:
            assert value not in text, f"{kind}/{lang}: {field} absent, yet {value!r} shown"


def test_minimal_answers_show_no_count_and_no_date_but_today_and_deadlines() -> None:
    facts = make_facts(MINIMAL)
    allowed = {local_date(NOW, "ja")} | {local_date(d.due, "ja") for d in facts.deadlines}
    for kind in DOCUMENT_KINDS:
        text = render(kind, facts, "ja")
        assert not re.search(r"\d[\d,]*人(?!超)", text.replace("1,000人", "")), kind
        dates = set(re.findall(r"\d{4}年\d{1,2}月\d{1,2}日", text))
        assert dates <= allowed, f"{kind}: {dates - allowed}"


# -- not required here ---------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_gdpr_notice_without_eu_residents_says_why_it_may_not_be_required(lang: str) -> None:
    facts = make_facts({**FULL, "regions": ["jp"]}, lang)
    text = render("gdpr_art33", facts, lang)
    first = next(line for line in text.splitlines() if line.startswith("> "))
    assert NOT_REQUIRED[lang] in first
    assert ("EU・EEA" if lang == "ja" else "EU or EEA") in first
    assert text.index(first) < text.index("## ")  # at the top, before the first section
    assert NOT_REQUIRED[lang] not in render("gdpr_art33", make_facts(FULL, lang), lang)


@pytest.mark.parametrize("lang", LANGS)
def test_california_notice_without_california_residents_says_why(lang: str) -> None:
    text = render("us_ca_notice", make_facts({**FULL, "regions": ["jp", "eu"]}, lang), lang)
    assert NOT_REQUIRED[lang] in text.split("## What Happened")[0]
    assert ("カリフォルニア" if lang == "ja" else "California") in text.split("\n\n")[1]


@pytest.mark.parametrize("kind", ["ppc_preliminary", "ppc_final", "notice_persons"])
@pytest.mark.parametrize("lang", LANGS)
def test_appi_documents_without_personal_data_say_why(kind: str, lang: str) -> None:
    facts = make_facts({**FULL, "data_kinds": ["trade_secret"]}, lang)
    head = render(kind, facts, lang).split("## ")[0]
    assert NOT_REQUIRED[lang] in head
    assert ("個人データが含まれていない" if lang == "ja" else "no personal data") in head
    encrypted = make_facts({**FULL, "encrypted": "yes"}, lang)
    assert ("暗号化" if lang == "ja" else "encrypted") in render(kind, encrypted, lang).split(
        "## "
    )[0]
    # Below the thresholds of Art. 7: no sensitive or payment data, negligence, 10 persons.
    small = {**FULL, "data_kinds": ["customer_personal"], "cause": "negligence"}
    small["affected_persons"] = 10
    head = render(kind, make_facts(small, lang), lang).split("## ")[0]
    assert ("1号〜4号" if lang == "ja" else "items 1-4") in head


@pytest.mark.parametrize("lang", LANGS)
def test_the_partner_letter_always_applies(lang: str) -> None:
    for raw in (MINIMAL, {**FULL, "data_kinds": ["trade_secret"]}):
        assert NOT_REQUIRED[lang] not in render("partner_request", make_facts(raw, lang), lang)


# -- company details and escaping ------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_company_details_come_from_settings_or_stay_placeholders(lang: str) -> None:
    unset = render("partner_request", make_facts(FULL, lang), lang)
    assert ("【会社名】" if lang == "ja" else "[Company name]") in unset
    assert ("【連絡先】" if lang == "ja" else "[Contact details]") in unset
    facts = make_facts(
        FULL, lang, company_name="株式会社リークボット", company_contact="法務部 03-0000-0000"
    )
    for kind in DOCUMENT_KINDS:
        text = render(kind, facts, lang)
        assert "株式会社リークボット" in text
        assert "【会社名】" not in text and "[Company name]" not in text


def test_user_text_cannot_inject_markdown() -> None:
    hostile = "# *Evil* | Corp <b>x</b> [link](http://x)\n- item"
    facts = make_facts({**FULL, "partner": hostile, "description": "| a | b |\n# heading"})
    text = render("ppc_final", facts, "ja")
    table_rows = [line for line in text.splitlines() if line.startswith("| 9 |")]
    assert len(table_rows) == 1
    assert not any(
        line.startswith(("# *Evil", "- item", "# heading")) for line in text.splitlines()
    )
    partner_row = row(text, "取引先（漏えい等が発生した事業者）")
    assert partner_row.count(" | ") == 1  # two cells: the pipe in the name is escaped
    assert md_escape(hostile) in partner_row


# -- Word ------------------------------------------------------------------------------------


def _markdown_texts(markdown: str) -> list[str]:
    """The text of each Markdown block (a line, or a table cell), markup removed."""

    def unescape(text: str) -> str:
        return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text).strip()

    texts: list[str] = []
    for line in markdown.splitlines():
        if not line.strip() or re.fullmatch(r"\|(\s*-+\s*\|)+", line.strip()):
            continue
        if line.startswith("|"):
            cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
            texts.extend(unescape(cell) for cell in cells)
        else:
            texts.append(unescape(re.sub(r"^(#{1,3} |> |- )", "", line)))
    return texts


def _docx_texts(content: bytes) -> list[str]:
    document = docx.Document(io.BytesIO(content))
    texts: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, docx.table.Table):
            texts.extend(cell.text.strip() for table_row in block.rows for cell in table_row.cells)
        elif block.text.strip():
            texts.append(block.text.strip())
    return texts


@pytest.mark.parametrize(("kind", "lang"), KIND_LANGS)
def test_the_word_file_holds_the_same_text_as_the_markdown(kind: str, lang: str) -> None:
    facts = make_facts({**FULL, "partner": "A*B* | C_D <E>"}, lang)
    markdown = render(kind, facts, lang)
    word = draft(kind, facts, lang, "docx", playbook=PLAYBOOK)
    assert word.filename == f"{kind}-{lang}.docx"
    assert _docx_texts(word.content) == _markdown_texts(markdown)
    document = docx.Document(io.BytesIO(word.content))
    assert document.paragraphs[0].style is not None
    assert document.paragraphs[0].style.name == "Title"
    assert len(document.tables) >= 1
    assert "A*B* | C_D <E>" in "\n".join(_docx_texts(word.content))


@pytest.mark.parametrize("lang", LANGS)
def test_the_word_file_carries_the_not_required_notice_first(lang: str) -> None:
    facts = make_facts(MINIMAL, lang)
    word = draft("us_ca_notice", facts, lang, "docx", playbook=PLAYBOOK)
    assert _docx_texts(word.content) == _markdown_texts(render("us_ca_notice", facts, lang))
    notice = docx.Document(io.BytesIO(word.content)).paragraphs[1]
    assert notice.style is not None and notice.style.name == "Intense Quote"
    assert NOT_REQUIRED[lang] in notice.text


def test_the_word_file_has_no_macros() -> None:
    import zipfile

    word = draft("ppc_final", make_facts(FULL), "ja", "docx", playbook=PLAYBOOK)
    names = zipfile.ZipFile(io.BytesIO(word.content)).namelist()
    assert "word/document.xml" in names
    assert not [name for name in names if "vba" in name.lower()]


def test_draft_names_the_file_after_the_incident() -> None:
    facts = make_facts(FULL, incident_id="LEAK-2026-0007")
    result: Draft = draft("notice_persons", facts, "en", "md", playbook=PLAYBOOK)
    assert result.filename == "notice_persons-LEAK-2026-0007-en.md"
    assert result.media_type.startswith("text/markdown")


def test_templates_exist_for_every_kind_and_language() -> None:
    folder: Path = documents_dir()
    for kind in DOCUMENT_KINDS:
        for lang in LANGS:
            assert (folder / f"{kind}.{lang}.md.j2").is_file(), (kind, lang)


@pytest.mark.parametrize("lang", LANGS)
def test_the_partner_letter_cites_only_a_decided_suspension(lang: str) -> None:
    suspension = "取引の停止" if lang == "ja" else "suspending our business"
    review = "取引の継続について検討" if lang == "ja" else "review whether to continue"
    undecided = render("partner_request", make_facts(FULL, lang), lang)
    assert suspension not in undecided and review not in undecided
    decided = make_facts(FULL, lang, decided_action="suspend_and_legal")
    assert suspension in render("partner_request", decided, lang)
    considered = make_facts(FULL, lang, decided_action="consider_suspension")
    assert review in render("partner_request", considered, lang)


@pytest.mark.parametrize("lang", LANGS)
def test_an_encrypted_breach_still_needs_a_gdpr_record(lang: str) -> None:
    # Whether the 72-hour clock runs is the deadline engine's call; without it, the notice says why.
    facts = make_facts({**FULL, "encrypted": "yes"}, lang)
    without_clock = [d for d in facts.deadlines if d.id != "gdpr_authority"]
    text = render("gdpr_art33", dataclasses.replace(facts, deadlines=without_clock), lang)
    notice = text.split("\n\n")[1]
    assert NOT_REQUIRED[lang] in notice
    assert ("33条5項" if lang == "ja" else "Art. 33(5)") in notice


@pytest.mark.parametrize("lang", LANGS)
def test_gdpr_notice_names_the_data_subjects_the_kinds_imply(lang: str) -> None:
    subjects = (
        "| (a) | 関係するデータ主体" if lang == "ja" else "approximate number of data subjects"
    )
    both = {**FULL, "data_kinds": ["customer_personal", "employee_personal"]}
    text = row(render("gdpr_art33", make_facts(both, lang), lang), subjects)
    assert ("種類: 顧客、従業員" if lang == "ja" else "Categories: customers; employees") in text
    # Sensitive data alone does not say whose it is.
    sensitive = {**FULL, "data_kinds": ["sensitive_personal"]}
    text = row(render("gdpr_art33", make_facts(sensitive, lang), lang), subjects)
    assert (f"種類: {UNKNOWN['ja']}" if lang == "ja" else f"Categories: {UNKNOWN['en']}") in text


MARKDOWN_LIKE = st.text(alphabet=st.sampled_from(list("#>|+=*-.)(19 \\_`[]<>&!~\n\tab日")))
ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)))


@settings(max_examples=500, deadline=None)
@given(MARKDOWN_LIKE | ANY_TEXT)
def test_md_escape_round_trips_and_starts_no_block(text: str) -> None:
    escaped = md_escape(text)
    assert md_unescape(escaped) == " ".join(text.split())
    assert "\n" not in escaped
    # Nothing the text starts with can open a heading, list, quote or table row.
    assert not re.match(r"\s*([#>|+=*-]|\d+[.)])", escaped)


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("1) x", "1\\) x"),
        ("12. y", "12\\. y"),
        ("- a", "\\- a"),
        ("a|b", "a\\|b"),
        ("<b>", "\\<b\\>"),
    ],
)
def test_md_escape_examples(text: str, escaped: str) -> None:
    assert md_escape(text) == escaped
