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

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 28
BAR_HEIGHT, BAR_GAP, LABEL_WIDTH = 22, 8, 220


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 x 10^k at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1
    power = int(10 ** math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


@dataclass(frozen=True)
class Tick:
    position: float
    label: str
    anchor: str = "middle"  #: SVG text-anchor: the first and last x labels stay inside


@dataclass(frozen=True)
class Line:
    name: str
    css: str  #: series-1 ... series-4
    points: str  #: an SVG polyline's points
    values: list[int]


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


def line_chart(chart_id: str, title: str, data: DailySeries) -> LineChart:
    """One polyline per series over the days of ``data``."""
    n = len(data.days)
    top_value = nice_ceiling(max((max(v, default=0) for v in data.series.values()), default=0))
    plot_w, plot_h = WIDTH - RIGHT - LEFT, HEIGHT - BOTTOM - TOP

    def x(i: int) -> float:
        return LEFT + (plot_w / 2 if n == 1 else plot_w * i / (n - 1))

    def y(v: int) -> float:
        return TOP + plot_h * (1 - v / top_value)

    lines = [Line(name, f"series-{k % 4 + 1}",
                  " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values)), values)
             for k, (name, values) in enumerate(data.series.items())]
    y_ticks = [Tick(y(v), f"{v:,}") for v in (0, top_value // 2, top_value)]
    picks = sorted({0, n // 2, n - 1}) if n else []
    x_ticks = [Tick(x(i), data.days[i].strftime("%d %b"),
                    "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle")
               for i in picks]
    return LineChart(chart_id, title, data.days, lines, y_ticks, x_ticks)


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


def bar_chart(chart_id: str, title: str, items: Sequence[tuple[str, int]],
              css: Sequence[str] = ()) -> BarChart:
    """Horizontal bars, one per item, scaled to the largest value."""
    top_value = max((v for _, v in items), default=0) or 1
    room = WIDTH - LABEL_WIDTH - 80  # leave space for the value after the bar
    bars = [Bar(label, value, BAR_GAP + i * (BAR_HEIGHT + BAR_GAP), room * value / top_value,
                css[i] if i < len(css) else "series-1")
            for i, (label, value) in enumerate(items)]
    return BarChart(chart_id, title, bars)
