"""The weekly summary's time at scale: 10,000 and 1,000,000 incidents, SQLite and PostgreSQL.

For each size and database: a fresh database (`Store.open` runs the migrations), bulk-loaded
with SQL (executemany on SQLite, COPY on PostgreSQL) with a realistic spread, then the summary is
built several times exactly as the app builds it: `FollowThrough.summary_data` (the aggregate
queries of bot/store/reports.py) + `summary_message` (Block Kit rendering). Median of the runs.

    .venv/bin/python bench/summary_scale.py                         # 10k and 1M, both databases
    .venv/bin/python bench/summary_scale.py --sizes 10000 --dbs sqlite --explain

The data (see bench/README.md): created uniformly over the 2 years before `now`; ~5 % pending,
~3 % rejected, the rest decided with actions in the survey's proportions (older ones mostly
closed); partners from a pool with a Zipf-like skew (repeat partners); tasks for every decided
incident as the app plans them (deadlines by the data kinds, the action's checklist), done or
open by age, so that some deadlines are overdue; ~1 % of incidents in a second round.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import random
import sqlite3
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _common as common

NOW = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # Thursday 10:00 in Tokyo
SPAN_DAYS = 730
SURVEY = {
    "continue_unchanged": 1,
    "continue_with_concern": 14,
    "request_report": 43,
    "consider_suspension": 25,
    "suspend_and_legal": 17,
}
ACTIONS = list(SURVEY)
ACTION_CUM = list(__import__("itertools").accumulate(SURVEY.values()))
APPROVERS = ("UAPPROVER1", "UAPPROVER2", "UAPPROVER3")
REPORTERS = tuple(f"UREP{i:05d}" for i in range(400))
DEADLINE_DAYS = {
    "partner_report": 7,
    "appi_preliminary": 3,
    "appi_final": 29,
    "appi_notify_persons": 3,
    "gdpr_authority": 3,
    "us_ca_notice": 30,
}
DEADLINE_TITLES = {
    "partner_report": ("取引先の事故報告書・再発防止策", "Partner's incident report and prevention plan"),
    "appi_preliminary": ("個人情報保護委員会への速報", "Preliminary report to the PPC"),
    "appi_final": ("個人情報保護委員会への確報", "Final report to the PPC"),
    "appi_notify_persons": ("本人への通知", "Notice to affected persons"),
    "gdpr_authority": ("EU監督機関への通知（GDPR）", "Notice to the EU supervisory authority (GDPR)"),
    "us_ca_notice": ("カリフォルニア州の本人通知", "California notice to residents"),
}
CHECKLIST_LEN = {
    "continue_unchanged": 3,
    "continue_with_concern": 3,
    "request_report": 4,
    "consider_suspension": 4,
    "suspend_and_legal": 5,
}


# ----------------------------------------------------------------------------- generation


@dataclass
class Counts:
    incidents: int = 0
    tasks: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    open_deadlines_overdue: int = 0
    partners: int = 0


def _pick_action(rng: random.Random) -> str:
    return ACTIONS[bisect.bisect_right(ACTION_CUM, rng.randrange(ACTION_CUM[-1]))]


def _answers_templates(rng: random.Random) -> list[tuple[str, bool, bool, bool]]:
    """JSON tails of realistic answer sets (without partner / aware_at) and their flags:
    (json tail, personal data, EU, California)."""
    out = []
    kinds = [
        "customer_personal",
        "employee_personal",
        "sensitive_personal",
        "financial",
        "trade_secret",
        "management_critical",
        "internal_minor",
    ]
    for _ in range(64):
        data_kinds = sorted(rng.sample(kinds, rng.choice((1, 1, 2, 3))))
        regions = ["jp"] + (["eu"] if rng.random() < 0.12 else []) + (
            ["us_ca"] if rng.random() < 0.06 else []
        )
        personal = bool({"customer_personal", "employee_personal", "sensitive_personal", "financial"} & set(data_kinds))
        body = {
            "source": rng.choice(["partner_notice", "third_party", "internal_detection", "media"]),
            "relationship": rng.choice(["entrusted", "entrusted", "shared", "other"]),
            "data_kinds": data_kinds,
            "affected_persons": rng.choice([None, 12, 250, 1200, 48000]),
            "encrypted": rng.choice(["yes", "no", "no", "unknown"]),
            "regions": regions,
            "cause": rng.choice(["intentional", "negligence", "negligence", "external_attack", "unknown"]),
            "damage": rng.choice(["confirmed", "possible", "none", "unknown"]),
            "partner_response": rng.choice(["cooperative", "cooperative", "slow", "concealing", "not_contacted"]),
            "dependency": rng.choice(["high", "medium", "low"]),
            "contract": rng.choice([["confidentiality_remedies"], ["prevention_plan_required"], ["none"], ["unknown"]]),
            "description": "委託先の作業者が誤って共有フォルダを公開設定にした",
            "prior_incidents": 0,
        }
        tail = json.dumps(body, ensure_ascii=False)[1:]  # without the opening brace
        out.append((tail, personal, "eu" in regions, "us_ca" in regions))
    return out


def _assessment(rec: str, rng: random.Random, deadlines: list[tuple[str, datetime]], at: datetime) -> str:
    weights = [rng.random() for _ in ACTIONS]
    total = sum(weights)
    dist = {a: round(w / total, 4) for a, w in zip(ACTIONS, weights, strict=True)}
    return json.dumps(
        {
            "recommendation": rec,
            "distribution": dist,
            "deadlines": [{"id": d, "due": due.isoformat()} for d, due in deadlines],
            "playbook": {"id": "leak", "version": 3},
            "assessed_at": at.isoformat(),
        },
        ensure_ascii=False,
    )


def generate(n: int, seed: int, partners: int, checklist_items: int | None):  # type: ignore[no-untyped-def]
    """Yield ('incident', row) and ('task', row) tuples in creation order, plus counters.

    Rows hold Python values (aware datetimes, JSON as text); writers adapt them per database.
    """
    from bot.domain.partners import normalize_partner
    from bot.store.records import format_incident_id

    rng = random.Random(seed)
    names = [f"株式会社パートナー{i:05d}" if i % 3 else f"Partner {i:05d} Co., Ltd." for i in range(partners)]
    keys = [normalize_partner(name) for name in names]
    # Zipf-like: weight 1/(rank^1.1): a few partners have many incidents, most have a few.
    weights = [1 / (rank + 1) ** 1.1 for rank in range(partners)]
    cum = list(__import__("itertools").accumulate(weights))
    templates = _answers_templates(rng)
    start = NOW - timedelta(days=SPAN_DAYS)
    span = SPAN_DAYS * 86400
    offsets = sorted(rng.random() * span for _ in range(n))
    seq_by_year: dict[int, int] = {}
    counts = Counts(partners=partners)
    rows_i: list[tuple[Any, ...]] = []
    rows_t: list[tuple[Any, ...]] = []
    for off in offsets:
        created = start + timedelta(seconds=off)
        year = created.year
        seq = seq_by_year[year] = seq_by_year.get(year, 0) + 1
        incident_id = format_incident_id(year, seq)
        p = bisect.bisect_right(cum, rng.random() * cum[-1])
        p = min(p, partners - 1)
        tail, personal, eu, ca = templates[rng.randrange(len(templates))]
        aware = created - timedelta(hours=rng.random() * 48)
        answers = (
            '{"partner": ' + json.dumps(names[p], ensure_ascii=False)
            + ', "aware_at": "' + aware.isoformat() + '", ' + tail
        )
        deadlines = [("partner_report", aware + timedelta(days=7))]
        if personal:
            deadlines += [
                ("appi_preliminary", aware + timedelta(days=3)),
                ("appi_final", aware + timedelta(days=29)),
                ("appi_notify_persons", aware + timedelta(days=3)),
            ]
            if eu:
                deadlines.append(("gdpr_authority", aware + timedelta(hours=72)))
            if ca:
                deadlines.append(("us_ca_notice", aware + timedelta(days=30)))
        rec = _pick_action(rng)
        r = rng.random()
        age_days = (NOW - created).total_seconds() / 86400
        status = "pending" if r < 0.05 else "rejected" if r < 0.08 else "decided"
        decided_at = decided_action = decided_by = reason = None
        round_ = 1
        if status != "pending":
            decided_at = min(created + timedelta(hours=0.5 + rng.random() * 72), NOW - timedelta(minutes=1))
            if status == "decided":
                decided_action = rec if rng.random() < 0.8 else _pick_action(rng)
                decided_by = json.dumps(
                    list(APPROVERS[:2]) if decided_action == "suspend_and_legal" else [rng.choice(APPROVERS)]
                )
                if age_days > 90 and rng.random() < 0.6:
                    status = "closed"
                if rng.random() < 0.01:
                    round_ = 2
            else:
                decided_by = json.dumps([rng.choice(APPROVERS)])
                reason = "情報が不足しているため差し戻します"
        reporter = REPORTERS[rng.randrange(len(REPORTERS))]
        channel, ts = "CESCALATE1", f"{int(created.timestamp())}.{seq % 1000000:06d}"
        updated = decided_at or created
        rows_i.append(
            (
                incident_id, year, seq, status, names[p], keys[p], reporter, "T0LEAKTEAM", "ja",
                answers, _assessment(rec, rng, deadlines, created), rec, round_, decided_action,
                decided_by, decided_at, reason, channel, ts, created, updated, f"view:V{year}{seq:08d}",
            )
        )
        counts.incidents += 1
        counts.by_status[status] = counts.by_status.get(status, 0) + 1
        if status in ("decided", "closed"):
            assert decided_at is not None and decided_action is not None
            owner_a = json.loads(decided_by)[-1]  # type: ignore[arg-type]
            plans: list[tuple[int, str, str, str, datetime, str]] = []
            for rnd in range(1, round_ + 1):
                for ref, due in deadlines:
                    if rnd > 1 and ref != "partner_report":
                        continue
                    if rnd > 1:
                        due = decided_at + timedelta(days=14)
                    owner = reporter if ref == "partner_report" else owner_a
                    ja, en = DEADLINE_TITLES[ref]
                    plans.append((rnd, "deadline", ref, json.dumps({"ja": ja, "en": en}, ensure_ascii=False), due, owner))
            items = CHECKLIST_LEN[decided_action]
            if checklist_items is not None:
                items = min(items, checklist_items)
            for index in range(items):
                plans.append(
                    (1, "checklist", f"checklist:{index}",
                     json.dumps({"ja": f"チェック項目 {index + 1}", "en": f"Checklist item {index + 1}"}, ensure_ascii=False),
                     decided_at + timedelta(hours=72), reporter)
                )
            for rnd, kind, ref, title, due, owner in plans:
                since_due = (NOW - due).total_seconds() / 86400
                if status == "closed" or (rnd == 1 and round_ > 1 and ref == "partner_report"):
                    done = True
                elif since_due > 30:
                    done = rng.random() < 0.99
                elif since_due > 0:
                    done = rng.random() < 0.7
                else:
                    done = rng.random() < 0.1
                done_at = min(due - timedelta(hours=rng.random() * 48), NOW) if done else None
                if done_at is not None and done_at < decided_at:
                    done_at = decided_at + timedelta(minutes=5)
                rows_t.append(
                    (
                        incident_id, rnd, kind, ref, title, owner, due,
                        "done" if done else "open", owner if done else None, done_at, decided_at,
                    )
                )
                counts.tasks += 1
                if not done and kind == "deadline" and due < NOW and status == "decided":
                    counts.open_deadlines_overdue += 1
    counters = sorted(seq_by_year.items())
    return rows_i, rows_t, counters, counts


INCIDENT_COLUMNS = (
    "id", "year", "seq", "status", "partner", "partner_key", "reporter_id", "team_id", "locale",
    "answers", "assessment", "recommendation", "round", "decided_action", "decided_by",
    "decided_at", "decision_reason", "channel_id", "message_ts", "created_at", "updated_at",
    "submission_key",
)
TASK_COLUMNS = (
    "incident_id", "round", "kind", "ref", "title", "owner_id", "due_at", "status", "done_by",
    "done_at", "created_at",
)
_I_TIMES = tuple(INCIDENT_COLUMNS.index(c) for c in ("decided_at", "created_at", "updated_at"))
_T_TIMES = tuple(TASK_COLUMNS.index(c) for c in ("due_at", "done_at", "created_at"))


def _sqlite_time(value: datetime | None) -> str | None:
    # What SQLAlchemy's SQLite DateTime stores for bot.store.tables.UTCDateTime: naive UTC text
    # with microseconds ("2026-11-26 01:00:00.000000"), so that comparisons and order work.
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


# ----------------------------------------------------------------------------- loading


def load_sqlite(path: str, rows_i: list[tuple[Any, ...]], rows_t: list[tuple[Any, ...]], counters: list[tuple[int, int]]) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -262144")  # 256 MB for the load only
        conn.execute("BEGIN")
        conn.executemany(
            f"INSERT INTO incidents ({', '.join(INCIDENT_COLUMNS)}) VALUES ({', '.join('?' * len(INCIDENT_COLUMNS))})",
            (
                tuple(_sqlite_time(v) if i in _I_TIMES else v for i, v in enumerate(row))
                for row in rows_i
            ),
        )
        conn.executemany(
            f"INSERT INTO tasks ({', '.join(TASK_COLUMNS)}) VALUES ({', '.join('?' * len(TASK_COLUMNS))})",
            (
                tuple(_sqlite_time(v) if i in _T_TIMES else v for i, v in enumerate(row))
                for row in rows_t
            ),
        )
        conn.executemany("INSERT INTO incident_counters (year, last_seq) VALUES (?, ?)", counters)
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


async def load_postgres(url: str, rows_i: list[tuple[Any, ...]], rows_t: list[tuple[Any, ...]], counters: list[tuple[int, int]]) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        async with conn.transaction():
            await conn.copy_records_to_table("incidents", records=rows_i, columns=INCIDENT_COLUMNS)
            await conn.copy_records_to_table("tasks", records=rows_t, columns=TASK_COLUMNS)
            await conn.executemany(
                "INSERT INTO incident_counters (year, last_seq) VALUES ($1, $2)", counters
            )
        # What autovacuum does on its own after a big load (statistics, visibility map).
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


# ----------------------------------------------------------------------------- timing


@dataclass
class Timing:
    db: str
    incidents: int
    tasks: int
    load_s: float
    runs: int
    data_ms: list[float]
    render_ms: list[float]
    total_ms: list[float]
    median_total_ms: float = 0.0
    median_data_ms: float = 0.0
    median_render_ms: float = 0.0
    queries: list[tuple[str, float]] = field(default_factory=list)
    db_size_mb: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)


class QueryTimer:
    """Per-statement execute time through SQLAlchemy's cursor events (label: first words)."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.samples: list[tuple[str, float]] = []
        self.active = False

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
            conn.info["bench_t0"] = time.perf_counter()

        @event.listens_for(engine.sync_engine, "after_cursor_execute")
        def after(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
            if self.active:
                elapsed = (time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())) * 1000
                self.samples.append((_label(statement), elapsed))


def _label(statement: str) -> str:
    text = " ".join(statement.split())
    low = text.lower()
    if low.startswith("begin") or low.startswith("select 1"):
        return text[:20]
    if "count(" in low and "join" in low:
        return "count deadlines (join)"
    if "join" in low:
        return "first deadlines (join)"
    if "group by incidents.partner_key" in low:
        return "repeat partners"
    if "group by incidents.decided_action" in low:
        return "decisions by action"
    where = low.split(" where ", 1)[1][:70] if " where " in low else ""
    kind = "count" if low.startswith("select count") else "first rows"
    return f"{kind}: {where}"


async def time_summary(db: str, url: str, runs: int, explain: bool) -> tuple[list[float], list[float], list[float], list[tuple[str, float]], dict[str, Any]]:
    from bot.clock import SystemClock
    from bot.config import load_settings
    from bot.domain.playbook import load_playbook
    from bot.domain.summary import previous_week
    from bot.followthrough import FollowThrough
    from bot.service import IncidentService, ServiceConfig
    from bot.slack.app import follow_config
    from bot.slack.blocks.summary import summary_message
    from bot.store import Store

    settings = load_settings(
        _env_file=None,
        **common.leakbot_env("http://127.0.0.1:9/api/", url, 3000),
    )
    playbook = load_playbook(settings.LEAKBOT_PLAYBOOK)
    store = await Store.open(url)
    service = IncidentService(
        store,
        playbook,
        ServiceConfig(tz=settings.tz, channel_lang="ja", escalation_channel=common.CHANNEL),
        SystemClock(),
    )
    follow = FollowThrough(store, service, follow_config(settings), SystemClock())
    week = previous_week(NOW, settings.tz)
    timer = QueryTimer(store._engine)
    data_ms, render_ms, total_ms = [], [], []
    per_query: list[list[tuple[str, float]]] = []
    figures: dict[str, Any] = {}
    try:
        for i in range(runs + 1):  # the first run warms the caches and is not counted
            timer.samples = []
            timer.active = True
            t0 = time.perf_counter()
            data = await follow.summary_data(week, now=NOW)
            t1 = time.perf_counter()
            timer.active = False
            message = summary_message(playbook, data, "ja", settings.tz)
            t2 = time.perf_counter()
            if i == 0:
                figures = {
                    "week": week.label,
                    "opened": data.opened.total,
                    "decided": data.decided.total,
                    "pending": data.pending.total,
                    "overdue": data.overdue.total,
                    "upcoming": data.upcoming.total,
                    "repeat_partners": data.repeat_partners.total,
                    "open": data.open_incidents.total,
                    "blocks": len(message["blocks"]),
                }
                continue
            data_ms.append((t1 - t0) * 1000)
            render_ms.append((t2 - t1) * 1000)
            total_ms.append((t2 - t0) * 1000)
            per_query.append(list(timer.samples))
        if explain:
            await print_plans(follow, store, db, week)
    finally:
        await store.close()
    # Per-statement medians across runs (statements come in the same order every run).
    medians: list[tuple[str, float]] = []
    if per_query:
        for k in range(min(len(q) for q in per_query)):
            medians.append((per_query[0][k][0], statistics.median(q[k][1] for q in per_query)))
    return data_ms, render_ms, total_ms, medians, figures


async def print_plans(follow: Any, store: Any, db: str, week: Any) -> None:
    """EXPLAIN (QUERY PLAN) of every SELECT the summary runs, with its own parameters."""
    from sqlalchemy import event

    statements: list[tuple[str, Any]] = []
    engine = store._engine

    def grab(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        low = " ".join(statement.split()).lower()
        if low.startswith("select") and not low.startswith("select 1"):
            statements.append((statement, params))

    event.listen(engine.sync_engine, "before_cursor_execute", grab)
    try:
        await follow.summary_data(week, now=NOW)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", grab)
    print(f"\n--- query plans ({db}) ---")
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        for statement, params in statements:
            print("\n" + " ".join(statement.split())[:400])
            if db == "sqlite":
                cursor = await driver.execute("EXPLAIN QUERY PLAN " + statement, params)
                for row in await cursor.fetchall():
                    print("   ", row[-1])
            else:
                rows = await driver.fetch("EXPLAIN (ANALYZE, TIMING OFF) " + statement, *params)
                for row in rows:
                    print("   ", row[0])


# ----------------------------------------------------------------------------- main


async def bench_one(
    db: str, n: int, args: argparse.Namespace, work: Path, generated: Any, gen_s: float
) -> Timing:
    from bot.store import Store

    rows_i, rows_t, counters, counts = generated
    async with common.fresh_database(db, work) as url:
        store = await Store.open(url)  # migrations
        await store.close()
        t0 = time.perf_counter()
        if db == "sqlite":
            path = url.split("///", 1)[1]
            await asyncio.to_thread(load_sqlite, path, rows_i, rows_t, counters)
        else:
            await load_postgres(common._libpq(url), rows_i, rows_t, counters)
        load_s = time.perf_counter() - t0
        size_mb = await _db_size_mb(db, url)
        print(
            f"  [{db} {n:>9,}] generated in {gen_s:.1f}s, loaded {counts.incidents:,} incidents + "
            f"{counts.tasks:,} tasks in {load_s:.1f}s ({size_mb:.0f} MB); statuses {counts.by_status}",
            flush=True,
        )
        data_ms, render_ms, total_ms, queries, figures = await time_summary(db, url, args.runs, args.explain)
    timing = Timing(
        db=db,
        incidents=counts.incidents,
        tasks=counts.tasks,
        load_s=load_s,
        runs=args.runs,
        data_ms=data_ms,
        render_ms=render_ms,
        total_ms=total_ms,
        median_total_ms=statistics.median(total_ms),
        median_data_ms=statistics.median(data_ms),
        median_render_ms=statistics.median(render_ms),
        queries=queries,
        db_size_mb=size_mb,
        figures=figures,
    )
    print(
        f"  [{db} {n:>9,}] summary median {timing.median_total_ms:.1f} ms "
        f"(queries {timing.median_data_ms:.1f} + render {timing.median_render_ms:.1f}); "
        f"runs {', '.join(f'{v:.0f}' for v in total_ms)} ms; {figures}",
        flush=True,
    )
    return timing


async def _db_size_mb(db: str, url: str) -> float:
    if db == "sqlite":
        path = Path(url.split("///", 1)[1])
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20
    import asyncpg

    conn = await asyncpg.connect(common._libpq(url))
    try:
        return float(await conn.fetchval("SELECT pg_database_size(current_database())")) / 2**20
    finally:
        await conn.close()


def report(results: list[Timing]) -> None:
    print()
    print("Weekly summary time (FollowThrough.summary_data + summary_message), median of runs")
    rows = []
    for t in results:
        rows.append(
            [
                t.db,
                f"{t.incidents:,}",
                f"{t.tasks:,}",
                t.db_size_mb,
                t.load_s,
                t.runs,
                t.median_data_ms,
                t.median_render_ms,
                t.median_total_ms,
                min(t.total_ms),
                max(t.total_ms),
                "hit" if t.incidents < 1_000_000 or t.median_total_ms < 1000 else "MISS",
            ]
        )
    print(
        common.table(
            ["db", "incidents", "tasks", "db MB", "load s", "runs", "queries ms", "render ms",
             "total ms", "min ms", "max ms", "target <1s @1M"],
            rows,
        )
    )
    print()
    print("Per statement (median execute time, ms):")
    for t in results:
        print(f"  {t.db} {t.incidents:,}:")
        for label, ms in t.queries:
            if label.lower().startswith(("begin", "select 1")):
                continue
            print(f"    {ms:8.2f}  {label}")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000", help="comma-separated incident counts")
    parser.add_argument("--dbs", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=5, help="timed runs (after one warm-up)")
    parser.add_argument("--partners", type=int, default=5000, help="partner pool (max n/5)")
    parser.add_argument(
        "--checklist-items", type=int, default=None,
        help="cap on checklist tasks per decided incident (default: the playbook's 3-5)",
    )
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument("--explain", action="store_true", help="print the query plans")
    parser.add_argument("--json", help="write raw figures to this file")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    dbs = [d for d in args.dbs.split(",") if d]
    if "postgresql" in dbs and (reason := await common.pg_available()):
        print(f"PostgreSQL unavailable, skipped: {reason}")
        dbs = [d for d in dbs if d != "postgresql"]
    started = time.perf_counter()
    results: list[Timing] = []
    with common.workdir("leakbot-summary-") as work:
        print(f"load average: {common.loadavg()}", flush=True)
        for n in sizes:
            t0 = time.perf_counter()
            generated = generate(
                n, args.seed, max(50, min(args.partners, n // 5)), args.checklist_items
            )
            gen_s = time.perf_counter() - t0
            for db in dbs:
                results.append(await bench_one(db, n, args, work, generated, gen_s))
            del generated
    report(results)
    print(f"\n(total {time.perf_counter() - started:.0f}s; load average now {common.loadavg()})")
    common.write_json(args.json, [asdict(r) for r in results])
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
