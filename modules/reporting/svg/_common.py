"""What the map and the charts share: numbers written the same way every time, escaping, ids, tick steps."""

from __future__ import annotations

import hashlib
import math

from markupsafe import escape

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"  # installed fonts only, nothing downloaded
TEXT = "#1a1a1a"
MUTED = "#595959"  # 7:1 on white
GRID = "#d9d9d9"


def num(value: float) -> str:
    """A coordinate with one decimal at most, '-0' never: output must not depend on float noise."""
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def text(value: object) -> str:
    return str(escape(str(value)))


def element_id(kind: str, title: str, given: str | None) -> str:
    """Ids must be unique on a page with several charts and stable between renders: derived from the title."""
    if given:
        return given
    return f"{kind}-{hashlib.sha1(title.encode('utf-8')).hexdigest()[:10]}"


def text_width(value: str, size: float) -> float:
    """A generous estimate (no font metrics on the server), used only to avoid overlaps."""
    return len(value) * size * 0.58


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1, 2, 2.5 or 5 times a power of ten apart)."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value < high + step * 1e-9:
        ticks.append(round(value, 10))
        value = start + step * len(ticks)
    if ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks
