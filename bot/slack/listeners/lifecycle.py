"""Issue 12 controls: how the partner's report was (asked when its task is marked done),
closing an incident with an outcome (`leak_close` and its modal) and reopening it."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.closing import CLOSE_OUTCOMES, REPORTER_OUTCOMES, may_close, may_reopen
from bot.domain.explain import format_moment
from bot.domain.i18n import t
from bot.lifecycle import PARTNER_REPORT_REFS
from bot.logs import bind_incident
from bot.service import Unavailable
from bot.slack.approvers import Approvers
from bot.slack.blocks.intake import IntakeState, state_values_of, step_view
from bot.slack.blocks.lifecycle import (
    NOTE_MAX,
    QUALITY_ACTIONS,
    REASON_MAX,
    OpenDeadline,
    close_view,
    parse_report_value,
)
from bot.slack.deciders import approvers_unknown_text, deciders_for, may_act_on_task
from bot.slack.deps import Deps
from bot.slack.ids import ActionId, BlockId, CallbackId
from bot.slack.listeners.actions import after_ack
from bot.store import IncidentRecord

log = logging.getLogger(__name__)


def _user_id(body: dict[str, Any]) -> str:
    user = body.get("user")
    return str(user.get("id") or "") if isinstance(user, dict) else ""


def _value(body: dict[str, Any]) -> str:
    actions = body.get("actions")
    first = actions[0] if isinstance(actions, list) and actions else {}
    return str(first.get("value") or "") if isinstance(first, dict) else ""


def register(app: AsyncApp, deps: Deps) -> None:
    async def report_quality(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        user_id = _user_id(body)
        lang = await deps.user_lang(user_id)
        parsed = parse_report_value(_value(body))
        found = await deps.follow.task(parsed[0]) if parsed else None
        if parsed is None or found is None or found[0].ref not in PARTNER_REPORT_REFS:
            await respond(
                text=t(lang, "task.not_found"), response_type="ephemeral", replace_original=False
            )
            return
        task, record = found
        # The same people as for the Done button.
        allowed, approvers = await may_act_on_task(deps, record, task.owner_id, user_id)
        if not allowed:
            unknown = approvers_unknown_text(lang, user_id, approvers, record.id)
            if unknown:  # an approver group Slack did not answer for: not a refusal
                await _say(respond, unknown)
                return
            await deps.follow.lifecycle.refused_report(record, task, user_id, parsed[1])
            await respond(
                text=t(lang, "task.not_allowed"), response_type="ephemeral", replace_original=False
            )
            return
        quality = parsed[1]
        outcome = await deps.follow.lifecycle.partner_report_received(
            record, task, quality=quality, actor_id=user_id
        )
        deps.outbox.notify()
        title = task.title.get(lang) or task.ref
        label = t(lang, f"partner_report.{quality}")
        await respond(
            text=t(
                lang,
                f"partner_report.{outcome}",
                title=title,
                quality=label,
                incident_id=record.id,
            ),
            response_type="ephemeral",
            replace_original=True,
        )

    for action_id in QUALITY_ACTIONS.values():
        app.action(action_id)(after_ack(deps)(report_quality))

    @app.action(ActionId.CLOSE)
    @after_ack(deps)
    async def close(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        clicked = await _clicked_incident(deps, body, respond)
        if clicked is None:
            return
        user_id, lang, record = clicked
        deciders = await deciders_for(deps, record)
        if not may_close(
            actor_id=user_id, reporter_id=record.reporter_id, approvers=deciders, outcome=None
        ):
            await _refused_unless_unsure(deps, respond, lang, record, user_id, deciders, "close")
            return
        if record.status == "closed":
            await _say(respond, t(lang, "close.already_closed", incident_id=record.id))
            return
        outcomes = (
            CLOSE_OUTCOMES
            if user_id in deciders
            else tuple(key for key in CLOSE_OUTCOMES if key in REPORTER_OUTCOMES)
        )
        deadlines = [
            OpenDeadline(
                ref=task.ref,
                title=task.title.get(lang) or task.ref,
                due=format_moment(task.due_at.astimezone(deps.settings.tz), lang)
                if task.due_at
                else "-",
            )
            for task in await deps.follow.lifecycle.open_regulator_tasks(record)
        ]
        metadata = json.dumps({"i": record.id, "l": lang, "d": [d.ref for d in deadlines]})
        await client.views_open(
            trigger_id=str(body.get("trigger_id") or ""),
            view=close_view(lang, record.id, record.partner, outcomes, deadlines, metadata),
        )

    @app.view(CallbackId.CLOSE)
    async def close_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        user_id = _user_id(body)
        try:
            meta = json.loads(str(view.get("private_metadata") or "{}"))
            incident_id, lang, refs = str(meta["i"]), str(meta["l"]), [str(r) for r in meta["d"]]
        except (ValueError, KeyError, TypeError):
            await ack(response_action="errors", errors={BlockId.OUTCOME: "?"})
            return
        try:
            await _close(deps, ack, view, user_id, incident_id, lang, refs)
        except Unavailable as exc:
            # The database did not answer: nothing was closed; the modal stays with a notice.
            deps.metrics.failures.labels("close").inc()
            log.error("could not close the incident: %s", type(exc).__name__, exc_info=exc)
            await ack(
                response_action="errors",
                errors={BlockId.OUTCOME: t(lang, "command.unavailable")[:150]},
            )

    @app.action(ActionId.REOPEN)
    @after_ack(deps)
    async def reopen(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        clicked = await _clicked_incident(deps, body, respond)
        if clicked is None:
            return
        user_id, lang, record = clicked
        deciders = await deciders_for(deps, record)
        if not may_reopen(actor_id=user_id, reporter_id=record.reporter_id, approvers=deciders):
            await _refused_unless_unsure(deps, respond, lang, record, user_id, deciders, "reopen")
            return
        reopened = await deps.follow.lifecycle.reopen(record, actor_id=user_id)
        if reopened is None:
            await _say(respond, t(lang, "reopen.not_closed", incident_id=record.id))
            return
        deps.outbox.notify()
        await _say(respond, t(lang, "reopen.done", incident_id=record.id))

    @app.action(ActionId.UPDATE)
    @after_ack(deps)
    async def update(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        clicked = await _clicked_incident(deps, body, respond)
        if clicked is None:
            return
        user_id, lang, record = clicked
        # The reporter, the approvers (the second level once escalated) and task owners.
        owners = {task.owner_id for task in await deps.follow.tasks(record.id)}
        deciders = await deciders_for(deps, record)
        if user_id not in {record.reporter_id, *owners} | deciders:
            await _refused_unless_unsure(deps, respond, lang, record, user_id, deciders, "update")
            return
        if record.status == "closed":
            await _say(respond, t(lang, "update.closed", incident_id=record.id))
            return
        state = IntakeState(
            step=0,
            lang=lang,
            answers=deps.follow.updates.intake_answers(record),
            incident_id=record.id,
        )
        await client.views_open(
            trigger_id=str(body.get("trigger_id") or ""),
            view=step_view(deps.playbook, state, deps.service.now()),
        )


async def _close(
    deps: Deps,
    ack: AsyncAck,
    view: dict[str, Any],
    user_id: str,
    incident_id: str,
    lang: str,
    refs: list[str],
) -> None:
    """The close modal submitted: check it, then close (raises Unavailable)."""
    values = state_values_of(view)
    outcome = _selected(values, BlockId.OUTCOME)
    note = _typed(values, BlockId.NOTE)
    errors: dict[str, str] = {}
    if outcome not in CLOSE_OUTCOMES:
        errors[BlockId.OUTCOME] = t(lang, "answer.required")
    if note is not None and len(note) > NOTE_MAX:
        errors[BlockId.NOTE] = t(lang, "answer.too_long", max=NOTE_MAX, length=len(note))
    confirmations: dict[str, tuple[str, str | None]] = {}
    for ref in refs:
        state = _selected(values, f"{BlockId.REGULATOR}:{ref}")
        reason = _typed(values, f"{BlockId.REGULATOR_REASON}:{ref}")
        if state not in ("done", "not_required"):
            errors[f"{BlockId.REGULATOR}:{ref}"] = t(lang, "answer.required")
        elif state == "not_required" and not reason:
            errors[f"{BlockId.REGULATOR_REASON}:{ref}"] = t(lang, "close.reason_required")
        elif reason is not None and len(reason) > REASON_MAX:
            errors[f"{BlockId.REGULATOR_REASON}:{ref}"] = t(
                lang, "answer.too_long", max=REASON_MAX, length=len(reason)
            )
        else:
            confirmations[ref] = (str(state), reason if state == "not_required" else None)
    record = await deps.service.incident(incident_id)
    if record is None:
        errors[BlockId.OUTCOME] = t(lang, "status.not_found", incident_id=incident_id)
    elif not errors:
        deciders = await deciders_for(deps, record)
        if not may_close(
            actor_id=user_id,
            reporter_id=record.reporter_id,
            approvers=deciders,
            outcome=outcome,
        ):
            key = (
                "close.outcome_not_allowed"
                if user_id == record.reporter_id
                else "close.not_allowed"
            )
            unknown = (
                None
                if user_id == record.reporter_id
                else approvers_unknown_text(lang, user_id, deciders)
            )
            errors[BlockId.OUTCOME] = unknown or t(lang, key, incident_id=record.id)
    if errors or record is None:
        await ack(response_action="errors", errors={k: v[:150] for k, v in errors.items()})
        return
    # A regulator deadline that opened after the modal did (a new round) is asked next time.
    missing = {task.ref for task in await deps.follow.lifecycle.open_regulator_tasks(record)} - set(
        confirmations
    )
    if missing:
        await ack(
            response_action="errors",
            errors={BlockId.OUTCOME: t(lang, "close.regulator_intro")[:150]},
        )
        return
    bind_incident(record.id)
    # Committed before the modal closes (as the intake does): the ack says it is done.
    closed = await deps.follow.lifecycle.close(
        record,
        actor_id=user_id,
        outcome=str(outcome),
        note=note,
        confirmations=confirmations,
    )
    await ack(response_action="clear")
    if closed is not None:
        deps.outbox.notify()


async def _clicked_incident(
    deps: Deps, body: dict[str, Any], respond: AsyncRespond
) -> tuple[str, str, IncidentRecord] | None:
    """Who clicked, their language, and the incident the button names; None (and said so)
    when there is no such incident."""
    user_id = _user_id(body)
    incident_id = _value(body)
    bind_incident(incident_id)
    lang = await deps.user_lang(user_id)
    record = await deps.service.incident(incident_id)
    if record is None:
        await _say(respond, t(lang, "status.not_found", incident_id=incident_id))
        return None
    return user_id, lang, record


async def _say(respond: AsyncRespond, text: str) -> None:
    await respond(text=text, response_type="ephemeral", replace_original=False)


async def _refused_unless_unsure(
    deps: Deps,
    respond: AsyncRespond,
    lang: str,
    record: IncidentRecord,
    user_id: str,
    deciders: Approvers,
    what: str,
) -> None:
    """Refuse `what` (`close`, `reopen`, `update`) and audit it; but while an approver group
    Slack did not answer for may hold the person, say so instead and record nothing."""
    unknown = approvers_unknown_text(lang, user_id, deciders, record.id)
    if unknown:
        await _say(respond, unknown)
        return
    await deps.follow.lifecycle.refused(record, user_id, what)
    await _say(respond, t(lang, f"{what}.not_allowed", incident_id=record.id))


def _element(values: dict[str, Any], block_id: str) -> dict[str, Any]:
    block = values.get(block_id)
    element = block.get(ActionId.INPUT) if isinstance(block, dict) else None
    return element if isinstance(element, dict) else {}


def _selected(values: dict[str, Any], block_id: str) -> str | None:
    option = _element(values, block_id).get("selected_option")
    value = option.get("value") if isinstance(option, dict) else None
    return value if isinstance(value, str) else None


def _typed(values: dict[str, Any], block_id: str) -> str | None:
    value = _element(values, block_id).get("value")
    return value.strip() or None if isinstance(value, str) else None
