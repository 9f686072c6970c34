"""Follow-up tasks, reminder stages and escalation times (pure functions)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import subprocess
import sys
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.domain.answers import parse_answers
from bot.domain.deadlines import compute_deadlines
from bot.domain.followups import (
    attention_fingerprint,
    attention_settings,
    due_reminders,
    escalation_times,
    overdue_grace,
    plan_tasks,
    reminder_steps,
    restarted_due,
)
from bot.domain.playbook import Playbook, load_playbook

PLAYBOOK = load_playbook()
JST = ZoneInfo("Asia/Tokyo")
AWARE = datetime(2026, 11, 26, 10, 0, tzinfo=JST)  # a Thursday
DECIDED = AWARE + timedelta(hours=2)
HOURS = (24, 0)

PERSONAL_LEAK = {
    "partner": "株式会社アクメ",
    "data_kinds": ["customer_personal"],
    "affected_persons": 1200,
    "encrypted": "no",
    "regions": ["jp", "eu"],
    "cause": "intentional",
}


def deadlines_for(raw: dict[str, object]) -> list:  # type: ignore[type-arg]
    answers = parse_answers(raw, PLAYBOOK, tz=JST, now=AWARE)
    return compute_deadlines(answers, PLAYBOOK, tz=JST, now=AWARE)


# -- plan_tasks -----------------------------------------------------------------------------------


def test_plan_tasks_owners_and_dues() -> None:
    deadlines = deadlines_for(PERSONAL_LEAK)
    plans = plan_tasks(
        deadlines=deadlines,
        action="suspend_and_legal",
        playbook=PLAYBOOK,
        reporter_id="UREPORTER",
        approver_id="UAPPROVER",
        decided_at=DECIDED,
    )
    by_ref = {plan.ref: plan for plan in plans}
    # Deadlines first, in due order, each with the due the deadline computed.
    assert [p.ref for p in plans if p.kind == "deadline"] == [d.id for d in deadlines]
    assert {
        "partner_initial",
        "partner_report",
        "appi_preliminary",
        "appi_final",
        "appi_notify_persons",
        "gdpr_authority",
    } == {p.ref for p in plans if p.kind == "deadline"}
    for deadline in deadlines:
        assert by_ref[deadline.id].due_at == deadline.due
    assert by_ref["gdpr_authority"].due_at == AWARE + timedelta(hours=72)
    # The playbook names the owner: the reporter chases the partner, the approver the regulator.
    assert by_ref["partner_report"].owner_id == "UREPORTER"
    assert not by_ref["partner_report"].regulator
    for ref in ("appi_preliminary", "appi_final", "appi_notify_persons", "gdpr_authority"):
        assert by_ref[ref].owner_id == "UAPPROVER" and by_ref[ref].regulator, ref
    # Then the chosen action's checklist: the reporter's, due a day after the decision.
    items = PLAYBOOK.checklists["suspend_and_legal"]
    checklist = [p for p in plans if p.kind == "checklist"]
    assert [p.ref for p in checklist] == [f"checklist:{n}" for n in range(len(items))]
    assert [p.title_ja for p in checklist] == [item.ja for item in items]
    assert [p.title_en for p in checklist] == [item.en for item in items]
    assert all(p.owner_id == "UREPORTER" for p in checklist)
    assert all(p.due_at == DECIDED + timedelta(hours=24) for p in checklist)
    assert by_ref["appi_preliminary"].title_ja == "個人情報保護委員会への速報"


def test_plan_tasks_without_personal_data_is_the_partner_report_and_checklist() -> None:
    plans = plan_tasks(
        deadlines=deadlines_for({"partner": "x", "data_kinds": ["internal_minor"]}),
        action="request_report",
        playbook=PLAYBOOK,
        reporter_id="UR",
        approver_id="UA",
        decided_at=DECIDED,
    )
    assert [p.ref for p in plans if p.kind == "deadline"] == ["partner_initial", "partner_report"]
    assert len([p for p in plans if p.kind == "checklist"]) == len(
        PLAYBOOK.checklists["request_report"]
    )


@pytest.mark.parametrize(
    ("action", "asked"),
    [("continue_unchanged", False), ("continue_with_concern", True), ("request_report", True)],
)
def test_partner_report_only_when_the_decided_action_asks_for_it(action: str, asked: bool) -> None:
    plans = plan_tasks(
        deadlines=deadlines_for(PERSONAL_LEAK),
        action=action,  # type: ignore[arg-type]
        playbook=PLAYBOOK,
        reporter_id="UR",
        approver_id="UA",
        decided_at=DECIDED,
    )
    refs = [p.ref for p in plans if p.kind == "deadline"]
    assert ("partner_report" in refs) is asked
    assert "partner_initial" in refs and "appi_final" in refs


def test_a_later_round_gives_the_partner_a_new_period_but_not_the_regulators() -> None:
    deadlines = deadlines_for(PERSONAL_LEAK)
    later = AWARE + timedelta(days=16)  # Sat Dec 12, after the first report's due (Dec 10)
    common = {
        "deadlines": deadlines,
        "action": "consider_suspension",
        "playbook": PLAYBOOK,
        "reporter_id": "UR",
        "approver_id": "UA",
        "decided_at": later,
    }
    first = {p.ref: p.due_at for p in plan_tasks(**common)}  # type: ignore[arg-type]
    second = {p.ref: p.due_at for p in plan_tasks(**common, round_=2)}  # type: ignore[arg-type]
    assert second["partner_report"] == datetime(2026, 12, 26, 23, 59, 59, tzinfo=JST)
    assert first["partner_report"] < later < second["partner_report"]  # type: ignore[operator]
    for ref in ("appi_preliminary", "appi_final", "appi_notify_persons", "gdpr_authority"):
        assert second[ref] == first[ref], ref


def test_restarted_due() -> None:
    deadlines = {d.id: d for d in deadlines_for(PERSONAL_LEAK)}
    start = datetime(2026, 12, 1, 15, 30, tzinfo=JST)
    assert restarted_due(deadlines["partner_report"], start) == datetime(
        2026, 12, 15, 23, 59, 59, tzinfo=JST
    )
    assert restarted_due(deadlines["gdpr_authority"], start) == start + timedelta(hours=72)


def test_overdue_grace() -> None:
    rules = PLAYBOOK.deadlines
    # 速報: the target is 3 days, "shown overdue after 5 days".
    assert overdue_grace(rules["appi_preliminary"]) == timedelta(days=2)
    assert overdue_grace(rules["appi_final"]) == timedelta(0)
    assert overdue_grace(rules["gdpr_authority"]) == timedelta(0)
    assert overdue_grace(None) == timedelta(0)
    # Aware Mon Nov 16, 2026: target Thu Nov 19 and overdue after Sat Nov 21 → (Mon Nov 23 is a
    # holiday) Tue Nov 24. The grace after the target (2 days) is a lower bound: both days
    # skip closed days, counted from awareness (bot.domain.deadlines).
    monday = parse_answers(
        {**PERSONAL_LEAK, "aware_at": "2026-11-16T10:00"}, PLAYBOOK, tz=JST, now=AWARE
    )
    deadline = next(
        d
        for d in compute_deadlines(monday, PLAYBOOK, tz=JST, now=AWARE)
        if d.id == "appi_preliminary"
    )
    assert deadline.overdue_after is not None
    assert deadline.due + overdue_grace(deadline.rule) <= deadline.overdue_after


# -- reminders ------------------------------------------------------------------------------------

DUE = datetime(2026, 12, 3, 23, 59, 59, tzinfo=JST)
LONG_AGO = DUE - timedelta(days=7)


def stages(now: datetime, *, created_at: datetime = LONG_AGO) -> list[str]:
    return [step.stage for step in due_reminders(DUE, HOURS, now, created_at=created_at)]


def test_reminder_steps_in_time_order() -> None:
    steps = reminder_steps(DUE, (0, 24, 24, 2))
    assert [(s.hours_before, s.stage) for s in steps] == [
        (24, "before_24h"),
        (2, "before_2h"),
        (0, "due"),
    ]
    assert steps[0].at == DUE - timedelta(hours=24)


def test_due_reminders_24h_before_and_at_due() -> None:
    assert stages(DUE - timedelta(hours=24, seconds=1)) == []
    assert stages(DUE - timedelta(hours=24)) == ["before_24h"]
    assert stages(DUE - timedelta(hours=1)) == ["before_24h"]
    assert stages(DUE) == ["due"]
    assert stages(DUE + timedelta(days=3)) == ["due"]


def test_a_stage_overtaken_while_down_is_not_sent_late() -> None:
    # Down from two days before until after the due time: only "due", never "due in 24 h".
    assert stages(DUE + timedelta(minutes=5)) == ["due"]
    thirty_hours_before = DUE - timedelta(hours=30)
    steps = due_reminders(DUE, (48, 24, 0), thirty_hours_before, created_at=LONG_AGO)
    assert [step.stage for step in steps] == ["before_48h"]


def test_a_task_created_3h_before_due_gets_no_24h_reminder() -> None:
    created = DUE - timedelta(hours=3)
    assert stages(created, created_at=created) == []
    assert stages(DUE - timedelta(hours=1), created_at=created) == []
    assert stages(DUE, created_at=created) == ["due"]


def test_a_task_created_exactly_24h_before_due_gets_no_24h_reminder() -> None:
    created = DUE - timedelta(hours=24)  # a checklist item, due a day after the decision
    assert stages(created, created_at=created) == []
    assert stages(DUE, created_at=created) == ["due"]
    assert stages(DUE - timedelta(hours=24), created_at=created - timedelta(seconds=1)) == [
        "before_24h"
    ]


def test_a_task_created_after_its_due_time_is_reminded_at_once() -> None:
    created = DUE + timedelta(hours=1)
    assert stages(created, created_at=created) == ["due"]


# -- escalation -----------------------------------------------------------------------------------


def test_escalation_times_plain_hours() -> None:
    policy = PLAYBOOK.approval
    assert not policy.working_hours_only
    friday = datetime(2026, 11, 27, 17, 30, tzinfo=JST)
    assert escalation_times(friday, "suspend_and_legal", policy, JST) == [
        friday + timedelta(hours=1),
        friday + timedelta(hours=2),
    ]
    assert escalation_times(friday, "request_report", policy, JST) == [
        friday + timedelta(hours=4),
        friday + timedelta(hours=8),
    ]


def test_escalation_times_working_hours_only() -> None:
    policy = PLAYBOOK.approval.model_copy(update={"working_hours_only": True})
    friday = datetime(2026, 11, 27, 17, 30, tzinfo=JST)
    monday = datetime(2026, 11, 30, tzinfo=JST)
    # 30 minutes on Friday, the rest from Monday 09:00.
    assert escalation_times(friday, "request_report", policy, JST) == [
        monday.replace(hour=12, minute=30),
        monday.replace(hour=16, minute=30),
    ]
    assert escalation_times(friday, "suspend_and_legal", policy, JST) == [
        monday.replace(hour=9, minute=30),
        monday.replace(hour=10, minute=30),
    ]
    # Reported on a Saturday: the clock starts on Monday morning.
    saturday = datetime(2026, 11, 28, 11, 0, tzinfo=JST)
    assert escalation_times(saturday, "request_report", policy, JST)[0] == monday.replace(hour=13)
    # A national holiday is not a working day (2026-11-23, 勤労感謝の日, is a Monday).
    before_holiday = datetime(2026, 11, 20, 17, 30, tzinfo=JST)
    assert escalation_times(before_holiday, "request_report", policy, JST)[0] == datetime(
        2026, 11, 24, 12, 30, tzinfo=JST
    )


@pytest.mark.parametrize("steps", [0, 1, 3])
def test_escalation_steps_from_the_playbook(steps: int) -> None:
    policy = PLAYBOOK.approval.model_copy(update={"escalation_steps": steps})
    start = datetime(2026, 11, 26, 10, 0, tzinfo=JST)
    times = escalation_times(start, "consider_suspension", policy, JST)
    assert times == [start + timedelta(hours=4 * (n + 1)) for n in range(steps)]


# -- the settings stored times follow (attention_settings, attention_fingerprint) ------------


def _with(playbook: Playbook, **parts: dict[str, Any]) -> Playbook:
    """`playbook` with some fields of its parts (approval, schedules, …) replaced."""
    update = {
        name: getattr(playbook, name).model_copy(update=fields) for name, fields in parts.items()
    }
    return playbook.model_copy(update=update)


def _fingerprint(playbook: Playbook, tz: ZoneInfo = JST) -> str:
    return attention_fingerprint(attention_settings(playbook, tz))


def test_attention_fingerprint_is_sha256_of_canonical_json() -> None:
    # Key order, spacing and non-ASCII text cannot change it.
    settings = {"b": [0, 24], "a": {"é": 1.5, "c": None}}
    canonical = '{"a":{"c":null,"\\u00e9":1.5},"b":[0,24]}'
    assert attention_fingerprint(settings) == hashlib.sha256(canonical.encode()).hexdigest()
    assert attention_fingerprint(dict(reversed(settings.items()))) == attention_fingerprint(
        settings
    )


def test_attention_fingerprint_is_the_same_in_another_process() -> None:
    # Another hash seed (set order) and a fresh import of the playbook.
    code = (
        "from zoneinfo import ZoneInfo\n"
        "from bot.domain.followups import attention_fingerprint, attention_settings\n"
        "from bot.domain.playbook import load_playbook\n"
        "print(attention_fingerprint(attention_settings(load_playbook(), ZoneInfo('Asia/Tokyo'))))"
    )
    child = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )
    assert child.stdout.strip() == _fingerprint(PLAYBOOK)


@pytest.mark.parametrize(
    "changed",
    [
        {"approval": {"timeout_hours": 8}},
        {"approval": {"timeout_hours_by_recommendation": {"suspend_and_legal": 2}}},
        {"approval": {"escalation_steps": 3}},
        {"approval": {"working_hours_only": True}},
        {"schedules": {"reminder_hours_before": (48, 24, 0)}},
        {"schedules": {"reminder_hours_before": (24,)}},
    ],
)
def test_a_setting_that_times_depend_on_changes_the_fingerprint(
    changed: dict[str, dict[str, Any]],
) -> None:
    assert _fingerprint(_with(PLAYBOOK, **changed)) != _fingerprint(PLAYBOOK)


def test_a_deadlines_overdue_grace_leaves_the_fingerprint() -> None:
    # A task keeps its overdue moment from when it was created (`tasks.overdue_after`), as it
    # keeps its due time: a new grace applies to later decisions, nothing stored is re-timed.
    rule = PLAYBOOK.deadlines["appi_preliminary"]
    longer = rule.model_copy(update={"overdue_after_days": (rule.overdue_after_days or 0) + 1})
    deadlines = {**PLAYBOOK.deadlines, "appi_preliminary": longer}
    assert _fingerprint(PLAYBOOK.model_copy(update={"deadlines": deadlines})) == _fingerprint(
        PLAYBOOK
    )


def test_what_times_do_not_depend_on_leaves_the_fingerprint() -> None:
    same = _fingerprint(PLAYBOOK)
    # The timezone counts only with working hours; stages are a set; a task's due time is fixed
    # when it is created; the summary's timing is not the follow-through's.
    assert _fingerprint(PLAYBOOK, ZoneInfo("Europe/Berlin")) == same
    assert _fingerprint(_with(PLAYBOOK, schedules={"reminder_hours_before": (0, 24, 24)})) == same
    assert _fingerprint(_with(PLAYBOOK, schedules={"checklist_due_hours": 48})) == same
    assert _fingerprint(_with(PLAYBOOK, schedules={"weekly_summary_cron": "0 8 * * tue"})) == same
    assert _fingerprint(_with(PLAYBOOK, approval={"default_required_approvals": 2})) == same
    # The same timeout spelled per recommendation is the same timeout.
    spelled = {"timeout_hours_by_recommendation": {"suspend_and_legal": 1, "request_report": 4}}
    assert _fingerprint(_with(PLAYBOOK, approval=spelled)) == same


def test_with_working_hours_the_timezone_and_holidays_count() -> None:
    working = _with(PLAYBOOK, approval={"working_hours_only": True})
    settings = attention_settings(working, JST)["escalation"]["working_hours"]
    assert settings["timezone"] == "Asia/Tokyo"
    assert settings["holidays"] == importlib.metadata.version("holidays")
    assert _fingerprint(working, ZoneInfo("Europe/Berlin")) != _fingerprint(working)
    hours = working.approval.working_hours
    no_holidays = _with(
        working,
        approval={"working_hours": hours.model_copy(update={"skip_holidays": False})},
    )
    assert attention_settings(no_holidays, JST)["escalation"]["working_hours"]["holidays"] is None
    later = _with(working, approval={"working_hours": hours.model_copy(update={"end_hour": 19})})
    assert _fingerprint(later) != _fingerprint(working)
