"""One message catalog for every user-facing text, in Japanese and English.

The catalog is `bot/resources/messages.yml`; a key or a placeholder that exists in one language
only is a defect (tests/unit/test_i18n.py).
"""

from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import yaml

from bot.domain.text import LANGS, Lang

CATALOG_PATH: Final = Path(__file__).resolve().parents[1] / "resources" / "messages.yml"
DEFAULT_LANG: Final[Lang] = "ja"


@lru_cache(maxsize=1)
def catalog() -> dict[str, dict[str, str]]:
    data: Any = yaml.safe_load(CATALOG_PATH.read_text(encoding="utf-8"))
    return {lang: {str(k): str(v) for k, v in data[lang].items()} for lang in LANGS}


def normalize_lang(value: str | None, default: Lang = DEFAULT_LANG) -> Lang:
    """Slack locales look like "ja-JP" or "en-US"; anything not Japanese or English → default."""
    if not value:
        return default
    head = value.lower().replace("_", "-").split("-")[0]
    if head == "ja":
        return "ja"
    if head == "en":
        return "en"
    return default


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def t(lang: str, key: str, **params: object) -> str:
    """The text for `key` in `lang`, with `{placeholders}` filled in."""
    texts = catalog()[normalize_lang(lang)]
    template = texts[key]  # a missing key is a programming error, caught by the tests
    return template.format(**params) if params else template
