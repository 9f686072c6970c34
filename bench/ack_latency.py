"""Ack latency and throughput of leakbot's real HTTP stack, beside a bare Bolt app.

Three processes besides PostgreSQL: the Slack emulator (bench/_emuhost.py), the app under test
(`leakbot run --http`, or bench/_bare_app.py), and this load generator. Requests are signed like
Slack's; "ack latency" is the HTTP response time seen by this client (what Slack sees).

    .venv/bin/python bench/ack_latency.py                      # both databases, all kinds
    .venv/bin/python bench/ack_latency.py --dbs sqlite --kinds slash --concurrency 1,32

See bench/README.md for what each kind sends and how to read the table.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import _common as common
import aiohttp
from slackemu import payloads, signed_headers

FORM = "application/x-www-form-urlencoded"
KINDS = ("slash", "view", "approve")
EXTRA_KINDS = ("confirm",)  # not in the defaults: see README
KIND_LABEL = {
    "slash": "/leak (slash command)",
    "view": "view_submission step1->2",
    "approve": "leak_approve (approver, fresh incident)",
    "confirm": "view_submission of the confirm step (incident stored before the ack)",
}
STEP1 = {"partner": "株式会社アクメ", "source": "partner_notice", "relationship": "entrusted"}


@dataclass
class RunResult:
    db: str
    kind: str
    app: str
    concurrency: int
    requests: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    rps: float
    errors: int
    cpu_ms: float = 0.0
    emu_cpu_ms: float = 0.0
    check: str = ""
    samples_ms: list[float] = field(default_factory=list, repr=False)


# ----------------------------------------------------------------------------- load


async def run_load(
    url: str,
    warm: list[bytes],
    bodies: list[bytes],
    concurrency: int,
    validate: Any = None,
) -> tuple[list[float], float, int, list[str]]:
    """POST `warm` (untimed), then `bodies`, with `concurrency` workers in a closed loop.

    Returns (latencies in ms, wall seconds of the timed part, errors, first error texts).
    Each request is signed just before its timer starts; connections are kept alive.
    """
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    errors: list[str] = []
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(body: bytes) -> float:
            headers = signed_headers(common.SECRET, int(time.time()), body, content_type=FORM)
            t0 = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                raw = await response.read()
                status = response.status
            elapsed = (time.perf_counter() - t0) * 1000
            problem = None if status == 200 else f"HTTP {status}: {raw[:200]!r}"
            if problem is None and validate is not None:
                problem = validate(raw)
            if problem is not None:
                errors.append(problem)
            return elapsed

        async def phase(items: list[bytes]) -> list[float]:
            out: list[float] = [0.0] * len(items)
            counter = itertools.count()

            async def worker() -> None:
                while True:
                    i = next(counter)
                    if i >= len(items):
                        return
                    out[i] = await one(items[i])

            await asyncio.gather(*(worker() for _ in range(min(concurrency, len(items)))))
            return out

        if warm:
            await phase(warm)
            errors.clear()
        started = time.perf_counter()
        latencies = await phase(bodies)
        wall = time.perf_counter() - started
    return latencies, wall, len(errors), errors[:3]


def summarise(
    db: str, kind: str, app: str, c: int, lat: list[float], wall: float, errors: int
) -> RunResult:
    ordered = sorted(lat)
    return RunResult(
        db=db,
        kind=kind,
        app=app,
        concurrency=c,
        requests=len(lat),
        p50_ms=common.percentile(ordered, 50),
        p95_ms=common.percentile(ordered, 95),
        p99_ms=common.percentile(ordered, 99),
        max_ms=ordered[-1] if ordered else float("nan"),
        mean_ms=sum(ordered) / len(ordered) if ordered else float("nan"),
        rps=len(lat) / wall if wall > 0 else float("nan"),
        errors=errors,
        samples_ms=lat,
    )


# ----------------------------------------------------------------------------- request bodies


def form(fields: dict[str, str]) -> bytes:
    return urlencode(fields).encode()


def interaction(payload: dict[str, Any]) -> bytes:
    return urlencode({"payload": payloads.dumps(payload)}).encode()


async def slash_bodies(emu: common.EmuControl, count: int, rng: random.Random) -> list[bytes]:
    urls = (await emu.call("bench.response_urls", count=count, channel="C0LEAKCHAN"))["urls"]
    return [
        form(
            payloads.slash_command(
                "/leak",
                "",
                user_id=common.REPORTERS[i % len(common.REPORTERS)],
                response_url=urls[i],
                trigger_id=payloads.new_trigger_id(rng),
            )
        )
        for i in range(count)
    ]


def view_bodies(view: dict[str, Any], count: int, rng: random.Random) -> list[bytes]:
    values = payloads.values_from_answers(view, STEP1)
    return [
        interaction(
            payloads.view_submission(
                view,
                values,
                user_id=common.REPORTERS[i % len(common.REPORTERS)],
                trigger_id=payloads.new_trigger_id(rng),
            )
        )
        for i in range(count)
    ]


async def approve_bodies(
    emu: common.EmuControl, messages: list[dict[str, Any]], rng: random.Random
) -> list[bytes]:
    stamps = [m["ts"] for m in messages]
    urls = (
        await emu.call(
            "bench.response_urls",
            count=len(messages),
            channel=common.CHANNEL,
            message_ts=stamps,
            user_id=common.APPROVER,
        )
    )["urls"]
    return [
        interaction(
            payloads.block_actions(
                "leak_approve",
                user_id=common.APPROVER,
                trigger_id=payloads.new_trigger_id(rng),
                channel_id=common.CHANNEL,
                message=message,
                message_ts=message["ts"],
                response_url=url,
            )
        )
        for message, url in zip(messages, urls, strict=True)
    ]


def confirm_bodies(count: int, rng: random.Random) -> list[bytes]:
    """The intake's last step, confirmed: each a distinct modal (view id), so each creates an
    incident -- validation, assessment and the commit happen before the ack, by design."""
    from memory_startup import confirm_bodies as build

    return build(count, rng, prefix=f"VACK{rng.getrandbits(20):05x}")


def validate_confirm_ack(raw: bytes) -> str | None:
    return None if b'"leak_done"' in raw else f"unexpected ack: {raw[:200]!r}"


def validate_view_ack(raw: bytes) -> str | None:
    import json

    try:
        body = json.loads(raw)
    except ValueError:
        return f"not JSON: {raw[:120]!r}"
    if body.get("response_action") != "update" or '"s":1' not in str(
        (body.get("view") or {}).get("private_metadata")
    ):
        return f"unexpected ack: {raw[:200]!r}"
    return None


# ----------------------------------------------------------------------------- helpers


async def settle(emu: common.EmuControl, leakbot_url: str | None, quiet: float = 0.3) -> None:
    """Let the post-ack work of the previous run finish: outbox empty, emulator quiet."""
    if leakbot_url is not None:
        await common.wait_outbox_empty(leakbot_url)
    last = -1
    stable_since = time.monotonic()
    while True:
        total = (await emu.call("bench.stats"))["total"]
        if total != last:
            last, stable_since = total, time.monotonic()
        elif time.monotonic() - stable_since >= quiet:
            return
        await asyncio.sleep(0.05)


async def create_pending_incidents(database_url: str, count: int) -> list[str]:
    """`count` pending incidents through IncidentService.submit (the intake's own path)."""
    from bot.clock import SystemClock
    from bot.config import load_settings
    from bot.domain.playbook import load_playbook
    from bot.service import IncidentService, ServiceConfig
    from bot.store import Store

    settings = load_settings(_env_file=None, DATABASE_URL=database_url)
    playbook = load_playbook(settings.LEAKBOT_PLAYBOOK)
    store = await Store.open(database_url)
    service = IncidentService(
        store,
        playbook,
        ServiceConfig(tz=settings.tz, channel_lang="ja", escalation_channel=common.CHANNEL),
        SystemClock(),
    )
    ids = []
    try:
        for i in range(count):
            record, _ = await service.submit(
                {**common.MILD, "partner": f"Globex {i % 40}"},
                reporter_id=common.REPORTERS[i % len(common.REPORTERS)],
                team_id="T0LEAKTEAM",
                locale="ja",
                submission_key=f"bench:{uuid.uuid4().hex}",
            )
            ids.append(record.id)
    finally:
        await store.close()
    return ids


async def count_status(database_url: str, status: str) -> int:
    from sqlalchemy import func, select

    from bot.store import Store
    from bot.store.tables import incidents

    store = await Store.open(database_url, migrate=False)
    try:
        async with store.read() as conn:
            return int(
                (
                    await conn.execute(
                        select(func.count())
                        .select_from(incidents)
                        .where(incidents.c.status == status)
                    )
                ).scalar_one()
            )
    finally:
        await store.close()


# ----------------------------------------------------------------------------- one database


async def bench_database(
    db: str, args: argparse.Namespace, children: common.Children, work: Path, emu_url: str
) -> list[RunResult]:
    emu = common.EmuControl(emu_url)
    # Trigger ids must differ between databases: the emulator accepts each one once.
    rng = random.Random(f"{db}-{time.time()}")
    results: list[RunResult] = []
    conc = args.concurrency
    sizes = {c: (args.requests_c1 if c == 1 else args.requests) for c in conc}
    async with common.fresh_database(db, work) as database_url:
        approve_needed = sum(args.warmup + sizes[c] for c in conc) if "approve" in args.kinds else 0
        if approve_needed:
            t0 = time.perf_counter()
            incident_ids = await create_pending_incidents(database_url, approve_needed)
            print(
                f"  [{db}] created {len(incident_ids)} pending incidents for the approval runs "
                f"in {time.perf_counter() - t0:.1f}s",
                flush=True,
            )
        port_leak, port_bare = common.free_port(), common.free_port()
        leak = common.start_leakbot(children, work, emu.api_url, database_url, port_leak, db)
        bare = common.start_bare(children, work, emu.api_url, port_bare)
        leak_base = f"http://127.0.0.1:{port_leak}"
        bare_base = f"http://127.0.0.1:{port_bare}"
        await common.wait_healthy(leak_base, leak)
        await common.wait_healthy(bare_base, bare)
        waited = await common.wait_outbox_empty(leak_base)
        if approve_needed:
            print(f"  [{db}] leakbot delivered the recommendations in {waited:.1f}s", flush=True)
        await settle(emu, leak_base)
        targets = {"bare": bare_base + "/slack/events", "leakbot": leak_base + "/slack/events"}

        # The realistic step-1 view: opened by leakbot itself through the emulator, once.
        view: dict[str, Any] | None = None
        if "view" in args.kinds:
            before = (await emu.call("bench.stats"))["calls"].get("views.open", 0)
            body = (await slash_bodies(emu, 1, rng))[0]
            await run_load(targets["leakbot"], [], [body], 1)
            for _ in range(200):
                stats = await emu.call("bench.stats")
                if stats["calls"].get("views.open", 0) > before:
                    break
                await asyncio.sleep(0.02)
            view = (await emu.call("bench.last_view"))["view"]

        messages: list[dict[str, Any]] = []
        if "approve" in args.kinds:
            found = (await emu.call("bench.messages", channel=common.CHANNEL))["messages"]
            # One recommendation message per incident, in creation order.
            wanted = set(incident_ids)
            order = {i: n for n, i in enumerate(incident_ids)}
            picked: dict[str, dict[str, Any]] = {}
            for message in found:
                for element in _buttons(message):
                    # The value is "<incident>:<round>:<action>" (approve_value).
                    shown = str(element.get("value") or "").partition(":")[0]
                    if element.get("action_id") == "leak_approve" and shown in wanted:
                        picked[shown] = message
            messages = [picked[i] for i in sorted(picked, key=order.__getitem__)]
            if len(messages) != len(incident_ids):
                raise RuntimeError(
                    f"found {len(messages)} recommendation messages for {len(incident_ids)}"
                )

        pids = {"bare": bare.pid, "leakbot": leak.pid, "emulator": emu_pid(children)}
        for kind in args.kinds:
            cursor = 0
            for c in conc:
                n = sizes[c]
                total = args.warmup + n
                if kind == "slash":
                    bodies = await slash_bodies(emu, total, rng)
                    validate = None
                elif kind == "view":
                    assert view is not None
                    bodies = view_bodies(view, total, rng)
                    validate = validate_view_ack
                elif kind == "confirm":
                    bodies = confirm_bodies(total, rng)
                    validate = validate_confirm_ack
                else:
                    batch = messages[cursor : cursor + total]
                    cursor += total
                    bodies = await approve_bodies(emu, batch, rng)
                    validate = None
                results += await measure_pair(
                    db,
                    kind,
                    c,
                    bodies,
                    args,
                    emu,
                    targets,
                    pids,
                    leak_base,
                    database_url,
                    validate,
                )
        await emu.call("bench.clear")
        await emu.close()
        leak.stop()
        bare.stop()
        children.items.remove(leak)
        children.items.remove(bare)
    return results


async def measure_pair(
    db: str,
    kind: str,
    c: int,
    bodies: list[bytes],
    args: argparse.Namespace,
    emu: common.EmuControl,
    targets: dict[str, str],
    pids: dict[str, int],
    leak_base: str,
    database_url: str,
    validate: Any,
) -> list[RunResult]:
    """Both apps on the same bodies, in interleaved rounds (bare, leakbot, leakbot, bare, ...)
    so that a change in background load hits both alike; samples of all rounds are merged."""
    warm, timed = bodies[: args.warmup], bodies[args.warmup :]
    rounds = max(1, min(args.rounds, len(timed)))
    chunks = [timed[i::rounds] for i in range(rounds)]
    lat: dict[str, list[float]] = {"bare": [], "leakbot": []}
    wall = {"bare": 0.0, "leakbot": 0.0}
    cpu = {"bare": 0.0, "leakbot": 0.0}
    emu_cpu = {"bare": 0.0, "leakbot": 0.0}
    errors = {"bare": 0, "leakbot": 0}
    first: dict[str, list[str]] = {"bare": [], "leakbot": []}
    await settle(emu, leak_base)
    stats_before = await emu.call("bench.stats")
    counted = {"approve": "decided", "confirm": "pending"}.get(kind)
    counted_before = await count_status(database_url, counted) if counted else 0
    for r, chunk in enumerate(chunks):
        order = ("bare", "leakbot") if r % 2 == 0 else ("leakbot", "bare")
        for app in order:
            await settle(emu, leak_base)
            cpu0 = common.cpu_seconds(pids[app])
            emu0 = common.cpu_seconds(pids["emulator"])
            got, seconds, failed, texts = await run_load(
                targets[app],
                warm if r == 0 else [],
                chunk,
                c,
                validate if app == "leakbot" else None,
            )
            await settle(emu, leak_base)  # the post-ack work counts in the app's CPU time
            cpu[app] += common.cpu_seconds(pids[app]) - cpu0
            emu_cpu[app] += common.cpu_seconds(pids["emulator"]) - emu0
            lat[app] += got
            wall[app] += seconds
            errors[app] += failed
            first[app] += texts
    stats_after = await emu.call("bench.stats")
    out = []
    for app in ("bare", "leakbot"):
        result = summarise(db, kind, app, c, lat[app], wall[app], errors[app])
        result.cpu_ms = 1000 * cpu[app] / max(1, len(timed) + len(warm))
        result.emu_cpu_ms = 1000 * emu_cpu[app] / max(1, len(timed) + len(warm))
        result.check = await _check(
            kind, app, len(bodies), stats_before, stats_after, database_url, counted_before
        )
        out.append(result)
        print(
            f"  [{db}] {kind:8s} c={c:<3d} {app:8s} n={result.requests:<5d} "
            f"p50={result.p50_ms:7.2f} p99={result.p99_ms:7.2f} "
            f"max={result.max_ms:7.2f} ms  {result.rps:7.1f} req/s  "
            f"cpu/req={result.cpu_ms:5.2f} ms (emulator {result.emu_cpu_ms:5.2f})  "
            f"errors={result.errors} {result.check}",
            flush=True,
        )
        for text in first[app][:3]:
            print(f"      error: {text}", flush=True)
    return out


def emu_pid(children: common.Children) -> int:
    return next(child.pid for child in children.items if child.name == "emulator")


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if isinstance(element, dict):
                out.append(element)
        accessory = block.get("accessory")
        if isinstance(accessory, dict):
            out.append(accessory)
    return out


async def _check(
    kind: str,
    app: str,
    sent: int,
    before: dict[str, Any],
    after: dict[str, Any],
    database_url: str,
    counted_before: int,
) -> str:
    """What the app did after acking (leakbot only): proof the real path ran."""
    if app != "leakbot":
        return ""
    calls_b, calls_a = before["calls"], after["calls"]

    def delta(method: str) -> int:
        return int(calls_a.get(method, 0)) - int(calls_b.get(method, 0))

    failed = int(after["failed"]) - int(before["failed"])
    if kind == "slash":
        return f"views.open +{delta('views.open')}/{sent}, failed Slack calls {failed}"
    if kind == "view":
        return f"acks with step 2 view: {sent} sent"
    if kind == "confirm":
        stored = await count_status(database_url, "pending") - counted_before
        return (
            f"incidents +{stored}/{sent}, chat.postMessage +{delta('chat.postMessage')}, "
            f"failed Slack calls {failed}"
        )
    decided = await count_status(database_url, "decided") - counted_before
    return (
        f"decided +{decided}/{sent}, chat.update +{delta('chat.update')}, "
        f"response_url +{delta('response_url')}, failed Slack calls {failed}"
    )


# ----------------------------------------------------------------------------- report


def report(results: list[RunResult]) -> None:
    print()
    print("Ack latency (ms, HTTP response time at the signed-request client)")
    rows = [
        [
            r.db,
            r.kind,
            r.concurrency,
            r.app,
            r.requests,
            r.p50_ms,
            r.p95_ms,
            r.p99_ms,
            r.max_ms,
            r.rps,
            r.cpu_ms,
            r.emu_cpu_ms,
            r.errors,
        ]
        for r in results
    ]
    print(
        common.table(
            [
                "db",
                "kind",
                "c",
                "app",
                "n",
                "p50",
                "p95",
                "p99",
                "max",
                "req/s",
                "cpu ms/req",
                "emu cpu ms/req",
                "errors",
            ],
            rows,
        )
    )
    print()
    print("leakbot / bare (target: p99 ratio <= 1.5)")
    ratio_rows = []
    by_key = {(r.db, r.kind, r.concurrency, r.app): r for r in results}
    for (db, kind, c, app), leak in by_key.items():
        if app != "leakbot" or (db, kind, c, "bare") not in by_key:
            continue
        bare = by_key[(db, kind, c, "bare")]
        p50 = leak.p50_ms / bare.p50_ms
        p99 = leak.p99_ms / bare.p99_ms
        ratio_rows.append(
            [
                db,
                kind,
                c,
                leak.p50_ms,
                leak.p99_ms,
                bare.p50_ms,
                bare.p99_ms,
                f"{p50:.2f}x",
                f"{p99:.2f}x",
                leak.rps,
                bare.rps,
                "hit" if p99 <= 1.5 else "MISS",
            ]
        )
    print(
        common.table(
            [
                "db",
                "kind",
                "c",
                "leak p50",
                "leak p99",
                "bare p50",
                "bare p99",
                "p50 ratio",
                "p99 ratio",
                "leak req/s",
                "bare req/s",
                "target",
            ],
            ratio_rows,
        )
    )
    print()
    print("Checks (what leakbot did after acking, per run):")
    for r in results:
        if r.app == "leakbot":
            print(f"  {r.db:10s} {r.kind:8s} c={r.concurrency:<3d} {r.check}")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dbs", default="sqlite,postgresql", help="sqlite,postgresql")
    parser.add_argument("--kinds", default=",".join(KINDS), help="slash,view,approve")
    parser.add_argument("--concurrency", default="1,32", help="comma-separated levels")
    parser.add_argument("--requests-c1", type=int, default=300, help="timed requests at c=1")
    parser.add_argument("--requests", type=int, default=1000, help="timed requests at c>1")
    parser.add_argument("--warmup", type=int, default=30, help="untimed requests before each run")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds per app and run")
    parser.add_argument("--emu-latency", type=float, default=0.0, help="emulator answer delay (s)")
    parser.add_argument(
        "--emu-nice", type=int, default=10, help="nice level of the emulator process (0: none)"
    )
    parser.add_argument("--json", help="write raw figures (and every sample) to this file")
    args = parser.parse_args()
    args.dbs = [d for d in args.dbs.split(",") if d]
    args.kinds = [k for k in args.kinds.split(",") if k]
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c]
    for kind in args.kinds:
        if kind not in KINDS + EXTRA_KINDS:
            parser.error(f"unknown kind {kind!r}")
    args.dbs = await common.usable_dbs(args.dbs)
    started = time.perf_counter()
    results: list[RunResult] = []
    with common.workdir("leakbot-ack-") as work, common.Children() as children:
        emu_url = common.start_emulator(
            children, work, latency=args.emu_latency, nice=args.emu_nice
        )
        print(f"emulator at {emu_url}; apps: leakbot run --http, bare Bolt app", flush=True)
        for db in args.dbs:
            print(f"[{db}] load average before: {common.loadavg()}", flush=True)
            results += await bench_database(db, args, children, work, emu_url)
            print(f"[{db}] load average after: {common.loadavg()}", flush=True)
    report(results)
    print(f"\n(total {time.perf_counter() - started:.0f}s)")
    common.write_json(args.json, [asdict(r) for r in results])
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
