"""One message catalog for every user-facing text, in Japanese and English.

The catalog is `bot/resources/messages*.yml` (one file per area, merged; a key may live in one
file only); a key or a placeholder that exists in one language only is a defect
(tests/unit/test_i18n.py).
"""

from __future__ import annotations

import string
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Final

import yaml

from bot.domain.loading import SAFE_LOADER
from bot.domain.text import LANGS, Lang

CATALOG_DIR: Final = Path(str(files("bot") / "resources"))  # package data, wherever installed
DEFAULT_LANG: Final[Lang] = "ja"


@lru_cache(maxsize=1)
def catalog() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {lang: {} for lang in LANGS}
    for path in sorted(CATALOG_DIR.glob("messages*.yml")):
        data: Any = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
        for lang in LANGS:
            for key, value in (data.get(lang) or {}).items():
                if str(key) in merged[lang]:
                    raise ValueError(f"{path.name}: message key {key!r} is defined twice")
                merged[lang][str(key)] = str(value)
    return merged


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
