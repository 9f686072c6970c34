"""Modal submissions: each intake step (validated per field), the final submit, a rejection."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import failpoints
from bot.domain.answers import AnswersError, contradictions, parse_answers
from bot.domain.i18n import t
from bot.logs import bind_incident
from bot.service import Unavailable
from bot.slack.approvers import Approvers
from bot.slack.blocks.common import MODAL_TITLE_MAX, plain, section
from bot.slack.blocks.intake import (
    IntakeState,
    MetadataTooLong,
    confirm_view,
    done_view,
    state_values_of,
    step_view,
    too_long_errors,
    values_from_state,
)
from bot.slack.blocks.rejection import REASON_MAX
from bot.slack.deciders import approvers_unknown_text, deciders_for, known_deciders_for
from bot.slack.deps import Deps
from bot.slack.ids import ActionId, BlockId, CallbackId
from bot.slack.listeners.actions import outcome_text
from bot.slack.listeners.updates import update_facts

log = logging.getLogger(__name__)


def error_view(lang: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": CallbackId.DONE,
        "title": plain(t(lang, "intake.title"), MODAL_TITLE_MAX),
        "close": plain(t(lang, "intake.close"), MODAL_TITLE_MAX),
        "blocks": [section(t(lang, "intake.invalid"))],
    }


def unavailable_view(deps: Deps, state: IntakeState) -> dict[str, Any]:
    """The summary again, headed by "not saved, try again" (the database did not answer)."""
    view = confirm_view(deps.playbook, state)
    view["blocks"].insert(1, section(t(state.lang, "intake.unavailable")))
    return view


def to_parseable(deps: Deps, raw: dict[str, Any]) -> dict[str, Any]:
    """Modal values as the answer parser takes them (the datetimepicker gives epoch seconds)."""
    out = dict(raw)
    for question in deps.playbook.questions:
        value = out.get(question.id)
        if question.kind == "datetime" and isinstance(value, int) and not isinstance(value, bool):
            try:
                out[question.id] = datetime.fromtimestamp(value, deps.settings.tz)
            except (OverflowError, OSError, ValueError):
                out[question.id] = str(value)
        if question.kind in ("text", "integer") and value == "":
            out[question.id] = None
    return {k: v for k, v in out.items() if v is not None}


def field_errors(error: AnswersError, lang: str) -> dict[str, str]:
    return {p.answer_id: t(lang, p.key, **p.params)[:150] for p in error.problems}


def register(app: AsyncApp, deps: Deps) -> None:
    @app.view(CallbackId.INTAKE)
    async def intake(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        lang: str = deps.settings.LEAKBOT_LANGUAGE
        try:
            state = IntakeState.from_metadata(str(view.get("private_metadata") or ""))
        except (ValueError, TypeError):
            await ack(response_action="update", view=error_view(lang))
            return
        lang = state.lang
        steps = deps.playbook.steps
        if not 0 <= state.step <= len(steps):
            await ack(response_action="update", view=error_view(lang))
            return
        now = deps.service.now()
        if state.step < len(steps):
            raw = values_from_state(deps.playbook, state_values_of(view), state.step)
            candidate = {**state.answers, **raw}
            step_ids = set(steps[state.step].questions)
            errors: dict[str, str] = {}
            step_values = {k: v for k, v in to_parseable(deps, candidate).items() if k in step_ids}
            try:
                parse_answers(
                    step_values, deps.playbook, tz=deps.settings.tz, now=now, partial=True
                )
            except AnswersError as exc:
                errors = field_errors(exc, lang)
            # Answers that cannot both be true (e.g. "minor internal" and "management-critical").
            for problem in contradictions(step_values):
                question = deps.playbook.question(problem.answer_id)
                first, second = (
                    question.choice(str(problem.params[key])).label.get(lang)
                    for key in ("first", "second")
                )
                message = t(lang, problem.key, first=first, second=second)
                errors.setdefault(problem.answer_id, message[:150])
            # Required answers of this step must be present (partial skips that check); shown
            # together with the other fields' errors, not one after the other.
            for qid in step_ids:
                if deps.playbook.question(qid).required and not candidate.get(qid):
                    errors.setdefault(qid, t(lang, "answer.required"))
            if errors:
                await ack(response_action="errors", errors=errors)
                return
            state.answers = {k: v for k, v in candidate.items() if v not in (None, "", [])}
            state.step += 1
            try:
                next_view = (
                    step_view(deps.playbook, state, now)
                    if state.step < len(steps)
                    else confirm_view(deps.playbook, state)
                )
            except MetadataTooLong as exc:
                errors = too_long_errors(
                    deps.playbook, state.step - 1, state.answers, exc.excess, lang
                )
                await ack(response_action="errors", errors=errors)
                return
            await ack(response_action="update", view=next_view)
            return
        # The summary was confirmed: store the incident, then tell Slack through the outbox.
        user = body.get("user") if isinstance(body.get("user"), dict) else {}
        if state.incident_id is not None:
            await update_facts(
                deps,
                ack,
                state,
                to_parseable(deps, state.answers),
                user_id=str((user or {}).get("id") or ""),
                now=now,
            )
            return
        team = body.get("team") if isinstance(body.get("team"), dict) else {}
        try:
            record, created = await deps.service.submit(
                to_parseable(deps, state.answers),
                reporter_id=str((user or {}).get("id") or ""),
                team_id=(team or {}).get("id"),
                locale=lang,
                submission_key=f"view:{view.get('id')}",
            )
        except AnswersError as exc:
            # Something changed since the step was checked (e.g. the clock): show the step again.
            first = exc.problems[0].answer_id
            state.step = (
                deps.playbook.step_of(first)
                if first in {q.id for q in deps.playbook.questions}
                else 0
            )
            await ack(response_action="update", view=step_view(deps.playbook, state, now))
            return
        except Unavailable as exc:
            # The database did not answer. Keep the summary (and its Report button) with a
            # notice instead of letting Bolt answer a bare 500: pressing Report again later
            # reports it, once even if this attempt did commit (the submission key is the view).
            deps.metrics.failures.labels("intake").inc()
            log.error("could not store the incident: %s", type(exc).__name__, exc_info=exc)
            await ack(response_action="update", view=unavailable_view(deps, state))
            return
        bind_incident(record.id)
        failpoints.hit("intake.committed")
        log.info("incident reported", extra={"new_incident": created})
        await ack(response_action="update", view=done_view(lang, record.id, record.partner))
        deps.outbox.notify()

    @app.view(CallbackId.REJECT)
    async def reject(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        user = body.get("user") if isinstance(body.get("user"), dict) else {}
        user_id = str((user or {}).get("id") or "")
        # No Slack call before the ack (it must come within 3 s): the language is the one the
        # modal was opened in, the approvers are what the directory last knew.
        try:
            meta = json.loads(str(view.get("private_metadata") or "{}"))
            incident_id = str(meta["i"])
        except (ValueError, KeyError, TypeError, AttributeError):
            await ack(response_action="update", view=error_view(deps.known_lang(user_id)))
            return
        carried = meta.get("l")
        opener = meta.get("u")
        # Only the person who opened the modal can submit it (anyone else replays a payload).
        mine = carried in ("ja", "en") and opener in (None, user_id)
        lang = str(carried) if mine else deps.known_lang(user_id)
        block = state_values_of(view).get(BlockId.REJECT_REASON)
        element = block.get(ActionId.INPUT) if isinstance(block, dict) else None
        typed = element.get("value") if isinstance(element, dict) else None
        reason = typed.strip() if isinstance(typed, str) else ""
        if not reason:
            await ack(
                response_action="errors", errors={BlockId.REJECT_REASON: t(lang, "answer.required")}
            )
            return
        if len(reason) > REASON_MAX:
            await ack(
                response_action="errors",
                errors={
                    BlockId.REJECT_REASON: t(
                        lang, "answer.too_long", max=REASON_MAX, length=len(reason)
                    )
                },
            )
            return
        record = await deps.service.incident(incident_id)
        shown_round = meta.get("r") if isinstance(meta, dict) else None
        if record is not None and isinstance(shown_round, int) and shown_round != record.round:
            # Re-assessed while the reason was typed: this send-back was for the old round.
            await ack(
                response_action="errors",
                errors={
                    BlockId.REJECT_REASON: t(
                        lang, "approve.stale_round", incident_id=record.id, current=record.round
                    )[:150]
                },
            )
            return
        approvers = await known_deciders_for(deps, record) if record is not None else Approvers()
        acked = False
        if approvers is None:
            # Nothing known about the approver groups here yet (a restart, or another replica
            # opened the modal): close the modal first, then look them up; any refusal then
            # comes as an ephemeral message in the channel the button was in.
            await ack(response_action="clear")
            acked = True
            approvers = await deciders_for(deps, record) if record is not None else Approvers()

        async def refuse(text: str) -> None:
            if not acked:
                await ack(response_action="errors", errors={BlockId.REJECT_REASON: text[:150]})
            elif meta.get("c"):
                await client.chat_postEphemeral(channel=str(meta["c"]), user=user_id, text=text)

        if record is None or not deps.service.may_reject(record, user_id, approvers):
            unknown = approvers_unknown_text(lang, user_id, approvers)
            await refuse(unknown or t(lang, "approve.not_approver_short"))
            return
        outcome = await deps.service.reject(incident_id, actor_id=user_id, reason=reason)
        if outcome.kind != "rejected":
            await refuse(outcome_text(deps, outcome, lang, incident_id))
            return
        if not acked:
            await ack(response_action="clear")
        deps.outbox.notify()
