"""Drafting the documents of an incident: a template from `playbooks/documents/` filled with facts.

`draft(kind, facts, lang, fmt, playbook=…)` is the one entry point for the CLI and Slack: Markdown
(UTF-8) or a Word file, with a file name. Templates are Jinja2 files `<kind>.<lang>.md.j2`; the
facts come from bot/domain/documents.py. Every text fact is escaped for Markdown automatically
(see `md_escape`), so a partner name cannot inject a heading or a table cell.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args
from zoneinfo import ZoneInfo

from bot.domain.answers import Answers, parse_answers
from bot.domain.documents import (
    DOCUMENT_KINDS,
    DeadlineFact,
    DocumentKind,
    IncidentFacts,
    Verbatim,
    build_context,
)
from bot.domain.engine import assess
from bot.domain.playbook import DEFAULT_PLAYBOOK_DIR, Playbook
from bot.store.records import IncidentRecord

if TYPE_CHECKING:
    import jinja2

DocumentFormat = Literal["md", "docx"]
DOCUMENT_FORMATS: tuple[DocumentFormat, ...] = get_args(DocumentFormat)
MEDIA_TYPES: dict[DocumentFormat, str] = {
    "md": "text/markdown; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


class DocumentError(Exception):
    """A document that cannot be drafted (unknown kind, missing or broken template)."""


def documents_dir(playbook_path: Path | None = None) -> Path:
    """Where the document templates live: `documents/` beside the playbook in use.

    A company that keeps its own playbook directory may keep its own templates there; without
    one, the shipped templates are used. (The one place to repoint if playbooks move.)
    """
    if playbook_path is not None:
        beside = playbook_path.parent / "documents"
        if beside.is_dir():
            return beside
    return DEFAULT_PLAYBOOK_DIR / "documents"


# -- Markdown escaping -----------------------------------------------------------------------------

# CommonMark: any ASCII punctuation may be backslash-escaped. These are the ones that start
# markup anywhere in a line (emphasis, links, code, HTML, tables, entities).
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&!])")
# ... and these only at the start of a line (headings, lists, quotes, thematic breaks), and the
# "." or ")" after the number that opens an ordered list.
_MD_LINE_START = re.compile(r"^(\s*)([#>+=-])", re.MULTILINE)
_MD_ORDERED = re.compile(r"^(\s*\d+)([.)])", re.MULTILINE)
_MD_UNESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def md_escape(text: str) -> str:
    """Text shown literally in Markdown: markup characters escaped, line breaks made spaces."""
    flat = " ".join(str(text).split())
    escaped = _MD_SPECIAL.sub(r"\\\1", flat)
    escaped = _MD_LINE_START.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", escaped)
    return _MD_ORDERED.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", escaped)


def md_unescape(text: str) -> str:
    return _MD_UNESCAPE.sub(r"\1", text)


def _finalize(value: Any) -> Any:
    if value is None:
        # A template printed an unknown fact without its 調査中 fallback: a template defect.
        raise DocumentError("a template printed an unknown value (use the unknown-value macro)")
    if isinstance(value, Verbatim):
        return md_escape(value)
    return value


@lru_cache(maxsize=8)
def _environment(directory: Path) -> jinja2.Environment:
    import jinja2  # lazily: only drafting needs it

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        undefined=jinja2.StrictUndefined,
        # Markdown is not HTML: Jinja's HTML autoescape would garble it; `_finalize` escapes
        # every fact for Markdown instead.
        autoescape=False,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def template_name(kind: DocumentKind, lang: str) -> str:
    return f"{kind}.{lang}.md.j2"


def render_markdown(
    kind: str, facts: IncidentFacts, lang: str, *, playbook: Playbook, templates: Path
) -> str:
    if kind not in DOCUMENT_KINDS:
        raise DocumentError(f"unknown document {kind!r} (one of: {', '.join(DOCUMENT_KINDS)})")
    document_kind: DocumentKind = kind  # narrowed by the check above
    name = template_name(document_kind, lang)
    import jinja2

    try:
        template = _environment(templates).get_template(name)
        text = template.render(build_context(document_kind, facts, playbook, lang))
    except jinja2.TemplateNotFound as exc:
        raise DocumentError(f"{templates / name}: template missing ({exc.name})") from exc
    except jinja2.TemplateSyntaxError as exc:
        raise DocumentError(f"{exc.filename}:{exc.lineno}: {exc.message}") from exc
    except jinja2.UndefinedError as exc:
        raise DocumentError(f"{templates / name}: {exc.message}") from exc
    # Blank lines collapse to one, so a template's `{% if %}` lines leave no gaps.
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


# -- Markdown → Word ---------------------------------------------------------------------------

_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def table_cells(line: str) -> list[str]:
    """The cells of a Markdown table row, split on unescaped pipes, then unescaped."""
    cells: list[str] = []
    current: list[str] = []
    chars = iter(line.strip().removeprefix("|"))
    for char in chars:
        if char == "\\":
            current.append(char + next(chars, ""))
        elif char == "|":
            cells.append("".join(current))
            current = []
        else:
            current.append(char)
    if "".join(current).strip():  # a row without its closing pipe
        cells.append("".join(current))
    return [md_unescape(cell.strip()) for cell in cells]


# Word's Japanese face for the Japanese text in every draft (the PPC item names in English ones).
_EAST_ASIAN_FONT = "Yu Mincho"


def markdown_to_docx(markdown: str, *, author: str = "leakbot") -> bytes:
    """A Word file from the Markdown subset the templates use: headings, paragraphs, bullets,
    quotes and tables. Every text line is its own paragraph (letters keep their lines)."""
    import docx  # lazily: only `--format docx` needs it
    from docx.oxml.ns import qn

    document = docx.Document()
    fonts = document.styles["Normal"].element.get_or_add_rPr().get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), _EAST_ASIAN_FONT)
    properties = document.core_properties
    properties.author = author
    properties.last_modified_by = author
    properties.title = md_unescape(markdown.splitlines()[0].lstrip("# ")) if markdown else ""
    rows: list[list[str]] = []

    def flush_table() -> None:
        if not rows:
            return
        width = max(len(row) for row in rows)
        table = document.add_table(rows=len(rows), cols=width)
        table.style = "Table Grid"
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                cell = table.cell(r, c)
                cell.text = text
                if r == 0:
                    for run in cell.paragraphs[0].runs:
                        run.bold = True
        rows.clear()

    for raw in markdown.splitlines():
        line = raw.rstrip()
        if line.startswith("|"):
            if not _TABLE_RULE.match(line):
                rows.append(table_cells(line))
            continue
        flush_table()
        if not line.strip():
            continue
        heading = re.match(r"^(#{1,3}) (.*)$", line)
        if heading:
            level = len(heading.group(1)) - 1  # "#" is the title (level 0)
            document.add_heading(md_unescape(heading.group(2)), level)
        elif line.startswith("> "):
            document.add_paragraph(md_unescape(line[2:]), style="Intense Quote")
        elif line.startswith("- "):
            document.add_paragraph(md_unescape(line[2:]), style="List Bullet")
        else:
            document.add_paragraph(md_unescape(line))
    flush_table()
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


# -- the entry point ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """A drafted document: its bytes (UTF-8 Markdown or .docx), a file name and media type."""

    kind: str
    lang: str
    format: DocumentFormat
    filename: str
    content: bytes
    media_type: str

    @property
    def text(self) -> str:
        if self.format != "md":
            raise ValueError("only a Markdown draft is text")
        return self.content.decode("utf-8")


def draft_filename(kind: str, facts: IncidentFacts, lang: str, fmt: DocumentFormat) -> str:
    """ppc_preliminary-LEAK-2026-0001-ja.docx (without an incident id: ppc_preliminary-ja.md)."""
    parts = [kind, *([facts.incident_id] if facts.incident_id else []), lang]
    return "-".join(parts) + f".{fmt}"


def draft(
    kind: str,
    facts: IncidentFacts,
    lang: str,
    fmt: DocumentFormat = "md",
    *,
    playbook: Playbook,
    templates: Path | None = None,
) -> Draft:
    """Draft document `kind` in `lang` as Markdown or Word. Raises DocumentError."""
    if fmt not in DOCUMENT_FORMATS:
        raise DocumentError(f"unknown format {fmt!r} (md or docx)")
    markdown = render_markdown(
        kind, facts, lang, playbook=playbook, templates=templates or documents_dir()
    )
    content = markdown.encode("utf-8") if fmt == "md" else markdown_to_docx(markdown)
    return Draft(
        kind=kind,
        lang=lang,
        format=fmt,
        filename=draft_filename(kind, facts, lang, fmt),
        content=content,
        media_type=MEDIA_TYPES[fmt],
    )


# -- facts from answers or a stored incident ----------------------------------------------------


class _DeadlineLike(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def due(self) -> datetime: ...


def deadline_facts(deadlines: Iterable[_DeadlineLike], lang: str) -> tuple[DeadlineFact, ...]:
    """The engine's deadlines as documents need them (`source` where the engine gives one)."""
    facts: list[DeadlineFact] = []
    for deadline in deadlines:
        source: Any = getattr(deadline, "source", None)
        if callable(source):
            source = source(lang)
        facts.append(
            DeadlineFact(
                str(deadline.id), deadline.due, source if isinstance(source, str) else None
            )
        )
    return tuple(facts)


def facts_from_answers(
    answers: Answers,
    playbook: Playbook,
    lang: str,
    *,
    tz: ZoneInfo,
    now: datetime,
    assessed_at: datetime | None = None,
    incident_id: str | None = None,
    decided_action: str | None = None,
    company_name: str | None = None,
    company_contact: str | None = None,
) -> IncidentFacts:
    """Assess the answers (as of `assessed_at`, default `now`) for their deadlines."""
    assessment = assess(answers, playbook, tz=tz, now=assessed_at or now)
    return IncidentFacts(
        answers=answers,
        deadlines=deadline_facts(assessment.deadlines, lang),
        recommendation=assessment.recommendation,
        now=now,
        tz=tz,
        decided_action=decided_action,
        incident_id=incident_id,
        company_name=company_name,
        company_contact=company_contact,
    )


def facts_from_incident(
    record: IncidentRecord,
    playbook: Playbook,
    lang: str,
    *,
    tz: ZoneInfo,
    now: datetime,
    company_name: str | None = None,
    company_contact: str | None = None,
) -> IncidentFacts:
    """A stored incident's facts, as they were assessed (its answers at their assessment time).

    Raises AnswersError when the stored answers no longer fit the playbook.
    """
    stamp = record.assessment.get("assessed_at")
    assessed_at = datetime.fromisoformat(stamp) if isinstance(stamp, str) else record.created_at
    answers = parse_answers(record.answers, playbook, tz=tz, now=assessed_at, partial=True)
    return facts_from_answers(
        answers,
        playbook,
        lang,
        tz=tz,
        now=now,
        assessed_at=assessed_at,
        incident_id=record.id,
        decided_action=record.decided_action,
        company_name=company_name,
        company_contact=company_contact,
    )
