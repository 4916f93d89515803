"""A choropleth of Uzbekistan's 14 regions as inline SVG, with a legend of class bounds and optional drill-down."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

from markupsafe import Markup

from modules.reporting.svg._common import MUTED, element_id, num, text

OUTLINES = Path(__file__).parent / "geo" / "outlines.json"
# ColorBrewer YlGnBu, 5 classes: sequential and safe for the common colour-vision deficiencies.
PALETTE = ("#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494")
CLASSES = len(PALETTE)
BORDER = "#4d4d4d"


@cache
def outlines() -> dict:
    data = json.loads(OUTLINES.read_text(encoding="utf-8"))
    # Larger regions first, so a small one inside another (Tashkent city in Tashkent region) is drawn on top.
    data["order"] = sorted(data["regions"], key=lambda code: (-_box_area(data["regions"][code]), code))
    return data


def _box_area(path: str) -> float:
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path)]
    xs, ys = numbers[0::2], numbers[1::2]
    return (max(xs) - min(xs)) * (max(ys) - min(ys))


def region_codes() -> list[str]:
    return sorted(outlines()["regions"])


def _known(value: float | None) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def classify(values: dict[str, float | None], bounds: Sequence[float] | None = None
             ) -> tuple[list[float], dict[str, int | None]]:
    """The class edges (six numbers, or one when every value is the same, or none without data) and each code's
    class, 0 (lowest) to 4, None without data.

    Without `bounds` the classes are five equal intervals from the smallest to the largest value; with them
    (six increasing edges, e.g. 0–100 for a percentage) the scale is fixed, and values outside it go to the
    nearest end class. When every value is the same they all take the middle class.
    """
    known = {code: float(value) for code, value in values.items() if _known(value)}
    classes: dict[str, int | None] = {code: None for code in values}
    if bounds is not None:
        edges = [float(edge) for edge in bounds]
        if len(edges) != CLASSES + 1 or any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
            raise ValueError(f"bounds must be {CLASSES + 1} increasing numbers")
    elif not known:
        return [], classes
    else:
        low, high = min(known.values()), max(known.values())
        if low == high:
            classes.update({code: CLASSES // 2 for code in known})
            return [low], classes
        edges = [low + (high - low) * index / CLASSES for index in range(CLASSES)] + [high]
        edges = _whole(edges, known.values())
    for code, value in known.items():
        index = sum(1 for edge in edges[1:-1] if value >= edge)
        classes[code] = index
    return edges, classes


def _whole(edges: list[float], values) -> list[float]:
    """Counts of people read best with whole-number class edges: the inner edges are rounded up when every value is
    whole and the edges stay strictly increasing; otherwise they are kept as they are."""
    if not all(float(value).is_integer() for value in values):
        return edges
    rounded = [edges[0], *(float(math.ceil(edge)) for edge in edges[1:-1]), edges[-1]]
    return rounded if all(b > a for a, b in zip(rounded, rounded[1:], strict=False)) else edges


def choropleth(values: dict[str, float | None], *, title: str, legend_title: str,
               link: Callable[[str], str] | None, names: dict[str, str], number_format: Callable[[float], str],
               no_data_label: str = "–", bounds: Sequence[float] | None = None, description: str | None = None,
               id: str | None = None, max_width: int = 640) -> Markup:
    """The map as an inline `<svg>`, one shape per region coloured by its class, and its legend below (HTML),
    together in a `<div class="svg-map">`.

    `values` and `names` are keyed by region code (UZ-AN …); a code missing from `values`, or None, is drawn
    hatched grey as "no data" (`no_data_label` in the tooltip and legend). `link(code)` makes each region a link
    (drill-down without JavaScript); the map is then a group of links rather than a single image, because an
    image's content is hidden from screen readers. `title` (and `description`) name the SVG for assistive
    technology; they are not drawn, the page's heading shows them. Output is the same for the same input.
    """
    data = outlines()
    svg_id = element_id("map", title, id)
    edges, classes = classify({code: values.get(code) for code in data["regions"]}, bounds)
    width, height = data["width"], data["height"]
    labelled_by = f"{svg_id}-title" + (f" {svg_id}-desc" if description else "")
    out = [
        f'<div class="svg-map" id="{svg_id}-figure">',
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{svg_id}" viewBox="0 0 {num(width)} '
        f'{num(height)}" width="100%" style="max-width:{max_width}px;height:auto" '
        f'role="{"group" if link else "img"}" aria-labelledby="{labelled_by}">',
        f'<title id="{svg_id}-title">{text(title)}</title>',
    ]
    if description:
        out.append(f'<desc id="{svg_id}-desc">{text(description)}</desc>')
    out.append(
        f'<style>#{svg_id} a:hover path,#{svg_id} a:focus path{{stroke:#000;stroke-width:2.5}}</style>'
        + _hatch(f"{svg_id}-nodata")
    )
    out.append('<g stroke-linejoin="round">')
    for code in data["order"]:
        cls = classes[code]
        name = names.get(code, code)
        value = values.get(code)
        label = f"{name}: {number_format(value) if cls is not None else no_data_label}"
        fill = PALETTE[cls] if cls is not None else f"url(#{svg_id}-nodata)"
        path = (f'<path d="{data["regions"][code]}" fill="{fill}" stroke="{BORDER}" stroke-width="0.8" '
                f'data-region="{code}" data-class="{"" if cls is None else cls}"')
        if link:
            out.append(f'<a href="{text(link(code))}"><title>{text(label)}</title>'
                       f'{path}/></a>')
        else:
            out.append(f'{path}><title>{text(label)}</title></path>')
    out.append("</g>")
    out.append("</svg>")
    out.append(_legend(svg_id, edges, classes, legend_title, number_format, no_data_label))
    out.append("</div>")
    return Markup("".join(out))


def _legend(svg_id: str, edges: list[float], classes: dict[str, int | None], legend_title: str,
            number_format: Callable, no_data_label: str) -> str:
    """The legend is HTML rather than part of the drawing: its text then has the page's size at any width (text
    inside a scaled SVG shrinks with it) and wraps on a narrow screen. Swatches are tiny SVGs of their own."""
    entries: list[tuple[str, str]] = []
    if len(edges) == 1:
        entries.append((PALETTE[CLASSES // 2], number_format(edges[0])))
    elif edges:
        for index in range(CLASSES):
            entries.append((PALETTE[index], f"{number_format(edges[index])} – {number_format(edges[index + 1])}"))
    if any(cls is None for cls in classes.values()):
        entries.append(("nodata", no_data_label))
    items = []
    for index, (fill, label) in enumerate(entries):
        if fill == "nodata":
            pattern_id = f"{svg_id}-nodata-key"
            swatch = _hatch(pattern_id) + f'<rect width="28" height="18" fill="url(#{pattern_id})"'
        else:
            swatch = f'<rect width="28" height="18" fill="{fill}"'
        items.append(f'<li style="display:flex;align-items:center;gap:.4em" data-class="'
                     f'{"" if fill == "nodata" else index}"><svg xmlns="http://www.w3.org/2000/svg" width="28" '
                     f'height="18" viewBox="0 0 28 18" aria-hidden="true" focusable="false">{swatch} '
                     f'stroke="{MUTED}" stroke-width="1.5"/></svg><span>{text(label)}</span></li>')
    return (f'<div class="svg-legend"><p style="font-weight:bold;margin:.5em 0 .25em">{text(legend_title)}</p>'
            f'<ul style="list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.3em 1.5em">'
            f'{"".join(items)}</ul></div>')


def _hatch(pattern_id: str) -> str:
    return (f'<defs><pattern id="{pattern_id}" patternUnits="userSpaceOnUse" width="6" height="6" '
            f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#efefef"/>'
            f'<line x1="0" y1="0" x2="0" y2="6" stroke="#9a9a9a" stroke-width="2"/></pattern></defs>')
