"""The benchmarks' shared data set: generated, bulk-loaded, cached (summary_scale, app_home,
export_scale and scale.py use it; see bench/README.md, "The data set and its cache").

The data (seeded): incidents created uniformly over the 2 years before `NOW`; ~5 % pending,
~3 % rejected, the rest decided with actions in the survey's proportions (older ones mostly
closed); partners from a pool with a Zipf-like skew (repeat partners); tasks for every decided
incident as the app plans them (deadlines by the data kinds, the action's checklist), done or
open by age, so that some deadlines are overdue; ~1 % of incidents in a second round.

How a database gets it (`dataset()`):

1. the schema is created at a FIXED revision, `BASE_REVISION` (the schema the loader's SQL
   knows), with the project's Alembic configuration (`bot.store.migrate.alembic_config`);
2. the rows go in with `executemany` (SQLite) / `COPY` (PostgreSQL), tasks with
   `INSERT … SELECT`, secondary indexes dropped for the load and re-created from their own
   definitions;
3. the database is upgraded to the code's head with the project's own entry point (`Store.open`
   → `bot.store.migrate.upgrade_to_head`): later migrations backfill what they add, and the
   upgrade's time is printed (what an operator's upgrade takes at that size).

With a cache directory (`--cache DIR`, default `$LEAKBOT_BENCH_CACHE`; none when unset) the
data set at `BASE_REVISION` is kept per database kind — SQLite as a file, PostgreSQL as a
database `leakbot_bench_<key>` — keyed by size, seed, partners, checklist cap and
`LOADER_VERSION`. A code whose head is later than the base gets a COPY of it (file copy /
`CREATE DATABASE … TEMPLATE`), keyed by the base key + the head revision + a hash of the
migration files, upgraded once and reused as is: the benchmarks only read. The base itself stays
at `BASE_REVISION`, so an older checkout can still use it. `--rebuild` builds both again.
Without a cache every run builds a fresh database and drops it at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import fcntl
import hashlib
import itertools
import json
import os
import random
import re
import shutil
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import _common as common

# Bump when the generator or the loaders change what a data set holds, or the cache how it keeps
# one: older cached sets are then simply not found (remove them by hand: `rm -r DIR`,
# `DROP DATABASE leakbot_bench_…`). 2: PostgreSQL sets described by their COMMENT.
LOADER_VERSION = 2
# The schema the loader's SQL is written for. The data set is created at this revision, then
# upgraded to the code's head (later migrations backfill their own tables).
BASE_REVISION = "0005"
PG_PREFIX = "leakbot_bench_"

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


async def db_size_mb(db: str, url: str) -> float:
    if db == "sqlite":
        path = Path(sqlite_path(url))
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20
    import asyncpg

    conn = await asyncpg.connect(common._libpq(url))
    try:
        return float(await conn.fetchval("SELECT pg_database_size(current_database())")) / 2**20
    finally:
        await conn.close()


def sqlite_path(url: str) -> str:
    return url.split("///", 1)[1]


# ----------------------------------------------------------------------------- schema


def _upgrade_to(connection: Any, config: Any, revision: str) -> None:
    from alembic import command

    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def create_schema(url: str, revision: str = BASE_REVISION) -> None:
    """The schema at `revision` (not the head): the project's Alembic configuration on the
    store's own writer connection, as `bot.store.migrate.upgrade_to_head` runs it."""
    from bot.store import Store
    from bot.store.migrate import alembic_config

    store = await Store.open(url, migrate=False)
    try:
        async with store._writer.begin() as conn:
            await conn.run_sync(_upgrade_to, alembic_config(), revision)
    finally:
        await store.close()


async def upgrade(db: str, url: str) -> tuple[float, float]:
    """BASE_REVISION → the code's head through the app's own start (`Store.open` runs
    `bot.store.migrate.upgrade_to_head`); then, on PostgreSQL, VACUUM ANALYZE: what autovacuum
    does after backfills that rewrite millions of rows (without the vacuum the visibility map is
    stale and index-only scans still visit the table). Returns (upgrade s, vacuum + analyze s)."""
    from bot.store import Store

    started = time.perf_counter()
    store = await Store.open(url)
    upgrade_s = time.perf_counter() - started
    await store.close()
    analyze_s = 0.0
    if db == "postgresql":
        import asyncpg

        started = time.perf_counter()
        conn = await asyncpg.connect(common._libpq(url))
        try:
            await conn.execute("VACUUM ANALYZE")
        finally:
            await conn.close()
        analyze_s = time.perf_counter() - started
    return upgrade_s, analyze_s


def head_revision() -> str:
    from bot.store.migrate import head_revision as head

    return head()


def head_tag() -> str:
    """The head revision and a hash of every migration file: a revision still being written
    (same number, new content) gets a copy of its own."""
    from bot.store.migrate import MIGRATIONS_DIR

    digest = hashlib.sha256()
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{head_revision()}_{digest.hexdigest()[:8]}"


# ----------------------------------------------------------------------------- data sets

DEFAULT_SEED = 20261126
DEFAULT_PARTNERS = 5000


@dataclass(frozen=True)
class Spec:
    """What a data set holds; its `key` names it in the cache."""

    n: int
    seed: int = DEFAULT_SEED
    partners: int = DEFAULT_PARTNERS
    checklist_items: int | None = None

    @classmethod
    def of(
        cls,
        n: int,
        seed: int = DEFAULT_SEED,
        partners: int = DEFAULT_PARTNERS,
        checklist_items: int | None = None,
    ) -> Spec:
        """The partner pool is capped at n/5 (at least 50), as the scripts always did."""
        return cls(n, seed, max(50, min(partners, n // 5)), checklist_items)

    @property
    def key(self) -> str:
        cap = "all" if self.checklist_items is None else str(self.checklist_items)
        return f"n{self.n}_s{self.seed}_p{self.partners}_c{cap}_v{LOADER_VERSION}"


class Rows:
    """The generated rows of one spec: made at most once, and only if a database needs them
    (a run that finds every data set in the cache generates nothing)."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self._generated: Generated | None = None

    def get(self) -> Generated:
        if self._generated is None:
            gen = generate(self.spec.n, self.spec.seed, self.spec.partners)
            print(
                f"  [{self.spec.n:>9,}] generated {len(gen.rows):,} incidents in "
                f"{gen.seconds:.1f}s; statuses {gen.by_status}",
                flush=True,
            )
            self._generated = gen
        return self._generated

    def release(self) -> None:
        self._generated = None


@dataclass
class DataSet:
    db: str
    url: str
    key: str
    revision: str  # the schema's revision: the code's head
    incidents: int
    tasks: int
    by_status: dict[str, int]
    generate_s: float  # when the base was built (maybe in an earlier run)
    load_s: float  # ditto: the bulk load at BASE_REVISION
    upgrade_s: float | None  # BASE_REVISION → head (None: the head is the base)
    analyze_s: float | None
    size_mb: float
    source: str  # which data set was used, in words
    built_at: str = ""
    reused: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cache",
        metavar="DIR",
        default=os.environ.get("LEAKBOT_BENCH_CACHE") or None,
        help="keep the data sets in DIR and reuse them (default: $LEAKBOT_BENCH_CACHE; "
        "unset: a fresh database every run)",
    )
    parser.add_argument("--rebuild", action="store_true", help="build the cached data sets again")


def cache_dir(value: str | None) -> Path | None:
    return Path(value).expanduser().resolve() if value else None


def describe(ds: DataSet) -> str:
    if ds.upgrade_s is None:
        upgrade = f"at {ds.revision}: no upgrade"
    else:
        upgrade = f"upgrade {BASE_REVISION} → {ds.revision} {ds.upgrade_s:.1f}s"
        upgrade += f" + ANALYZE {ds.analyze_s:.1f}s" if ds.analyze_s else ""
    return (
        f"[{ds.db} {ds.incidents:>9,}] data: {ds.source}; {ds.incidents:,} incidents + "
        f"{ds.tasks:,} tasks, {ds.size_mb:.0f} MB; load {ds.load_s:.1f}s, {upgrade}"
        + (" (times from when they were made)" if ds.reused else "")
    )


@contextlib.asynccontextmanager
async def dataset(
    db: str, rows: Rows, *, cache: Path | None, rebuild: bool, work: Path
) -> AsyncIterator[DataSet]:
    """A database of kind `db` holding `rows.spec`'s data at the code's head; its line is
    printed. Without a cache: a fresh database, dropped afterwards. With one: the cached set
    (built when missing), never dropped — so what runs on it must only read."""
    if cache is None:
        async with common.fresh_database(db, work) as url:
            ds = await _build(db, url, rows)
            ds.source = "fresh database (no cache)"
            if head_revision() != BASE_REVISION:
                ds.upgrade_s, ds.analyze_s = await upgrade(db, url)
            ds.revision = head_revision()
            ds.size_mb = await db_size_mb(db, url)
            print("  " + describe(ds), flush=True)
            yield ds
        return
    ds = await _cached(db, rows, cache, rebuild)
    print("  " + describe(ds), flush=True)
    yield ds


async def _build(db: str, url: str, rows: Rows) -> DataSet:
    """Schema at BASE_REVISION, then the bulk load."""
    await create_schema(url)
    gen = rows.get()
    started = time.perf_counter()
    if db == "sqlite":
        tasks = await asyncio.to_thread(
            load_sqlite, sqlite_path(url), gen, rows.spec.checklist_items
        )
    else:
        tasks = await load_postgres(common._libpq(url), gen, rows.spec.checklist_items)
    return DataSet(
        db=db,
        url=url,
        key=rows.spec.key,
        revision=BASE_REVISION,
        incidents=len(gen.rows),
        tasks=tasks,
        by_status=dict(gen.by_status),
        generate_s=gen.seconds,
        load_s=time.perf_counter() - started,
        upgrade_s=None,
        analyze_s=None,
        size_mb=0.0,
        source="",
        built_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


# ----------------------------------------------------------------------------- the cache
#
# SQLite: DIR/sqlite/KEY.db + KEY.json (the base, at BASE_REVISION) and KEY_HEADTAG.db + .json (a
# copy upgraded to a head); the .json, written last, marks a set complete; lock files in DIR.
# PostgreSQL: databases are server-wide, so the sets are too (any cache DIR shares them):
# leakbot_bench_KEY and leakbot_bench_KEY_HEADTAG, their description (the .json's content) in
# the database's COMMENT, set before the rename that publishes it; advisory locks on the server.
# A set is built under a temporary name and renamed; two runs at once: the second waits, then
# reuses.

PG_PREFIX_FILE = ".pg-prefix"  # a cache made for one run names its databases apart (scale.py)


def pg_prefix(cache: Path) -> str:
    path = cache / PG_PREFIX_FILE
    return path.read_text(encoding="utf-8").strip() if path.exists() else PG_PREFIX


def _pg_name(prefix: str, name: str) -> str:
    full = prefix + re.sub(r"[^a-z0-9_]", "_", name.lower())
    if len(full) > 63:  # PostgreSQL's identifier limit
        full = prefix + hashlib.sha256(name.encode()).hexdigest()[: 63 - len(prefix)]
    return full


@contextlib.contextmanager
def _file_lock(folder: Path, name: str) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f".{name}.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"  (waiting for another run building {name} in {folder})", flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@contextlib.asynccontextmanager
async def _pg_lock(name: str) -> AsyncIterator[None]:
    import asyncpg

    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    conn = await asyncpg.connect(common._libpq(common.PG_ADMIN_URL), timeout=10)
    try:
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
            print(f"  (waiting for another run building {name})", flush=True)
            await conn.execute("SELECT pg_advisory_lock($1)", key)
        yield
    finally:
        await conn.close()  # releases the lock


async def _pg_admin(*statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(common._libpq(common.PG_ADMIN_URL), timeout=10)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def _pg_comment(name: str) -> str | None:
    """The database's COMMENT (None: no such database, or no comment)."""
    import asyncpg

    conn = await asyncpg.connect(common._libpq(common.PG_ADMIN_URL), timeout=10)
    try:
        return cast(
            "str | None",
            await conn.fetchval(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
                name,
            ),
        )
    finally:
        await conn.close()


async def _pg_copy(source: str, target: str) -> None:
    """CREATE DATABASE … TEMPLATE; PostgreSQL refuses while anyone is connected to the
    template (another run reading the base), so wait for that."""
    import asyncpg

    deadline = time.monotonic() + 600
    while True:
        try:
            await _pg_admin(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')
            return
        except asyncpg.ObjectInUseError:
            if time.monotonic() > deadline:
                raise
            print(f"  (waiting: {source} is in use by another session)", flush=True)
            await asyncio.sleep(5)


async def _count_incidents(db: str, url: str) -> int | None:
    import asyncpg

    try:
        if db == "sqlite":
            uri = f"file:{sqlite_path(url)}?mode=ro"
            with contextlib.closing(sqlite3.connect(uri, uri=True)) as lite:
                return int(lite.execute("SELECT count(*) FROM incidents").fetchone()[0])
        conn = await asyncpg.connect(common._libpq(url), timeout=120)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM incidents"))
        finally:
            await conn.close()
    except (OSError, sqlite3.Error, asyncpg.PostgresError) as exc:
        print(f"  (cannot count the incidents of {url}: {exc})")
        return None


def _meta(ds: DataSet) -> str:
    return json.dumps({k: v for k, v in asdict(ds).items() if k not in ("url", "reused", "source")})


class _Slot:
    """One cached data set of one kind: a SQLite file and its .json, or a PostgreSQL database
    and its comment."""

    def __init__(self, cache: Path, db: str, name: str) -> None:
        self.db = db
        self.name = name
        self.folder = cache / db
        self.meta_path = self.folder / f"{name}.json"
        self.path = self.folder / f"{name}.db"
        self.prefix = pg_prefix(cache)
        self.pg = _pg_name(self.prefix, name)

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}" if self.db == "sqlite" else common.pg_url(self.pg)

    @property
    def where(self) -> str:
        return str(self.path) if self.db == "sqlite" else f"database {self.pg}"

    def locked(self) -> contextlib.AbstractAsyncContextManager[None]:
        if self.db == "postgresql":
            return _pg_lock(self.pg)

        @contextlib.asynccontextmanager
        async def file_lock() -> AsyncIterator[None]:
            with _file_lock(self.folder, self.name):
                yield

        return file_lock()

    async def load(self) -> DataSet | None:
        if self.db == "sqlite":
            if not (self.meta_path.exists() and self.path.exists()):
                return None
            text: str | None = self.meta_path.read_text(encoding="utf-8")
        else:
            text = await _pg_comment(self.pg)
        try:
            meta = json.loads(text or "")
        except ValueError:
            return None
        found = DataSet(**{**meta, "url": self.url, "source": "", "reused": True})
        # A cheap guard against a run that wrote to a shared set (they must only read).
        count = await _count_incidents(self.db, self.url)
        if count is None:
            # Not a reason to drop a shared set: a connection that timed out on a busy machine
            # once made a run drop the 1M PostgreSQL base (and build it again, ~30 min).
            raise RuntimeError(f"{self.where}: could not count its incidents (busy?); try again")
        if count != found.incidents:
            print(f"  ({self.where} holds {count} incidents, not {found.incidents}: rebuilt)")
            return None
        return found

    async def remove(self) -> None:
        if self.db == "sqlite":
            with contextlib.suppress(FileNotFoundError):
                self.meta_path.unlink()
            common.remove_sqlite(self.path)
        else:
            await _pg_admin(f'DROP DATABASE IF EXISTS "{self.pg}" WITH (FORCE)')

    def temp(self) -> tuple[str, str]:
        """(url, name) to build into before the rename."""
        if self.db == "sqlite":
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"{self.name}.db.tmp{os.getpid()}"
            common.remove_sqlite(path)
            return f"sqlite:///{path}", str(path)
        name = _pg_name(self.prefix, "tmp_" + hashlib.sha256(self.pg.encode()).hexdigest()[:16])
        return common.pg_url(name), name

    async def publish(self, temp: str, ds: DataSet) -> DataSet:
        """Put the built set in place with its description (which marks it complete)."""
        if self.db == "sqlite":
            common.remove_sqlite(self.path)
            os.replace(temp, self.path)
            common.remove_sqlite(Path(temp))
            ds.url = self.url
            self.meta_path.write_text(_meta(ds), encoding="utf-8")
        else:
            comment = _meta(ds).replace("'", "''")
            await _pg_admin(
                f"COMMENT ON DATABASE \"{temp}\" IS '{comment}'",
                f'ALTER DATABASE "{temp}" RENAME TO "{self.pg}"',
            )
            ds.url = self.url
        return ds


async def _cached(db: str, rows: Rows, cache: Path, rebuild: bool) -> DataSet:
    key = rows.spec.key
    base = _Slot(cache, db, key)
    async with base.locked():
        found = None if rebuild else await base.load()
        if found is None:
            await base.remove()
            url, temp = base.temp()
            if db == "postgresql":
                await _pg_admin(
                    f'DROP DATABASE IF EXISTS "{temp}" WITH (FORCE)', f'CREATE DATABASE "{temp}"'
                )
            built = await _build(db, url, rows)
            built.size_mb = await db_size_mb(db, url)
            found = await base.publish(temp, built)
            base_words = f"base {key} at {BASE_REVISION} built now ({base.where})"
        else:
            base_words = (
                f"cached base {key} at {BASE_REVISION} (built {found.built_at}; {base.where})"
            )
    head = head_revision()
    if head == BASE_REVISION:
        found.source = base_words
        return found
    tag = head_tag()
    copy = _Slot(cache, db, f"{key}_{tag}")
    async with copy.locked():
        made = None if rebuild else await copy.load()
        if made is not None:
            made.source = (
                f"cached copy at {tag} (made {made.built_at}; {copy.where}) of the {base_words}"
            )
            return made
        await copy.remove()
        url, temp = copy.temp()
        if db == "sqlite":
            await asyncio.to_thread(shutil.copyfile, base.path, temp)
        else:
            await _pg_admin(f'DROP DATABASE IF EXISTS "{temp}" WITH (FORCE)')
            await _pg_copy(base.pg, temp)
        found.upgrade_s, found.analyze_s = await upgrade(db, url)
        found.revision = head
        found.size_mb = await db_size_mb(db, url)
        found.built_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        made = await copy.publish(temp, found)
        made.reused = False
        made.source = f"copy upgraded to {tag} now ({copy.where}) of the {base_words}"
        return made
