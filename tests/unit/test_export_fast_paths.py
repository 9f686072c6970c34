"""`leakbot export`'s fast paths (`iter_csv_lines`, `iter_json_lines`: the
database does most of the flattening) write the same bytes as the Python path (`iter_export` +
`write_export`) in every format, on SQLite and PostgreSQL, for a data set made to be awkward:
Japanese text, commas, quotes, newlines, formula starts, empty and missing values, answers of
every JSON shape, several approvals and rounds, deadlines re-created by a later round or
unknown to the playbook, closed and reopened incidents, and rows stored in shapes only the
Python path flattens (they are flagged).

The pages are small so that paging, the read-ahead and the flagged rows meet across pages.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text, update

from bot.domain.export import (
    CsvLayout,
    csv_text,
    json_separator,
    write_csv_lines,
    write_export,
    write_json_texts,
)
from bot.domain.playbook import Playbook, load_playbook
from bot.store import NewIncident, NewTask, Store
from bot.store.aio import AsyncConnection
from bot.store.export import (
    csv_answer_lines,
    csv_lines_sql,
    iter_csv_lines,
    iter_export,
    iter_json_lines,
    json_line_text,
    json_lines_sql,
    sqlite_json_lines_sql,
)
from bot.store.tables import incidents, tasks

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
# The statements' parameters for every incident in one page.
KEYS = {"after_year": 0, "after_seq": 0, "upto_year": 9999, "upto_seq": 2**31 - 1, "limit": 1000}

PARTNERS = (
    "株式会社アクメ",
    'Globex, Inc. "東京"\n支店',
    '=HYPERLINK("http://x")',
    "-5 株式会社",
    "\t先頭タブ",
    "山田商事\r\n大阪",
    "@mention, Ltd.",
    "",
    "plain",
    'コンマ,と"引用"',
)

# Answers of every shape a JSON column can hold: what the intake writes and what it never does.
ANSWER_SETS: tuple[dict[str, Any], ...] = (
    {"data_kinds": ["customer_personal", "trade_secret"], "affected_persons": 250},
    {"data_kinds": [], "affected_persons": 0, "encrypted": "yes", "description": "説明,\n二行目"},
    {"affected_persons": -3, "description": "=1+1", "regions": ["jp", "eu", "us_ca"]},
    {"affected_persons": 2.5, "description": None, "regions": ["jp"]},
    {"affected_persons": True, "encrypted": False, "source": ""},
    {"data_kinds": ["a, b", 'say "x"', "改行\nあり"], "contract": ["-minus", "+plus"]},
    {"data_kinds": [1, "two", None], "damage": {"b": 2, "a": [1, "x"]}},
    {"description": "back\\slash \u0007 bell", "aware_at": "2026-05-01T09:00:00+09:00"},
    {"affected_persons": 12345678901234567890123, "description": "大きい数"},
    {"data_kinds": "not a list", "regions": [["nested"]], "report_quality": 1e21},
    {"description": "NUL \u0000 inside", "unknown_question": "ignored"},
    {},
)


def _playbook() -> Playbook:
    return load_playbook()  # the shipped playbook


def _incident(n: int) -> NewIncident:
    partner = PARTNERS[n % len(PARTNERS)]
    answers: dict[str, Any] = {"partner": partner, "cause": "negligence"}
    answers.update(ANSWER_SETS[n % len(ANSWER_SETS)])
    return NewIncident(
        partner=partner,
        reporter_id=f"UREPORTER{n % 3}",
        team_id=None if n % 4 == 0 else "T1",
        locale="ja" if n % 2 else "en",
        answers=answers,
        assessment={"recommendation": "request_report"},
        recommendation="request_report" if n % 3 else "consider_suspension",
        year=2025 + n % 2,
    )


async def _close_with(store: Store, incident_id: str, outcome: str, at: datetime) -> None:
    closed = await store.close_with_outcome(
        incident_id,
        actor_id="UAPPROVER1",
        outcome=outcome,
        note="結果",
        regulator=[],
        done_task_ids=[],
        now=at,
    )
    assert closed is not None


def _deadline(ref: str, due: datetime | None, owner: str | None = None) -> NewTask:
    return NewTask("deadline", ref, {"ja": "期限", "en": "Due"}, owner, due)


async def _awkward_history(store: Store) -> list[str]:
    """~40 incidents through the Store, then a few stored shapes written directly."""
    ids: list[str] = []
    for n in range(40):
        at = T0 + timedelta(days=n, microseconds=(n % 3) * 250_000)
        record, _ = await store.create_incident(_incident(n), now=at)
        ids.append(record.id)
        if n % 5 != 4:
            await store.create_tasks(
                record.id,
                [
                    _deadline("appi_preliminary", at + timedelta(days=3), "UAPPROVER1"),
                    _deadline("partner_report", None if n % 7 == 0 else at + timedelta(days=7)),
                    *(
                        [_deadline("retired_deadline", at + timedelta(days=9))]
                        if n % 6 == 0
                        else []
                    ),
                    NewTask("checklist", "ask_report", {"ja": "依頼", "en": "Ask"}, None, None),
                ],
                now=at,
            )
        step = n % 8
        if step in (1, 2, 3):  # two approvers, in either order; one incident rejected
            first, second = (
                ("UAPPROVER2", "UAPPROVER1") if step == 2 else ("UAPPROVER1", "UAPPROVER2")
            )
            action = "request_report" if step != 3 else "consider_suspension"
            await store.record_approval(
                record.id, approver_id=first, action=action, required=2, now=at + timedelta(hours=1)
            )
            await store.record_approval(
                record.id,
                approver_id=second,
                action=action,
                required=2,
                now=at + timedelta(hours=2),
            )
        elif step == 4:
            await store.reject(
                record.id,
                actor_id="UAPPROVER2",
                reason='+重複, "同じ"',
                now=at + timedelta(hours=1),
            )
        elif step in (5, 6):  # decided, then a new round (deadlines re-created), decided again
            await store.record_approval(
                record.id, approver_id="UAPPROVER1", action="request_report", required=1, now=at
            )
            await store.reopen_for_new_round(
                record.id,
                assessment={"recommendation": "consider_suspension"},
                recommendation="consider_suspension",
                actor_id="UREPORTER1",
                reason="更新",
                now=at + timedelta(days=1),
            )
            await store.create_tasks(
                record.id,
                [_deadline("appi_preliminary", at + timedelta(days=5))],
                now=at + timedelta(days=1),
            )
            if step == 6:
                await store.record_approval(
                    record.id,
                    approver_id="UAPPROVER2",
                    action="consider_suspension",
                    required=1,
                    now=at + timedelta(days=2),
                )
        elif step == 7:  # decided, closed, and for some reopened
            await store.record_approval(
                record.id, approver_id="UAPPROVER1", action="request_report", required=1, now=at
            )
            if n % 3 == 0:  # closed without an outcome (no code closes so; the schema allows)
                await store.write(
                    lambda conn, i=record.id, t=at + timedelta(days=3): conn.execute(
                        update(incidents)
                        .where(incidents.c.id == i)
                        .values(status="closed", updated_at=t)
                    )
                )
            else:
                await _close_with(store, record.id, "terminated", at + timedelta(days=3))
            if n % 16 == 15:
                await store.reopen_closed(
                    record.id, actor_id="UAPPROVER1", now=at + timedelta(days=4)
                )
                if n % 32 == 31:  # closed again: the second closure's outcome
                    await _close_with(store, record.id, "suspended", at + timedelta(days=5))

    async def odd_shapes(conn: AsyncConnection) -> None:
        # decided_by that is not a plain list of ids; a separator inside a deadline's ref.
        await conn.execute(
            update(incidents).where(incidents.c.id == ids[1]).values(decided_by=["U,1", 'U"2'])
        )
        await conn.execute(update(incidents).where(incidents.c.id == ids[9]).values(decided_by=[]))
        await conn.execute(
            update(tasks)
            .where(tasks.c.incident_id == ids[10], tasks.c.ref == "partner_report")
            .values(ref="odd\x1fref")
        )
        # Deadline refs that CSV must quote (a comma; a quote and a line break; the statuses
        # are a closed vocabulary, checked by the table).
        for n, ref in ((14, "a,b"), (15, 'x"y\r\nz')):
            await conn.execute(
                update(tasks)
                .where(tasks.c.incident_id == ids[n], tasks.c.ref == "appi_preliminary")
                .values(ref=ref)
            )
        if store.dialect == "sqlite":  # times stored without a fraction, or in another format
            await conn.execute(
                text("UPDATE incidents SET updated_at = substr(updated_at, 1, 19) WHERE id = :id"),
                {"id": ids[11]},
            )
            await conn.execute(
                text("UPDATE incidents SET created_at = created_at || '+00:00' WHERE id = :id"),
                {"id": ids[12]},
            )
            await conn.execute(
                text("UPDATE tasks SET due_at = substr(due_at, 1, 19) WHERE incident_id = :id"),
                {"id": ids[13]},
            )
            # Times only the JSON exports show: an approval's, a deadline's done_at.
            await conn.execute(
                text("UPDATE approvals SET created_at = created_at || 'Z' WHERE incident_id = :id"),
                {"id": ids[3]},
            )
            await conn.execute(
                text(
                    "UPDATE tasks SET done_at = '2026-05-20 10:00:00.5' "
                    "WHERE incident_id = :id AND ref = 'appi_preliminary'"
                ),
                {"id": ids[16]},
            )

    await store.write(odd_shapes)
    return ids


async def _python_path(store: Store, playbook: Playbook, fmt: str, **options: Any) -> str:
    out = io.StringIO()
    await write_export(iter_export(store, **options), out, fmt=fmt, playbook=playbook)
    return out.getvalue()


async def _fast_path(
    store: Store, playbook: Playbook, fmt: str, *, page_size: int, since: datetime | None = None
) -> str:
    """`fmt`: the CLI's paths ("csv", "json", "jsonl")."""
    out = io.StringIO()
    layout = CsvLayout(playbook)
    if fmt == "csv":
        lines = iter_csv_lines(store, layout=layout, since=since, page_size=page_size)
        await write_csv_lines(lines, out, layout=layout)
    else:
        texts = iter_json_lines(
            store, since=since, page_size=page_size, separator=json_separator(fmt)
        )
        await write_json_texts(texts, out, fmt=fmt)
    return out.getvalue()


async def test_fast_paths_write_the_python_paths_bytes(store: Store) -> None:
    ids = await _awkward_history(store)
    playbook = _playbook()
    for fmt in ("csv", "jsonl", "json"):
        expected = await _python_path(store, playbook, fmt.split(":")[0])
        assert expected.count("LEAK-") >= len(ids)  # every incident is in it
        assert "株式会社アクメ" in expected
        for page_size in (1, 7, 2000):
            assert await _fast_path(store, playbook, fmt, page_size=page_size) == expected, (
                fmt,
                page_size,
            )
    csv_output = await _python_path(store, playbook, "csv")
    assert csv_output.count("\r\n") >= len(ids) + 1 and "'=HYPERLINK" in csv_output


async def test_outcome_is_the_current_closures(store: Store) -> None:
    """`outcome` is how a closed incident ended: its latest closure's outcome; empty when it was
    closed without one, or reopened (and a closure after the reopen counts)."""
    ids = await _awkward_history(store)
    playbook = _playbook()
    expected = {ids[7]: "terminated", ids[23]: "terminated", ids[31]: "suspended"}
    for fmt in ("csv", "jsonl"):
        for text_ in (
            await _python_path(store, playbook, fmt),
            await _fast_path(store, playbook, fmt, page_size=7),
        ):
            if fmt == "csv":
                rows = csv.DictReader(io.StringIO(text_.lstrip("\ufeff"), newline=""))
                outcomes = {row["id"]: row["outcome"] for row in rows}
            else:
                records = [json.loads(line) for line in text_.splitlines()]
                outcomes = {r["id"]: r["outcome"] or "" for r in records}
            assert {i: outcomes[i] for i in expected} == expected
            assert outcomes[ids[15]] == outcomes[ids[39]] == ""  # reopened; no outcome given
            assert sum(1 for value in outcomes.values() if value) == len(expected)


async def test_fast_paths_with_since(store: Store) -> None:
    await _awkward_history(store)
    playbook = _playbook()
    since = T0 + timedelta(days=17, hours=12)
    for fmt in ("csv", "jsonl", "json"):
        expected = await _python_path(store, playbook, fmt.split(":")[0], since=since)
        assert 1 < expected.count("LEAK-") < 40
        assert await _fast_path(store, playbook, fmt, page_size=5, since=since) == expected


async def test_awkward_rows_are_flagged_and_plain_rows_are_not(store: Store) -> None:
    """The data set reaches both halves of SQLite's CSV path (the statement `leakbot export`
    runs, one page as one JSON text): rows the database flattens and rows it hands to Python
    (else the comparison above would not test the flattening)."""
    if store.dialect != "sqlite":
        pytest.skip("PostgreSQL: test_lines_the_database_builds_and_those_it_leaves_to_python")
    from bot.store.export import csv_rows_sql

    ids = await _awkward_history(store)
    sql = csv_rows_sql(store.dialect, CsvLayout(_playbook()).question_ids, since=False)
    async with store.read() as conn:
        rows = json.loads((await conn.execute(text(sql), KEYS)).scalar_one())
    assert {row[3] for row in rows} == set(ids)
    # ids[1]: decided_by holds escaped texts; ids[12]: a time stored with an offset.
    # (ids[10]'s ref holding the field separator is caught in Python, not flagged by SQL.)
    assert {row[3] for row in rows if row[2]} == {ids[1], ids[12]}


async def test_sqlite_csv_cells_that_need_quoting(store: Store) -> None:
    """SQLite writes the CSV cells before the approvals as one text: it quotes the free texts
    (partner, decision_reason) itself and flags a row where another of those cells would need
    quoting (a comma in an id or a decided_by text) or decided_by is not stored as Python writes
    it; the flagged rows are the Python path's, and the export stays its bytes."""
    if store.dialect != "sqlite":
        pytest.skip("PostgreSQL's CSV lines: test_lines_the_database_builds_and_those_it_…")
    from bot.store.export import csv_rows_sql

    ids = await _awkward_history(store)

    async def odd_cells(conn: AsyncConnection) -> None:
        changes = {
            ids[20]: {"decided_by": ["U,1"]},
            ids[21]: {"team_id": "T,1"},
            ids[22]: {"reporter_id": "U\nREPORTER"},
            ids[23]: {"partner": 'say "x"'},
        }
        for incident_id, values in changes.items():
            await conn.execute(
                update(incidents).where(incidents.c.id == incident_id).values(values)
            )
        await conn.execute(  # minified: not as Python stores it
            text("""UPDATE incidents SET decided_by = '["UA","UB"]' WHERE id = :id"""),
            {"id": ids[24]},
        )

    await store.write(odd_cells)
    sql = csv_rows_sql(store.dialect, CsvLayout(_playbook()).question_ids, since=False)
    async with store.read() as conn:
        rows = json.loads((await conn.execute(text(sql), KEYS)).scalar_one())
    flagged = {row[3] for row in rows if row[2]}
    assert flagged == {ids[n] for n in (1, 12, 20, 21, 22, 24)}
    heads = {row[3]: row[4] for row in rows}
    assert ',"say ""x""",' in heads[ids[23]] and ',"\'@mention, Ltd.",' in heads[ids[26]]
    playbook = _playbook()
    expected = await _python_path(store, playbook, "csv")
    assert "T,1" in expected and "UA; UB" in expected
    assert await _fast_path(store, playbook, "csv", page_size=7) == expected


async def test_lines_the_database_builds_and_those_it_leaves_to_python(store: Store) -> None:
    """PostgreSQL's `csv_lines_sql` builds the lines of the awkward data set (formula starts,
    commas, big and negative integers, booleans, lists) around the answers, whose cells
    `csv_answer_lines` makes, and leaves to Python (NULL) only a decided_by of escaped texts
    and deadlines whose ref or status needs quoting (found in the tail by the client)."""
    if store.dialect != "postgresql":
        pytest.skip("SQLite's CSV rows: test_awkward_rows_are_flagged_and_plain_rows_are_not")
    ids = await _awkward_history(store)
    layout = CsvLayout(_playbook())
    sql = csv_lines_sql(layout.deadline_ids, since=False)
    async with store.read() as conn:
        rows = (await conn.execute(text(sql), KEYS)).all()
    built = csv_answer_lines(
        layout, [row[4] for row in rows], [row[5] for row in rows], [row[6] for row in rows]
    )
    lines = {row[3]: line for row, line in zip(rows, built, strict=True)}
    assert set(lines) == set(ids)
    nulls = {i for i, line in lines.items() if line is None}
    # decided_by holds escaped texts; a deadline's ref needs quoting
    assert nulls == {ids[1], ids[14], ids[15]}
    assert lines[ids[26]].startswith(ids[26] + ",")
    assert ',"\'@mention, Ltd.",' in lines[ids[26]] and ",'=1+1," in lines[ids[26]]


async def test_json_lines_the_database_builds(store: Store) -> None:
    """PostgreSQL builds the JSON text of the incidents of the awkward data set (texts with
    quotes, newlines, tabs, backslashes; numbers of every kind; nested answers) around their
    answers, which Python compacts (escaped ones too), and leaves to Python (NULL) only a
    decided_by of escaped texts."""
    if store.dialect != "postgresql":
        pytest.skip("SQLite's texts: test_sqlite_json_lines_the_database_builds")
    ids = await _awkward_history(store)
    async with store.read() as conn:
        result = await conn.execute(text(json_lines_sql(since=False)), KEYS)
        lines = {row[3]: json_line_text(row[4], row[5], row[6]) for row in result}
    assert set(lines) == set(ids)
    nulls = {i for i, line in lines.items() if line is None}
    assert nulls == {ids[1]}  # decided_by holds escaped texts
    assert json.loads(lines[ids[6]])["answers"]["damage"] == {"b": 2, "a": [1, "x"]}
    # answer sets 7 and 10 hold \u0007 and \u0000: decoded and encoded again
    assert json.loads(lines[ids[7]])["answers"]["description"] == "back\\slash \u0007 bell"
    assert '"NUL \\u0000 inside"' in lines[ids[10]]


async def test_sqlite_json_lines_the_database_builds(store: Store) -> None:
    """SQLite builds the JSON text of most incidents of the awkward data set (Japanese, quotes,
    newlines, tabs, formula starts, numbers of every kind, nested answers, re-created and
    unknown deadlines) and leaves to Python (NULL) those with a backslash in their answers or
    decided_by, or a time stored in another format (the incident's, a deadline's, an
    approval's); each line it builds is the Python path's."""
    if store.dialect != "sqlite":
        pytest.skip("PostgreSQL's texts: test_json_lines_the_database_builds")
    ids = await _awkward_history(store)
    async with store.read() as conn:
        rows = (await conn.execute(text(sqlite_json_lines_sql(since=False)), KEYS)).all()
    in_key_order = sorted(ids, key=lambda i: tuple(int(part) for part in i.split("-")[1:]))
    assert [row[3] for row in rows] == in_key_order
    lines = {row[3]: row[4] for row in rows}
    nulls = {i for i, line in lines.items() if line is None}
    # ids[1]: decided_by of escaped texts; answer sets 7 and 10 hold escapes; ids[3]: an
    # approval's time, ids[16]: a deadline's done_at, stored in another format
    assert {ids[n] for n in (1, 3, 7, 10, 16)} <= nulls
    # plain partners; answer sets 0, 6 (nested), 8 (a big integer), 9 (1e+21, nested lists)
    assert not {ids[n] for n in (0, 6, 8, 33)} & nulls
    assert len(lines) - len(nulls) >= 10
    expected = await _python_path(store, _playbook(), "jsonl")
    python_lines = dict(zip(in_key_order, expected.splitlines(), strict=True))
    for incident_id, line in lines.items():
        if line is not None:
            assert line == python_lines[incident_id], incident_id
    assert json.loads(lines[ids[6]])["answers"]["damage"] == {"b": 2, "a": [1, "x"]}


async def test_sqlite_export_reads_one_snapshot(store: Store) -> None:
    """SQLite's pages come over two connections: both read the database as it was when the
    export started, whatever is written meanwhile (one snapshot, as one connection gives)."""
    if store.dialect != "sqlite":
        pytest.skip("PostgreSQL has no shared snapshot: each page is its own statement")
    ids = await _awkward_history(store)
    playbook = _playbook()
    layout = CsvLayout(playbook)
    for fmt in ("csv", "jsonl"):
        before = await _fast_path(store, playbook, fmt, page_size=3)
        if fmt == "csv":
            pages: Any = iter_csv_lines(store, layout=layout, page_size=3)
        else:
            pages = iter_json_lines(store, page_size=3)
        first = await anext(pages)

        async def change(conn: AsyncConnection) -> None:
            await conn.execute(update(incidents).values(partner="変更後"))

        await store.write(change)
        await store.create_incident(_incident(99), now=T0 + timedelta(days=99))
        out = io.StringIO()
        rest = [first] + [page async for page in pages]
        if fmt == "csv":
            out.write(csv_text([layout.columns]))
            out.write("".join(lines for _, lines in rest))
            assert out.getvalue() == before
        else:
            assert "".join(page + "\n" for _, page in rest) == before
        assert "変更後" not in out.getvalue() and len(ids) == 40
    # the changes are there for the next export
    assert "変更後" in await _fast_path(store, playbook, "jsonl", page_size=3)


def test_csv_text_is_the_csv_modules_text() -> None:
    """`csv_text` joins the rows that need no quoting itself: the csv module's bytes either way."""
    rows: list[list[Any]] = [
        ["a", "b", "c"],
        ["株式会社", "", "'=1+1"],
        ["a,b", "c", 'say "x"'],
        ["line\nbreak", "cr\rhere", "\t"],
        ["x", 3, None],
        [""],
        ["only"],
        [],
        ["", ""],
        [" space ", "tab\tin", "semi; colon"],
    ]
    expected = io.StringIO()
    csv.writer(expected, lineterminator="\r\n").writerows(rows)
    assert csv_text(rows) == expected.getvalue()
    for row in rows:
        single = io.StringIO()
        csv.writer(single, lineterminator="\r\n").writerow(row)
        assert csv_text([row]) == single.getvalue(), row


async def test_empty_store(store: Store) -> None:
    playbook = _playbook()
    for fmt in ("csv", "jsonl", "json"):
        expected = await _python_path(store, playbook, fmt.split(":")[0])
        assert expected.count("\n") == (0 if fmt.startswith("jsonl") else 1)
        assert await _fast_path(store, playbook, fmt, page_size=3) == expected


def _cells(layout: CsvLayout, values: Sequence[Any]) -> list[str]:
    return layout.answer_cells(values)


def test_answer_cells_match_the_cell_rules() -> None:
    layout = CsvLayout(_playbook())
    values = ["=x", "", None, True, 3, -3, ["a", "b"], "+", "\tt", "plain", 2.5, {"k": "v"}]
    assert _cells(layout, values) == [
        "'=x",
        "",
        "",
        "true",
        "3",
        "'-3",
        "a; b",
        "'+",
        "'\tt",
        "plain",
        "2.5",
        '{"k": "v"}',
    ]


def test_compacted_answers_are_json_texts() -> None:
    """`_compact_answers` (the JSON export's answers on PostgreSQL) writes what `json_text`
    writes of the decoded answers, for what the app stores (`json.dumps`, ", " and ": ") and
    for what it does not (escapes, other whitespace, no spaces at all)."""
    from bot.domain.export import json_text
    from bot.store.export import _compact_answers

    stored = [
        json.dumps({"partner": partner, **answers}, ensure_ascii=False)
        for answers in ANSWER_SETS
        for partner in PARTNERS
    ]
    stored += [
        json.dumps({"a": ", ", "b": ": ", "c": [", ", ": x"], "d": " "}),
        json.dumps({"日本": "全角 スペース", "n": [1, 2.5, None, True], "o": {"k": {"l": []}}}),
        '{"a":\n  [1,\t2],\r\n "b": "x"}',
        '{"a":1,"b":"c d"}',
        "{}",
    ]
    for text_ in stored:
        assert _compact_answers(text_) == json_text(json.loads(text_)), text_


async def test_a_range_that_grew_meanwhile_goes_on_by_keyset(store: Store) -> None:
    """PostgreSQL reads each page's range (bounds read first) when a connection is free: the
    last range, read after incidents were created meanwhile, holds more than a page, and the
    rows past the page come by keyset, every incident once and in order (lines and JSON)."""
    if store.dialect != "postgresql":
        pytest.skip("SQLite reads one snapshot: incidents created meanwhile are not in it")
    layout = CsvLayout(_playbook())

    async def create(numbers: range, at: datetime) -> list[str]:
        return [
            (await store.create_incident(replace(_incident(n), year=2026), now=at))[0].id
            for n in numbers
        ]

    for day, fmt in enumerate(("csv", "jsonl")):
        since = T0 + timedelta(days=day)  # each format its own incidents
        ids = await create(range(7), since)  # bounds after the 3rd and 6th: ranges of 3, 3, 1
        pages: list[list[str]] = []
        if fmt == "csv":
            csv_pages = iter_csv_lines(store, layout=layout, since=since, page_size=3)
            async for count, lines in csv_pages:
                rows = list(csv.reader(io.StringIO(lines, newline="")))
                assert len(rows) == count
                pages.append([row[0] for row in rows])
                if len(pages) == 1:  # the third range is read after this page
                    ids += await create(range(7, 12), since)
        else:
            async for count, texts in iter_json_lines(store, since=since, page_size=3):
                pages.append([json.loads(line)["id"] for line in texts.split("\n")])
                assert len(pages[-1]) == count
                if len(pages) == 1:
                    ids += await create(range(7, 12), since)
        assert [len(page) for page in pages] == [3, 3, 3, 3], fmt
        assert [i for page in pages for i in page] == ids, fmt


async def test_postgresql_reads_the_deadlines_from_their_index(store: Store) -> None:
    """Both PostgreSQL statements read each incident's deadline tasks from the index migration
    0012 made for them (`ix_tasks_deadline_export`, in their order: an index-only scan, no sort,
    on a real table; a statement whose order or columns left it would read them otherwise)."""
    if store.dialect != "postgresql":
        pytest.skip("a PostgreSQL index (SQLite reads its tasks otherwise)")
    await _awkward_history(store)
    layout = CsvLayout(_playbook())
    statements = {
        "csv": csv_lines_sql(layout.deadline_ids, since=False),
        "json": json_lines_sql(since=False),
    }
    async with store.read() as conn:
        # A few tasks are one page to PostgreSQL: scanned whole, whatever the index; and on
        # tables this small the unique index and a sort of its one row cost about the same
        # as the index in order (a tie either way). With scans and sorts priced out, the
        # planner takes the index that gives the order; a statement whose order did not
        # match it would still need a sort of the tasks (session settings: SET LOCAL does
        # nothing outside a transaction block; reset below).
        await conn.execute(text("SET enable_seqscan = off"))
        await conn.execute(text("SET enable_sort = off"))
        try:
            for name, sql in statements.items():
                result = await conn.execute(text(f"EXPLAIN {sql}"), KEYS)
                plan = "\n".join(row[0] for row in result)
                assert "using ix_tasks_deadline_export on tasks" in plan, (name, plan)
                assert "Sort Key: t.ref" not in plan, (name, plan)
        finally:
            await conn.execute(text("RESET enable_seqscan"))
            await conn.execute(text("RESET enable_sort"))
