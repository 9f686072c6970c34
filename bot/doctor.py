"""`leakbot doctor`: checks a deployment and says in plain words what to fix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import ConfigError, Settings
from bot.domain.approvals import reporter_approver_shortfall
from bot.domain.i18n import Joined, Msg, Text, msg, render, t
from bot.domain.loading import DataFileError
from bot.domain.playbook import ApprovalPolicy, load_playbook
from bot.slack.api_errors import error_text
from bot.store import Store

# The scopes manifest.yml asks for; the code needs each of them (tests/unit/test_deploy.py
# checks that the two lists agree). What each is for: `doctor.scope.*` in the catalog.
REQUIRED_SCOPES: Final[tuple[str, ...]] = (
    "commands",
    "chat:write",
    "users:read",
    "usergroups:read",
    "app_mentions:read",
    "channels:history",
    "groups:history",
    "files:write",
    "im:write",
)


def scope_purpose(scope: str) -> Msg:
    return msg(f"doctor.scope.{scope.replace(':', '_')}")


@dataclass(frozen=True)
class Check:
    """One check; `name` is its id (`doctor.check.<name>` in the catalog), the texts are
    catalog messages (or, from outside, e.g. a path or Slack's error code, plain text)."""

    name: str
    ok: bool
    detail: Text
    fix: Text = ""
    warning: bool = False

    def line(self, lang: str) -> str:
        mark = "OK  " if self.ok else ("WARN" if self.warning else "FAIL")
        text = f"[{mark}] {t(lang, f'doctor.check.{self.name}')}: {render(lang, self.detail)}"
        return text + (f"\n       → {render(lang, self.fix)}" if self.fix and not self.ok else "")


def _error(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return error_text(exc)
    return f"{type(exc).__name__}: {exc}"


async def check_settings(settings: Settings) -> list[Check]:
    socket = bool(settings.SLACK_APP_TOKEN)
    try:
        settings.require_slack(socket=socket)
    except ConfigError as exc:
        return [Check("settings", False, exc.message, msg("doctor.fix_settings"))]
    mode = "doctor.settings_socket" if socket else "doctor.settings_http"
    return [Check("settings", True, msg(mode, tz=settings.LEAKBOT_TIMEZONE))]


async def check_database(store: Store) -> list[Check]:
    if not await store.ping():
        return [
            Check(
                "database",
                False,
                msg("doctor.database_silent", url=store.url),
                msg("doctor.fix_database_silent"),
            )
        ]
    status = await store.migration_status()
    if not status.up_to_date:
        return [
            Check(
                "database",
                False,
                msg(
                    "doctor.database_behind",
                    dialect=store.dialect,
                    current=status.current,
                    head=status.head,
                ),
                msg("doctor.fix_database_behind"),
            )
        ]
    return [
        Check("database", True, msg("doctor.database_ok", dialect=store.dialect, head=status.head))
    ]


async def check_slack(settings: Settings, client: AsyncWebClient) -> list[Check]:
    checks: list[Check] = []
    try:
        auth = await client.auth_test()
    except Exception as exc:
        fix = (
            msg("doctor.fix_token")
            if isinstance(exc, SlackApiError)
            else msg("doctor.fix_slack_unreachable", url=settings.SLACK_API_URL)
        )
        return [Check("bot_token", False, msg("doctor.auth_failed", error=_error(exc)), fix)]
    checks.append(
        Check(
            "bot_token",
            True,
            msg(
                "doctor.token_ok",
                team=auth.get("team"),
                user=auth.get("user"),
                user_id=auth.get("user_id"),
            ),
        )
    )
    granted_header = auth.headers.get("x-oauth-scopes") or auth.headers.get("X-OAuth-Scopes")
    if granted_header is None:
        checks.append(Check("scopes", False, msg("doctor.scopes_unknown"), warning=True))
    else:
        granted = {scope.strip() for scope in str(granted_header).split(",") if scope.strip()}
        missing = [scope for scope in REQUIRED_SCOPES if scope not in granted]
        if missing:
            needs = Joined(
                tuple(
                    msg("doctor.scope_need", scope=scope, purpose=scope_purpose(scope))
                    for scope in missing
                )
            )
            detail = msg("doctor.scopes_missing", needs=needs)
            checks.append(Check("scopes", False, detail, msg("doctor.fix_scopes")))
        else:
            checks.append(Check("scopes", True, ", ".join(REQUIRED_SCOPES)))
    for name, channel in (
        ("escalation_channel", settings.LEAKBOT_ESCALATION_CHANNEL),
        ("summary_channel", settings.LEAKBOT_SUMMARY_CHANNEL),
    ):
        if not channel:
            checks.append(
                Check(
                    name,
                    name == "summary_channel",
                    msg("doctor.not_set"),
                    msg("doctor.fix_channel_not_set"),
                    warning=name == "summary_channel",
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
                fix = msg(
                    "doctor.fix_channel_not_found"
                    if error in ("channel_not_found", "not_found")
                    else "doctor.fix_channel_scope"
                    if error == "missing_scope"
                    else "doctor.fix_channel_other"
                )
                checks.append(Check(name, False, f"{channel}: {error}", fix))
                continue
            member = False
        checks.append(
            Check(
                name,
                member,
                msg(
                    "doctor.channel_member" if member else "doctor.channel_not_member",
                    channel=channel,
                ),
                msg("doctor.fix_invite", channel=channel),
            )
        )
    checks += await check_approvers(settings, client)
    return checks


async def check_approvers(settings: Settings, client: AsyncWebClient) -> list[Check]:
    users: set[str] = set()
    problems: list[Text] = []
    for approver in settings.approvers:
        if approver.startswith("S"):
            try:
                response = await client.usergroups_users_list(usergroup=approver)
                members = [str(u) for u in response.get("users") or []]
                if not members:
                    problems.append(msg("doctor.group_empty", group=approver))
                users.update(members)
            except Exception as exc:
                problems.append(msg("doctor.group_error", group=approver, error=_error(exc)))
            continue
        try:
            response = await client.users_info(user=approver)
            user = response.get("user") or {}
            if user.get("deleted"):
                problems.append(msg("doctor.user_deactivated", user=approver))
            elif user.get("is_bot"):
                problems.append(msg("doctor.user_is_bot", user=approver))
            else:
                users.add(approver)
        except Exception as exc:
            problems.append(f"{approver}: {_error(exc)}")
    if problems:
        return [Check("approvers", False, Joined(tuple(problems)), msg("doctor.fix_approvers"))]
    if len(users) < 2:
        detail = msg("doctor.approvers_too_few", count=len(users))
        fix = msg("doctor.fix_approvers_too_few")
        return [Check("approvers", False, detail, fix, warning=bool(users))]
    shortfall = reporter_approver_shortfall(len(users), _approval_policy(settings))
    if shortfall is not None:
        return [
            Check(
                "approvers",
                False,
                msg("doctor.approvers_shortfall", count=len(users), shortfall=shortfall.message()),
                msg("doctor.fix_approvers_shortfall"),
                warning=True,
            )
        ]
    return [Check("approvers", True, msg("doctor.approvers_ok", count=len(users)))]


def _approval_policy(settings: Settings) -> ApprovalPolicy:
    try:
        return load_playbook(settings.LEAKBOT_PLAYBOOK).approval
    except DataFileError:
        return ApprovalPolicy()  # the playbook check reports the file itself


def exit_code(checks: list[Check]) -> int:
    return 0 if all(check.ok or check.warning for check in checks) else 1
