"""Partner name normalisation (bot.domain.partners), the key behind repeat-partner counts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.partners import normalize_partner

SAME_AS_ACME_JA = [
    "アクメ",
    "株式会社アクメ",
    "アクメ株式会社",
    "株式会社 アクメ",
    "アクメ　株式会社",  # full-width space
    "ｱｸﾒ(株)",  # half-width katakana + (株)
    "ｱｸﾒ（株）",
    "(株)アクメ",
    "㈱アクメ",
    "アクメ㈱",
    "有限会社アクメ",
    "アクメ(有)",
    "合同会社アクメ",
    "合資会社アクメ",
    "合名会社アクメ",
    "・アクメ・",
    " アクメ ",
    "株式会社アクメ株式会社",
]

SAME_AS_ACME_LATIN = [
    "acme",
    "ACME",
    "Acme",
    "ＡＣＭＥ",  # full-width letters
    "ACME Co., Ltd.",
    "ACME Co.,Ltd.",
    "Acme Co Ltd",
    "ＡＣＭＥ　Ｃｏ．，Ｌｔｄ．",
    "Acme Inc.",
    "Acme, Inc.",
    "Acme Incorporated",
    "Acme Corp.",
    "Acme Corporation",
    "Acme K.K.",
    "K.K. Acme",
    "Acme KK",
    "Acme Kabushiki Kaisha",
    "Acme LLC",
    "Acme GK",
    "Acme G.K.",
    "Acme Limited",
    "Acme Ltd",
    "Acme & Co.",
    "  acme  ",
]


@pytest.mark.parametrize("name", SAME_AS_ACME_JA)
def test_japanese_company_forms(name: str) -> None:
    assert normalize_partner(name) == "アクメ"


@pytest.mark.parametrize("name", SAME_AS_ACME_LATIN)
def test_latin_company_forms(name: str) -> None:
    assert normalize_partner(name) == "acme"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Zinc", "zinc"),  # "inc" inside a word stays
        ("Incom Ltd.", "incom"),
        ("Co-op Sapporo", "coopsapporo"),  # a leading "Co" is not a company form
        ("アクメ・ホールディングス株式会社", "アクメホールディングス"),
        ("Acme Holdings Co., Ltd.", "acmeholdings"),
        ("株式会社", "株式会社"),  # never normalised to nothing
        ("Inc.", "inc"),
        ("Straße GmbH", "strasse"),  # casefold
        ("ＡＢＣ商事株式会社", "abc商事"),
    ],
)
def test_edge_cases(name: str, expected: str) -> None:
    assert normalize_partner(name) == expected


def test_different_companies_stay_different() -> None:
    names = ["アクメ", "アクメ商事", "acme", "acmes", "Acme Holdings", "ベータ"]
    assert len({normalize_partner(n) for n in names}) == len(names)


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_idempotent(name: str) -> None:
    once = normalize_partner(name)
    assert normalize_partner(once) == once


# Names that are not themselves company forms.
company_names = st.text(
    alphabet="アイウエオカキクケコサシスセソ商事開発東京abcxyzABC0123ｱｲｳ", min_size=1, max_size=12
)
forms = st.sampled_from(["株式会社", "(株)", "㈱", "有限会社", "合同会社"])


@settings(max_examples=200, deadline=None)
@given(company_names, forms)
def test_japanese_form_at_either_end_does_not_matter(core: str, form: str) -> None:
    assert normalize_partner(form + core) == normalize_partner(core + form)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="アクメｱｸﾒabcＡＢＣ ・　-", min_size=1, max_size=10))
def test_width_and_case_do_not_matter(name: str) -> None:
    import unicodedata

    assert normalize_partner(name) == normalize_partner(unicodedata.normalize("NFKC", name).upper())
