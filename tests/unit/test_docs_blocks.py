"""The document controls' Block Kit (bot/slack/blocks/documents.py, docs/contracts.md "Slack"):
the modal's choices and Slack's limits, and the tasks' draft buttons."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.domain.documents import DOCUMENT_KINDS
from bot.drafting import task_document
from bot.slack.blocks.common import MESSAGE_BLOCKS_MAX
from bot.slack.blocks.documents import chosen, docs_modal
from bot.slack.blocks.tasks import tasks_message
from bot.store import TaskRecord

T0 = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)


def task(task_id: int, ref: str) -> TaskRecord:
    return TaskRecord(
        id=task_id,
        incident_id="LEAK-2026-0001",
        round=1,
        kind="deadline",
        ref=ref,
        title={"ja": ref, "en": ref},
        owner_id="UOWNER0001",
        due_at=T0,
        status="open",
        done_by=None,
        done_at=None,
        created_at=T0,
    )


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_modal_offers_every_document_within_slacks_limits(lang: str) -> None:
    view = docs_modal("LEAK-2026-0001", lang)
    assert view["callback_id"] == "leak_docs" and view["private_metadata"] == "LEAK-2026-0001"
    for key in ("title", "submit", "close"):
        assert 0 < len(view[key]["text"]) <= 24
    inputs = {block["block_id"]: block["element"] for block in view["blocks"][1:]}
    assert [o["value"] for o in inputs["doc_kind"]["options"]] == list(DOCUMENT_KINDS)
    assert [o["value"] for o in inputs["doc_lang"]["options"]] == ["ja", "en"]
    assert [o["value"] for o in inputs["doc_format"]["options"]] == ["md", "docx"]
    assert inputs["doc_lang"]["initial_option"]["value"] == lang
    for element in inputs.values():
        assert all(len(o["text"]["text"]) <= 75 for o in element["options"])


def test_chosen_reads_a_selected_value_and_ignores_malformed_state() -> None:
    values = {"doc_kind": {"value": {"selected_option": {"value": "ppc_final"}}}}
    assert chosen(values, "doc_kind") == "ppc_final"
    assert chosen(values, "doc_lang") == ""
    assert chosen({"doc_kind": {"value": {"selected_option": None}}}, "doc_kind") == ""
    assert chosen("junk", "doc_kind") == ""


def test_tasks_with_a_document_carry_its_draft_button() -> None:
    assert task_document("appi_preliminary") == "ppc_preliminary"
    assert task_document("partner_initial") == "partner_request"
    assert task_document("checklist:0") is None
    message = tasks_message(
        [task(1, "appi_preliminary"), task(2, "checklist:0"), task(3, "partner_report")],
        "en",
        ZoneInfo("Asia/Tokyo"),
        incident_id="LEAK-2026-0001",
    )
    drafts = [
        element["value"]
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]
    assert drafts == ["LEAK-2026-0001|ppc_preliminary", "LEAK-2026-0001|partner_request"]


def test_many_tasks_with_documents_stay_within_fifty_blocks() -> None:
    tasks = [task(n, "appi_final") for n in range(1, 40)]
    message = tasks_message(tasks, "ja", ZoneInfo("Asia/Tokyo"), incident_id="LEAK-2026-0001")
    assert len(message["blocks"]) <= MESSAGE_BLOCKS_MAX
    assert message["blocks"][-1]["type"] == "context"  # "N more"
