"""Chart geometry for server-rendered SVG: numbers in, coordinates out.

The markup is in ``templates/admin/_charts.html`` (Jinja escapes every label); this module
only places things, so it stays testable and free of string-built markup. Every chart is
shown with a table of the same numbers for screen readers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from app.services.dashboard import DailySeries

WIDTH, HEIGHT = 1000, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 28
BAR_HEIGHT, BAR_GAP, LABEL_WIDTH = 22, 8, 300
#: one series of a small-multiples chart
PANEL_HEIGHT = 120
#: the nice steps of an axis, per power of ten
_STEPS = (1, 2, 5)


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 x 10^k at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1
    power = int(10 ** math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def nice_ticks(value: int, *, most: int = 4) -> list[int]:
    """Evenly spaced whole-number ticks from 0 to at or above ``value``, at most ``most``
    intervals, each step 1, 2 or 5 x 10^k: never 0, 2, 5 (uneven) nor 0, 0.5, 1."""
    value = max(value, 1)
    power = 1
    while True:
        for step in (s * power for s in _STEPS):
            intervals = -(-value // step)  # ceiling division
            if intervals <= most:
                return [i * step for i in range(intervals + 1)]
        power *= 10


@dataclass(frozen=True)
class Tick:
    position: float
    label: str
    anchor: str = "middle"  #: SVG text-anchor: the first and last x labels stay inside


@dataclass(frozen=True)
class Line:
    name: str
    css: str  #: series-1 ... series-5
    points: str  #: an SVG polyline's points
    values: list[int]
    area: str = ""  #: the polygon under the line (small multiples fill it)

    @property
    def latest(self) -> int:
        return self.values[-1] if self.values else 0


@dataclass(frozen=True)
class LineChart:
    id: str
    title: str
    days: list[date]
    lines: list[Line]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM


def line_chart(
    chart_id: str,
    title: str,
    data: DailySeries,
    *,
    height: int = HEIGHT,
    top_value: int | None = None,
    most_ticks: int = 4,
    first_series: int = 0,
) -> LineChart:
    """One polyline per series over the days of ``data``; ``top_value`` shares a scale
    between charts (small multiples)."""
    n = len(data.days)
    highest = max((max(v, default=0) for v in data.series.values()), default=0)
    ticks = nice_ticks(max(highest, top_value or 0), most=most_ticks)
    top_value = ticks[-1]
    plot_w, plot_h = WIDTH - RIGHT - LEFT, height - BOTTOM - TOP

    def x(i: int) -> float:
        return LEFT + (plot_w / 2 if n == 1 else plot_w * i / (n - 1))

    def y(v: int) -> float:
        return TOP + plot_h * (1 - v / top_value)

    def points(values: list[int]) -> str:
        return " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))

    def area(values: list[int]) -> str:
        if not values:
            return ""
        base = f"{x(len(values) - 1):.1f},{y(0):.1f} {x(0):.1f},{y(0):.1f}"
        return f"{points(values)} {base}"

    lines = [
        Line(name, f"series-{(first_series + k) % 5 + 1}", points(values), values, area(values))
        for k, (name, values) in enumerate(data.series.items())
    ]
    y_ticks = [Tick(y(v), f"{v:,}") for v in ticks]
    picks = sorted({0, n // 2, n - 1}) if n else []
    x_ticks = [
        Tick(
            x(i),
            data.days[i].strftime("%d %b"),
            "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle",
        )
        for i in picks
    ]
    return LineChart(
        chart_id, title, data.days, lines, y_ticks, x_ticks, height=height, bottom=height - BOTTOM
    )


@dataclass(frozen=True)
class SmallMultiples:
    """One small chart per series on a shared scale: equal series cannot hide each other
    as overlapping lines do."""

    id: str
    title: str
    days: list[date]
    panels: list[LineChart]

    @property
    def lines(self) -> list[Line]:
        return [p.lines[0] for p in self.panels]


def small_multiples(chart_id: str, title: str, data: DailySeries) -> SmallMultiples:
    highest = max((max(v, default=0) for v in data.series.values()), default=0)
    panels = [
        line_chart(
            f"{chart_id}-{k + 1}",
            name,
            DailySeries(data.days, {name: values}),
            height=PANEL_HEIGHT,
            top_value=highest,
            most_ticks=2,
            first_series=k,
        )
        for k, (name, values) in enumerate(data.series.items())
    ]
    return SmallMultiples(chart_id, title, data.days, panels)


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    y: float
    length: float
    css: str


@dataclass(frozen=True)
class BarChart:
    id: str
    title: str
    bars: list[Bar]
    width: int = WIDTH
    label_width: int = LABEL_WIDTH
    bar_height: int = BAR_HEIGHT

    @property
    def height(self) -> int:
        return max(1, len(self.bars)) * (BAR_HEIGHT + BAR_GAP) + BAR_GAP


def bar_chart(
    chart_id: str, title: str, items: Sequence[tuple[str, int]], css: Sequence[str] = ()
) -> BarChart:
    """Horizontal bars, one per item, scaled to the largest value."""
    top_value = max((v for _, v in items), default=0) or 1
    room = WIDTH - LABEL_WIDTH - 80  # leave space for the value after the bar
    bars = [
        Bar(
            label,
            value,
            BAR_GAP + i * (BAR_HEIGHT + BAR_GAP),
            room * value / top_value,
            css[i] if i < len(css) else "series-1",
        )
        for i, (label, value) in enumerate(items)
    ]
    return BarChart(chart_id, title, bars)
