"""Settings refuse the example values; what is documented matches what the code does.

Settings, .env.example and the README name the same variables; the README's metric names are the
ones /metrics exports; manifest.yml asks for exactly the scopes `leakbot doctor` checks; an
editable install finds the playbooks through importlib.resources like a wheel does.
"""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from bot.config import ConfigError, Settings, is_example_value, load_settings
from bot.doctor import REQUIRED_SCOPES
from bot.domain.playbook import DEFAULT_PLAYBOOK_DIR
from bot.metrics import Metrics

REPO = Path(__file__).resolve().parents[2]

VALID: dict[str, Any] = {
    "SLACK_BOT_TOKEN": "xoxb-1234-5678-abcdef",
    "SLACK_SIGNING_SECRET": "0123456789abcdef0123456789abcdef",
    "LEAKBOT_ESCALATION_CHANNEL": "C07ESCALATE",
    "LEAKBOT_SUMMARY_CHANNEL": "C07SUMMARY1",
    "LEAKBOT_APPROVERS": "U07APPROVE1,S07GROUP001",
}


def settings(**overrides: Any) -> Settings:
    return load_settings(_env_file=None, **{**VALID, **overrides})


def test_real_looking_values_pass() -> None:
    settings().require_slack(socket=False)
    settings(SLACK_APP_TOKEN="xapp-1-A07-123-abc").require_slack(socket=True)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SLACK_BOT_TOKEN", "xoxb-..."),
        ("SLACK_SIGNING_SECRET", "..."),
        ("LEAKBOT_ESCALATION_CHANNEL", "C0123456789"),
        ("LEAKBOT_SUMMARY_CHANNEL", "C0123456789"),
        ("LEAKBOT_APPROVERS", "U0123456789,S0123456789"),
        ("LEAKBOT_APPROVERS", "U07APPROVE1,S0123456789"),  # one example left in the list
        ("LEAKBOT_ESCALATION_APPROVERS", "U0123456789"),
        ("SLACK_BOT_TOKEN", "xoxb-…"),
    ],
)
def test_each_example_value_is_refused_naming_its_setting(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        settings(**{name: value}).require_slack(socket=False)
    message = str(refused.value)
    assert message.startswith(f"{name} is still the example value"), message
    assert "\n" not in message


def test_an_example_app_token_is_refused_in_socket_mode() -> None:
    with pytest.raises(ConfigError, match=r"^SLACK_APP_TOKEN is still the example value"):
        settings(SLACK_APP_TOKEN="xapp-...").require_slack(socket=True)


def test_the_shipped_env_example_holds_only_examples_where_slack_values_go() -> None:
    values = dict(
        line.split("=", 1)
        for line in (REPO / ".env.example").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "LEAKBOT_ESCALATION_CHANNEL"):
        assert is_example_value(values[name]), name
    assert is_example_value(values["LEAKBOT_APPROVERS"])


def test_metrics_port_empty_is_unset_and_a_number_is_checked() -> None:
    assert settings(LEAKBOT_METRICS_PORT="").LEAKBOT_METRICS_PORT is None
    assert settings(LEAKBOT_METRICS_PORT="9100").LEAKBOT_METRICS_PORT == 9100
    with pytest.raises(ConfigError, match="LEAKBOT_METRICS_PORT"):
        settings(LEAKBOT_METRICS_PORT="0")
    assert settings(LEAKBOT_HOST="127.0.0.1").LEAKBOT_HOST == "127.0.0.1"


def test_every_setting_is_in_env_example_and_the_readme_table() -> None:
    example = (REPO / ".env.example").read_text(encoding="utf-8")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert re.search(rf"^#? ?{name}=", example, re.M), f"{name} missing in .env.example"
        assert f"| `{name}` |" in readme, f"{name} missing in the README's settings table"


def test_the_readme_names_the_metrics_as_exported() -> None:
    """Counters are scraped as `<name>_total`; a histogram by its family name."""
    families = text_string_to_metric_families(Metrics().exposition().decode())
    exported = {
        f"{f.name}_total" if f.type == "counter" else f.name
        for f in families
        if not f.name.endswith("_created")  # the client's creation timestamps, not metrics
    }
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`(leakbot_[a-z0-9_]+)`", readme))
    assert documented == exported


def test_manifest_scopes_are_exactly_the_ones_doctor_checks() -> None:
    manifest = yaml.safe_load((REPO / "manifest.yml").read_text(encoding="utf-8"))
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == set(REQUIRED_SCOPES)


def test_the_playbooks_are_found_through_importlib_resources() -> None:
    """In this (editable) install `bot.playbooks` maps to the repository's playbooks/ folder;
    tests/e2e/test_deploy.py checks the same for a wheel."""
    assert Path(str(files("bot.playbooks"))).resolve() == (REPO / "playbooks").resolve()
    assert DEFAULT_PLAYBOOK_DIR.resolve() == (REPO / "playbooks").resolve()
    assert (DEFAULT_PLAYBOOK_DIR / "leak.yml").is_file()
