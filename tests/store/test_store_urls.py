"""DATABASE_URL handling (no database needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.store import DEFAULT_DATABASE_URL, display_url, resolve_database_url


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("postgresql://u:p@db:5432/leak", "postgresql+asyncpg://u:p@db:5432/leak"),
        ("postgres://u:p@db/leak", "postgresql+asyncpg://u:p@db/leak"),
        ("postgresql+asyncpg://u@db/leak", "postgresql+asyncpg://u@db/leak"),
        ("postgresql://u@db/leak?sslmode=require", "postgresql+asyncpg://u@db/leak?ssl=require"),
    ],
)
def test_postgres_urls_use_asyncpg(raw: str, expected: str) -> None:
    assert resolve_database_url(raw) == expected


def test_sqlite_url_uses_aiosqlite_and_creates_the_folder(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "deeper" / "leakbot.db"
    assert resolve_database_url(f"sqlite:///{target}") == f"sqlite+aiosqlite:///{target}"
    assert target.parent.is_dir()


def test_relative_sqlite_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_database_url("sqlite:///./db/x.db") == "sqlite+aiosqlite:///./db/x.db"
    assert (tmp_path / "db").is_dir()


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_default_is_a_sqlite_file_under_data(
    raw: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert (
        resolve_database_url(raw) == DEFAULT_DATABASE_URL == "sqlite+aiosqlite:///./data/leakbot.db"
    )
    assert (tmp_path / "data").is_dir()


@pytest.mark.parametrize(
    "raw",
    [
        "mysql://u@h/db",
        "postgresql+psycopg2://u@h/db",
        "http://example.com",
        "leakbot.db",
        "sqlite://",
        "sqlite:///:memory:",
        "postgresql://u@h",
    ],
)
def test_other_urls_are_refused_naming_the_setting(raw: str) -> None:
    with pytest.raises(ValueError, match="DATABASE_URL"):
        resolve_database_url(raw)


def test_display_url_hides_the_password() -> None:
    shown = display_url(resolve_database_url("postgresql://bot:s3cret@db/leak"))
    assert "s3cret" not in shown
    assert "bot:***@db" in shown
