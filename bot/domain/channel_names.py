"""The name of an incident's private channel, as Slack accepts it.

Slack channel names are lowercase, at most 80 characters, without spaces or periods. The name is
deterministic (the incident id and the partner), so that creating it again finds the same one.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

MAX_CHANNEL_NAME: Final = 80
_NOT_ALLOWED = re.compile(r"[^a-z0-9_-]+")


def partner_slug(partner: str) -> str:
    """The partner's name in channel-name letters: accents folded, anything else (Japanese
    included) dropped, runs of other characters as one hyphen; "" when nothing is left."""
    folded = unicodedata.normalize("NFKD", partner).encode("ascii", "ignore").decode("ascii")
    return _NOT_ALLOWED.sub("-", folded.lower()).strip("-_")


def incident_channel_name(incident_id: str, partner: str) -> str:
    """`leak-2026-0001-acme-corp`; the incident id alone when the partner's name has no
    letters Slack accepts (e.g. a Japanese name)."""
    base = _NOT_ALLOWED.sub("-", incident_id.lower()).strip("-")
    slug = partner_slug(partner)
    name = f"{base}-{slug}" if slug else base
    return name[:MAX_CHANNEL_NAME].rstrip("-_")
