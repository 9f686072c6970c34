"""Files upload v2 through the outbox: a drafted document lands in the incident's thread once.

files.getUploadURLExternal → POST the bytes to the emulator's upload URL (it checks the
declared length) → files.completeUploadExternal into the recommendation's thread. The file id
is kept in the outbox item before the completion, so a retry completes it, never re-uploads.
"""

from __future__ import annotations

import contextlib
import csv
import io
from typing import Any

import aiohttp
import pytest
from conftest import (
    APPROVER_1,
    APPROVER_2,
    CHANNEL,
    MILD_STEPS,
    REPORTER,
    STRANGER,
    Leakbot,
    start_leakbot,
    stop_leakbot,
)
from e2e_support import command_answer, response_texts, text_of
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slackemu import FakeClock, SlackEmulator, SlackReply

from bot.documents import documents_dir, draft, facts_from_incident
from bot.domain.export import write_export
from bot.domain.i18n import t
from bot.drafting import Drafting, check_request
from bot.store import IncidentRecord, Store
from bot.store.export import iter_export

pytestmark = pytest.mark.usefixtures("no_rejections")


def expected_draft(bot: Leakbot, record: IncidentRecord, kind: str, lang: str, fmt: str) -> bytes:
    settings = bot.app.deps.settings
    facts = facts_from_incident(
        record,
        bot.playbook,
        lang,
        tz=settings.tz,
        now=bot.clock.now().astimezone(settings.tz),
        company_name=settings.LEAKBOT_COMPANY_NAME,
        company_contact=settings.LEAKBOT_COMPANY_CONTACT,
    )
    fmt_literal = "docx" if fmt == "docx" else "md"
    return draft(
        kind,
        facts,
        lang,
        fmt_literal,
        playbook=bot.playbook,
        templates=documents_dir(settings.LEAKBOT_PLAYBOOK),
    ).content


def docx_text(content: bytes) -> str:
    import docx  # python-docx, only here

    document = docx.Document(io.BytesIO(content))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join([p.text for p in document.paragraphs] + cells)


async def queue_document(
    bot: Leakbot, record: IncidentRecord, kind: str, lang: str = "ja", fmt: str = "md"
) -> str:
    request = check_request(kind, lang, fmt)
    assert request is not None
    drafting = Drafting(bot.store, bot.clock)
    return await drafting.request(
        record, request, actor_id=REPORTER, approvers=[APPROVER_1], request_key="test-1"
    )


async def test_a_queued_document_is_uploaded_into_the_thread_once(leakbot: Leakbot) -> None:
    record = await leakbot.report()
    thread_ts = leakbot.recommendation_ts(record)
    assert await queue_document(leakbot, record, "ppc_preliminary") == "queued"
    # The same request again (e.g. a retried interaction) queues nothing.
    assert await queue_document(leakbot, record, "ppc_preliminary") == "duplicate"
    await leakbot.deliver()

    [shared] = leakbot.emulator.files_shared(CHANNEL, thread_ts)
    assert shared["filename"] == f"ppc_preliminary-{record.id}-ja.md"
    assert shared["content"] == expected_draft(leakbot, record, "ppc_preliminary", "ja", "md")
    assert record.id in shared["title"]
    [declared] = leakbot.emulator.successful_calls_to("files.getUploadURLExternal")
    assert int(declared.args["length"]) == len(shared["content"])
    [complete] = leakbot.emulator.successful_calls_to("files.completeUploadExternal")
    assert complete.args["channel_id"] == CHANNEL and complete.args["thread_ts"] == thread_ts
    [item] = [i for i in await leakbot.store.outbox_items(record.id) if i.kind == "document"]
    assert item.status == "sent" and item.result is not None
    assert item.result["file_id"] == shared["id"]


async def test_a_word_draft_is_the_same_bytes_as_leakbot_draft(leakbot: Leakbot) -> None:
    record = await leakbot.report()
    await queue_document(leakbot, record, "partner_request", lang="en", fmt="docx")
    await leakbot.deliver()
    [shared] = leakbot.emulator.files_shared(CHANNEL, leakbot.recommendation_ts(record))
    assert shared["filename"] == f"partner_request-{record.id}-en.docx"
    assert shared["content"][:2] == b"PK"  # a zip container: the .docx
    expected = expected_draft(leakbot, record, "partner_request", "en", "docx")
    # A .docx is a zip whose entries carry the time they were written: compare the text.
    assert docx_text(shared["content"]) == docx_text(expected)
    assert "partner" in docx_text(shared["content"]).lower()


async def test_stopped_between_upload_and_completion_completes_the_same_file(
    emulator: SlackEmulator, clock: FakeClock, database_url: str, store: Store
) -> None:
    first = await start_leakbot(emulator, clock, database_url)
    try:
        record = await first.report()
        thread_ts = first.recommendation_ts(record)
        await queue_document(first, record, "notice_persons")
        # The completion's connection drops: uploaded, recorded, never shared. Then it stops.
        emulator.fail_next("files.completeUploadExternal", disconnect=True)
        await first.deliver()
    finally:
        await stop_leakbot(first)
    assert emulator.files_shared() == []
    [uploaded] = emulator.uploaded_files().values()
    assert uploaded is not None
    [item] = [i for i in await store.outbox_items(record.id) if i.kind == "document"]
    assert item.status == "pending" and item.result is not None
    recorded = item.result["file_id"]

    second = await start_leakbot(emulator, clock, database_url)
    try:
        clock.advance(3600)
        await second.deliver()
    finally:
        await stop_leakbot(second)
    [shared] = emulator.files_shared(CHANNEL, thread_ts)
    assert shared["id"] == recorded
    # Completed on retry, never uploaded a second time.
    assert len(emulator.calls_to("files.getUploadURLExternal")) == 1
    assert len(emulator.successful_calls_to("files.completeUploadExternal")) == 1


async def test_the_emulator_refuses_a_wrong_length_and_an_unknown_file(
    emulator: SlackEmulator,
) -> None:
    client = AsyncWebClient(token="xoxb-test", base_url=emulator.api_url)
    answer = await client.files_getUploadURLExternal(filename="a.md", length=5)
    async with (
        aiohttp.ClientSession() as session,
        session.post(str(answer["upload_url"]), data=b"too long") as response,
    ):
        assert response.status == 400
    with pytest.raises(SlackApiError) as never_uploaded:
        await client.files_completeUploadExternal(
            files=[{"id": str(answer["file_id"]), "title": "a"}], channel_id=CHANNEL
        )
    assert never_uploaded.value.response["error"] == "file_not_found"
    with pytest.raises(SlackApiError) as unknown:
        await client.files_completeUploadExternal(
            files=[{"id": "F000000999", "title": "a"}], channel_id=CHANNEL
        )
    assert unknown.value.response["error"] == "file_not_found"
    assert emulator.files_shared() == []


# -- in Slack: leak_docs and the tasks' draft buttons ------------------------------------------


async def open_docs_modal(bot: Leakbot, record: IncidentRecord, user_id: str) -> str:
    before = len(bot.emulator.calls_to("views.open"))
    await bot.click(record, "leak_docs", user_id, value=record.id)
    call = await bot.emulator.wait_for_call("views.open", count=before + 1)
    assert call.ok and call.response is not None, call.response
    return str(call.response["view"]["id"])


async def test_leak_docs_uploads_the_chosen_draft_into_the_thread(leakbot: Leakbot) -> None:
    record = await leakbot.report(REPORTER, MILD_STEPS)
    view_id = await open_docs_modal(leakbot, record, REPORTER)
    view = leakbot.emulator.view(view_id)
    assert view["callback_id"] == "leak_docs" and view["private_metadata"] == record.id
    reply = await leakbot.slack.view_submission(
        view_id,
        user_id=REPORTER,
        answers={"doc_kind": "partner_request", "doc_lang": "en", "doc_format": "md"},
    )
    assert reply.status == 200 and not (reply.json or {}).get("errors"), reply.text
    await leakbot.deliver()

    [shared] = leakbot.emulator.files_shared(CHANNEL, leakbot.recommendation_ts(record))
    assert shared["filename"] == f"partner_request-{record.id}-en.md"
    assert shared["content"] == expected_draft(leakbot, record, "partner_request", "en", "md")
    trail = await leakbot.store.audit_trail(record.id)
    assert [e.actor_id for e in trail if e.action == "document.requested"] == [REPORTER]


async def test_leak_docs_refuses_someone_who_is_not_involved(leakbot: Leakbot) -> None:
    record = await leakbot.report(REPORTER, MILD_STEPS)
    view_id = await open_docs_modal(leakbot, record, STRANGER)
    reply = await leakbot.slack.view_submission(
        view_id,
        user_id=STRANGER,
        answers={"doc_kind": "ppc_preliminary", "doc_lang": "en", "doc_format": "md"},
    )
    errors = (reply.json or {}).get("errors") or {}
    assert "reporter" in str(errors.get("doc_kind")), reply.text
    await leakbot.deliver()
    assert leakbot.emulator.files_shared() == []
    assert leakbot.emulator.calls_to("files.getUploadURLExternal") == []
    trail = await leakbot.store.audit_trail(record.id)
    assert [e.actor_id for e in trail if e.action == "document.refused"] == [STRANGER]


async def decided_with_task_draft_button(
    leakbot: Leakbot, record: IncidentRecord
) -> tuple[IncidentRecord, dict[str, Any], str]:
    """APPROVER_1 approves `record`; returns it as stored, its tasks' thread message and the
    value of that message's first draft button."""
    await leakbot.click(record, "leak_approve", APPROVER_1, value=record.id)
    await leakbot.emulator.wait_for_call("response_url")
    await leakbot.deliver()
    stored = await leakbot.store.get_incident(record.id)
    assert stored is not None and stored.status == "decided"
    parent = leakbot.recommendation_ts(record)
    decided = leakbot.emulator.message(CHANNEL, parent)
    assert "leak_docs" in str(decided["blocks"])  # the decided message keeps the docs button
    [tasks] = [
        m
        for m in leakbot.emulator.messages(CHANNEL)
        if m.get("thread_ts") == parent and "leak_task_draft" in str(m.get("blocks"))
    ]
    buttons = [
        element
        for block in tasks["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == "leak_task_draft"
    ]
    assert buttons, tasks["blocks"]
    return stored, tasks, str(buttons[0]["value"])


async def click_in_tasks(
    leakbot: Leakbot, tasks: dict[str, Any], action_id: str, user_id: str, value: str
) -> SlackReply:
    """A button of the tasks' thread message clicked by `user_id`."""
    reply = await leakbot.slack.block_actions(
        action_id,
        user_id=user_id,
        value=value,
        channel_id=CHANNEL,
        message_ts=str(tasks["ts"]),
    )
    assert reply.status == 200
    return reply


async def test_a_task_draft_button_uploads_its_document(leakbot: Leakbot) -> None:
    record = await leakbot.report(REPORTER, MILD_STEPS)
    stored, tasks, value = await decided_with_task_draft_button(leakbot, record)
    parent = leakbot.recommendation_ts(record)
    incident_id, _, kind = value.partition("|")
    assert incident_id == record.id
    answered = len(leakbot.emulator.calls_to("response_url"))
    await click_in_tasks(leakbot, tasks, "leak_task_draft", APPROVER_1, value)
    # The draft is queued after the ack; its "queued" answer on the response_url says it is.
    await leakbot.emulator.wait_for_call("response_url", count=answered + 1)
    await leakbot.deliver()
    [shared] = leakbot.emulator.files_shared(CHANNEL, parent)
    assert shared["filename"] == f"{kind}-{record.id}-ja.md"
    assert shared["content"] == expected_draft(leakbot, stored, kind, "ja", "md")


async def test_a_task_draft_while_slack_does_not_say_who_approves(leakbot: Leakbot) -> None:
    """A group member's draft button while the group lookup gets an HTML 502 page (and its
    members were never learnt): told to try again, not refused; the next click drafts."""
    emulator = leakbot.emulator
    record = await leakbot.report(REPORTER, MILD_STEPS)
    # APPROVER_1 is named in LEAKBOT_APPROVERS: deciding needs no group lookup to succeed.
    emulator.fail_next("usergroups.users.list", html=True)
    _, tasks, value = await decided_with_task_draft_button(leakbot, record)
    emulator.fail_next("usergroups.users.list", html=True)
    answered = len(emulator.calls_to("response_url"))
    reply = await click_in_tasks(leakbot, tasks, "leak_task_draft", APPROVER_2, value)
    await emulator.wait_for_call("response_url", count=answered + 1)
    [answer] = response_texts(emulator, reply.response_url)
    assert answer == t("ja", "approve.approvers_unknown_short")
    await leakbot.deliver()
    assert emulator.files_shared() == []
    trail = await leakbot.store.audit_trail(record.id)
    assert not [e for e in trail if e.action == "document.refused"]
    assert [c.status for c in emulator.calls_to("usergroups.users.list")] == [502, 502]

    reply = await click_in_tasks(leakbot, tasks, "leak_task_draft", APPROVER_2, value)
    await emulator.wait_for_call("response_url", count=answered + 2)
    await leakbot.deliver()
    assert len(emulator.files_shared(CHANNEL, leakbot.recommendation_ts(record))) == 1


async def test_a_task_ticked_while_slack_does_not_say_who_approves(leakbot: Leakbot) -> None:
    """The Done button is the reporter's, the owner's and the approvers': a group member who
    ticks it while the group lookup gets an HTML 502 page is told to try again; nothing is
    recorded, and the next click ticks it."""
    emulator = leakbot.emulator
    record = await leakbot.report(REPORTER, MILD_STEPS)
    emulator.fail_next("usergroups.users.list", html=True)
    _, tasks, _ = await decided_with_task_draft_button(leakbot, record)
    task = next(
        task
        for task in await leakbot.store.tasks_for(record.id)
        if task.owner_id != APPROVER_2 and task.status == "open"
    )
    emulator.fail_next("usergroups.users.list", html=True)
    answered = len(emulator.calls_to("response_url"))
    reply = await click_in_tasks(leakbot, tasks, "leak_task_done", APPROVER_2, str(task.id))
    await emulator.wait_for_call("response_url", count=answered + 1)
    [answer] = response_texts(emulator, reply.response_url)
    assert "Slack に確認できなかった" in answer and record.id in answer, answer
    trail = await leakbot.store.audit_trail(record.id)
    assert not [e for e in trail if e.action == "task.refused"]
    [still] = [t for t in await leakbot.store.tasks_for(record.id) if t.id == task.id]
    assert still.status == "open"

    await click_in_tasks(leakbot, tasks, "leak_task_done", APPROVER_2, str(task.id))
    await emulator.wait_for_call("response_url", count=answered + 2)
    [done] = [t for t in await leakbot.store.tasks_for(record.id) if t.id == task.id]
    assert (done.status, done.done_by) == ("done", APPROVER_2)


# -- /leak export -------------------------------------------------------------------------------


async def stored_csv(store: Store, bot: Leakbot) -> str:
    """What `leakbot export --format csv` writes for this database."""
    out = io.StringIO(newline="")
    out.write("\ufeff")
    async with contextlib.aclosing(iter_export(store)) as pages:
        await write_export(pages, out, fmt="csv", playbook=bot.playbook)
    return out.getvalue()


async def test_leak_export_uploads_the_incidents_as_csv_to_the_approvers_dm(
    leakbot: Leakbot,
) -> None:
    first = await leakbot.report(REPORTER, MILD_STEPS)
    second = await leakbot.report(REPORTER)
    _, answer = await command_answer(leakbot, "export", APPROVER_1)
    assert "CSV" in text_of(answer), answer
    await leakbot.deliver()

    [shared] = leakbot.emulator.files_shared(APPROVER_1)
    assert shared["channel"] == leakbot.emulator.dm_channel(APPROVER_1)
    assert shared["filename"].startswith("leakbot-export-") and shared["filename"].endswith(".csv")
    text = shared["content"].decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    assert [row["id"] for row in rows] == [first.id, second.id]
    assert [row["partner"] for row in rows] == [first.partner, second.partner]
    assert text == await stored_csv(leakbot.store, leakbot)
    # Nothing went to the escalation channel.
    assert leakbot.emulator.files_shared(CHANNEL) == []


async def test_leak_export_is_for_approvers_only(leakbot: Leakbot) -> None:
    await leakbot.report(REPORTER, MILD_STEPS)
    for user in (REPORTER, STRANGER):
        _, answer = await command_answer(leakbot, "export", user)
        # Refused in the person's language (STRANGER's locale is en-US).
        refusal = "Only approvers can export" if user == STRANGER else "承認者だけです"
        assert refusal in text_of(answer) and "CSV" not in text_of(answer), answer
    await leakbot.deliver()
    assert leakbot.emulator.files_shared() == []
    assert leakbot.emulator.calls_to("files.getUploadURLExternal") == []


async def test_leak_export_while_slack_does_not_say_who_approves(leakbot: Leakbot) -> None:
    """A group member asks while Slack's edge answers the group lookup with an HTML page: told
    to try again, not that only approvers may export; the next ask is served."""
    emulator = leakbot.emulator
    await leakbot.report(REPORTER, MILD_STEPS)
    emulator.fail_next("usergroups.users.list", html=True)
    _, answer = await command_answer(leakbot, "export", APPROVER_2)
    assert "Slack に確認できませんでした" in text_of(answer), answer
    assert "承認者だけです" not in text_of(answer)
    await leakbot.deliver()
    assert emulator.files_shared() == []

    _, answer = await command_answer(leakbot, "export", APPROVER_2)
    assert "CSV" in text_of(answer), answer
    await leakbot.deliver()
    assert len(emulator.files_shared(APPROVER_2)) == 1
