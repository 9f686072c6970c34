"""One message catalog for every user-facing text, in Japanese and English.

The catalog is `bot/resources/messages*.yml` (one file per area, merged; a key may live in one
file only); a key or a placeholder that exists in one language only is a defect
(tests/unit/test_i18n.py).
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Final, Self

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


@dataclass(frozen=True)
class Msg:
    """A catalog text not rendered yet: its key and facts (a fact may itself be a Msg), so that
    the one who prints it chooses the language. `str()` is the English text (logs, tests)."""

    key: str
    facts: dict[str, object] = field(default_factory=dict)

    def render(self, lang: str) -> str:
        return t(lang, self.key, **{name: render(lang, v) for name, v in self.facts.items()})

    def __str__(self) -> str:
        return self.render("en")


def msg(key: str, /, **facts: object) -> Msg:
    return Msg(key, facts)


@dataclass(frozen=True)
class Joined:
    """Several texts shown as one, e.g. every problem of one check."""

    parts: tuple[object, ...]
    separator: str = "; "

    def render(self, lang: str) -> str:
        return self.separator.join(str(render(lang, part)) for part in self.parts)

    def __str__(self) -> str:
        return self.render("en")


Text = str | Msg | Joined


def render(lang: str, text: object) -> object:
    """A Msg (or Joined) in `lang`; anything else (an id, a count, a driver's own error text)
    as it is."""
    return text.render(lang) if isinstance(text, Msg | Joined) else text


class LocalizedError(Exception):
    """An error a person reads: a catalog message (or, from outside the catalog, a plain text).

    `text(lang)` is what the CLI prints; `str()` stays English, for logs and callers that only
    need the words."""

    def __init__(self, message: str | Msg) -> None:
        super().__init__(message)
        self.message = message

    @classmethod
    def of(cls, key: str, /, **facts: object) -> Self:
        """The error with the catalog text `key` and its facts."""
        return cls(Msg(key, facts))

    def __str__(self) -> str:
        return str(self.message)

    def text(self, lang: str) -> str:
        return str(render(lang, self.message))


def message_of(exc: BaseException) -> str | Msg:
    """An error's message: its catalog message where it has one, else its text."""
    return exc.message if isinstance(exc, LocalizedError) else str(exc)
