"""The weekly summary's chart as one PNG (matplotlib, Agg backend, imported only here, lazily).

Top: incidents reported per ISO week over the last 12 weeks, stacked by what was decided
(undecided and sent back too). Bottom: this company's decisions over those weeks beside the
survey's answers, each bar labelled with its count ("12 of 40 decisions", "43 of 100
respondents"). Japanese labels need a Japanese-capable font, looked up at run time; without
one the chart is drawn with English labels rather than empty boxes.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from bot.domain.chart import CATEGORIES, REJECTED, UNDECIDED, WeeklyActions, chart_weeks
from bot.domain.explain import option_label
from bot.domain.i18n import t
from bot.domain.playbook import Playbook
from bot.domain.summary import parse_week
from bot.domain.vocabulary import OPTION_KEYS

PNG_SIGNATURE: Final[bytes] = b"\x89PNG\r\n\x1a\n"
# A palette of this many colours holds the chart's flat fills and its anti-aliased text.
PALETTE_COLOURS: Final[int] = 256
log = logging.getLogger(__name__)

# Families that cover Japanese, most common on Linux servers first (fonts-noto-cjk,
# fonts-ipaexfont, fonts-takao, fonts-vlgothic), then macOS / Windows ones.
JAPANESE_FONTS: Final[tuple[str, ...]] = (
    "Noto Sans CJK JP",
    "Noto Sans JP",
    "Source Han Sans JP",
    "IPAexGothic",
    "IPAGothic",
    "IPAPGothic",
    "TakaoGothic",
    "TakaoPGothic",
    "VL Gothic",
    "Hiragino Sans",
    "Hiragino Kaku Gothic ProN",
    "Yu Gothic",
    "Meiryo",
    "MS Gothic",
)
# Colour per category, mildest action lightest; sent back grey, undecided hatched white.
COLOURS: Final[dict[str, str]] = {
    "continue_unchanged": "#c6dbef",
    "continue_with_concern": "#9ecae1",
    "request_report": "#4292c6",
    "consider_suspension": "#f16913",
    "suspend_and_legal": "#a50f15",
    REJECTED: "#969696",
    UNDECIDED: "#ffffff",
}


@dataclass(frozen=True)
class Chart:
    png: bytes
    lang: str  # the labels' language: "en" when Japanese was asked for but no font has it
    font: str | None  # the Japanese-capable family used, if any


def japanese_font(candidates: Sequence[str] = JAPANESE_FONTS) -> str | None:
    """The first installed font family of `candidates`, or None."""
    from matplotlib import font_manager

    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    return next((name for name in candidates if name in installed), None)


def _category_label(playbook: Playbook, key: str, lang: str) -> str:
    if key in OPTION_KEYS:
        return option_label(playbook, key, lang)
    return t(lang, f"chart.{key}")


def render_chart(
    playbook: Playbook,
    data: WeeklyActions,
    lang: str,
    *,
    fonts: Sequence[str] = JAPANESE_FONTS,
) -> Chart:
    """Draw the chart; `fonts`: the Japanese-capable families to look for."""
    import matplotlib

    matplotlib.use("Agg")  # no display, no GUI toolkit: safe in a server process
    from matplotlib.figure import Figure

    font = japanese_font(fonts) if lang == "ja" else None
    if lang == "ja" and font is None:
        lang = "en"  # English words rather than boxes where the glyphs are missing
    with matplotlib.rc_context({"font.family": [font, "DejaVu Sans"] if font else ["DejaVu Sans"]}):
        figure = Figure(figsize=(11, 9), dpi=100, layout="constrained")
        weekly, compared = figure.subplots(2, 1, height_ratios=[3, 2])
        _draw_weekly(weekly, playbook, data, lang)
        _draw_compared(compared, playbook, data, lang)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    return Chart(palette_png(buffer.getvalue()), lang, font)


def palette_png(png: bytes) -> bytes:
    """`png` (opaque) as a palette PNG of PALETTE_COLOURS colours.

    Why: the PNG travels in the summary's outbox item (base64), is read back by the sender and
    uploaded, so each of its copies sits in the server's heap at the first start's peak. The
    chart's areas are flat and its text anti-aliased on white: with 256 colours the file is
    ~60 % smaller (89 KB → 34 KB for the test chart) and the pixels differ by 0.003 of 255 on
    average. Pillow (matplotlib's image library) is loaded only in the drawing process."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        palette = image.convert("RGB").quantize(PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT)
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _draw_weekly(axes: object, playbook: Playbook, data: WeeklyActions, lang: str) -> None:
    from matplotlib.axes import Axes

    assert isinstance(axes, Axes)
    positions = list(range(len(data.weeks)))
    bottoms = [0] * len(data.weeks)
    for key in CATEGORIES:
        values = data.counts.get(key, (0,) * len(data.weeks))
        axes.bar(
            positions,
            values,
            bottom=bottoms,
            color=COLOURS[key],
            edgecolor="#525252",
            linewidth=0.5,
            hatch="//" if key == UNDECIDED else None,
            label=_category_label(playbook, key, lang),
        )
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    axes.set_xticks(positions, [f"W{week.number:02d}" for week in data.weeks])
    axes.set_title(t(lang, "chart.weekly_title", weeks=len(data.weeks)))
    axes.set_ylabel(t(lang, "chart.incidents_axis"))
    axes.yaxis.get_major_locator().set_params(integer=True)  # type: ignore[call-arg]
    axes.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5), reverse=True)
    axes.grid(axis="y", alpha=0.3)


def _draw_compared(axes: object, playbook: Playbook, data: WeeklyActions, lang: str) -> None:
    from matplotlib.axes import Axes

    assert isinstance(axes, Axes)
    survey = playbook.loaded_survey
    respondents = sum(choice.count for choice in survey.choices)
    survey_counts = {choice.key: choice.count for choice in survey.choices}
    ours = data.decided
    decisions = sum(ours.values())
    rows = list(range(len(OPTION_KEYS)))
    height = 0.38
    our_shares = [ours[key] / decisions if decisions else 0.0 for key in OPTION_KEYS]
    survey_shares = [survey_counts[key] / respondents for key in OPTION_KEYS]
    axes.barh(
        [r - height / 2 for r in rows],
        our_shares,
        height,
        color=[COLOURS[key] for key in OPTION_KEYS],
        edgecolor="#525252",
        linewidth=0.5,
        label=t(lang, "chart.ours_legend", count=decisions),
    )
    axes.barh(
        [r + height / 2 for r in rows],
        survey_shares,
        height,
        color="#d9d9d9",
        edgecolor="#525252",
        linewidth=0.5,
        label=t(lang, "chart.survey_legend", total=respondents),
    )
    for row, key in zip(rows, OPTION_KEYS, strict=True):
        axes.annotate(
            t(lang, "chart.ours_count", count=ours[key], total=decisions),
            (our_shares[row], row - height / 2),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize="x-small",
        )
        axes.annotate(
            t(lang, "chart.survey_count", count=survey_counts[key], total=respondents),
            (survey_shares[row], row + height / 2),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize="x-small",
        )
    labels = [option_label(playbook, key, lang) for key in OPTION_KEYS]
    axes.set_yticks(rows, labels)
    axes.invert_yaxis()  # mildest on top, as in the survey
    # Room on the right for the count labels.
    axes.set_xlim(0, min(1.0, max([*our_shares, *survey_shares]) * 1.45 + 0.05))
    axes.xaxis.set_major_formatter(lambda value, _pos: f"{value * 100:.0f}%")
    axes.set_title(t(lang, "chart.compared_title", weeks=len(data.weeks)))
    axes.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    axes.grid(axis="x", alpha=0.3)


# -- drawing in a child process ----------------------------------------------------------------
#
# The server draws the weekly chart in a short-lived child (`python -m bot.summary_chart`): the
# drawing holds the GIL for a second or more and matplotlib adds tens of MB that would stay in
# the long-running process, while the chart is needed once a week. The child reads the chart's
# input (`chart_input`) as JSON on stdin and writes the PNG to stdout.

CHILD_TIMEOUT_SECONDS: Final[float] = 120.0


class ChartFailed(Exception):
    """The chart could not be drawn (the child failed, timed out or wrote no PNG)."""


def chart_input(data: WeeklyActions, lang: str) -> dict[str, object]:
    """What the child needs to draw `data` (JSON values): the last week, how many weeks, the
    counts per category and the labels' language."""
    if not data.weeks:
        raise ValueError("a chart needs at least one week")
    return {
        "week": data.weeks[-1].label,
        "weeks": len(data.weeks),
        "counts": {key: list(values) for key, values in data.counts.items()},
        "lang": lang,
    }


def actions_from_input(spec: Mapping[str, object], tz: ZoneInfo) -> WeeklyActions:
    """`chart_input`'s JSON back into the series (ValueError when it is not one)."""
    weeks_count = spec.get("weeks")
    counts = spec.get("counts")
    if not isinstance(weeks_count, int) or weeks_count < 1 or not isinstance(counts, Mapping):
        raise ValueError("chart input needs weeks (a positive number) and counts")
    weeks = chart_weeks(parse_week(str(spec.get("week") or ""), tz), tz, weeks_count)
    series: dict[str, tuple[int, ...]] = {}
    for key in CATEGORIES:
        values = counts.get(key, [0] * weeks_count)
        if not isinstance(values, list) or len(values) != weeks_count:
            raise ValueError(f"chart input: {key} needs {weeks_count} counts")
        series[key] = tuple(int(value) for value in values)
    return WeeklyActions(weeks, series)


async def draw_in_child(
    spec: Mapping[str, object],
    *,
    playbook_path: Path | None,
    tz: ZoneInfo,
    timeout: float = CHILD_TIMEOUT_SECONDS,
) -> bytes:
    """The PNG of `spec` (chart_input), drawn by a child process; ChartFailed otherwise."""
    import json

    from bot.python_child import ChildTimedOut, run_python

    arguments = ["-m", "bot.summary_chart", "--tz", tz.key]
    if playbook_path is not None:
        arguments += ["--playbook", str(playbook_path)]
    try:
        result = await run_python(arguments, stdin=json.dumps(spec).encode(), timeout=timeout)
    except ChildTimedOut:
        raise ChartFailed(f"drawing took longer than {timeout:g} s") from None
    if result.returncode != 0 or not result.stdout.startswith(PNG_SIGNATURE):
        detail = result.last_error_line("no PNG written")
        raise ChartFailed(f"the chart process exited {result.returncode}: {detail}")
    for note in result.stderr.decode(errors="replace").strip().splitlines():
        log.warning("weekly summary chart: %s", note)  # drawn, with a remark (e.g. no font)
    return result.stdout


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m bot.summary_chart [--tz ZONE] [--playbook FILE]`: chart_input JSON on stdin,
    the PNG on stdout."""
    import argparse
    import json
    import sys

    from bot.domain.playbook import load_playbook

    parser = argparse.ArgumentParser(prog="python -m bot.summary_chart")
    parser.add_argument("--tz", default="UTC")
    parser.add_argument("--playbook", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        spec = json.loads(sys.stdin.buffer.read())
        if not isinstance(spec, dict):
            raise ValueError("the chart input is not a JSON object")
        data = actions_from_input(spec, ZoneInfo(args.tz))
        lang = str(spec.get("lang") or "en")
        chart = render_chart(load_playbook(args.playbook), data, lang)
    except Exception as exc:  # one line on stderr: the parent logs it
        print(f"summary chart: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if chart.lang != lang:
        print(
            f"no Japanese-capable font installed (looked for {', '.join(JAPANESE_FONTS)}): "
            "drawn with English labels",
            file=sys.stderr,
        )
    sys.stdout.buffer.write(chart.png)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
