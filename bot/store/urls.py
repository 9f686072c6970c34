"""DATABASE_URL handling: which database, through which async driver."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from bot.domain.i18n import LocalizedError, msg

__all__ = ["DEFAULT_DATABASE_URL", "DatabaseUrlError", "display_url", "resolve_database_url"]

DEFAULT_SQLITE_PATH: Final[str] = "./data/leakbot.db"
DEFAULT_DATABASE_URL: Final[str] = f"sqlite+aiosqlite:///{DEFAULT_SQLITE_PATH}"

_POSTGRES_SCHEMES: Final[frozenset[str]] = frozenset(
    {"postgresql", "postgres", "postgresql+asyncpg", "postgres+asyncpg"}
)
_SQLITE_SCHEMES: Final[frozenset[str]] = frozenset({"sqlite", "sqlite+aiosqlite"})


class DatabaseUrlError(LocalizedError, ValueError):
    """DATABASE_URL cannot be used; the message names it (bot.domain.i18n: ja and en)."""


def resolve_database_url(raw: str | None, *, create_folder: bool = True) -> str:
    """The SQLAlchemy async URL for a DATABASE_URL value (None or empty: the default SQLite file).

    `postgresql://` / `postgres://` → `postgresql+asyncpg://` (a libpq `sslmode` becomes asyncpg's
    `ssl`); `sqlite:///path` → `sqlite+aiosqlite:///path`, creating the file's folder (unless
    `create_folder` is false). Anything else raises ValueError naming DATABASE_URL.
    """
    text = (raw or "").strip()
    if not text:
        if create_folder:
            Path(DEFAULT_SQLITE_PATH).parent.mkdir(parents=True, exist_ok=True)
        return DEFAULT_DATABASE_URL
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme in _POSTGRES_SCHEMES:
        return _postgres_url(text)
    if scheme in _SQLITE_SCHEMES:
        return _sqlite_url(text, create_folder=create_folder)
    shown = scheme or text.split(":", 1)[0] or "(none)"
    raise DatabaseUrlError(
        msg("database.url_scheme", scheme=repr(shown), default=DEFAULT_DATABASE_URL)
    )


def _parse(text: str) -> URL:
    try:
        return make_url(text)
    except ArgumentError as exc:
        raise DatabaseUrlError(msg("database.url_invalid", error=exc)) from None


def _postgres_url(text: str) -> str:
    # make_url does not know the "postgres" alias; rewrite the scheme before parsing.
    rest = text.split("://", 1)[1]
    url = _parse(f"postgresql+asyncpg://{rest}")
    if not url.database:
        raise DatabaseUrlError(msg("database.url_no_name"))
    query = dict(url.query)
    if "sslmode" in query:
        query["ssl"] = query.pop("sslmode")
    url = url.set(query=query)
    return url.render_as_string(hide_password=False)


def _sqlite_url(text: str, *, create_folder: bool) -> str:
    url = _parse(text).set(drivername="sqlite+aiosqlite")
    database = url.database or ""
    if (
        database in ("", ":memory:")
        or database.startswith("file::memory:")
        or (url.query.get("mode") == "memory")
    ):
        raise DatabaseUrlError(msg("database.url_memory"))
    path = Path(database[5:] if database.startswith("file:") else database)
    if create_folder:
        path.parent.mkdir(parents=True, exist_ok=True)
    return url.render_as_string(hide_password=False)


def display_url(url: str) -> str:
    """The URL with its password hidden, for logs and the doctor command."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable URL)"
