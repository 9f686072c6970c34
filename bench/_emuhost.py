"""The Slack emulator (tests/e2e/slackemu) in a process of its own, for the benchmarks.

Prints its base URL on the first line of stdout, then serves until SIGTERM/SIGINT.
Triggers are lenient (any trigger id works once, none expires) so that the load generator can
sign requests without asking the emulator for each trigger. Control methods (never timed):

- `bench.response_urls` {count, channel?, message_ts?: [..], user_id?} -> {"urls": [...]}
- `bench.messages` {channel} -> {"messages": [...]}
- `bench.last_view` {} -> {"view": the view of the latest views.open}
- `bench.stats` {} -> {"calls": {method: n}, "failed": n, "rejected": n, "total": n}
- `bench.clear` {} -> forget recorded calls (state stays)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections import Counter
from typing import Any

import _common as common
from slackemu import SlackApiFailure, SlackEmulator


def setup(emu: SlackEmulator) -> None:
    for user in common.REPORTERS:
        emu.add_user(user, locale="ja-JP", real_name=f"報告 {user[-3:]}")
    emu.add_user(common.APPROVER, locale="ja-JP", real_name="承認 一郎")
    for user in common.GROUP_MEMBERS:
        emu.add_user(user, locale="ja-JP")
    emu.add_usergroup(common.GROUP, list(common.GROUP_MEMBERS))
    emu.add_channel(common.CHANNEL, is_member=True)
    emu.add_channel(common.SUMMARY_CHANNEL, is_member=True)

    def response_urls(args: dict[str, Any]) -> dict[str, Any]:
        count = int(args.get("count") or 0)
        stamps = args.get("message_ts")
        urls = []
        for i in range(count):
            ts = stamps[i] if isinstance(stamps, list) and i < len(stamps) else None
            urls.append(
                emu.new_response_url(
                    channel=args.get("channel"), message_ts=ts, user_id=args.get("user_id")
                )
            )
        return {"urls": urls}

    def messages(args: dict[str, Any]) -> dict[str, Any]:
        return {"messages": emu.messages(str(args.get("channel") or common.CHANNEL))}

    def last_view(_: dict[str, Any]) -> dict[str, Any]:
        opened = [c for c in emu.calls_to("views.open") if c.ok]
        if not opened:
            raise SlackApiFailure("no_view_yet")
        return {"view": emu.view(opened[-1].response["view"]["id"])}

    def stats(_: dict[str, Any]) -> dict[str, Any]:
        calls = [c for c in emu.calls if not c.method.startswith("bench.")]
        return {
            "calls": dict(Counter(c.method for c in calls)),
            "answered": sum(1 for c in calls if c.answered),
            "failed": sum(1 for c in calls if c.answered and not c.ok),
            "rejected": sum(1 for c in calls if c.rejected_with),
            "errors": dict(
                Counter(f"{c.method}:{c.error}" for c in calls if c.answered and not c.ok)
            ),
            "total": len(calls),
        }

    def clear(_: dict[str, Any]) -> dict[str, Any]:
        emu.clear()
        return {}

    for name, handler in {
        "bench.response_urls": response_urls,
        "bench.messages": messages,
        "bench.last_view": last_view,
        "bench.stats": stats,
        "bench.clear": clear,
    }.items():
        emu.register_method(name, handler)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with SlackEmulator(latency=args.latency, strict_triggers=False, trigger_ttl=None) as emu:
        setup(emu)
        sys.stdout.write(emu.url + "\n")
        sys.stdout.flush()
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
