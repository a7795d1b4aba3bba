"""Server-rendered SVG charts: no JavaScript, no style attributes (the CSP forbids inline styles), colours
from CSS classes (`series-N`), and an accessible name (`<title>`, `<desc>`). Pages also show the numbers in a
table next to each chart, so nothing is conveyed by colour or shape alone.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 72, 16, 16, 40  # room for "100%" in the larger phone text
MAX_SERIES_CLASSES = 6


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]  # one per label; None = no data for that period


def _fmt(value: float) -> str:
    text = f"{value:.1f}" if abs(value) >= 1 or value == 0 else f"{value:.3g}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _nice_max(value: float) -> float:
    """A round upper bound for the axis (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * magnitude * (1 + 1e-9):
            return float(step * magnitude)
    return float(10 * magnitude)


def _frame(title: str, desc: str, body: list[str]) -> Markup:
    head = (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{{id}}-t {{id}}-d" '
        'xmlns="http://www.w3.org/2000/svg">'
    )
    chart_id = "c" + hashlib.sha256(f"{title}\n{desc}".encode()).hexdigest()[:10]
    parts = [
        head.replace("{id}", chart_id),
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>',
        *body,
        "</svg>",
    ]
    # every interpolated text above went through escape(); the rest is numbers and fixed class names
    return Markup("".join(parts))  # noqa: S704 - every text was escaped above  # nosec B704


def _y_axis(y_max: float, unit: str) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    body = []
    for i in range(5):
        value = y_max * i / 4
        y = TOP + plot_h - plot_h * i / 4
        body.append(f'<line class="grid-line" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}"/>')
        body.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(value)}{escape(unit)}</text>')
    body.append(f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}"/>')
    body.append(f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}"/>')
    return body


def _x_labels(labels: Sequence[str], xs: Sequence[float]) -> list[str]:
    """At most ~8 labels so they never overlap; on phones (where the chart's text is drawn larger, see app.css)
    only every third of those is kept, counting back from the last (`x-minor` labels are hidden there)."""
    every = max(1, len(labels) // 8)
    y = HEIGHT - BOTTOM + 18
    shown = [i for i in range(len(labels)) if i % every == 0 or i == len(labels) - 1]
    out = []
    for rank, i in enumerate(shown):
        keep_on_phone = (len(shown) - 1 - rank) % 3 == 0  # counted back from the last (newest) label
        # the last label ends at the right edge, so it never runs off the chart
        anchor = "end" if i == len(labels) - 1 and len(labels) > 1 else "middle"
        css = "" if keep_on_phone else ' class="x-minor"'
        out.append(f'<text x="{xs[i]:.1f}" y="{y}" text-anchor="{anchor}"{css}>{escape(labels[i])}</text>')
    return out


def line_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    desc: str,
    y_max: float | None = None,
    unit: str = "",
) -> Markup:
    """A line chart of one or more series over the same labels (for example consent rate per week)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    values = [v for s in series for v in s.values if v is not None]
    top = y_max if y_max is not None else _nice_max(max(values, default=0))
    n = len(labels)
    xs = [LEFT + (plot_w * (i + 0.5) / n if n else 0) for i in range(n)]
    body = _y_axis(top, unit)
    body += _x_labels(labels, xs)
    for index, s in enumerate(series):
        cls = f"series-{index % MAX_SERIES_CLASSES}"
        points = [
            (x, TOP + plot_h - plot_h * min(v, top) / top) for x, v in zip(xs, s.values, strict=True) if v is not None
        ]
        if len(points) > 1:
            coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            body.append(f'<polyline class="{cls}" points="{coords}"/>')
        body += [f'<circle class="{cls}" cx="{x:.1f}" cy="{y:.1f}" r="3.5"/>' for x, y in points]
    return _frame(title, desc, body)


def bar_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    desc: str,
    stacked: bool = False,
    unit: str = "",
    classes: Sequence[str] | None = None,
    integer: bool = False,
) -> Markup:
    """Grouped (or stacked) bars per label: withdrawals and GPC signals per week, or budget spent and
    remaining per purpose. `classes` overrides the CSS class of each series."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(len(labels), 1)
    if stacked:
        totals = [sum((s.values[i] or 0) for s in series) for i in range(len(labels))]
    else:
        totals = [v or 0 for s in series for v in s.values]
    top = _nice_max(max(totals, default=0))
    if integer:
        top = float(4 * math.ceil(max(top, 4) / 4))
    slot = plot_w / n
    group_w = slot * 0.7
    bar_w = group_w if stacked else group_w / max(len(series), 1)
    xs = [LEFT + slot * (i + 0.5) for i in range(len(labels))]
    body = _y_axis(top, unit)
    body += _x_labels(labels, xs)
    for i, x_center in enumerate(xs):
        base = 0.0
        for index, s in enumerate(series):
            value = s.values[i] or 0
            cls = classes[index] if classes else f"series-{index % MAX_SERIES_CLASSES}"
            h = plot_h * value / top
            if stacked:
                x = x_center - group_w / 2
                y = TOP + plot_h - plot_h * base / top - h
                base += value
            else:
                x = x_center - group_w / 2 + index * bar_w
                y = TOP + plot_h - h
            label = f"{s.name}, {labels[i]}: {_fmt(value)}{unit}"
            body.append(
                f'<rect class="{cls}" x="{x:.1f}" y="{y:.1f}" width="{max(bar_w - 1, 1):.1f}" '
                f'height="{h:.1f}">'
                f"<title>{escape(label)}</title></rect>"
            )
    return _frame(title, desc, body)


def stacked_hbar_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    desc: str,
    classes: Sequence[str],
    label_width: int = 260,
) -> Markup:
    """Horizontal stacked bars, one row per label (long labels stay readable): budget spent and remaining."""
    row_h, gap, top_pad, axis_h = 26, 10, 8, 28
    height = top_pad + len(labels) * (row_h + gap) + axis_h
    plot_w = WIDTH - label_width - RIGHT
    totals = [sum((s.values[i] or 0) for s in series) for i in range(len(labels))]
    top = _nice_max(max(totals, default=0))
    body = []
    for i in range(5):
        x = label_width + plot_w * i / 4
        body.append(f'<line class="grid-line" x1="{x:.1f}" y1="{top_pad}" x2="{x:.1f}" y2="{height - axis_h}"/>')
        body.append(f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle">{_fmt(top * i / 4)}</text>')
    for row, label in enumerate(labels):
        y = top_pad + row * (row_h + gap)
        body.append(f'<text x="{label_width - 8}" y="{y + row_h / 2 + 4:.1f}" text-anchor="end">{escape(label)}</text>')
        start = 0.0
        for index, s in enumerate(series):
            value = s.values[row] or 0
            w = plot_w * value / top
            x = label_width + plot_w * start / top
            start += value
            text = f"{label}, {s.name}: {_fmt(value)}"
            body.append(
                f'<rect class="{classes[index]}" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h}">'
                f"<title>{escape(text)}</title></rect>"
            )
    body.append(f'<line class="axis" x1="{label_width}" y1="{top_pad}" x2="{label_width}" y2="{height - axis_h}"/>')
    svg = _frame(title, desc, body)
    # the viewBox height follows the number of rows
    return Markup(str(svg).replace(f'viewBox="0 0 {WIDTH} {HEIGHT}"', f'viewBox="0 0 {WIDTH} {height}"', 1))  # noqa: S704 - escaped  # nosec B704
