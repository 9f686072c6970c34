"""Who may do what: every command and button, for each kind of person, table-driven.

Roles: the reporter (not an approver), an approver (through the user group), a stranger
(English locale), and an approver who reported the incident themselves. For each (role,
control) the table says "allowed", or "refused" with the catalog key of the ephemeral
explanation and the audit row the refusal writes (if the code writes one). Each case checks
the answer (in the person's language, word for word) and that the database changed only when
allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from conftest import (
    APPROVER_1,
    APPROVER_2,
    CHANNEL,
    MILD_STEPS,
    REPORTER,
    STRANGER,
    Leakbot,
)
from db_reads import approvals_of
from e2e_support import assert_no_traceback, command_answer, footprint, text_of

from bot.domain.explain import option_label
from bot.domain.i18n import t
from bot.lifecycle import PARTNER_REPORT_REFS
from bot.slack.blocks.responses import help_message, status_message
from bot.slack.listeners.listing import list_incidents, parse_list_args
from bot.store import IncidentRecord, TaskRecord

pytestmark = pytest.mark.usefixtures("no_rejections")


@dataclass(frozen=True)
class Role:
    name: str
    user: str
    lang: str
    #: Whether the role's own incident is used (the approver who reported it).
    own: bool = False


ROLES = {
    "reporter": Role("reporter", REPORTER, "ja"),
    "approver": Role("approver", APPROVER_2, "ja"),
    "stranger": Role("stranger", STRANGER, "en"),
    "approver_reporter": Role("approver_reporter", APPROVER_1, "ja", own=True),
}


@dataclass(frozen=True)
class Expect:
    allowed: bool
    #: The catalog key of the refusal's ephemeral explanation.
    key: str | None = None
    #: The audit action a refusal writes, if the code writes one.
    audit: str | None = None


ALLOWED = Expect(True)
NOT_APPROVER = Expect(False, "approve.not_approver", "approval.refused")
OWN_INCIDENT = Expect(False, "approve.own_incident", "approval.refused")
NOT_APPROVER_SHORT = Expect(False, "approve.not_approver_short", None)
TASK_REFUSED = Expect(False, "task.not_allowed", "task.refused")

COMMANDS = ("/leak", "/leak help", "/leak list", "/leak status")
DECISIONS = ("leak_approve", "leak_choose", "leak_reject")
MATRIX: dict[tuple[str, str], Expect] = {
    # Anyone in the workspace may report and use the commands; what list and status show
    # depends on the role (checked in test_commands_for_every_role).
    **{(role, command): ALLOWED for role in ROLES for command in COMMANDS},
    # Deciding (approve, pick another action, open the send-back modal): approvers only, never
    # on their own incident.
    **{("reporter", control): NOT_APPROVER for control in DECISIONS},
    **{("approver", control): ALLOWED for control in DECISIONS},
    **{("stranger", control): NOT_APPROVER for control in DECISIONS},
    **{("approver_reporter", control): OWN_INCIDENT for control in DECISIONS},
    # Submitting the send-back reason (a modal someone else opened, replayed by this person).
    ("reporter", "leak_reject_reason"): NOT_APPROVER_SHORT,
    ("approver", "leak_reject_reason"): ALLOWED,
    ("stranger", "leak_reject_reason"): NOT_APPROVER_SHORT,
    ("approver_reporter", "leak_reject_reason"): NOT_APPROVER_SHORT,
    # Ticking a follow-up task: the reporter, an approver, the task's owner.
    ("reporter", "leak_task_done"): ALLOWED,
    ("approver", "leak_task_done"): ALLOWED,
    ("stranger", "leak_task_done"): TASK_REFUSED,
    ("approver_reporter", "leak_task_done"): ALLOWED,
}
# Refused roles first: their attempts must leave the incident as it was for the allowed one.
ORDER = ("reporter", "stranger", "approver_reporter", "approver")


def test_the_matrix_is_complete() -> None:
    controls = {*COMMANDS, *DECISIONS, "leak_reject_reason", "leak_task_done"}
    assert set(MATRIX) == {(role, control) for role in ROLES for control in controls}


# -- helpers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class State:
    """What a click could change about an incident."""

    status: str
    decided_by: tuple[str, ...]
    approvals: tuple[tuple[str, str], ...]
    audit: tuple[tuple[str, str], ...]
    tasks: tuple[tuple[int, str, str | None], ...]


async def state_of(bot: Leakbot, incident_id: str) -> State:
    record = await bot.store.get_incident(incident_id)
    assert record is not None
    approvals = await approvals_of(bot.store, incident_id)
    trail = await bot.store.audit_trail(incident_id)
    tasks = await bot.store.tasks_for(incident_id)
    return State(
        record.status,
        tuple(record.decided_by),
        tuple((a.approver_id, a.action) for a in approvals),
        tuple((a.actor_id, a.action) for a in trail),
        tuple((task.id, task.status, task.done_by) for task in tasks),
    )


async def ephemeral_after(bot: Leakbot, before: int, response_url: str | None) -> str:
    """The ephemeral answer a click got on its response_url."""
    await bot.emulator.wait_for_call("response_url", count=before + 1)
    assert response_url is not None
    bodies = bot.emulator.responses(response_url)
    assert len(bodies) == 1, bodies
    body = bodies[0]
    assert body.get("response_type") == "ephemeral", body
    assert body.get("replace_original") in (False, "false", None), body
    text = str(body.get("text") or "")
    assert_no_traceback(text)
    return text


async def refusal_text(bot: Leakbot, key: str, role: Role, incident_id: str) -> str:
    return t(
        role.lang,
        key,
        incident_id=incident_id,
        approvers=await bot.app.deps.approvers.mentions(),
    )


def assert_refusal_written(before: State, after: State, role: Role, expect: Expect) -> None:
    """A refusal changes nothing but (where the code does so) one audit row of the attempt."""
    added = after.audit[len(before.audit) :]
    assert after.audit[: len(before.audit)] == before.audit
    assert added == (((role.user, expect.audit),) if expect.audit else ()), added
    assert (after.status, after.decided_by, after.approvals, after.tasks) == (
        before.status,
        before.decided_by,
        before.approvals,
        before.tasks,
    )


async def decided(bot: Leakbot, incident: IncidentRecord, approver: str) -> IncidentRecord:
    """`incident` decided by `approver` (one approval is enough for the mild case)."""
    before = len(bot.emulator.calls_to("response_url"))
    reply = await bot.click(incident, "leak_approve", approver, value=incident.id)
    await ephemeral_after(bot, before, reply.response_url)
    await bot.deliver()
    record = await bot.store.get_incident(incident.id)
    assert record is not None and record.status == "decided", record
    return record


# -- commands -----------------------------------------------------------------------------------


async def test_commands_for_every_role(leakbot: Leakbot) -> None:
    bot = leakbot
    incident = await bot.report(REPORTER, MILD_STEPS)
    deps = bot.app.deps
    before = await footprint(bot.store, bot.emulator)
    for name in ORDER:
        role = ROLES[name]
        for command in COMMANDS:
            assert MATRIX[(name, command)].allowed
            text = f"status {incident.id}" if command == "/leak status" else command[6:]
            opens = len(bot.emulator.calls_to("views.open"))
            if command != "/leak":
                reply, body = await command_answer(bot, text, role.user)
            else:
                reply = await bot.slack.slash_command("/leak", text, user_id=role.user)
            assert reply.status == 200, (name, command, reply.text)
            assert_no_traceback(reply.text)
            if command == "/leak":
                assert reply.text == ""  # an empty ack: the modal opens
                call = await bot.emulator.wait_for_call("views.open", count=opens + 1)
                assert call.ok and call.args["trigger_id"] == reply.trigger_id
                continue
            if command == "/leak help":
                expected = help_message(role.lang)
            elif command == "/leak list":
                # Approvers see every open incident; others only the ones they reported.
                sees_all = name in ("approver", "approver_reporter")
                records = await bot.store.list_incidents(
                    statuses=("pending", "decided"),
                    limit=30,
                    reporter_id=None if sees_all else role.user,
                )
                assert bool(records) == (name != "stranger"), name
                expected = await list_incidents(
                    deps,
                    parse_list_args(""),
                    role.lang,
                    reporter_id=None if sees_all else role.user,
                )
                assert all(record.id in text_of(expected) for record in records), name
            elif name == "stranger":
                # A stranger learns nothing about the incident, not even that it exists.
                expected = status_message(deps.service, None, [], [], role.lang, incident.id)
            else:
                record = await bot.store.get_incident(incident.id)
                trail = await bot.store.audit_trail(incident.id)
                tasks = await bot.store.tasks_for(incident.id)
                expected = status_message(
                    deps.service, record, trail, tasks, role.lang, incident.id
                )
            assert body.get("response_type") == "ephemeral", (name, command, body)
            assert text_of(body) == text_of(expected), (name, command)
    # Only modals were opened: no incident, message, decision or audit row from any command.
    after = await footprint(bot.store, bot.emulator)
    assert (after.incidents, after.outbox, after.audit) == (
        before.incidents,
        before.outbox,
        before.audit,
    )
    # One modal per person; the English speaker's is switched to English right after opening.
    writes = [c.method for c in bot.emulator.calls if c.method.startswith(("chat.", "views."))]
    # (and every other command answered once through its response_url)
    answers = len(ORDER) * (len(COMMANDS) - 1)
    assert after.api_calls - before.api_calls == len(ORDER) + 1 + answers
    assert writes[-(len(ORDER) + 1) :].count("views.open") == len(ORDER)
    assert writes[-(len(ORDER) + 1) :].count("views.update") == 1


# -- deciding -----------------------------------------------------------------------------------


@pytest.mark.parametrize("control", DECISIONS)
async def test_decision_controls_for_every_role(leakbot: Leakbot, control: str) -> None:
    bot = leakbot
    others = await bot.report(REPORTER, MILD_STEPS)
    own = await bot.report(APPROVER_1, MILD_STEPS)
    for name in ORDER:
        role = ROLES[name]
        expect = MATRIX[(name, control)]
        incident = own if role.own else others
        before = await state_of(bot, incident.id)
        responses = len(bot.emulator.calls_to("response_url"))
        opens = len(bot.emulator.calls_to("views.open"))
        kwargs: dict[str, Any] = (
            {"selected_option": "request_report"}
            if control == "leak_choose"
            else {"value": incident.id}
        )
        reply = await bot.click(incident, control, role.user, **kwargs)
        assert reply.text == "", (name, control, reply.text)  # acked at once, answered after
        if not expect.allowed:
            assert expect.key is not None
            text = await ephemeral_after(bot, responses, reply.response_url)
            assert text == await refusal_text(bot, expect.key, role, incident.id), (name, control)
            assert_refusal_written(before, await state_of(bot, incident.id), role, expect)
            assert len(bot.emulator.calls_to("views.open")) == opens  # no modal for them
            continue
        after_state: State
        if control == "leak_reject":
            # Allowed: the reason modal opens; nothing is decided until it is submitted.
            call = await bot.emulator.wait_for_call("views.open", count=opens + 1)
            assert call.ok, call.response
            assert call.args["view"]["callback_id"] == "leak_reject_reason"
            assert call.args["trigger_id"] == reply.trigger_id
            assert await state_of(bot, incident.id) == before
            assert bot.emulator.responses(reply.response_url or "") == []
            continue
        text = await ephemeral_after(bot, responses, reply.response_url)
        record = await bot.store.get_incident(incident.id)
        assert record is not None
        action = record.recommendation if control == "leak_approve" else "request_report"
        label = option_label(bot.playbook, action, role.lang)  # type: ignore[arg-type]
        assert text == t(role.lang, "approve.decided", action=label, incident_id=incident.id)
        after_state = await state_of(bot, incident.id)
        assert after_state.status == "decided"
        assert after_state.decided_by == (role.user,)
        assert after_state.approvals == ((role.user, action),)
        added = [a for a in after_state.audit[len(before.audit) :] if a[0] == role.user]
        assert added == [(role.user, "approval.recorded"), (role.user, "incident.decided")]
    # Every refused attempt is in the audit trail, with the reason.
    refused = [
        a
        for incident in (others, own)
        for a in await bot.store.audit_trail(incident.id)
        if a.action == "approval.refused"
    ]
    reasons = {(a.actor_id, a.after["reason"]) for a in refused}
    assert reasons == {
        (REPORTER, "not_approver"),
        (STRANGER, "not_approver"),
        (APPROVER_1, "own_incident"),
    }
    wanted = "reject" if control == "leak_reject" else None
    assert all((a.after["action"] == "reject") == (wanted == "reject") for a in refused)


async def test_reject_reason_submission_for_every_role(leakbot: Leakbot) -> None:
    bot = leakbot
    emu = bot.emulator
    others = await bot.report(REPORTER, MILD_STEPS)
    own = await bot.report(APPROVER_1, MILD_STEPS)
    # An approver opens the send-back modal on each incident.
    modals: dict[str, str] = {}
    for incident in (others, own):
        opens = len(emu.calls_to("views.open"))
        await bot.click(incident, "leak_reject", APPROVER_2, value=incident.id)
        call = await emu.wait_for_call("views.open", count=opens + 1)
        assert call.ok and call.response is not None
        modals[incident.id] = str(call.response["view"]["id"])
    for name in ORDER:
        role = ROLES[name]
        expect = MATRIX[(name, "leak_reject_reason")]
        incident = own if role.own else others
        view = emu.view(modals[incident.id])
        before = await state_of(bot, incident.id)
        outbox = len(await bot.store.outbox_items())
        reply = await bot.slack.view_submission(
            view, user_id=role.user, answers={"reason": f"理由 from {name}"}, apply_ack=False
        )
        assert reply.status == 200, (name, reply.text)
        ack = reply.json
        assert isinstance(ack, dict), (name, reply.text)
        if not expect.allowed:
            # Answered before any Slack look-up: someone other than the opener (only a replayed
            # payload can be that) is answered in their language as last looked up, else in
            # the workspace's default.
            lang = role.lang if role.user in bot.app.deps._locales else "ja"
            assert ack == {
                "response_action": "errors",
                "errors": {"reason": t(lang, "approve.not_approver_short")},
            }, name
            assert_refusal_written(before, await state_of(bot, incident.id), role, expect)
            assert len(await bot.store.outbox_items()) == outbox
            continue
        assert ack == {"response_action": "clear"}, name
        after = await state_of(bot, incident.id)
        assert after.status == "rejected" and after.decided_by == (role.user,)
        assert after.audit[len(before.audit) :] == ((role.user, "incident.rejected"),)
        record = await bot.store.get_incident(incident.id)
        assert record is not None and record.decision_reason == f"理由 from {name}"
        assert len(await bot.store.outbox_items()) > outbox  # the channel and the reporter hear
    # The approver's own incident stays pending: nobody allowed submitted for it.
    assert (await state_of(bot, own.id)).status == "pending"


# -- follow-up tasks ----------------------------------------------------------------------------


def done_buttons(message: dict[str, Any]) -> dict[str, str]:
    """task id → block_id of its Done button in the tasks message."""
    return {
        str(block["accessory"]["value"]): str(block["block_id"])
        for block in message.get("blocks") or []
        if (block.get("accessory") or {}).get("action_id") == "leak_task_done"
    }


def tasks_message(bot: Leakbot, incident: IncidentRecord) -> dict[str, Any]:
    parent = bot.recommendation_ts(incident)
    found = [
        m
        for m in bot.emulator.messages(CHANNEL)
        if m.get("thread_ts") == parent and m["ts"] != parent and done_buttons(m)
    ]
    assert len(found) == 1, found
    return found[0]


async def test_task_done_for_every_role(leakbot: Leakbot) -> None:
    bot = leakbot
    others = await decided(bot, await bot.report(REPORTER, MILD_STEPS), APPROVER_1)
    own = await decided(bot, await bot.report(APPROVER_1, MILD_STEPS), APPROVER_2)
    open_tasks: dict[str, list[TaskRecord]] = {
        incident.id: list(await bot.store.tasks_for(incident.id)) for incident in (others, own)
    }
    assert all(len(tasks) >= 2 for tasks in open_tasks.values()), open_tasks
    for name in ORDER:
        role = ROLES[name]
        expect = MATRIX[(name, "leak_task_done")]
        incident = own if role.own else others
        # Preferably a task this person does not own, so that the answer is about the role.
        # (The mild case's tasks all belong to the reporter: the approver-reporter owns them.)
        candidates = open_tasks[incident.id]
        task = next((task for task in candidates if task.owner_id != role.user), candidates[0])
        message = tasks_message(bot, incident)
        before = await state_of(bot, incident.id)
        responses = len(bot.emulator.calls_to("response_url"))
        reply = await bot.slack.block_actions(
            "leak_task_done",
            user_id=role.user,
            channel_id=CHANNEL,
            message_ts=str(message["ts"]),
            message=message,
            block_id=done_buttons(message)[str(task.id)],
        )
        assert reply.status == 200 and reply.text == "", (name, reply.text)
        text = await ephemeral_after(bot, responses, reply.response_url)
        after = await state_of(bot, incident.id)
        if not expect.allowed:
            assert expect.key is not None
            assert text == t(role.lang, expect.key), name
            assert_refusal_written(before, after, role, expect)
            [row] = [
                a for a in await bot.store.audit_trail(incident.id) if a.action == "task.refused"
            ]
            assert row.actor_id == role.user and row.after == {"task": task.id}
            continue
        title = task.title.get(role.lang) or task.ref
        expected = t(role.lang, "task.done_ok", title=title)
        if task.ref in PARTNER_REPORT_REFS:  # the partner's report: how was it? (issue 12)
            expected += " " + t(role.lang, "partner_report.question", title=title)
        assert text == expected, name
        stored = await bot.store.get_task(task.id)
        assert stored is not None and stored.status == "done" and stored.done_by == role.user
        assert after.audit[len(before.audit) :] == ((role.user, "task.done"),), name
        open_tasks[incident.id].remove(task)
        await bot.deliver()
