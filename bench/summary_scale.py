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
import itertools
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
ACTION_CUM = list(itertools.accumulate(SURVEY.values()))
APPROVERS = ("UAPPROVER1", "UAPPROVER2", "UAPPROVER3")
REPORTERS = tuple(f"UREP{i:05d}" for i in range(400))
# Deadline rules as the playbook states them: (ref, minutes after awareness, when it applies).
DEADLINES = (
    (
        "partner_report",
        7 * 1440,
        "all",
        "取引先の事故報告書・再発防止策",
        "Partner's incident report and prevention plan",
    ),
    (
        "appi_preliminary",
        3 * 1440,
        "personal",
        "個人情報保護委員会への速報",
        "Preliminary report to the PPC",
    ),
    ("appi_final", 29 * 1440, "personal", "個人情報保護委員会への確報", "Final report to the PPC"),
    ("appi_notify_persons", 3 * 1440, "personal", "本人への通知", "Notice to affected persons"),
    (
        "gdpr_authority",
        72 * 60,
        "eu",
        "EU監督機関への通知（GDPR）",
        "Notice to the EU supervisory authority (GDPR)",
    ),
    (
        "us_ca_notice",
        30 * 1440,
        "ca",
        "カリフォルニア州の本人通知",
        "California notice to residents",
    ),
)
CHECKLIST_LEN = {
    "continue_unchanged": 3,
    "continue_with_concern": 3,
    "request_report": 4,
    "consider_suspension": 4,
    "suspend_and_legal": 5,
}
INCIDENT_COLUMNS = (
    "id",
    "year",
    "seq",
    "status",
    "partner",
    "partner_key",
    "reporter_id",
    "team_id",
    "locale",
    "answers",
    "assessment",
    "recommendation",
    "round",
    "decided_action",
    "decided_by",
    "decided_at",
    "decision_reason",
    "channel_id",
    "message_ts",
    "created_at",
    "updated_at",
    "submission_key",
)
TASK_COLUMNS = (
    "incident_id",
    "round",
    "kind",
    "ref",
    "title",
    "owner_id",
    "due_at",
    "status",
    "done_by",
    "done_at",
    "created_at",
)


# ----------------------------------------------------------------------------- generation


@dataclass
class Generated:
    rows: list[tuple[Any, ...]]  # incidents, times as aware datetimes
    counters: list[tuple[int, int]]
    by_status: dict[str, int]
    partners: int
    seconds: float = 0.0


def _pick_action(rng: random.Random) -> str:
    return ACTIONS[bisect.bisect_right(ACTION_CUM, rng.randrange(ACTION_CUM[-1]))]


def _answer_tails(rng: random.Random) -> list[str]:
    """64 realistic answer sets as JSON text without the leading partner / aware_at."""
    kinds = [
        "customer_personal",
        "employee_personal",
        "sensitive_personal",
        "financial",
        "trade_secret",
        "management_critical",
        "internal_minor",
    ]
    out = []
    for _ in range(64):
        regions = ["jp"] + (["eu"] if rng.random() < 0.12 else [])
        regions += ["us_ca"] if rng.random() < 0.06 else []
        body = {
            "source": rng.choice(["partner_notice", "third_party", "internal_detection", "media"]),
            "relationship": rng.choice(["entrusted", "entrusted", "shared", "other"]),
            "data_kinds": sorted(rng.sample(kinds, rng.choice((1, 1, 2, 3)))),
            "affected_persons": rng.choice([None, 12, 250, 1200, 48000]),
            "encrypted": rng.choice(["yes", "no", "no", "unknown"]),
            "regions": regions,
            "cause": rng.choice(["intentional", "negligence", "negligence", "external_attack"]),
            "damage": rng.choice(["confirmed", "possible", "none", "unknown"]),
            "partner_response": rng.choice(["cooperative", "cooperative", "slow", "concealing"]),
            "dependency": rng.choice(["high", "medium", "low"]),
            "contract": rng.choice([["confidentiality_remedies"], ["prevention_plan_required"]]),
            "description": "委託先の作業者が誤って共有フォルダを公開設定にした",
            "prior_incidents": rng.choice([0, 0, 1, 2]),
        }
        out.append(json.dumps(body, ensure_ascii=False)[1:])
    return out


def _assessment_heads(rng: random.Random) -> dict[str, list[str]]:
    """Per recommendation, 16 JSON heads with a distribution (the rest is per incident)."""
    heads: dict[str, list[str]] = {}
    for rec in ACTIONS:
        heads[rec] = []
        for _ in range(16):
            weights = [rng.random() + (2 if a == rec else 0) for a in ACTIONS]
            dist = {a: round(w / sum(weights), 4) for a, w in zip(ACTIONS, weights, strict=True)}
            heads[rec].append(
                json.dumps({"recommendation": rec, "distribution": dist})[:-1]
                + ', "playbook": {"id": "leak", "version": 3}, '
                + '"deadlines": [{"id": "partner_report", "due": "'
            )
    return heads


def generate(n: int, seed: int, partners: int) -> Generated:
    """The incidents, in creation order (tasks are derived from them in SQL, see TASKS_SQL)."""
    from bot.domain.partners import normalize_partner

    started = time.perf_counter()
    rng = random.Random(seed)
    names = [
        f"株式会社パートナー{i:05d}" if i % 3 else f"Partner {i:05d} Co., Ltd."
        for i in range(partners)
    ]
    keys = [normalize_partner(name) for name in names]
    quoted = [json.dumps(name, ensure_ascii=False) for name in names]
    # Zipf-like: weight 1/rank^1.1 -- a few partners have many incidents, most have a few.
    cum = list(itertools.accumulate(1 / (rank + 1) ** 1.1 for rank in range(partners)))
    top = cum[-1]
    tails = _answer_tails(rng)
    heads = _assessment_heads(rng)
    start = NOW - timedelta(days=SPAN_DAYS)
    step = SPAN_DAYS * 86400 / n
    last_minute = NOW - timedelta(minutes=1)
    seq_by_year: dict[int, int] = {}
    by_status: dict[str, int] = {}
    rows: list[tuple[Any, ...]] = []
    rand = rng.random
    for k in range(n):
        created = start + timedelta(seconds=(k + rand()) * step)
        year = created.year
        seq = seq_by_year[year] = seq_by_year.get(year, 0) + 1
        p = min(bisect.bisect_right(cum, rand() * top), partners - 1)
        aware = created - timedelta(minutes=seq * 7919 % 2880)  # what TASKS_SQL assumes
        aware_iso = aware.isoformat()
        answers = '{"partner": ' + quoted[p] + ', "aware_at": "' + aware_iso + '", ' + tails[k % 64]
        rec = _pick_action(rng)
        assessment = (
            heads[rec][k % 16]
            + (aware + timedelta(days=7)).isoformat()
            + '"}], "assessed_at": "'
            + created.isoformat()
            + '"}'
        )
        r = rand()
        status = "pending" if r < 0.05 else "rejected" if r < 0.08 else "decided"
        decided_at = decided_action = decided_by = reason = None
        round_ = 1
        if status != "pending":
            decided_at = min(created + timedelta(hours=0.5 + rand() * 72), last_minute)
            if status == "decided":
                decided_action = rec if rand() < 0.8 else _pick_action(rng)
                decided_by = (
                    '["UAPPROVER1", "UAPPROVER2"]'
                    if decided_action == "suspend_and_legal"
                    else '["' + APPROVERS[k % 3] + '"]'
                )
                if (NOW - created).days > 90 and rand() < 0.6:
                    status = "closed"
                elif rand() < 0.01:
                    round_ = 2
            else:
                decided_by = '["' + APPROVERS[k % 3] + '"]'
                reason = "情報が不足しているため差し戻します"
        rows.append(
            (
                f"LEAK-{year}-{seq:04d}",
                year,
                seq,
                status,
                names[p],
                keys[p],
                REPORTERS[(k * 31) % 400],
                "T0LEAKTEAM",
                "ja",
                answers,
                assessment,
                rec,
                round_,
                decided_action,
                decided_by,
                decided_at,
                reason,
                "CESCALATE1",
                f"{int(created.timestamp())}.{seq % 1000000:06d}",
                created,
                decided_at or created,
                f"view:V{year}{seq:08d}",
            )
        )
        by_status[status] = by_status.get(status, 0) + 1
    return Generated(
        rows, sorted(seq_by_year.items()), by_status, partners, time.perf_counter() - started
    )


# Tasks of every decided (or later closed) incident, as the app plans them: the deadlines that
# apply to its data (from the answers), the decided action's checklist, a second-round partner
# report for incidents in round 2; done or open by age and status, so some are overdue.
# {t(...)} is the dialect's "timestamp plus minutes"; {rand} a number in 0..999 derived from
# the incident and the task (not random(): both databases get the same tasks and figures).
TASKS_SQL = """
INSERT INTO tasks (incident_id, round, kind, ref, title, owner_id, due_at, status, done_by,
                   done_at, created_at)
SELECT id, round, kind, ref, title, owner,  due,
       CASE WHEN done = 1 THEN 'done' ELSE 'open' END,
       CASE WHEN done = 1 THEN owner END,
       CASE WHEN done = 1 THEN {least}({t_decided_1d}, {now}) END,
       decided_at
FROM (
  SELECT planned.*,
         CASE WHEN istatus = 'closed' OR superseded = 1 THEN 1
              WHEN due < {ago30} THEN CASE WHEN {rand} < 990 THEN 1 ELSE 0 END
              WHEN due < {now} THEN CASE WHEN {rand} < 700 THEN 1 ELSE 0 END
              ELSE CASE WHEN {rand} < 100 THEN 1 ELSE 0 END END AS done
  FROM (
    SELECT i.id, 1 AS round, 'deadline' AS kind, r.ref, r.title,
           CASE WHEN r.ref = 'partner_report' THEN i.reporter_id ELSE {approver} END AS owner,
           {t_due} AS due, i.status AS istatus, i.decided_at,
           CASE WHEN r.ref = 'partner_report' AND i.round > 1 THEN 1 ELSE 0 END AS superseded,
           i.seq
    FROM incidents i JOIN bench_refs r
      ON r.need = 'all'
      OR (r.need = 'personal' AND ({personal}))
      OR (r.need = 'eu' AND {eu})
      OR (r.need = 'ca' AND {ca})
    WHERE i.status IN ('decided', 'closed')
    UNION ALL
    SELECT i.id, 1, 'checklist', 'checklist:' || c.idx, c.title, i.reporter_id, {t_decided_72h},
           i.status, i.decided_at, 0, i.seq
    FROM incidents i JOIN bench_checklist c ON c.action = i.decided_action
    WHERE i.status IN ('decided', 'closed')
    UNION ALL
    SELECT i.id, 2, 'deadline', 'partner_report', r.title, i.reporter_id, {t_decided_14d},
           i.status, i.decided_at, 0, i.seq
    FROM incidents i JOIN bench_refs r ON r.ref = 'partner_report'
    WHERE i.status = 'decided' AND i.round = 2
  ) AS planned
) AS decided
ORDER BY id, round, kind, ref
"""


def _sqlite_time(value: datetime | None) -> str | None:
    # What SQLAlchemy's SQLite DateTime stores for bot.store.tables.UTCDateTime: naive UTC text
    # with microseconds ("2026-11-26 01:00:00.000000"), so that comparisons and order work.
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _sqlite_plus(expr: str, minutes: str) -> str:
    return f"(strftime('%Y-%m-%d %H:%M:%f', {expr}, ({minutes}) || ' minutes') || '000')"


def _has(template: str, *needles: str) -> str:
    """SQL: the answers' JSON text contains one of `needles` (kept free of quotes' trouble)."""
    return " OR ".join(template.format("'" + n.replace("'", "''") + "'") + " > 0" for n in needles)


# A spread-out number in 0..999 per task, mixed from the incident's seq and id length, the
# task's round, and its ref's length and last character.
RAND_SQL = (
    "((seq{bigint} * 7919 + length(ref) * 104729 + round * 7 + length(id) * 13"
    " + {code}(substr(ref, length(ref), 1)) * 6151) % 1000)"
)


def tasks_sql(db: str) -> str:
    if db == "sqlite":
        return TASKS_SQL.format(
            least="min",
            now=f"'{_sqlite_time(NOW)}'",
            ago30=f"'{_sqlite_time(NOW - timedelta(days=30))}'",
            rand=RAND_SQL.format(bigint="", code="unicode"),
            approver="json_extract(i.decided_by, '$[0]')",
            personal=_has("instr(i.answers, {})", '_personal"', '"financial"'),
            eu=_has("instr(i.answers, {})", '"eu"'),
            ca=_has("instr(i.answers, {})", '"us_ca"'),
            t_due=_sqlite_plus("i.created_at", "r.minutes - (i.seq * 7919 % 2880)"),
            t_decided_72h=_sqlite_plus("i.decided_at", "4320"),
            t_decided_14d=_sqlite_plus("i.decided_at", "20160"),
            t_decided_1d=_sqlite_plus("decided_at", "1440"),
        )
    return TASKS_SQL.format(
        least="least",
        now=f"'{NOW.isoformat()}'::timestamptz",
        ago30=f"'{(NOW - timedelta(days=30)).isoformat()}'::timestamptz",
        rand=RAND_SQL.format(bigint="::bigint", code="ascii"),
        approver="(i.decided_by::json ->> 0)",
        personal=_has("strpos(i.answers::text, {})", '_personal"', '"financial"'),
        eu=_has("strpos(i.answers::text, {})", '"eu"'),
        ca=_has("strpos(i.answers::text, {})", '"us_ca"'),
        t_due=(
            "(i.created_at + make_interval(mins => r.minutes - (i.seq::bigint * 7919 % 2880)::int))"
        ),
        t_decided_72h="(i.decided_at + interval '72 hours')",
        t_decided_14d="(i.decided_at + interval '14 days')",
        t_decided_1d="(decided_at + interval '1 day')",
    )


def _helper_rows(
    checklist_items: int | None,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    refs = [
        (ref, minutes, need, json.dumps({"ja": ja, "en": en}, ensure_ascii=False))
        for ref, minutes, need, ja, en in DEADLINES
    ]
    items = []
    for action, count in CHECKLIST_LEN.items():
        for index in range(count if checklist_items is None else min(count, checklist_items)):
            title = json.dumps(
                {"ja": f"チェック項目 {index + 1}", "en": f"Checklist item {index + 1}"},
                ensure_ascii=False,
            )
            items.append((action, index, title))
    return refs, items


# ----------------------------------------------------------------------------- loading
#
# Secondary indexes (the migrations' CREATE INDEX, not the constraints' own) are dropped for
# the load and created again afterwards, exactly as they were: a sorted build is much faster
# than a million random inserts into each; the database ends up as the migrations made it.


def load_sqlite(path: str, gen: Generated, checklist_items: int | None) -> int:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -524288")  # 512 MB, for the load only
        conn.execute("PRAGMA temp_store = MEMORY")
        # No journal for the load of a fresh file (the app's connections turn WAL on again).
        conn.execute("PRAGMA journal_mode = OFF")
        indexes = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            "AND tbl_name IN ('incidents', 'tasks')"
        ).fetchall()
        conn.execute("BEGIN")
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        times = tuple(INCIDENT_COLUMNS.index(c) for c in ("decided_at", "created_at", "updated_at"))
        conn.executemany(
            f"INSERT INTO incidents ({', '.join(INCIDENT_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(INCIDENT_COLUMNS))})",
            (
                tuple(_sqlite_time(v) if i in times else v for i, v in enumerate(row))
                for row in gen.rows
            ),
        )
        conn.executemany(
            "INSERT INTO incident_counters (year, last_seq) VALUES (?, ?)", gen.counters
        )
        refs, items = _helper_rows(checklist_items)
        conn.execute("CREATE TEMP TABLE bench_refs (ref TEXT, minutes INT, need TEXT, title TEXT)")
        conn.execute("CREATE TEMP TABLE bench_checklist (action TEXT, idx INT, title TEXT)")
        conn.executemany("INSERT INTO bench_refs VALUES (?, ?, ?, ?)", refs)
        conn.executemany("INSERT INTO bench_checklist VALUES (?, ?, ?)", items)
        conn.execute(tasks_sql("sqlite"))
        for _, sql in indexes:
            conn.execute(sql)
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode = WAL")
        return int(conn.execute("SELECT count(*) FROM tasks").fetchone()[0])
    finally:
        conn.close()


async def load_postgres(url: str, gen: Generated, checklist_items: int | None) -> int:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('incidents', 'tasks') "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        )
        async with conn.transaction():
            for row in indexes:
                await conn.execute(f'DROP INDEX "{row["indexname"]}"')
            await conn.copy_records_to_table(
                "incidents", records=gen.rows, columns=INCIDENT_COLUMNS
            )
            await conn.executemany(
                "INSERT INTO incident_counters (year, last_seq) VALUES ($1, $2)", gen.counters
            )
            refs, items = _helper_rows(checklist_items)
            await conn.execute(
                "CREATE TEMP TABLE bench_refs (ref text, minutes int, need text, title json) "
                "ON COMMIT DROP"
            )
            await conn.execute(
                "CREATE TEMP TABLE bench_checklist (action text, idx int, title json) "
                "ON COMMIT DROP"
            )
            await conn.executemany("INSERT INTO bench_refs VALUES ($1, $2, $3, $4)", refs)
            await conn.executemany("INSERT INTO bench_checklist VALUES ($1, $2, $3)", items)
            await conn.execute("SET LOCAL work_mem = '256MB'")
            await conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
            await conn.execute(tasks_sql("postgresql"))
            for row in indexes:
                await conn.execute(row["indexdef"])
        # What autovacuum does on its own after a big load (statistics, visibility map).
        await conn.execute("VACUUM ANALYZE")
        return int(await conn.fetchval("SELECT count(*) FROM tasks"))
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
        def before(
            conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
        ) -> None:
            conn.info["bench_t0"] = time.perf_counter()

        @event.listens_for(engine.sync_engine, "after_cursor_execute")
        def after(
            conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
        ) -> None:
            if self.active:
                elapsed = (
                    time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())
                ) * 1000
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


async def time_summary(
    db: str, url: str, runs: int, explain: bool
) -> tuple[list[float], list[float], list[float], list[tuple[str, float]], dict[str, Any]]:
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
    from bot.store.chart import weekly_actions

    data_ms, render_ms, total_ms, chart_ms = [], [], [], []
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
            # The chart's counts (12 weeks by action and status): timed apart, not in the above.
            await weekly_actions(store, week, settings.tz)
            chart_ms.append((time.perf_counter() - t2) * 1000)
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
        figures["chart_query_ms_median"] = round(statistics.median(chart_ms[1:] or chart_ms), 1)
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
    db: str, n: int, args: argparse.Namespace, work: Path, gen: Generated
) -> Timing:
    from bot.store import Store

    async with common.fresh_database(db, work) as url:
        store = await Store.open(url)  # migrations
        await store.close()
        t0 = time.perf_counter()
        if db == "sqlite":
            path = url.split("///", 1)[1]
            tasks = await asyncio.to_thread(load_sqlite, path, gen, args.checklist_items)
        else:
            tasks = await load_postgres(common._libpq(url), gen, args.checklist_items)
        load_s = time.perf_counter() - t0
        size_mb = await _db_size_mb(db, url)
        print(
            f"  [{db} {n:>9,}] generated in {gen.seconds:.1f}s, loaded {len(gen.rows):,} "
            f"incidents + {tasks:,} tasks in {load_s:.1f}s ({size_mb:.0f} MB); "
            f"statuses {gen.by_status}",
            flush=True,
        )
        data_ms, render_ms, total_ms, queries, figures = await time_summary(
            db, url, args.runs, args.explain
        )
    timing = Timing(
        db=db,
        incidents=len(gen.rows),
        tasks=tasks,
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
            [
                "db",
                "incidents",
                "tasks",
                "db MB",
                "load s",
                "runs",
                "queries ms",
                "render ms",
                "total ms",
                "min ms",
                "max ms",
                "target <1s @1M",
            ],
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
        "--checklist-items",
        type=int,
        default=None,
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
            generated = generate(n, args.seed, max(50, min(args.partners, n // 5)))
            for db in dbs:
                results.append(await bench_one(db, n, args, work, generated))
            del generated
    report(results)
    print(f"\n(total {time.perf_counter() - started:.0f}s; load average now {common.loadavg()})")
    common.write_json(args.json, [asdict(r) for r in results])
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
