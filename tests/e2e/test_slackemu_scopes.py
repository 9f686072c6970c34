"""The emulator refuses a call whose scope the token lacks, as Slack does; the e2e emulator is
granted exactly manifest.yml's scopes, so leakbot cannot rely on one it does not ask for."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import manifest_scopes
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slackemu import METHOD_SCOPES, SlackEmulator

from bot.doctor import REQUIRED_SCOPES

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"


def test_every_served_method_names_its_scope() -> None:
    emu = SlackEmulator()
    assert emu.methods <= METHOD_SCOPES.keys(), sorted(emu.methods - METHOD_SCOPES.keys())


def test_the_manifest_asks_for_what_the_doctor_checks_and_has_the_app_home() -> None:
    assert set(REQUIRED_SCOPES) <= set(manifest_scopes())
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert manifest["features"]["app_home"] == {
        "home_tab_enabled": True,
        "messages_tab_enabled": True,
        "messages_tab_read_only_enabled": True,
    }
    assert "app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]


async def _error(client: AsyncWebClient, method: str, **args: str) -> str | None:
    try:
        await client.api_call(method, params=args)
    except SlackApiError as exc:
        return str(exc.response.get("error"))
    return None


async def test_a_missing_scope_is_refused_with_what_is_needed() -> None:
    async with SlackEmulator(scopes=manifest_scopes()) as emu:
        emu.add_user("U1")
        emu.add_channel("CPUBLIC", is_member=True)
        emu.add_channel("GPRIVATE", is_private=True, is_member=True)
        client = AsyncWebClient(token="xoxb-t", base_url=emu.api_url)
        assert await _error(client, "users.info", user="U1") is None
        assert await _error(client, "conversations.history", channel="CPUBLIC") is None
        assert await _error(client, "conversations.history", channel="GPRIVATE") is None
        # Not in the manifest: refused, naming the scope.
        assert await _error(client, "conversations.create", name="x") == "missing_scope"
        assert await _error(client, "conversations.info", channel="DIRECT0001") == "missing_scope"
        refused = emu.calls_to("conversations.info")[-1].response
        assert refused is not None and refused["needed"] == "im:read"
        assert "chat:write" in refused["provided"].split(",")

    async with SlackEmulator(scopes=["chat:write"]) as emu:
        client = AsyncWebClient(token="xoxb-t", base_url=emu.api_url)
        assert await _error(client, "usergroups.users.list", usergroup="S1") == "missing_scope"
        assert await _error(client, "chat.postMessage", channel="C1", text="hi") is None


@pytest.mark.parametrize("scopes", [None, []])
async def test_views_need_no_scope(scopes: list[str] | None) -> None:
    async with SlackEmulator(scopes=scopes) as emu:
        emu.add_user("U1")
        client = AsyncWebClient(token="xoxb-t", base_url=emu.api_url)
        view = {"type": "home", "blocks": [{"type": "divider"}]}
        response = await client.views_publish(user_id="U1", view=view)
        assert response["ok"] and response["view"]["type"] == "home"


async def test_a_home_view_over_100_blocks_or_for_nobody_is_refused() -> None:
    async with SlackEmulator(scopes=manifest_scopes()) as emu:
        emu.add_user("U1")
        client = AsyncWebClient(token="xoxb-t", base_url=emu.api_url)
        divider = {"type": "divider"}
        full = {"type": "home", "blocks": [divider] * 100}
        assert (await client.views_publish(user_id="U1", view=full))["ok"]
        for args in (
            {"user_id": "U1", "view": {"type": "home", "blocks": [divider] * 101}},
            {"user_id": "UNOBODY", "view": full},
        ):
            with pytest.raises(SlackApiError) as refused:
                await client.views_publish(**args)
            assert refused.value.response["error"] in ("invalid_arguments", "user_not_found")
        errors = [call.response["error"] for call in emu.calls_to("views.publish")[1:]]
        assert errors == ["invalid_arguments", "user_not_found"]
