"""`/leak help`, `/leak list`, `/leak status …` and unknown sub-commands (an empty ack, then an
ephemeral answer through the response_url)."""

from __future__ import annotations

import pytest
from conftest import APPROVER_1, MILD_STEPS, REPORTER, REPORTER_EN, Leakbot
from e2e_support import assert_no_traceback, command_answer, mrkdwn_texts, text_of
from slackemu import SlackReply, validate_message

pytestmark = pytest.mark.usefixtures("no_rejections")


async def _command(bot: Leakbot, text: str, user_id: str = REPORTER) -> tuple[SlackReply, str]:
    reply, body = await command_answer(bot, text, user_id)
    assert body.get("response_type") == "ephemeral"
    assert validate_message(body.get("text"), body.get("blocks")) == []
    assert_no_traceback(reply.text)
    return reply, text_of(body)


async def test_help_in_the_users_language(leakbot: Leakbot) -> None:
    _, ja = await _command(leakbot, "help", REPORTER)
    assert "leakbot の使い方" in ja and "/leak status LEAK-2026-0001" in ja
    assert "法的助言ではありません" in ja
    _, en = await _command(leakbot, "HELP", REPORTER_EN)
    assert "How to use leakbot" in en and "/leak list" in en
    assert "not legal advice" in en
    assert not leakbot.emulator.calls_to("views.open")


async def test_list_shows_open_incidents(leakbot: Leakbot) -> None:
    _, empty = await _command(leakbot, "list")
    assert "該当するインシデント（対応中）はありません。" in empty
    first = await leakbot.report(REPORTER)
    second = await leakbot.report(REPORTER_EN, MILD_STEPS)
    answered = len(leakbot.emulator.calls_to("response_url"))  # the commands' answers too
    await leakbot.click(second, "leak_approve", APPROVER_1)
    await leakbot.emulator.wait_for_call("response_url", count=answered + 1)
    # An approver sees every open incident.
    _, listing = await _command(leakbot, "list", APPROVER_1)
    assert "インシデント（対応中）2件中 1〜2件目（新しい順）" in listing
    assert first.id in listing and "株式会社アクメ" in listing and "承認待ち" in listing
    assert second.id in listing and "Globex Inc." in listing and "に決定" in listing
    # Anyone else sees the incidents they reported, in their language.
    _, own = await _command(leakbot, "list", REPORTER)
    assert (
        "インシデント（対応中）1件中 1〜1件目" in own and first.id in own and second.id not in own
    )
    _, english = await _command(leakbot, "list", REPORTER_EN)
    assert (
        "Incidents (open): 1–1 of 1, newest first" in english
        and second.id in english
        and first.id not in english
    )


async def test_status_shows_facts_decision_deadlines_and_audit(leakbot: Leakbot) -> None:
    record = await leakbot.report(REPORTER)
    _, pending = await _command(leakbot, f"status {record.id}")
    assert "状態: 承認待ち" in pending
    answered = len(leakbot.emulator.calls_to("response_url"))  # the commands' answers too
    await leakbot.click(record, "leak_choose", APPROVER_1, selected_option="consider_suspension")
    await leakbot.emulator.wait_for_call("response_url", count=answered + 1)
    await leakbot.deliver()

    _, status = await _command(leakbot, "status leak-2026-0001")  # case does not matter
    assert record.id in status and "株式会社アクメ" in status  # header
    assert "推奨: *即時停止・法的措置を検討*" in status
    assert "*取引停止を検討する* に決定" in status and f"<@{APPROVER_1}>" in status  # decision
    for fact in ("取引先からの連絡", "1,200", "故意"):  # facts
        assert fact in status, fact
    for deadline in ("個人情報保護委員会への速報", "個人情報保護委員会への確報", "GDPR"):
        assert deadline in status, deadline
    assert "監査ログ" in status  # audit summary
    for entry in (f"<@{REPORTER}>: 報告", f"<@{APPROVER_1}>: 承認", f"<@{APPROVER_1}>: 決定"):
        assert entry in status, entry

    # Someone with no part in the incident learns nothing, not even that it exists.
    _, outsider = await _command(leakbot, f"status {record.id}", REPORTER_EN)
    assert outsider.strip().startswith(f"There is no incident {record.id}.")
    # Their own incident, in their language.
    own = await leakbot.report(REPORTER_EN, MILD_STEPS)
    _, english = await _command(leakbot, f"status {own.id}", REPORTER_EN)
    assert "Recommended: *" in english and "Globex Inc." in english
    assert "Audit trail" in english and "Deadlines" in english


async def test_status_of_unknown_incident_and_garbage(leakbot: Leakbot) -> None:
    _, missing = await _command(leakbot, "status LEAK-2099-9999")
    assert missing.strip().startswith("LEAK-2099-9999 というインシデントは見つかりません。")
    _, missing_en = await _command(leakbot, "status LEAK-2099-9999", REPORTER_EN)
    assert "There is no incident LEAK-2099-9999." in missing_en

    _, garbage = await _command(leakbot, "status garbage")
    assert "「status garbage」は分かりませんでした。" in garbage
    assert "leakbot の使い方" in garbage  # with the help
    _, nothing = await _command(leakbot, "status")
    assert "分かりませんでした" in nothing and "leakbot の使い方" in nothing

    _, unknown = await _command(leakbot, "frobnicate <!channel> & more")
    assert "分かりませんでした" in unknown and "leakbot の使い方" in unknown
    assert "<!channel>" not in unknown  # user text is escaped
    _, unknown_en = await _command(leakbot, "approve everything", REPORTER_EN)
    assert '"approve everything" was not understood.' in unknown_en
    assert "How to use leakbot" in unknown_en
    assert await leakbot.store.list_incidents() == []
    assert not leakbot.emulator.calls_to("views.open")


async def test_status_and_list_escape_typed_text(leakbot: Leakbot) -> None:
    partner = "<!channel> & Co"
    steps = [{**MILD_STEPS[0], "partner": partner}, *MILD_STEPS[1:]]
    record = await leakbot.report(REPORTER, steps)
    for text in (f"status {record.id}", "list"):
        _, body = await command_answer(leakbot, text, REPORTER)
        for mrkdwn in mrkdwn_texts(body):
            assert "<!channel>" not in mrkdwn, (text, mrkdwn)
        assert "&lt;!channel&gt; &amp; Co" in " ".join(mrkdwn_texts(body))
