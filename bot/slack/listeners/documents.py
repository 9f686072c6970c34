"""Documents drafted from Slack (issue 13): `leak_docs` opens the modal, its submission and a
task's draft button queue the upload of the draft into the incident's thread."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.i18n import t
from bot.drafting import Drafting, DraftOutcome, check_request
from bot.service import Unavailable
from bot.slack.blocks.documents import chosen, docs_modal
from bot.slack.blocks.responses import text_message
from bot.slack.deps import Deps
from bot.slack.ids import ActionId, BlockId, CallbackId
from bot.slack.listeners.actions import after_ack


def _user_id(body: dict[str, Any]) -> str:
    user = body.get("user") if isinstance(body.get("user"), dict) else {}
    return str((user or {}).get("id") or "")


def _action_value(body: dict[str, Any]) -> str:
    actions = body.get("actions") if isinstance(body.get("actions"), list) else []
    first = actions[0] if actions and isinstance(actions[0], dict) else {}
    return str(first.get("value") or "")


def register(app: AsyncApp, deps: Deps) -> None:
    drafting = Drafting(deps.store, deps.clock)

    @app.action(ActionId.DOCS)
    @after_ack(deps)
    async def open_docs(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        # Open at once (the trigger id lives 3 s); who may draft is checked on submit.
        lang = await deps.user_lang(_user_id(body))
        await client.views_open(
            trigger_id=str(body.get("trigger_id") or ""),
            view=docs_modal(_action_value(body), lang),
        )

    @app.view(CallbackId.DOCS)
    async def submit_docs(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        user_id = _user_id(body)
        lang = await deps.user_lang(user_id)
        state = view.get("state") if isinstance(view.get("state"), dict) else {}
        values = (state or {}).get("values")
        request = check_request(
            chosen(values, BlockId.DOC_KIND),
            chosen(values, BlockId.DOC_LANG),
            chosen(values, BlockId.DOC_FORMAT),
        )
        incident_id = str(view.get("private_metadata") or "")
        try:
            record = await deps.service.incident(incident_id) if incident_id else None
            if request is None or record is None:
                text = t(lang, "docs.bad_choice")
                await ack(response_action="errors", errors={BlockId.DOC_KIND: text})
                return
            approvers = await deps.approvers.members()
            outcome = await drafting.request(
                record,
                request,
                actor_id=user_id,
                approvers=approvers,
                approvers_complete=not approvers.unresolved,
                request_key=f"view:{view.get('id') or ''}",
            )
        except Unavailable:
            # The database is down: say so in the modal, which stays open to try again.
            text = t(lang, "command.unavailable")
            await ack(response_action="errors", errors={BlockId.DOC_KIND: text})
            return
        if outcome in ("refused", "unverified"):
            text = _refusal(lang, outcome, record.id)
            await ack(response_action="errors", errors={BlockId.DOC_KIND: text})
            return
        await ack()
        deps.outbox.notify()

    @app.action(ActionId.TASK_DRAFT)
    @after_ack(deps)
    async def task_draft(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        user_id = _user_id(body)
        lang = await deps.user_lang(user_id)
        incident_id, _, kind = _action_value(body).partition("|")
        request = check_request(kind, lang, "md")
        record = await deps.service.incident(incident_id) if incident_id else None
        if request is None or record is None:
            await respond(
                text=t(lang, "docs.bad_choice"), response_type="ephemeral", replace_original=False
            )
            return
        container = body.get("container") if isinstance(body.get("container"), dict) else {}
        approvers = await deps.approvers.members()
        outcome = await drafting.request(
            record,
            request,
            actor_id=user_id,
            approvers=approvers,
            approvers_complete=not approvers.unresolved,
            # One draft per click (Slack does not retry interactions, but a person may click
            # twice: each click is a request).
            request_key=f"action:{(container or {}).get('message_ts')}:{body.get('trigger_id')}",
        )
        if outcome in ("refused", "unverified"):
            text = _refusal(lang, outcome, record.id)
        else:
            deps.outbox.notify()
            text = t(lang, "docs.queued", incident_id=record.id, kind=t(lang, f"docs.kind.{kind}"))
        await respond(text=text, response_type="ephemeral", replace_original=False)


async def export_command(
    respond: AsyncRespond, deps: Deps, lang: str, user_id: str, request_key: str
) -> None:
    """`/leak export`: approvers get every incident as CSV in their DM."""
    approvers = await deps.approvers.members()
    outcome = await Drafting(deps.store, deps.clock).request_export(
        actor_id=user_id,
        approvers=approvers,
        approvers_complete=not approvers.unresolved,
        lang=lang,
        request_key=request_key,
    )
    if outcome in ("refused", "unverified"):
        key = (
            "approve.approvers_unknown_short"
            if outcome == "unverified"
            else "docs.export_not_allowed"
        )
        await respond(**text_message(t(lang, key)))
        return
    await respond(**text_message(t(lang, "docs.export_queued")))
    deps.outbox.notify()


def _refusal(lang: str, outcome: DraftOutcome, incident_id: str) -> str:
    if outcome == "unverified":  # an approver group Slack did not answer for: try again
        return t(lang, "approve.approvers_unknown_short")
    return t(lang, "docs.not_allowed", incident_id=incident_id)
