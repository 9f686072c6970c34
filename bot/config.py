"""Settings from the environment (and `.env`), validated once at start.

A missing or malformed setting stops the program with one line that names it (exit code 2).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.domain.i18n import LocalizedError, Msg, msg
from bot.domain.playbook import DEFAULT_PLAYBOOK_DIR

_USER_OR_GROUP = re.compile(r"^[UWS][A-Z0-9]{2,}$")
_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,}$")
# The IDs .env.example shows: well-formed, but a copy that was never filled in.
_EXAMPLE_IDS = frozenset({"C0123456789", "U0123456789", "S0123456789"})


class ConfigError(LocalizedError):
    """A setting that is missing or wrong; the message names it (in the reader's language:
    `text(lang)`)."""


class _Invalid(LocalizedError, ValueError):
    """A validator's refusal, as a catalog message (pydantic keeps it in the error's ctx)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=True
    )

    SLACK_BOT_TOKEN: str | None = None
    SLACK_SIGNING_SECRET: str | None = None
    SLACK_APP_TOKEN: str | None = None
    SLACK_API_URL: str = "https://slack.com/api/"
    DATABASE_URL: str | None = None
    LEAKBOT_ESCALATION_CHANNEL: str | None = None
    LEAKBOT_SUMMARY_CHANNEL: str | None = None
    LEAKBOT_APPROVERS: str = ""
    LEAKBOT_ESCALATION_APPROVERS: str = ""
    LEAKBOT_LANGUAGE: Literal["ja", "en"] = "ja"
    LEAKBOT_TIMEZONE: str = "Asia/Tokyo"
    LEAKBOT_PLAYBOOK: Path = Field(default=DEFAULT_PLAYBOOK_DIR / "leak.yml")
    LEAKBOT_LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # The company's own details in drafted documents (placeholders where unset).
    LEAKBOT_COMPANY_NAME: str | None = Field(default=None, max_length=200)
    LEAKBOT_COMPANY_CONTACT: str | None = Field(default=None, max_length=500)
    PORT: int = Field(default=3000, ge=1, le=65535)
    LEAKBOT_HOST: str = "0.0.0.0"
    # Empty: /metrics is served on PORT with the rest; a number: on its own port only.
    LEAKBOT_METRICS_PORT: int | None = Field(default=None, ge=1, le=65535)
    # "private": each decided incident gets its own private channel (needs groups:write and
    # groups:read, see the README); "off": everything stays in the escalation channel.
    LEAKBOT_INCIDENT_CHANNELS: Literal["off", "private"] = "off"

    @field_validator("LEAKBOT_METRICS_PORT", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("LEAKBOT_TIMEZONE")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise _Invalid(msg("settings.unknown_timezone", value=repr(value))) from exc
        return value

    @field_validator("LEAKBOT_APPROVERS", "LEAKBOT_ESCALATION_APPROVERS")
    @classmethod
    def _ids(cls, value: str) -> str:
        for item in _split(value):
            if not _USER_OR_GROUP.match(item):
                raise _Invalid(msg("settings.not_user_id", value=repr(item)))
        return value

    @field_validator("LEAKBOT_ESCALATION_CHANNEL", "LEAKBOT_SUMMARY_CHANNEL")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if value and not _CHANNEL.match(value):
            raise _Invalid(msg("settings.not_channel_id", value=repr(value)))
        return value

    @field_validator("LEAKBOT_COMPANY_NAME", "LEAKBOT_COMPANY_CONTACT")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("SLACK_API_URL")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise _Invalid(msg("settings.not_http_url"))
        return value if value.endswith("/") else value + "/"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.LEAKBOT_TIMEZONE)

    @property
    def approvers(self) -> tuple[str, ...]:
        return tuple(_split(self.LEAKBOT_APPROVERS))

    @property
    def escalation_approvers(self) -> tuple[str, ...]:
        return tuple(_split(self.LEAKBOT_ESCALATION_APPROVERS))

    def require_slack(self, *, socket: bool) -> None:
        """Check what `leakbot run` needs; raises ConfigError naming the first missing setting."""
        needed: list[tuple[str, str | None, str]] = [
            ("SLACK_BOT_TOKEN", self.SLACK_BOT_TOKEN, "xoxb-"),
            ("LEAKBOT_ESCALATION_CHANNEL", self.LEAKBOT_ESCALATION_CHANNEL, ""),
        ]
        needed.append(
            ("SLACK_APP_TOKEN", self.SLACK_APP_TOKEN, "xapp-")
            if socket
            else ("SLACK_SIGNING_SECRET", self.SLACK_SIGNING_SECRET, "")
        )
        for name, value, prefix in needed:
            if not value:
                raise ConfigError(msg("settings.not_set", name=name))
            if prefix and not value.startswith(prefix):
                raise ConfigError(msg("settings.bad_prefix", name=name, prefix=repr(prefix)))
            refuse_example(name, value)
        if not self.approvers:
            raise ConfigError(msg("settings.no_approvers"))
        for name in (
            "LEAKBOT_SUMMARY_CHANNEL",
            "LEAKBOT_APPROVERS",
            "LEAKBOT_ESCALATION_APPROVERS",
        ):
            refuse_example(name, getattr(self, name))
        if self.LEAKBOT_METRICS_PORT == self.PORT:
            raise ConfigError(msg("settings.metrics_port_same"))


def is_example_value(value: str) -> bool:
    """`xoxb-...`, `...`, `C0123456789`: the placeholders of .env.example, not real settings."""
    return "..." in value or "…" in value or any(item in _EXAMPLE_IDS for item in _split(value))


def refuse_example(name: str, value: str | None) -> None:
    """ConfigError naming the setting when it still holds an example value from .env.example."""
    if value and is_example_value(value):
        shown = value if len(value) <= 40 else value[:37] + "..."
        raise ConfigError(msg("settings.example_value", name=name, value=repr(shown)))


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"]) or "settings"
        problem: Msg | str | None = _problem(
            first["type"], first.get("ctx") or {}, first.get("input"), name
        )
        if problem is None:  # a check of pydantic's own that has no text in the catalog
            problem = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(msg("settings.invalid", name=name, problem=problem)) from exc


def _problem(kind: str, ctx: dict[str, object], value: object, name: str) -> Msg | None:
    """pydantic's refusal of a setting, as a catalog message (None: not one of ours)."""
    error = ctx.get("error")
    if isinstance(error, _Invalid) and isinstance(error.message, Msg):
        return error.message
    if kind == "literal_error":
        field = Settings.model_fields.get(name)
        allowed = get_args(field.annotation) if field is not None else ()
        if allowed:
            return msg("settings.not_one_of", allowed=", ".join(map(str, allowed)), value=value)
    if kind == "int_parsing":
        return msg("settings.not_integer", value=value)
    if kind == "greater_than_equal" and "ge" in ctx:
        return msg("settings.too_small", limit=ctx["ge"])
    if kind == "less_than_equal" and "le" in ctx:
        return msg("settings.too_large", limit=ctx["le"])
    if kind == "string_too_long" and "max_length" in ctx:
        return msg("settings.too_long", max=ctx["max_length"])
    return None
