"""Notifications worded for Slack, when the outbox sends them.

The application says what must be told to whom (bot/notifications.py); this turns one into the
body of a Web API call, from the incident's state at the moment of sending, with the pure
builders of bot/slack/blocks. Typed text is escaped here (mrkdwn): "<!channel>" in a partner's
name must not mention anyone.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from bot.documents import DocumentFormat

Body = dict[str, Any]


@dataclass(frozen=True)
class FileBody:
    """A file to upload: its name, the title shown in Slack, and its bytes."""

    filename: str
    title: str
    content: bytes


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
    def __init__(
        self,
        service: IncidentService,
        follow: FollowThrough,
        *,
        company_name: str | None = None,
        company_contact: str | None = None,
        playbook_path: Path | None = None,
    ) -> None:
        self.service = service
        self.follow = follow
        self.company_name = company_name
        self.company_contact = company_contact
        # The document templates sit beside the playbook (bot/documents.py documents_dir).
        self.playbook_path = playbook_path
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

    async def render_file(
        self, notification: Notification, record: IncidentRecord | None, *, now: datetime
    ) -> FileBody:
        """The file a file notification uploads: the draft of facts["document"] for
        `document`, every stored incident as CSV for `export`."""
        lang = str(notification.facts.get("lang") or notification.lang or self.channel_lang)
        if notification.kind == "export":
            return await self._export_csv(lang, now)
        if notification.kind != "document" or record is None:
            raise ValueError(f"{notification.kind!r} is not a file")
        # Lazily: python-docx and Jinja2 load only when a document is drafted.
        from bot.documents import documents_dir, draft, facts_from_incident

        facts = notification.facts
        kind = str(facts["document"])
        fmt: DocumentFormat = "docx" if facts.get("format") == "docx" else "md"
        incident_facts = facts_from_incident(
            record,
            self.playbook,
            lang,
            tz=self.tz,
            now=now.astimezone(self.tz),
            company_name=self.company_name,
            company_contact=self.company_contact,
        )
        document = draft(
            kind,
            incident_facts,
            lang,
            fmt,
            playbook=self.playbook,
            templates=documents_dir(self.playbook_path),
        )
        title = t(lang, "docs.file_title", kind=t(lang, f"docs.kind.{kind}"), incident_id=record.id)
        return FileBody(filename=document.filename, title=title, content=document.content)

    async def _export_csv(self, lang: str, now: datetime) -> FileBody:
        """Every incident as `leakbot export --format csv` writes it (UTF-8 with a BOM, CRLF)."""
        from bot.domain.export import write_export
        from bot.store.export import iter_export

        out = io.StringIO(newline="")
        out.write("\ufeff")  # the BOM: Excel then reads the file as UTF-8
        async with contextlib.aclosing(iter_export(self.service.store)) as pages:
            await write_export(pages, out, fmt="csv", playbook=self.playbook)
        day = now.astimezone(self.tz).strftime("%Y-%m-%d")
        return FileBody(
            filename=f"leakbot-export-{day}.csv",
            title=t(lang, "docs.export_title", date=day),
            content=out.getvalue().encode("utf-8"),
        )
