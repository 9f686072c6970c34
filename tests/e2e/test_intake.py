"""Intake: /leak → the guided modal (steps, Back, checks) → incident → recommendation message."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from conftest import (
    APPROVER_1,
    CHANNEL,
    MILD_STEPS,
    REPORTER,
    REPORTER_EN,
    STEPS,
    T0,
    Leakbot,
)
from e2e_support import (
    actions_blocks,
    channel_posts,
    dm_posts,
    first_context,
    footprint,
    inputs,
    mrkdwn_texts,
    recommendation,
    text_of,
    walk_to_confirm,
)
from slackemu import payloads

pytestmark = pytest.mark.usefixtures("no_rejections")

OPTION_KEYS = [
    "continue_unchanged",
    "continue_with_concern",
    "request_report",
    "consider_suspension",
    "suspend_and_legal",
]


def check_step_view(bot: Leakbot, view: dict[str, Any], step: int, progress: str) -> None:
    """Progress, input block ids = answer ids, select option values = answer values."""
    assert progress in first_context(view), first_context(view)
    playbook_step = bot.playbook.steps[step]
    blocks = inputs(view)
    assert list(blocks) == list(playbook_step.questions)
    for question_id, block in blocks.items():
        question = bot.playbook.question(question_id)
        element = block["element"]
        if question.kind in ("one_of", "several_of"):
            assert [o["value"] for o in element["options"]] == [c.value for c in question.choices]
        assert block["optional"] is (not question.required)


def check_recommendation(
    message: dict[str, Any], incident_id: str, partner: str, recommended: str
) -> None:
    text = text_of(message)
    blocks = message["blocks"]
    assert blocks[0]["type"] == "header"
    assert incident_id in blocks[0]["text"]["text"] and partner in blocks[0]["text"]["text"]
    # The bars, as counts of the 100 respondents: never a made-up percentage.
    assert "█" in text and "100人中" in text and "%" not in text
    assert "*理由*" in text  # reasons
    assert "回答者の声" in text and "回答 #" in text  # respondents' comments
    assert "期限" in text and "最初にやること" in text  # deadlines, checklist
    [controls] = actions_blocks(message)
    elements = {e["action_id"]: e for e in controls["elements"]}
    assert list(elements) == ["leak_approve", "leak_choose", "leak_reject", "leak_docs"]
    approve = elements["leak_approve"]
    # The incident, the round and the action shown (a stale button cannot vote for another).
    assert approve["type"] == "button" and approve["value"] == f"{incident_id}:1:{recommended}"
    assert {"title", "text", "confirm", "deny"} <= set(approve["confirm"])
    assert incident_id in approve["confirm"]["text"]["text"]
    choose = elements["leak_choose"]
    assert choose["type"] == "static_select"
    assert [o["value"] for o in choose["options"]] == OPTION_KEYS
    reject = elements["leak_reject"]
    assert reject["type"] == "button" and reject["value"] == incident_id
    assert recommended in OPTION_KEYS


async def test_happy_path_japanese_modal_steps_back_and_message(leakbot: Leakbot) -> None:
    emu = leakbot.emulator
    aware = T0 - timedelta(hours=2)
    first = {**STEPS[0], "aware_at": aware}
    view_id, seen = await walk_to_confirm(leakbot, REPORTER, [first, *STEPS[1:]])
    assert not emu.calls_to("views.update")  # ja user, ja default: no language switch
    for step in range(4):
        check_step_view(leakbot, seen[step], step, f"ステップ {step + 1}/5")
    assert "取引先の情報漏洩" in seen[0]["title"]["text"]
    confirm = seen[4]
    assert "ステップ 5/5" in first_context(confirm)
    summary = text_of(confirm)
    for shown in (
        "株式会社アクメ",
        "取引先からの連絡",
        "顧客の個人情報",
        "1200",
        "日本、EU/EEA",
        "故意",
        "委託先の従業員が顧客名簿を持ち出した",
        f"<!date^{int(aware.timestamp())}^",
    ):
        assert shown in summary, shown
    assert confirm["submit"]["text"] == "報告する"

    # Back from the summary: step 4 again, its answers kept.
    await leakbot.slack.block_actions("leak_back", user_id=REPORTER, view=view_id)
    await emu.wait_for_call("views.update", count=1)
    step4 = emu.view(view_id)
    assert "ステップ 4/5" in first_context(step4)
    fields = inputs(step4)
    assert fields["dependency"]["element"]["initial_option"]["value"] == "low"
    assert [o["value"] for o in fields["contract"]["element"]["initial_options"]] == [
        "confidentiality_remedies"
    ]
    assert fields["description"]["element"]["initial_value"] == STEPS[3]["description"]

    # Back again while changing a value on step 4: step 3 shows its answers, and the change
    # typed on step 4 is kept for when the user comes forward again.
    await leakbot.slack.block_actions(
        "leak_back", user_id=REPORTER, view=view_id, answers={"dependency": "high"}
    )
    await emu.wait_for_call("views.update", count=2)
    step3 = emu.view(view_id)
    assert "ステップ 3/5" in first_context(step3)
    fields = inputs(step3)
    assert fields["cause"]["element"]["initial_option"]["value"] == "intentional"
    assert fields["partner_response"]["element"]["initial_option"]["value"] == "concealing"
    await leakbot.submit_step(view_id, REPORTER, STEPS[2])
    step4 = emu.view(view_id)
    assert inputs(step4)["dependency"]["element"]["initial_option"]["value"] == "high"
    await leakbot.submit_step(view_id, REPORTER, STEPS[3])  # back to "low"
    assert "ステップ 5/5" in first_context(emu.view(view_id))

    before = await footprint(leakbot.store, emu)
    assert before.incidents == 0  # nothing is stored before the summary is confirmed
    reply = await leakbot.submit_step(view_id, REPORTER, {})
    assert reply.json["response_action"] == "update"
    done = emu.view(view_id)
    assert "LEAK-2026-0001" in text_of(done) and "株式会社アクメ" in text_of(done)
    assert "submit" not in done or done["submit"] is None

    [record] = await leakbot.store.list_incidents()
    assert record.id == "LEAK-2026-0001" and record.reporter_id == REPORTER
    assert record.answers["dependency"] == "low"
    assert record.answers["aware_at"].startswith("2026-11-26T08:00")
    assert record.answers["prior_incidents"] == 0
    assert record.recommendation == "suspend_and_legal"
    assert not channel_posts(emu)  # the outbox sends, not the request
    await leakbot.deliver()

    [post] = channel_posts(emu)
    message = recommendation(emu, record.id)
    check_recommendation(message, record.id, "株式会社アクメ", record.recommendation)
    text = text_of(message)
    for fact in ("取引先からの連絡", "1,200", "日本、EU/EEA", "隠ぺい", "委託先の従業員が"):
        assert fact in text, fact
    assert "推奨対応: 即時停止・法的措置を検討" in text
    # Policy is labelled as policy (the company's rule and the law), with how many it moved;
    # the respondents' own stances come with their words.
    assert "社内方針「故意の漏洩で当社に被害が出ている場合は" in text
    # The reporting rule applies too, but the higher company rule already lifts everyone: a rule
    # that moved nobody is not given as a reason.
    assert "法令「" not in text
    assert (
        "顧客の個人情報が漏れたため、100人中1人が「即時停止・法的措置を検討」に変わります" in text
    )
    for deadline in ("個人情報保護委員会への速報", "個人情報保護委員会への確報", "GDPR"):
        assert deadline in text, deadline
    assert "カリフォルニア" not in text  # no us_ca region
    assert "<@UREPORTER1>" in text
    [receipt] = dm_posts(emu, REPORTER)
    assert "LEAK-2026-0001" in receipt.args["text"] and "受け付けました" in receipt.args["text"]
    assert post.args["channel"] == CHANNEL
    emu.assert_no_rejections()


async def test_happy_path_english_reporter(leakbot: Leakbot) -> None:
    emu = leakbot.emulator
    view_id, seen = await walk_to_confirm(leakbot, REPORTER_EN, STEPS)
    # Opened at once in the default language, then switched to the user's locale.
    [opened] = emu.calls_to("views.open")
    assert "ステップ 1/5" in first_context(opened.args["view"])
    [switched] = emu.calls_to("views.update")
    assert switched.args["view_id"] == view_id
    assert "Step 1/5" in first_context(switched.args["view"])
    assert emu.calls.index(opened) < emu.calls.index(switched)
    for step in range(4):
        check_step_view(leakbot, seen[step], step, f"Step {step + 1}/5")
    assert seen[0]["title"]["text"] == "Partner leak"
    confirm = seen[4]
    assert "Step 5/5" in first_context(confirm)
    summary = text_of(confirm)
    for shown in ("Notice from the partner", "Customers' personal data", "Japan, EU/EEA"):
        assert shown in summary, shown
    await leakbot.slack.block_actions("leak_back", user_id=REPORTER_EN, view=view_id)
    await emu.wait_for_call("views.update", count=2)
    assert "Step 4/5" in first_context(emu.view(view_id))
    await leakbot.submit_step(view_id, REPORTER_EN, STEPS[3])
    await leakbot.submit_step(view_id, REPORTER_EN, {})
    done = text_of(emu.view(view_id))
    assert "Logged as *LEAK-2026-0001*" in done

    await leakbot.deliver()
    [record] = await leakbot.store.list_incidents()
    assert record.locale == "en"
    # The channel keeps LEAKBOT_LANGUAGE (ja); the reporter's DM is in English.
    message = recommendation(emu, record.id)
    check_recommendation(message, record.id, "株式会社アクメ", record.recommendation)
    assert "Recommended" not in text_of(message)
    [receipt] = dm_posts(emu, REPORTER_EN)
    assert receipt.args["text"].startswith(":white_check_mark: LEAK-2026-0001 (株式会社アクメ)")
    assert "is logged" in receipt.args["text"]
    # The decision reaches the reporter in English too; the channel message stays Japanese.
    await leakbot.click(record, "leak_choose", APPROVER_1, selected_option="request_report")
    await emu.wait_for_call("response_url")
    await leakbot.deliver()
    decided = dm_posts(emu, REPORTER_EN)[1].args["text"]
    assert decided.startswith("LEAK-2026-0001 is decided:"), decided
    assert "Decided: *Request a report and improvement plan*" in decided
    assert "*報告書・改善書の提出を求める* に決定" in text_of(recommendation(emu, record.id))
    emu.assert_no_rejections()


# -- per-field checks -------------------------------------------------------------------------


async def _open_at_step(bot: Leakbot, user_id: str, step: int) -> str:
    view_id = await bot.open_modal(user_id)
    for answers in STEPS[:step]:
        await bot.submit_step(view_id, user_id, answers)
    return view_id


def _raw_values(bot: Leakbot, view_id: str, answers: dict[str, Any], **raw: Any) -> Any:
    """view.state.values for `answers`, then raw element values Slack's client would refuse."""
    values = payloads.values_from_answers(
        bot.emulator.view(view_id), answers, enforce_required=False
    )
    for block_id, value in raw.items():
        element = values[block_id]["value"]
        key = {
            "number_input": "value",
            "plain_text_input": "value",
            "datetimepicker": "selected_date_time",
        }[element["type"]]
        element[key] = value
    return values


async def _submit_raw(bot: Leakbot, view_id: str, user_id: str, values: Any) -> dict[str, Any]:
    reply = await bot.slack.view_submission(view_id, user_id=user_id, values=values)
    assert reply.status == 200, reply.text
    assert isinstance(reply.json, dict), reply.text
    return reply.json


async def test_field_errors_in_japanese_write_nothing(leakbot: Leakbot) -> None:
    emu = leakbot.emulator
    # Step 1: missing partner, and an awareness time in the future.
    view_id = await _open_at_step(leakbot, REPORTER, 0)
    start = await footprint(leakbot.store, emu)
    values = _raw_values(
        leakbot,
        view_id,
        {"source": "partner_notice"},
        partner=None,
        aware_at=int((T0 + timedelta(days=1)).timestamp()),
    )
    ack = await _submit_raw(leakbot, view_id, REPORTER, values)
    assert ack["response_action"] == "errors"
    assert ack["errors"]["partner"] == "入力が必要です。"
    values = _raw_values(
        leakbot, view_id, STEPS[0], aware_at=int((T0 + timedelta(hours=1)).timestamp())
    )
    ack = await _submit_raw(leakbot, view_id, REPORTER, values)
    assert ack == {
        "response_action": "errors",
        "errors": {"aware_at": "未来の日時は指定できません。"},
    }
    assert "ステップ 1/5" in first_context(emu.view(view_id))  # still on step 1

    await leakbot.submit_step(view_id, REPORTER, STEPS[0])
    # Step 2: a negative and a non-numeric count (bypassing the number_input's own checks).
    for raw, message in (
        ("-5", "0から"),
        ("abc", "0以上の整数で入力してください。"),
        ("1.5", "整数"),
    ):
        values = _raw_values(leakbot, view_id, STEPS[1], affected_persons=raw)
        ack = await _submit_raw(leakbot, view_id, REPORTER, values)
        assert ack["response_action"] == "errors", raw
        assert list(ack["errors"]) == ["affected_persons"], raw
        assert message in ack["errors"]["affected_persons"], (raw, ack)
    assert "ステップ 2/5" in first_context(emu.view(view_id))

    # Two data kinds that cannot both be true: named by their labels, nothing moves on.
    contradicting = {**STEPS[1], "data_kinds": ["internal_minor", "management_critical"]}
    ack = await _submit_raw(
        leakbot, view_id, REPORTER, _raw_values(leakbot, view_id, contradicting)
    )
    assert ack["response_action"] == "errors"
    assert list(ack["errors"]) == ["data_kinds"]
    assert "矛盾" in ack["errors"]["data_kinds"]
    assert "internal_minor" not in ack["errors"]["data_kinds"]  # labels, not ids
    assert "ステップ 2/5" in first_context(emu.view(view_id))

    await leakbot.submit_step(view_id, REPORTER, STEPS[1])
    await leakbot.submit_step(view_id, REPORTER, STEPS[2])
    # Step 4: a description over the limit.
    values = _raw_values(leakbot, view_id, STEPS[3], description="あ" * 1001)
    ack = await _submit_raw(leakbot, view_id, REPORTER, values)
    assert ack == {
        "response_action": "errors",
        "errors": {"description": "1000文字以内で入力してください（現在1001文字）。"},
    }
    emu.assert_no_rejections()  # every error is keyed by an input block of the shown view
    after = await footprint(leakbot.store, emu)
    assert (after.incidents, after.outbox, after.audit) == (0, 0, 0)
    assert after.api_calls == start.api_calls

    # Corrected, the report goes through with the corrected answers only.
    await leakbot.submit_step(view_id, REPORTER, STEPS[3])
    await leakbot.submit_step(view_id, REPORTER, {})
    [record] = await leakbot.store.list_incidents()
    assert record.answers["affected_persons"] == 1200
    assert record.answers["description"] == STEPS[3]["description"]


async def test_field_errors_in_english(leakbot: Leakbot) -> None:
    view_id = await _open_at_step(leakbot, REPORTER_EN, 0)
    values = _raw_values(
        leakbot,
        view_id,
        {"source": "partner_notice"},
        partner=None,
        aware_at=int((T0 + timedelta(days=1)).timestamp()),
    )
    ack = await _submit_raw(leakbot, view_id, REPORTER_EN, values)
    assert ack["errors"] == {
        "partner": "This answer is required.",
        "aware_at": "The time cannot be in the future.",
    }
    await leakbot.submit_step(view_id, REPORTER_EN, STEPS[0])
    values = _raw_values(leakbot, view_id, STEPS[1], affected_persons="-1")
    ack = await _submit_raw(leakbot, view_id, REPORTER_EN, values)
    assert ack["errors"]["affected_persons"].startswith("Enter a whole number from 0 to ")
    values = _raw_values(leakbot, view_id, STEPS[1], affected_persons="many")
    ack = await _submit_raw(leakbot, view_id, REPORTER_EN, values)
    assert ack["errors"] == {"affected_persons": "Enter a whole number, 0 or more."}
    await leakbot.submit_step(view_id, REPORTER_EN, STEPS[1])
    await leakbot.submit_step(view_id, REPORTER_EN, STEPS[2])
    values = _raw_values(leakbot, view_id, STEPS[3], description="x" * 1500)
    ack = await _submit_raw(leakbot, view_id, REPORTER_EN, values)
    assert ack["errors"] == {"description": "Use at most 1000 characters (now 1500)."}
    assert await leakbot.store.list_incidents() == []
    assert await leakbot.store.outbox_items() == []
    leakbot.emulator.assert_no_rejections()


# -- prior incidents --------------------------------------------------------------------------


def _prior(message: dict[str, Any]) -> str:
    """The prior-incidents fact field of a recommendation message."""
    for block in message["blocks"]:
        for field in block.get("fields") or []:
            if field["text"].startswith("*この取引先の過去の漏洩*"):
                return str(field["text"]).split("\n", 1)[1]
    raise AssertionError("no prior-incidents fact")


async def test_prior_incidents_counted_from_the_database(leakbot: Leakbot) -> None:
    emu = leakbot.emulator
    first = await leakbot.report(REPORTER, STEPS)
    other = await leakbot.report(REPORTER, MILD_STEPS)  # Globex: another partner
    second_steps = [{**MILD_STEPS[0], "partner": "アクメ株式会社"}, *MILD_STEPS[1:]]
    second = await leakbot.report(REPORTER_EN, second_steps)
    third_steps = [{**MILD_STEPS[0], "partner": "ｱｸﾒ(株)"}, *MILD_STEPS[1:]]
    third = await leakbot.report(REPORTER, third_steps)

    assert [r.answers["prior_incidents"] for r in (first, other, second, third)] == [0, 0, 1, 2]
    shown = [_prior(recommendation(emu, r.id)) for r in (first, other, second, third)]
    assert shown == ["0件", "0件", "1件", "2件"]
    assert second.partner == "アクメ株式会社"  # shown as typed
    assert "アクメ株式会社" in recommendation(emu, second.id)["blocks"][0]["text"]["text"]
    emu.assert_no_rejections()


async def test_typed_text_cannot_mention_or_format(leakbot: Leakbot) -> None:
    """What a reporter types is shown, never read as a mention (<!channel>, <@U…>) or link."""
    emu = leakbot.emulator
    partner = "<!channel> Evil & Co <@UAPPROVER1>"
    steps = [
        {**MILD_STEPS[0], "partner": partner},
        *MILD_STEPS[1:3],
        {**MILD_STEPS[3], "description": "<!here> see <https://evil.example|this>"},
    ]
    record = await leakbot.report(REPORTER_EN, steps)
    assert record.partner == partner  # stored as typed
    message = recommendation(emu, record.id)
    assert partner in message["blocks"][0]["text"]["text"]  # the header is plain text
    receipt = dm_posts(emu, REPORTER_EN)[-1].args
    for text in [*mrkdwn_texts(message), *mrkdwn_texts(receipt)]:
        for raw in ("<!channel>", "<!here>", "<@UAPPROVER1>", "<https://evil"):
            assert raw not in text, (raw, text)
    assert "&lt;!channel&gt; Evil &amp; Co" in message["text"]
    emu.assert_no_rejections()
