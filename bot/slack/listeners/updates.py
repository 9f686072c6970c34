"""The intake modal's last step when it updates an incident's facts (issue 12)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncAck

from bot.domain.answers import AnswersError
from bot.domain.i18n import t
from bot.logs import bind_incident
from bot.service import Unavailable
from bot.slack.blocks.intake import IntakeState, step_view
from bot.slack.blocks.updates import update_done_view
from bot.slack.deps import Deps

log = logging.getLogger(__name__)


async def update_facts(
    deps: Deps,
    ack: AsyncAck,
    state: IntakeState,
    raw: dict[str, Any],
    *,
    user_id: str,
    now: datetime,
) -> None:
    """Re-assess with the answers confirmed in the modal (`raw`, as the answer parser takes
    them); the modal then says what happened
    (the channel gets the "what changed" note through the outbox)."""
    assert state.incident_id is not None
    bind_incident(state.incident_id)
    try:
        await _update(deps, ack, state, raw, user_id=user_id, now=now)
    except Unavailable as exc:
        # The database did not answer: say so in the modal rather than let Bolt answer 500.
        deps.metrics.failures.labels("update").inc()
        log.error("could not update the incident: %s", type(exc).__name__, exc_info=exc)
        await ack(
            response_action="update",
            view=update_done_view(state.lang, t(state.lang, "command.unavailable")),
        )


async def _update(
    deps: Deps,
    ack: AsyncAck,
    state: IntakeState,
    raw: dict[str, Any],
    *,
    user_id: str,
    now: datetime,
) -> None:
    assert state.incident_id is not None
    lang = state.lang
    record = await deps.service.incident(state.incident_id)
    if record is None or record.status == "closed":
        key = "status.not_found" if record is None else "update.closed"
        await ack(
            response_action="update",
            view=update_done_view(lang, t(lang, key, incident_id=state.incident_id)),
        )
        return
    try:
        outcome = await deps.follow.updates.update(record, raw, actor_id=user_id)
    except AnswersError as exc:
        first = exc.problems[0].answer_id
        known = {q.id for q in deps.playbook.questions}
        state.step = deps.playbook.step_of(first) if first in known else 0
        await ack(response_action="update", view=step_view(deps.playbook, state, now))
        return
    log.info("incident facts updated", extra={"update": outcome.kind})
    text = t(lang, f"update.done_{outcome.kind}", incident_id=record.id)
    await ack(response_action="update", view=update_done_view(lang, text))
    deps.outbox.notify()
