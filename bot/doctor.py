"""`leakbot doctor`: checks a deployment and says in plain words what to fix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import ConfigError, Settings
from bot.domain.approvals import reporter_approver_shortfall
from bot.domain.loading import DataFileError
from bot.domain.playbook import ApprovalPolicy, load_playbook
from bot.store import Store

# The scopes manifest.yml asks for; the code needs each of them (tests/unit/test_deploy.py
# checks that the two lists agree).
REQUIRED_SCOPES: Final[dict[str, str]] = {
    "commands": "the /leak command",
    "chat:write": "posting recommendations, decisions and reminders",
    "users:read": "reading each person's language",
    "usergroups:read": "approvers named by user group",
    "app_mentions:read": "answering @leakbot",
    "channels:history": "never posting twice after a crash; the bot is in its channels (public)",
    "groups:history": "never posting twice after a crash; the bot is in its channels (private)",
    "files:write": "uploading drafted documents, exports and the summary chart",
    "im:write": "opening the DM an export is uploaded to",
}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    warning: bool = False

    def line(self) -> str:
        mark = "OK  " if self.ok else ("WARN" if self.warning else "FAIL")
        text = f"[{mark}] {self.name}: {self.detail}"
        return text + (f"\n       → {self.fix}" if self.fix and not self.ok else "")


def _error(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or exc.response.status_code)
    return f"{type(exc).__name__}: {exc}"


async def check_settings(settings: Settings) -> list[Check]:
    socket = bool(settings.SLACK_APP_TOKEN)
    try:
        settings.require_slack(socket=socket)
    except ConfigError as exc:
        return [
            Check(
                "settings", False, str(exc), "set it in .env or the environment (see .env.example)"
            )
        ]
    return [
        Check(
            "settings",
            True,
            f"{'Socket Mode' if socket else 'HTTP mode'}, time zone {settings.LEAKBOT_TIMEZONE}",
        )
    ]


async def check_database(store: Store) -> list[Check]:
    if not await store.ping():
        return [
            Check(
                "database",
                False,
                f"{store.url} does not answer",
                "check DATABASE_URL and that the server runs",
            )
        ]
    status = await store.migration_status()
    if not status.up_to_date:
        return [
            Check(
                "database",
                False,
                f"{store.dialect} reachable, schema at {status.current} "
                f"but the code needs {status.head}",
                "run `leakbot migrate` (`leakbot run` applies the migrations too), "
                "or check for a newer release on another replica",
            )
        ]
    return [
        Check("database", True, f"{store.dialect} reachable, schema up to date ({status.head})")
    ]


async def check_slack(settings: Settings, client: AsyncWebClient) -> list[Check]:
    checks: list[Check] = []
    try:
        auth = await client.auth_test()
    except Exception as exc:
        fix = (
            "copy the Bot User OAuth Token (xoxb-…) from OAuth & Permissions into SLACK_BOT_TOKEN"
            if isinstance(exc, SlackApiError)
            else f"Slack cannot be reached at {settings.SLACK_API_URL}: "
            "check the network or SLACK_API_URL"
        )
        return [Check("bot token", False, f"auth.test failed: {_error(exc)}", fix)]
    checks.append(
        Check(
            "bot token",
            True,
            f"workspace {auth.get('team')} as {auth.get('user')} ({auth.get('user_id')})",
        )
    )
    granted_header = auth.headers.get("x-oauth-scopes") or auth.headers.get("X-OAuth-Scopes")
    if granted_header is None:
        checks.append(
            Check("scopes", False, "Slack did not report the granted scopes", warning=True)
        )
    else:
        granted = {scope.strip() for scope in str(granted_header).split(",") if scope.strip()}
        missing = [scope for scope in REQUIRED_SCOPES if scope not in granted]
        if missing:
            needs = "; ".join(f"{scope} ({REQUIRED_SCOPES[scope]})" for scope in missing)
            checks.append(
                Check(
                    "scopes",
                    False,
                    f"missing {needs}",
                    "add them under OAuth & Permissions (or re-create the app from "
                    "manifest.yml) and reinstall the app",
                )
            )
        else:
            checks.append(Check("scopes", True, ", ".join(REQUIRED_SCOPES)))
    for name, channel in (
        ("escalation channel", settings.LEAKBOT_ESCALATION_CHANNEL),
        ("summary channel", settings.LEAKBOT_SUMMARY_CHANNEL),
    ):
        if not channel:
            checks.append(
                Check(
                    name,
                    name == "summary channel",
                    "not set",
                    "set its channel ID",
                    warning=name == "summary channel",
                )
            )
            continue
        # conversations.history, with the *:history scopes the manifest grants (for the outbox's
        # look-up of earlier posts): it answers only where the bot is a member, so it checks
        # membership without asking for channels:read / groups:read.
        try:
            await client.conversations_history(channel=channel, limit=1)
            member = True
        except Exception as exc:
            error = _error(exc)
            if error != "not_in_channel":
                fix = (
                    "the channel ID is wrong, or it is a private channel the bot is not in: "
                    "copy the ID from the channel's About tab and /invite @leakbot there"
                    if error in ("channel_not_found", "not_found")
                    else "grant the scopes in manifest.yml (groups:history for a private "
                    "channel) and reinstall the app"
                    if error == "missing_scope"
                    else "check the channel by hand"
                )
                checks.append(Check(name, False, f"{channel}: {error}", fix))
                continue
            member = False
        checks.append(
            Check(
                name,
                member,
                f"{channel}: {'the bot is a member' if member else 'the bot is NOT a member'}",
                f"type /invite @leakbot in {channel}",
            )
        )
    checks += await check_approvers(settings, client)
    return checks


async def check_approvers(settings: Settings, client: AsyncWebClient) -> list[Check]:
    users: set[str] = set()
    problems: list[str] = []
    for approver in settings.approvers:
        if approver.startswith("S"):
            try:
                response = await client.usergroups_users_list(usergroup=approver)
                members = [str(u) for u in response.get("users") or []]
                if not members:
                    problems.append(f"user group {approver} has no members")
                users.update(members)
            except Exception as exc:
                problems.append(f"user group {approver}: {_error(exc)}")
            continue
        try:
            response = await client.users_info(user=approver)
            user = response.get("user") or {}
            if user.get("deleted"):
                problems.append(f"{approver} is deactivated")
            elif user.get("is_bot"):
                problems.append(f"{approver} is a bot")
            else:
                users.add(approver)
        except Exception as exc:
            problems.append(f"{approver}: {_error(exc)}")
    if problems or len(users) < 2:
        detail = "; ".join(problems) if problems else f"{len(users)} approver(s)"
        fix = "fix LEAKBOT_APPROVERS (member IDs U… and/or user group IDs S…)"
        if not problems:
            detail += ": suspend_and_legal needs two different approvers"
            fix = "name at least two approvers (the reporter can never approve their own incident)"
        return [Check("approvers", False, detail, fix, warning=not problems and bool(users))]
    shortfall = reporter_approver_shortfall(len(users), _approval_policy(settings))
    if shortfall is not None:
        return [
            Check(
                "approvers",
                False,
                f"{len(users)} people can approve, but " + shortfall.describe(),
                "name more approvers in LEAKBOT_APPROVERS (or a larger user group)",
                warning=True,
            )
        ]
    return [Check("approvers", True, f"{len(users)} people can approve")]


def _approval_policy(settings: Settings) -> ApprovalPolicy:
    try:
        return load_playbook(settings.LEAKBOT_PLAYBOOK).approval
    except DataFileError:
        return ApprovalPolicy()  # the playbook check reports the file itself


def exit_code(checks: list[Check]) -> int:
    return 0 if all(check.ok or check.warning for check in checks) else 1
