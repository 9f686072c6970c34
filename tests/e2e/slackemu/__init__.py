"""slackemu: a local Slack for leakbot's end-to-end tests.

- ``SlackEmulator``: the Slack Web API (plus response_urls) on 127.0.0.1, with state, Block
  Kit limits, call recording and fault injection. Point the app's client at it::

      async with SlackEmulator() as emu:
          client = AsyncWebClient(token="xoxb-test", base_url=emu.api_url)

- ``SlackSender``: signs and sends slash commands, interactions and events to the app's HTTP
  endpoint as Slack does (``forge=True``, ``timestamp_offset=-600``, ``retry_num=1`` for the
  bad cases)::

      async with SlackSender(app_url, SECRET, clock=clock, emulator=emu) as slack:
          reply = await slack.slash_command("/leak", user_id="U1")
          view_id = emu.calls_to("views.open")[-1].response["view"]["id"]
          await slack.view_submission(view_id, user_id="U1", answers={"partner": "acme"})
          emu.assert_no_rejections()

- ``FakeClock`` (``now()``, ``advance()``, ``set()``), ``LocalServer`` (serve an aiohttp app
  on a free port), ``blockkit`` (``validate_message``/``validate_view``), ``signing``
  (``sign``/``signed_headers``) and ``payloads`` (pure payload builders,
  ``values_from_answers``).

Nothing here sleeps: faults are scripted (``emu.fail_next``, ``emu.set_failure_rate``) and time
only moves when a ``FakeClock`` is told to. See README.md.
"""

from . import blockkit, payloads, signing
from .blockkit import validate_message, validate_view
from .client import SendOptions, SlackReply, SlackSender
from .clock import Clock, FakeClock, SystemClock
from .emulator import (
    FAULT_KINDS,
    HTML_PAGE_FAULT,
    METHOD_SCOPES,
    RecordedCall,
    SlackApiFailure,
    SlackEmulator,
)
from .payloads import DEFAULT_WORKSPACE, Workspace, values_from_answers
from .server import LocalServer
from .signing import sign, signed_headers

__all__ = [
    "DEFAULT_WORKSPACE",
    "FAULT_KINDS",
    "HTML_PAGE_FAULT",
    "METHOD_SCOPES",
    "Clock",
    "FakeClock",
    "LocalServer",
    "RecordedCall",
    "SendOptions",
    "SlackApiFailure",
    "SlackEmulator",
    "SlackReply",
    "SlackSender",
    "SystemClock",
    "Workspace",
    "blockkit",
    "payloads",
    "sign",
    "signed_headers",
    "signing",
    "validate_message",
    "validate_view",
    "values_from_answers",
]
