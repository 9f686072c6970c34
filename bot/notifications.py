"""What the application tells people, as data: the outbox stores it, the Slack edge words it.

The application decides that something must be said, to whom and about which incident (a
`Notification`); `bot/slack/render.py` turns it into a Slack message when the outbox sends it,
from the incident's state at that moment. Nothing here knows Block Kit or mrkdwn.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, get_args

from bot.store import OutboxMessage

NotificationKind = Literal[
    # The incident, its assessment and the approval buttons, in the escalation channel.
    "recommendation",
    # The reporter's DM: "received, LEAK-… recommends …".
    "reporter_receipt",
    # The recommendation message again, updated: no buttons, the outcome instead.
    "decided",
    # The same update when a new round (re-assessment) replaces an earlier decision.
    "superseded",
    # The reporter's DM after a decision or a rejection.
    "reporter_decided",
    "reporter_rejected",
    # The decided incident's tasks in the recommendation's thread; updated as they are done.
    "tasks",
    "tasks_update",
    # A task owner's DM before/at a due time. facts: titles, count, hours, due.
    "reminder",
    # A regulator deadline passed, in the escalation channel. facts: title, due, audience.
    "overdue",
    # The thread note that the partner's report (missed or insufficient) re-opened the decision.
    # facts: quality, response, title, ref, due, actor (None: the follow-through at the due time).
    "reassess_note",
    # A pending decision waited too long: a broadcast thread reply, and DMs at the second level.
    # facts: audience, hours, option, step.
    "escalation",
    "escalation_dm",
    # A person's App Home tab (channel: the user id), published again from the database when
    # the outbox sends it. No incident.
    "home",
    # The incident's message updated when it is closed (the outcome, Reopen) or reopened.
    "closed",
    "reopened",
    # New facts: the "what changed" thread note (facts: changes, who, outcome) and the incident's
    # message updated in place when the recommendation stayed the same.
    "facts_note",
    "facts_update",
    # A file uploaded into the incident's thread (files upload v2). facts: document (a document
    # KIND), lang, format (md or docx), requested_by (the user who asked).
    "document",
    # `/leak export`: the incidents as CSV, uploaded to the asking approver's DM (no incident).
    # facts: requested_by.
    "export",
    # LEAKBOT_INCIDENT_CHANNELS=private (bot/incident_channels.py): the incident's private
    # channel created and its people invited (facts: name, members); the incident's summary
    # posted in it; the link to it in the escalation message's thread.
    "incident_channel",
    "channel_summary",
    "channel_link",
]
NOTIFICATION_KINDS: Final[frozenset[str]] = frozenset(get_args(NotificationKind))
# The kinds the Slack edge posts as updates of an earlier message (the one named by `ref`).
UPDATES: Final = frozenset(
    {"decided", "superseded", "tasks_update", "closed", "reopened", "facts_update"}
)
# The Slack call of each kind that is neither a post nor an update.
METHODS: Final = {"home": "views.publish", "incident_channel": "conversations.create"}
# The kinds the Slack edge delivers as a file (upload, then share), not as a message.
FILES: Final = frozenset({"document", "export"})
# The outbox `method` of a file: the call that shares it (the upload precedes it).
FILE_METHOD: Final = "files.completeUploadExternal"
PAYLOAD_KEY: Final = "notification"
# App Home publishes are coalesced: at most one per person per window (see `home_refresh`).
HOME_WINDOW_SECONDS: Final = 5
# Only the tabs of people who opened theirs this recently are published again after a change
# (anyone else gets a fresh tab when they open it: Slack sends app_home_opened every time).
HOME_VIEWER_TTL: Final = timedelta(hours=24)
FORMAT_VERSION: Final = 1


@dataclass(frozen=True)
class Notification:
    """One thing to tell, and who hears it.

    `channel`: a channel id or a user id (a DM); None when `ref` or `thread` place it.
    `ref`: update the message this incident's outbox sent as that kind (e.g. "recommendation").
    `thread`: reply in the thread of the message sent as that kind.
    `within`: post in the channel created as that kind (e.g. "incident_channel"); when that
    could not be created, `thread` places it instead (if set).
    `lang`: the recipient's language; None means the channel language.
    `facts`: what the kind's words need beyond the incident's current state, fixed when it was
    decided that it must be said (a due time, the tasks' titles, who to mention) — JSON values.
    `incident_id`: None inside `Store.create_incident` and decision callbacks: "this incident".
    """

    kind: NotificationKind
    incident_id: str | None = None
    channel: str | None = None
    ref: str | None = None
    thread: str | None = None
    lang: str | None = None
    round: int | None = None
    broadcast: bool = False
    facts: Mapping[str, Any] = field(default_factory=dict)
    within: str | None = None

    def to_outbox(self, *, dedupe_key: str | None = None) -> OutboxMessage:
        """The outbox row: the incident goes in its own column, the rest in the payload."""
        body: dict[str, Any] = {"v": FORMAT_VERSION, "kind": self.kind}
        for name in ("channel", "ref", "thread", "lang", "round", "within"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        if self.broadcast:
            body["broadcast"] = True
        if self.facts:
            body["facts"] = dict(self.facts)
        return OutboxMessage(
            kind=self.kind,
            method=self._method(),
            payload={PAYLOAD_KEY: body},
            incident_id=self.incident_id,
            dedupe_key=dedupe_key,
        )

    def _method(self) -> str:
        if self.kind in FILES:
            return FILE_METHOD
        if self.kind in METHODS:
            return METHODS[self.kind]
        return "chat.update" if self.kind in UPDATES else "chat.postMessage"

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], incident_id: str | None) -> Notification:
        """Read back what `to_outbox` stored; ValueError when it is not a notification."""
        body = payload.get(PAYLOAD_KEY)
        if not isinstance(body, Mapping) or body.get("kind") not in NOTIFICATION_KINDS:
            raise ValueError("not a notification payload")
        facts = body.get("facts") or {}
        if not isinstance(facts, Mapping):
            raise ValueError("notification facts are not an object")
        round_ = body.get("round")
        return cls(
            kind=body["kind"],
            incident_id=incident_id,
            channel=_text(body.get("channel")),
            ref=_text(body.get("ref")),
            thread=_text(body.get("thread")),
            lang=_text(body.get("lang")),
            round=round_ if isinstance(round_, int) else None,
            broadcast=body.get("broadcast") is True,
            facts=dict(facts),
            within=_text(body.get("within")),
        )


def home_refresh(
    people: Iterable[str], *, now: datetime, window: int = HOME_WINDOW_SECONDS
) -> list[OutboxMessage]:
    """Publish these people's App Home tabs again, coalesced: at most one publish per person
    per `window` seconds.

    Time is cut into windows; every change a person sees within one window asks for the same
    outbox row (dedupe key `home:<user>:<window number>`), due when the window ends, and the
    Slack edge renders it from the database then, so the one publish shows all the changes.
    The rows belong to no incident: they never hold back an incident's messages.
    """
    bucket = int(now.timestamp()) // window
    due = datetime.fromtimestamp((bucket + 1) * window, UTC)
    return [
        replace(
            Notification(kind="home", channel=person).to_outbox(
                dedupe_key=f"home:{person}:{bucket}"
            ),
            not_before=due,
        )
        for person in dict.fromkeys(people)
    ]


def is_notification(payload: Mapping[str, Any]) -> bool:
    return PAYLOAD_KEY in payload


def _text(value: Any) -> str | None:
    return str(value) if value is not None else None
