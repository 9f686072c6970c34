"""Buttons and selects: approve, choose another action, send back, and the modal's Back."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot import failpoints
from bot.domain.approvals import Refusal
from bot.domain.explain import option_label
from bot.domain.i18n import t
from bot.domain.vocabulary import OPTION_KEYS, OptionKey
from bot.logs import bind_incident
from bot.slack.blocks.intake import IntakeState, state_values_of, step_view, values_from_state
from bot.slack.blocks.recommendation import (
    ShownDecision,
    parse_approve_value,
    parse_decision_block_id,
)
from bot.slack.blocks.rejection import reject_view
from bot.slack.blocks.status import status_line
from bot.slack.deciders import approvers_unknown_text, deciders_for
from bot.slack.deps import Deps
from bot.slack.ids import ActionId
from bot.store import ApprovalOutcome, IncidentRecord

log = logging.getLogger(__name__)
Listener = TypeVar("Listener", bound=Callable[..., Awaitable[None]])


def after_ack(deps: Deps) -> Callable[[Listener], Listener]:
    """Errors raised once the listener has acked are logged (and counted) here.

    Handed to Bolt, they are worse than lost: slack-bolt's async runner then clears the ack
    it has not sent yet, waits 3 s and answers Slack 404 (the user sees an error although the
    work may be done), e.g. after a views.update hash_conflict. Before the ack, errors go to
    Bolt as usual."""

    def decorate(listener: Listener) -> Listener:
        @functools.wraps(listener)
        async def run(*args: Any, **kwargs: Any) -> None:
            try:
                await listener(*args, **kwargs)
            except Exception as exc:
                ack = kwargs.get("ack")
                if ack is None or getattr(ack, "response", None) is None:
                    raise
                deps.metrics.failures.labels("listener").inc()
                log.error(
                    "listener failed after its ack: %s: %s", type(exc).__name__, exc, exc_info=exc
                )
                # A click's work failed (e.g. the database is down): tell the person, if we can.
                respond = kwargs.get("respond")
                if respond is not None:
                    with contextlib.suppress(Exception):
                        await respond(
                            text=t(deps.settings.LEAKBOT_LANGUAGE, "command.unavailable"),
                            response_type="ephemeral",
                            replace_original=False,
                        )

        return cast(Listener, run)

    return decorate


def _first_action(body: dict[str, Any]) -> dict[str, Any]:
    actions = body.get("actions")
    if isinstance(actions, list) and actions and isinstance(actions[0], dict):
        return actions[0]
    return {}


def _user_id(body: dict[str, Any]) -> str:
    user = body.get("user")
    return str(user.get("id") or "") if isinstance(user, dict) else ""


def in_app_home(respond: AsyncRespond | None) -> bool:
    """A click in the App Home tab: Slack gives no response_url to answer in."""
    return respond is None or not respond.response_url


async def _ephemeral(respond: AsyncRespond | None, text: str) -> None:
    if in_app_home(respond):  # the tab is published again instead
        return
    assert respond is not None
    await respond(text=text, response_type="ephemeral", replace_original=False)


def outcome_text(deps: Deps, outcome: ApprovalOutcome, lang: str, incident_id: str) -> str:
    record = outcome.incident
    if outcome.kind == "not_found" or record is None:
        return t(lang, "status.not_found", incident_id=incident_id)
    if outcome.kind == "stale":
        return t(lang, "approve.stale_round", incident_id=record.id, current=record.round)
    if outcome.kind == "not_pending":
        return t(
            lang,
            "approve.not_pending",
            incident_id=record.id,
            status=status_line(deps.playbook, record, lang, deps.service.config.tz),
        )
    action = (
        option_label(deps.playbook, outcome.action, lang) if outcome.action in OPTION_KEYS else "?"
    )
    if outcome.kind == "duplicate":
        return t(lang, "approve.duplicate", action=action)
    if outcome.kind == "recorded":
        return t(
            lang,
            "approve.recorded",
            action=action,
            count=outcome.approvals_so_far,
            needed=outcome.needed,
            remaining=max(outcome.needed - outcome.approvals_so_far, 1),
        )
    return t(lang, "approve.decided", action=action, incident_id=record.id)


def stale_text(deps: Deps, record: IncidentRecord, shown: ShownDecision, lang: str) -> str | None:
    """Why a click on this message must not count, or None when it shows the current round.

    A message posted before buttons carried their round is taken as round 1's."""
    shown_round = shown.round if shown.round is not None else 1
    if shown_round != record.round:
        return t(
            lang, "approve.stale", incident_id=record.id, shown=shown_round, current=record.round
        )
    if shown.action is not None and shown.action != record.recommendation:
        current = (
            option_label(deps.playbook, record.recommendation, lang)
            if record.recommendation in OPTION_KEYS
            else record.recommendation
        )
        return t(lang, "approve.stale_action", incident_id=record.id, current=current)
    return None


async def decide(
    deps: Deps,
    respond: AsyncRespond | None,
    shown: ShownDecision,
    user_id: str,
    chosen: OptionKey | None,
) -> None:
    incident_id = shown.incident_id
    bind_incident(incident_id)
    lang = await deps.user_lang(user_id)
    record = await deps.service.incident(incident_id)
    if record is None:
        await _ephemeral(respond, t(lang, "status.not_found", incident_id=incident_id))
        return
    stale = stale_text(deps, record, shown, lang)
    if stale is not None:
        # The clicker saw another round's (or action's) message: nothing is recorded.
        await _ephemeral(respond, stale)
        return
    action: OptionKey = chosen or record.recommendation  # type: ignore[assignment]
    approvers = await deciders_for(deps, record)
    check = deps.service.check(record, user_id, action, approvers)
    if not check.allowed:
        if check.refusal is Refusal.NOT_APPROVER:
            unknown = approvers_unknown_text(lang, user_id, approvers, incident_id)
            if unknown:
                # Slack did not say who is in an approver group: not a refusal, nothing recorded.
                await _ephemeral(respond, unknown)
                return
        key = (
            "approve.own_incident"
            if check.refusal is Refusal.OWN_INCIDENT
            else "approve.not_approver"
        )
        await deps.service.refused(
            incident_id, actor_id=user_id, action=action, refusal=check.refusal
        )
        await _ephemeral(
            respond,
            t(lang, key, incident_id=incident_id, approvers=await deps.approvers.mentions()),
        )
        return
    # A decision's deadlines and checklist become tasks (and their thread message) in the
    # decision's own transaction.
    outcome = await deps.service.approve(
        incident_id,
        actor_id=user_id,
        action=action,
        needed=check.needed,
        round_=record.round,
        follow_ups=deps.follow.decision_tasks,
    )
    failpoints.hit("approval.committed")
    if outcome.kind == "decided" and outcome.incident is not None:
        failpoints.hit("tasks.created")
        failpoints.hit("tasks.enqueued")
        deps.outbox.notify()
    await _ephemeral(respond, outcome_text(deps, outcome, lang, incident_id))
    if in_app_home(respond):  # the tab shows the outcome at once
        await deps.home.publish(deps.client, user_id, opened=False)


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(ActionId.APPROVE)
    @after_ack(deps)
    async def approve(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        shown = parse_approve_value(str(_first_action(body).get("value") or ""))
        await decide(deps, respond, shown, _user_id(body), None)

    @app.action(ActionId.CHOOSE)
    @after_ack(deps)
    async def choose(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        action = _first_action(body)
        option = action.get("selected_option")
        value = option.get("value") if isinstance(option, dict) else None
        shown = parse_decision_block_id(str(action.get("block_id") or ""))
        lang = await deps.user_lang(_user_id(body))
        if value not in OPTION_KEYS or not shown.incident_id:
            await _ephemeral(respond, t(lang, "approve.bad_choice"))
            return
        await decide(deps, respond, shown, _user_id(body), value)

    @app.action(ActionId.REJECT)
    @after_ack(deps)
    async def reject(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        first = _first_action(body)
        incident_id = str(first.get("value") or "")
        user_id = _user_id(body)
        lang = await deps.user_lang(user_id)
        record = await deps.service.incident(incident_id)
        if record is None:
            await _ephemeral(respond, t(lang, "status.not_found", incident_id=incident_id))
            return
        # The round is in the controls' block id (the value is the incident id, as before).
        shown = parse_decision_block_id(str(first.get("block_id") or ""))
        stale = stale_text(deps, record, ShownDecision(record.id, shown.round), lang)
        if stale is not None:
            await _ephemeral(respond, stale)
            return
        approvers = await deciders_for(deps, record)
        if not deps.service.may_reject(record, user_id, approvers):
            # As for approvals: "not an approver" first, then "your own incident".
            own = user_id == record.reporter_id and user_id in approvers
            unknown = None if own else approvers_unknown_text(lang, user_id, approvers, incident_id)
            if unknown:
                await _ephemeral(respond, unknown)
                return
            key = "approve.own_incident" if own else "approve.not_approver"
            # Refused like an approval (decide()): the attempt is in the audit trail too.
            await deps.service.refused(
                incident_id,
                actor_id=user_id,
                action="reject",
                refusal=Refusal.OWN_INCIDENT if own else Refusal.NOT_APPROVER,
            )
            await _ephemeral(
                respond,
                t(lang, key, incident_id=incident_id, approvers=await deps.approvers.mentions()),
            )
            return
        if record.status != "pending":
            await _ephemeral(
                respond,
                t(
                    lang,
                    "approve.not_pending",
                    incident_id=record.id,
                    status=status_line(deps.playbook, record, lang, deps.service.config.tz),
                ),
            )
            return
        channel = body.get("channel") if isinstance(body.get("channel"), dict) else {}
        # The modal carries its language and round: its submission answers before any Slack
        # look-up, and a send-back typed while the incident was re-assessed is refused.
        metadata = json.dumps(
            {
                "i": incident_id,
                "c": (channel or {}).get("id"),
                "r": record.round,
                "l": lang,
                "u": user_id,
            }
        )
        await client.views_open(
            trigger_id=str(body.get("trigger_id") or ""),
            view=reject_view(lang, incident_id, metadata),
        )

    @app.action(ActionId.BACK)
    @after_ack(deps)
    async def back(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        view = body.get("view") if isinstance(body.get("view"), dict) else None
        if view is None:
            return
        try:
            state = IntakeState.from_metadata(str(view.get("private_metadata") or ""))
        except ValueError:
            return
        # Keep what was typed on this step, valid or not, so that going forward again is quick.
        if state.step < len(deps.playbook.steps):
            values = state_values_of(view)
            state.answers.update(
                {
                    k: v
                    for k, v in values_from_state(deps.playbook, values, state.step).items()
                    if v is not None
                }
            )
        state.step = max(state.step - 1, 0)
        await client.views_update(
            view_id=view.get("id"),
            hash=view.get("hash"),
            view=step_view(deps.playbook, state, deps.service.now()),
        )
