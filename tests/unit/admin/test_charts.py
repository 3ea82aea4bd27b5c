"""Chart geometry: scales, ticks and bars, independent of any markup."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.admin import charts
from app.services.dashboard import DailySeries

DAYS = [date(2030, 1, 1) + timedelta(days=n) for n in range(5)]


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [
        (0, 1),
        (1, 1),
        (2, 2),
        (3, 5),
        (7, 10),
        (10, 10),
        (11, 20),
        (199, 200),
        (250, 500),
        (1_000_001, 2_000_000),
    ],
)
def test_nice_ceiling(value: int, ceiling: int) -> None:
    assert charts.nice_ceiling(value) == ceiling


def test_line_chart_places_points_inside_the_plot() -> None:
    chart = charts.line_chart(
        "c", "Title", DailySeries(DAYS, {"a": [0, 5, 10, 5, 0], "b": [1, 1, 1, 1, 1]})
    )
    points = [tuple(map(float, p.split(","))) for p in chart.lines[0].points.split()]
    assert points[0] == (charts.LEFT, chart.bottom) and points[2][1] == chart.top
    assert points[-1][0] == chart.right
    assert [t.label for t in chart.y_ticks] == ["0", "5", "10"]
    assert [(t.label, t.anchor) for t in chart.x_ticks] == [
        ("01 Jan", "start"),
        ("03 Jan", "middle"),
        ("05 Jan", "end"),
    ]
    assert [line.css for line in chart.lines] == ["series-1", "series-2"]


def test_line_chart_of_one_day_or_nothing() -> None:
    one = charts.line_chart("c", "T", DailySeries(DAYS[:1], {"a": [0]}))
    middle = charts.LEFT + (charts.WIDTH - charts.RIGHT - charts.LEFT) / 2
    assert one.lines[0].points == f"{middle:.1f},{one.bottom:.1f}"
    assert [t.anchor for t in one.x_ticks] == ["middle"]
    empty = charts.line_chart("c", "T", DailySeries([], {}))
    assert empty.lines == [] and empty.x_ticks == []


def test_bar_chart_scales_to_the_largest() -> None:
    chart = charts.bar_chart("b", "T", [("x", 10), ("y", 5), ("z", 0)], css=["a", "b"])
    assert [b.length for b in chart.bars] == [chart.bars[0].length, chart.bars[0].length / 2, 0]
    assert [b.css for b in chart.bars] == ["a", "b", "series-1"]
    assert chart.height == 3 * (charts.BAR_HEIGHT + charts.BAR_GAP) + charts.BAR_GAP
    assert charts.bar_chart("b", "T", []).bars == []


@pytest.mark.parametrize(
    ("value", "most", "ticks"),
    [
        (0, 4, [0, 1]),
        (1, 4, [0, 1]),
        (5, 4, [0, 2, 4, 6]),
        (5, 2, [0, 5]),
        (3, 4, [0, 1, 2, 3]),
        (7, 2, [0, 5, 10]),
        (10, 4, [0, 5, 10]),
        (38, 4, [0, 10, 20, 30, 40]),
        (1234, 4, [0, 500, 1000, 1500]),
    ],
)
def test_nice_ticks_are_whole_and_evenly_spaced(value: int, most: int, ticks: list[int]) -> None:
    """Never 0, 2, 5: every step the same, a whole number, 1, 2 or 5 x 10^k."""
    assert charts.nice_ticks(value, most=most) == ticks


def test_small_multiples_share_one_scale() -> None:
    chart = charts.small_multiples(
        "m",
        "T",
        DailySeries(DAYS, {"a": [1, 1, 1, 1, 1], "b": [1, 1, 1, 1, 1], "c": [0, 2, 4, 6, 9]}),
    )
    assert [p.lines[0].name for p in chart.panels] == ["a", "b", "c"]
    assert {tuple(t.label for t in p.y_ticks) for p in chart.panels} == {("0", "5", "10")}
    # equal series no longer hide each other: each is drawn in its own panel
    assert chart.panels[0].lines[0].points == chart.panels[1].lines[0].points
    assert [line.css for line in chart.lines] == ["series-1", "series-2", "series-3"]
    assert chart.lines[2].latest == 9 and chart.lines[2].area.endswith(
        f"{charts.LEFT:.1f},{chart.panels[2].bottom:.1f}"
    )
