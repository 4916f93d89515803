"""Bar and line charts as inline SVG: axes, labels and a <title> on every mark, scaled to their container.

The viewBox is narrow (400 units) and the text large for it, so that the chart stays readable when the page is
only 320 px wide; `max_width` keeps it from growing past a sensible size on a wide screen.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from markupsafe import Markup

from modules.reporting.svg._common import FONT, GRID, MUTED, TEXT, element_id, nice_ticks, num, text, text_width

WIDTH = 400
FONT_SIZE = 17
SMALL = 15
BAR_COLOUR = "#2c7fb8"
# Okabe-Ito colours, each with its own dash pattern and marker, so series differ without colour too.
SERIES_STYLES = (("#0072B2", "", "circle"), ("#D55E00", "8 4", "square"), ("#009E73", "2 4", "diamond"),
                 ("#CC79A7", "12 4 2 4", "circle"), ("#E69F00", "4 4", "square"), ("#56B4E9", "", "diamond"))


def _value_ticks(values: list[float]) -> list[float]:
    """Round ticks from zero (or below) to the largest value; whole counts get whole ticks (0, 1, 2, not 0.25, 0.5),
    so a chart of a few cases or none at all does not read as fractions of a case."""
    low, high = min([0.0, *values]), max([0.0, *values])
    if all(value.is_integer() for value in values):
        return nice_ticks(low, max(high, low + 4), 4)
    return nice_ticks(low, high or 1.0, 4)


def _fitted(label: str, size: float, width: float) -> str:
    """`label` cut with an ellipsis to fit `width` (the whole label stays in the mark's title and the table)."""
    if text_width(label, size) <= width:
        return label
    keep = max(1, int(width / (size * 0.64)) - 1)  # cut with room to spare: wide letters are wider than the estimate
    return label[:keep].rstrip() + "…"


def _open(svg_id: str, height: float, title: str, description: str | None, max_width: int, kind: str) -> list[str]:
    labelled_by = f"{svg_id}-title" + (f" {svg_id}-desc" if description else "")
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" id="{svg_id}" class="svg-chart svg-{kind}" '
           f'viewBox="0 0 {WIDTH} {num(height)}" width="100%" style="max-width:{max_width}px;height:auto" '
           f'role="img" aria-labelledby="{labelled_by}" font-family="{text(FONT)}" fill="{TEXT}">',
           f'<title id="{svg_id}-title">{text(title)}</title>']
    if description:
        out.append(f'<desc id="{svg_id}-desc">{text(description)}</desc>')
    return out


def bar_chart(rows: list[tuple[str, float | None]], *, title: str, number_format: Callable[[float], str],
              no_data_label: str = "–", description: str | None = None, id: str | None = None, colour: str = BAR_COLOUR,
              max_width: int = 480) -> Markup:
    """Horizontal bars in the given order, each with its label above it (long region names fit at 320 px) and
    its value at its end; a value axis with round ticks at the bottom. Negative values extend left of zero; a row
    whose value is None has no bar and shows `no_data_label`."""
    svg_id = element_id("bar", title, id)
    values = [float(value) for _, value in rows if value is not None]
    ticks = _value_ticks(values)
    low, high = ticks[0], ticks[-1]
    left, right = 4.0, WIDTH - 8.0
    # The last tick label is centred on the right edge: keep it inside the viewBox.
    right = min(right, WIDTH - 2 - text_width(number_format(high), SMALL) / 2)

    def x_of(value: float) -> float:
        return left + (value - low) / (high - low) * (right - left)

    row_height = FONT_SIZE + 6 + 22 + 12
    top = 4.0
    axis_y = top + len(rows) * row_height
    height = axis_y + SMALL + 14
    out = _open(svg_id, height, title, description, max_width, "bar")
    out.append(f'<g stroke="{GRID}" stroke-width="1">')
    for tick in ticks:
        out.append(f'<line x1="{num(x_of(tick))}" y1="{num(top)}" x2="{num(x_of(tick))}" y2="{num(axis_y)}"/>')
    out.append("</g>")
    zero = x_of(0.0)
    for index, (label, value) in enumerate(rows):
        y = top + index * row_height
        bar_y = y + FONT_SIZE + 6
        shown = no_data_label if value is None else number_format(value)
        out.append(f'<g><title>{text(label)}: {text(shown)}</title>'
                   f'<text x="{num(left)}" y="{num(y + FONT_SIZE)}" font-size="{FONT_SIZE}">'
                   f'{text(_fitted(label, FONT_SIZE, WIDTH - left - 2))}</text>')
        if value is None:
            out.append(f'<text x="{num(zero + 6)}" y="{num(bar_y + 16)}" font-size="{SMALL}" fill="{MUTED}">'
                       f'{text(shown)}</text></g>')
            continue
        start, end = sorted((zero, x_of(float(value))))
        out.append(f'<rect x="{num(start)}" y="{num(bar_y)}" width="{num(max(end - start, 0.5))}" height="22" '
                   f'fill="{text(colour)}"/>')
        # The value sits after the bar's end, or inside it in white when it would run off the chart.
        if end + 6 + text_width(shown, SMALL) <= WIDTH - 2 or value < 0:
            out.append(f'<text x="{num(end + 6)}" y="{num(bar_y + 16)}" font-size="{SMALL}">{text(shown)}</text>')
        else:
            out.append(f'<text x="{num(end - 6)}" y="{num(bar_y + 16)}" font-size="{SMALL}" fill="#fff" '
                       f'text-anchor="end">{text(shown)}</text>')
        out.append("</g>")
    out.append(f'<line x1="{num(zero)}" y1="{num(top)}" x2="{num(zero)}" y2="{num(axis_y)}" stroke="{MUTED}"/>')
    out.append(f'<g font-size="{SMALL}" fill="{MUTED}" text-anchor="middle">')
    for tick in ticks:
        anchor = ' text-anchor="start"' if tick == low and x_of(tick) < 20 else ""
        out.append(f'<text x="{num(x_of(tick))}" y="{num(axis_y + SMALL + 6)}"{anchor}>'
                   f'{text(number_format(tick))}</text>')
    out.append("</g></svg>")
    return Markup("".join(out))


def _marker(shape: str, x: float, y: float, colour: str) -> str:
    if shape == "square":
        return f'<rect x="{num(x - 4)}" y="{num(y - 4)}" width="8" height="8" fill="{colour}"/>'
    if shape == "diamond":
        return (f'<path d="M{num(x)},{num(y - 5.5)}L{num(x + 5.5)},{num(y)}L{num(x)},{num(y + 5.5)}'
                f'L{num(x - 5.5)},{num(y)}Z" fill="{colour}"/>')
    return f'<circle cx="{num(x)}" cy="{num(y)}" r="4.5" fill="{colour}"/>'


def line_chart(series: dict[str, list[tuple[str, float | None]]], *, title: str,
               number_format: Callable[[float], str], description: str | None = None, id: str | None = None,
               max_width: int = 560) -> Markup:
    """One line per series over shared category labels (e.g. 12 months, in the order first met), with a legend
    on top, a value axis from zero (or below, for negative values) and every point titled with its value.
    A None value leaves a gap in its line. Category labels are thinned out when they would overlap."""
    svg_id = element_id("line", title, id)
    labels: list[str] = []
    for points in series.values():
        for label, _ in points:
            if label not in labels:
                labels.append(label)
    values = [float(v) for points in series.values() for _, v in points if v is not None]
    ticks = _value_ticks(values)
    low, high = ticks[0], ticks[-1]

    # Legend: entries flow left to right and wrap.
    legend, x, y = [], 4.0, SMALL + 2
    for index, name in enumerate(series):
        colour, dash, shape = SERIES_STYLES[index % len(SERIES_STYLES)]
        entry_width = 40 + text_width(name, SMALL)
        if x > 4 and x + entry_width > WIDTH:
            x, y = 4.0, y + SMALL + 10
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        legend.append(f'<line x1="{num(x)}" y1="{num(y - 5)}" x2="{num(x + 30)}" y2="{num(y - 5)}" '
                      f'stroke="{colour}" stroke-width="3"{dash_attr}/>{_marker(shape, x + 15, y - 5, colour)}'
                      f'<text x="{num(x + 36)}" y="{num(y)}" font-size="{SMALL}">{text(name)}</text>')
        x += entry_width + 14
    top = y + 16
    plot_height = 200.0
    bottom = top + plot_height
    # Category labels are centred on their point: leave half the widest one free at either end.
    half_label = max((text_width(label, SMALL) for label in labels), default=0) / 2
    left = max(8 + max(text_width(number_format(tick), SMALL) for tick in ticks), half_label + 2)
    right = WIDTH - max(12.0, half_label + 2)
    step = (right - left) / max(len(labels) - 1, 1)
    every = max(1, math.ceil((max((text_width(label, SMALL) for label in labels), default=0) + 8) / step))

    def x_of(index: int) -> float:
        return left + index * step if len(labels) > 1 else (left + right) / 2

    def y_of(value: float) -> float:
        return bottom - (value - low) / (high - low) * plot_height

    height = bottom + SMALL + 12
    out = _open(svg_id, height, title, description, max_width, "line")
    out.append(f'<g class="legend">{"".join(legend)}</g>')
    out.append(f'<g font-size="{SMALL}" fill="{MUTED}">')
    for tick in ticks:
        out.append(f'<line x1="{num(left)}" y1="{num(y_of(tick))}" x2="{num(right)}" y2="{num(y_of(tick))}" '
                   f'stroke="{GRID if tick else MUTED}"/>'
                   f'<text x="{num(left - 6)}" y="{num(y_of(tick) + 5)}" text-anchor="end">'
                   f'{text(number_format(tick))}</text>')
    for index, label in enumerate(labels):
        if index % every == 0:
            out.append(f'<text x="{num(x_of(index))}" y="{num(bottom + SMALL + 6)}" text-anchor="middle">'
                       f'{text(label)}</text>')
    out.append("</g>")
    for index, (name, points) in enumerate(series.items()):
        colour, dash, shape = SERIES_STYLES[index % len(SERIES_STYLES)]
        by_label = dict(points)
        segments, current = [], []
        for position, label in enumerate(labels):
            value = by_label.get(label)
            if value is None:
                if current:
                    segments.append(current)
                current = []
                continue
            current.append((x_of(position), y_of(float(value)), label, value))
        if current:
            segments.append(current)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<g class="series"><title>{text(name)}</title>')
        for segment in segments:
            if len(segment) > 1:
                d = "M" + "L".join(f"{num(px)},{num(py)}" for px, py, _, _ in segment)
                out.append(f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="3" '
                           f'stroke-linejoin="round"{dash_attr}/>')
        for segment in segments:
            for px, py, label, value in segment:
                out.append(f'<g><title>{text(name)}, {text(label)}: {text(number_format(value))}</title>'
                           f'{_marker(shape, px, py, colour)}</g>')
        out.append("</g>")
    out.append("</svg>")
    return Markup("".join(out))
