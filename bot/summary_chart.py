"""The weekly summary's chart as one PNG (matplotlib, Agg backend, imported only here, lazily).

Left: incidents reported per ISO week over the last 12 weeks, stacked by what was decided
(undecided and sent back too). Right: this company's decisions over those weeks beside the
survey's answers, each bar labelled with its count ("12 of 40 decisions", "43 of 100
respondents"). Japanese labels need a Japanese-capable font, looked up at run time; without
one the chart is drawn with English labels rather than empty boxes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from bot.domain.chart import CATEGORIES, REJECTED, UNDECIDED, WeeklyActions
from bot.domain.explain import option_label
from bot.domain.i18n import t
from bot.domain.playbook import Playbook
from bot.domain.vocabulary import OPTION_KEYS

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
    return Chart(buffer.getvalue(), lang, font)


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
