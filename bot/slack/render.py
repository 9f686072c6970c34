"""Notifications worded for Slack, when the outbox sends them.

The application says what must be told to whom (bot/notifications.py); this turns one into the
body of a Web API call, from the incident's state at the moment of sending, with the pure
builders of bot/slack/blocks. Typed text is escaped here (mrkdwn): "<!channel>" in a partner's
name must not mention anyone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.domain.changes import FactChanges
from bot.domain.explain import format_moment, option_label
from bot.domain.i18n import t
from bot.domain.vocabulary import OPTION_KEYS
from bot.followthrough import FollowThrough
from bot.notifications import Notification
from bot.service import IncidentService
from bot.slack.blocks.common import escape
from bot.slack.blocks.lifecycle import closed_status_line, incident_controls
from bot.slack.blocks.recommendation import IncidentView, decided_message, recommendation_message
from bot.slack.blocks.status import mentions, status_line
from bot.slack.blocks.tasks import tasks_message
from bot.slack.blocks.updates import what_changed_text
from bot.slack.home import HomeTab
from bot.store import IncidentRecord

Body = dict[str, Any]


def incident_view(service: IncidentService, record: IncidentRecord) -> IncidentView:
    """What the messages show about an incident, from its stored record."""
    return IncidentView(
        incident_id=record.id,
        partner=record.partner,
        reporter_id=record.reporter_id,
        answers=service.answers_of(record),
        assessment=service.assessment_of(record),
        round=record.round,
    )


class NotificationRenderer:
    def __init__(self, service: IncidentService, follow: FollowThrough) -> None:
        self.service = service
        self.follow = follow
        self.playbook = service.playbook
        self.tz = service.config.tz
        self.channel_lang = service.config.channel_lang
        # The App Home tab (set by bot.slack.app.build_deps).
        self.home: HomeTab | None = None

    def _moment(self, iso: Any, lang: str) -> str:
        return format_moment(datetime.fromisoformat(str(iso)).astimezone(self.tz), lang)

    async def render_home(self, notification: Notification) -> Body:
        """views.publish arguments for a `home` notification, from the database now."""
        person = notification.channel or ""
        if self.home is None or not person:
            raise ValueError("a home notification needs a person and the App Home tab")
        return {"user_id": person, "view": await self.home.view_for(person, opened=False)}

    async def render(self, notification: Notification, record: IncidentRecord) -> Body:
        """The call's body without its placement (channel/ts come from the sender)."""
        kind = notification.kind
        lang = notification.lang or self.channel_lang
        facts = notification.facts
        partner = escape(record.partner)
        if kind == "recommendation":
            return recommendation_message(
                self.playbook, incident_view(self.service, record), self.channel_lang
            )
        if kind in ("decided", "superseded", "reopened"):
            return self._decided(record)
        if kind == "closed":
            return await self._closed(record)
        if kind == "facts_update":
            # The incident's message as its status shows it: the buttons while it waits.
            if record.status == "pending":
                return recommendation_message(
                    self.playbook, incident_view(self.service, record), self.channel_lang
                )
            if record.status == "closed":
                return await self._closed(record)
            return self._decided(record)
        if kind == "facts_note":
            text = what_changed_text(
                self.playbook,
                FactChanges.from_json(facts["changes"]),
                lang,
                self.tz,
                incident_id=record.id,
                partner=record.partner,
                who=f"<@{facts['who']}>",
                outcome=str(facts["outcome"]),
            )
            return {"text": text}
        if kind == "channel_summary":
            return self._decided(record)
        if kind == "channel_link":
            lang = self.channel_lang
            channel = f"<#{facts['channel_id']}>"
            return {
                "text": t(lang, "incident_channel.link", incident_id=record.id, channel=channel)
            }
        if kind in ("tasks", "tasks_update"):
            tasks = await self.follow.round_tasks(record)
            return tasks_message(tasks, self.channel_lang, self.tz, incident_id=record.id)
        if kind == "reporter_receipt":
            top = option_label(
                self.playbook, self.service.assessment_of(record).recommendation, lang
            )
            return {
                "text": t(lang, "dm.receipt", incident_id=record.id, partner=partner, option=top)
            }
        if kind == "reporter_decided":
            status = status_line(self.playbook, record, lang, self.tz)
            return {"text": t(lang, "dm.decided", incident_id=record.id, status=status)}
        if kind == "reporter_rejected":
            user = f"<@{record.decided_by[0]}>" if record.decided_by else "?"
            reason = escape(record.decision_reason or "")
            text = t(lang, "dm.rejected", incident_id=record.id, user=user, reason=reason)
            return {"text": text}
        if kind == "reminder":
            titles = [str(title) for title in facts["titles"]]
            hours = int(facts["hours"])
            if len(titles) > 1:
                key = "reminder.due_many" if hours == 0 else "reminder.before_many"
            else:
                key = "reminder.due" if hours == 0 else "reminder.before"
            text = t(
                lang,
                key,
                incident_id=record.id,
                partner=partner,
                title=titles[0],
                titles="\n".join(f"• {title}" for title in titles),
                count=len(titles),
                hours=hours,
                due=self._moment(facts["due"], lang),
            )
            return {"text": text}
        if kind == "overdue":
            text = t(
                lang,
                "reminder.regulator_overdue",
                approvers=mentions(facts["audience"]),
                incident_id=record.id,
                partner=partner,
                title=str(facts["title"]),
                due=self._moment(facts["due"], lang),
            )
            return {"text": text}
        if kind == "reassess_note":
            return {"text": self._reassess_note(record, facts, lang)}
        if kind in ("escalation", "escalation_dm"):
            option = str(facts["option"])
            text = t(
                lang,
                "escalation.reminder" if int(facts["step"]) == 1 else "escalation.second_level",
                approvers=mentions(facts["audience"]),
                incident_id=record.id,
                partner=partner,
                hours=int(facts["hours"]),
                option=option_label(self.playbook, option, lang)
                if option in OPTION_KEYS
                else option,
            )
            if int(facts["step"]) > 1:
                # From this step on they may decide it too (bot/slack/deciders.py).
                text += "\n" + t(lang, "escalation.second_level_may_decide")
            return {"text": text}
        raise ValueError(f"unknown notification {kind!r}")

    def _decided(self, record: IncidentRecord) -> Body:
        """The incident's message without the decision buttons, with its own controls."""
        lang = self.channel_lang
        return decided_message(
            self.playbook,
            incident_view(self.service, record),
            lang,
            status_line=status_line(self.playbook, record, lang, self.tz),
            controls=incident_controls(record.id, record.status, lang),
        )

    async def _closed(self, record: IncidentRecord) -> Body:
        """A closed incident's message: its outcome, who closed it and why, and Reopen."""
        lang = self.channel_lang
        closure = await self.follow.lifecycle.latest_closure(record)
        if record.status != "closed" or closure is None:
            return self._decided(record)
        line = closed_status_line(
            lang,
            outcome=closure.outcome,
            who=f"<@{closure.closed_by}>",
            when=self._moment(closure.closed_at.isoformat(), lang),
            note=closure.note,
        )
        return decided_message(
            self.playbook,
            incident_view(self.service, record),
            lang,
            status_line=line,
            controls=incident_controls(record.id, record.status, lang),
        )

    def _reassess_note(self, record: IncidentRecord, facts: Mapping[str, Any], lang: str) -> str:
        """Why the partner's report re-opened the decision. Rows queued before the report
        became an event carry only `due`: the follow-through's missed report, as `slow`."""
        quality = str(facts.get("quality") or "missing")
        response = str(
            facts.get("response") or self.playbook.schedules.partner_report_reassess_response
        )
        title_facts = facts.get("title")
        ref = str(facts.get("ref") or "partner_report")
        rule = self.playbook.deadlines.get(ref)  # type: ignore[call-overload]
        if isinstance(title_facts, Mapping) and title_facts.get(lang):
            title = str(title_facts[lang])
        elif rule is not None:
            title = rule.label.get(lang)
        else:
            title = ref
        common = {
            "incident_id": record.id,
            "partner": escape(record.partner),
            "title": escape(title),
            "response": self.playbook.question("partner_response").choice(response).label.get(lang),
        }
        actor = facts.get("actor")
        if not actor:
            due = facts.get("due")
            when = self._moment(due, lang) if due else "-"
            return t(lang, "reassess.partner_report_missed_as", due=when, **common)
        return t(lang, f"reassess.partner_report_{quality}", user=f"<@{actor}>", **common)
