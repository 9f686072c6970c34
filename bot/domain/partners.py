"""Partner company names: one normalised key per company, however it was typed.

"株式会社アクメ", "アクメ株式会社", "ｱｸﾒ(株)", "ＡＣＭＥ Co., Ltd." and "acme" must count as
the same partner (repeat-partner statistics, `prior_incidents`). The key is never shown to
users; the name as typed is.

Steps, repeated until nothing changes (so the function is idempotent by construction):

1. Unicode NFKC (full-width / half-width forms, ㈱ → (株)) and case folding.
2. Company-form affixes are removed at either end: Japanese forms (株式会社, (株),
   有限会社, 合同会社, …) need no separator; Latin forms (Co., Ltd., Inc., Corp., K.K., LLC,
   GK, …) are removed only as whole words (so "Zinc" keeps its "inc"): trailing forms at the
   end, and a few unambiguous ones (K.K., Kabushiki Kaisha, …) also at the start. An affix is
   never removed when nothing would be left.
3. Whitespace, punctuation (・, ., -, parentheses, …) and control characters are removed.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = ["normalize_partner"]

# Japanese legal forms (after NFKC + casefold). Longest first so that the longest form wins.
_JA_FORMS: Final[tuple[str, ...]] = tuple(
    sorted(
        (
            "株式会社",
            "有限会社",
            "合同会社",
            "合資会社",
            "合名会社",
            "相互会社",
            "一般社団法人",
            "一般財団法人",
            "公益社団法人",
            "公益財団法人",
            "特定非営利活動法人",
            "npo法人",
            "社会福祉法人",
            "医療法人社団",
            "医療法人財団",
            "医療法人",
            "学校法人",
            "独立行政法人",
            "国立大学法人",
            "カブシキガイシャ",
            "カブシキカイシャ",
            "ユウゲンガイシャ",
            "ゴウドウガイシャ",
        ),
        key=len,
        reverse=True,
    )
)

# Abbreviations such as (株) ㈱ (有) ㈲ (同) (資) (名) (社) (財) (医) (学) (特非) (独); half-width
# katakana bank-style forms カ) / (カ are left alone on purpose (too ambiguous).
_JA_ABBREV: Final[str] = r"\(\s*(?:株|有|同|資|名|社|財|医|学|特非|独)\s*\)"

# Latin legal forms, matched as whole words after casefolding. Dots and spaces inside are optional.
_LATIN_FORMS: Final[tuple[str, ...]] = (
    r"co\s*\.?\s*,?\s*ltd",
    r"company\s+limited",
    r"pte\s*\.?\s*ltd",
    r"pty\s*\.?\s*ltd",
    r"sdn\s*\.?\s*bhd",
    r"limited",
    r"ltd",
    r"incorporated",
    r"inc",
    r"corporation",
    r"corp",
    r"company",
    r"co",
    r"k\s*\.\s*k",
    r"kk",
    r"kabushiki\s*(?:kaisha|gaisha)",
    r"yugen\s*(?:kaisha|gaisha)",
    r"godo\s*(?:kaisha|gaisha)",
    r"l\s*\.\s*l\s*\.\s*c",
    r"llc",
    r"g\s*\.\s*k",
    r"gk",
    r"plc",
    r"llp",
    r"gmbh",
    r"ag",
    r"s\s*\.\s*a",
    r"b\s*\.\s*v",
    r"n\s*\.\s*v",
)
# Unambiguous enough to strip at the start too ("K.K. Acme", "Kabushiki Kaisha X").
_LATIN_LEADING: Final[tuple[str, ...]] = (
    r"k\s*\.\s*k",
    r"kabushiki\s*(?:kaisha|gaisha)",
    r"yugen\s*(?:kaisha|gaisha)",
    r"godo\s*(?:kaisha|gaisha)",
)

_SEP_CLASS: Final[str] = r"[\s\W_]"  # anything that is not a letter or digit

_JA_ANY: Final[str] = "|".join([_JA_ABBREV, *(re.escape(f) for f in _JA_FORMS)])
_JA_SUFFIX_RE: Final[re.Pattern[str]] = re.compile(rf"(?:{_JA_ANY})\W*$")
_JA_PREFIX_RE: Final[re.Pattern[str]] = re.compile(rf"^\W*(?:{_JA_ANY})")
_LATIN_SUFFIX_RE: Final[re.Pattern[str]] = re.compile(
    rf"(?:(?<={_SEP_CLASS}))(?:{'|'.join(_LATIN_FORMS)})\.?{_SEP_CLASS}*$"
)
_LATIN_PREFIX_RE: Final[re.Pattern[str]] = re.compile(
    rf"^{_SEP_CLASS}*(?:{'|'.join(_LATIN_LEADING)})\.?(?={_SEP_CLASS})"
)

_MAX_ROUNDS: Final[int] = 64


def _is_separator(ch: str) -> bool:
    category = unicodedata.category(ch)
    # P*: punctuation (・, 、, ., -, brackets), Z*: spaces, C*: control/format/unassigned.
    return category[0] in "PZC"


def _has_content(text: str) -> bool:
    return any(not _is_separator(ch) for ch in text)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def _strip_affixes(text: str) -> str:
    patterns = (_JA_SUFFIX_RE, _JA_PREFIX_RE, _LATIN_SUFFIX_RE, _LATIN_PREFIX_RE)
    changed = True
    while changed:
        changed = False
        for pattern in patterns:
            stripped = pattern.sub("", text, count=1)
            if stripped != text and _has_content(stripped):
                text = stripped
                changed = True
    return text


def _step(text: str) -> str:
    text = _strip_affixes(_fold(text))
    return "".join(ch for ch in text if not _is_separator(ch))


def normalize_partner(name: str) -> str:
    """The partner key: equal for the spellings of one company, stable under re-normalisation."""
    current = name
    for _ in range(_MAX_ROUNDS):
        following = _step(current)
        if following == current:
            return current
        current = following
    return current
