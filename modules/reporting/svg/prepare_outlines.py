"""Turn the Natural Earth region outlines into the small projected file the map draws (`geo/outlines.json`).

Run once, when the source changes: `python -m modules.reporting.svg.prepare_outlines SOURCE.geojson`.
SOURCE is the GeoJSON described in geo/README.md (admin-1 units keyed by `iso_3166_2`); only Uzbekistan's 14 units
are kept. Each ring is projected with an equirectangular projection centred on Uzbekistan (longitude scaled by
the cosine of the middle latitude, so shapes are not stretched east-west), scaled to a fixed width, simplified with
Douglas-Peucker and rounded to one decimal. The result is one SVG path per region code, sorted by code, so the
file (and every map drawn from it) is the same byte for byte on every run.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

OUTPUT = Path(__file__).parent / "geo" / "outlines.json"
WIDTH = 600.0          # viewBox units across the country
PADDING = 4.0
TOLERANCE = 0.7        # viewBox units (about 1.7 km); small enough that shared borders stay visually shared
SMALL_TOLERANCE = 0.1  # for units only a few units across (Tashkent city), which would otherwise vanish
SMALL_EXTENT = 30.0


def _perpendicular(point, start, end) -> float:
    (x, y), (x1, y1), (x2, y2) = point, start, end
    dx, dy = x2 - x1, y2 - y1
    if dx == dy == 0:
        return math.hypot(x - x1, y - y1)
    return abs(dy * x - dx * y + x2 * y1 - y2 * x1) / math.hypot(dx, dy)


def simplify(points: list[tuple[float, float]], tolerance: float) -> list[tuple[float, float]]:
    """Douglas-Peucker, iterative (rings have hundreds of points; recursion depth is not a concern, clarity is)."""
    if len(points) < 3:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        farthest, distance = None, tolerance
        for index in range(first + 1, last):
            d = _perpendicular(points[index], points[first], points[last])
            if d > distance:
                farthest, distance = index, d
        if farthest is not None:
            keep[farthest] = True
            stack.extend([(first, farthest), (farthest, last)])
    return [point for point, kept in zip(points, keep, strict=True) if kept]


def _rings(geometry: dict) -> list[list[list[float]]]:
    polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    return [ring for polygon in polygons for ring in polygon]


def prepare(source: Path) -> dict:
    features = [f for f in json.loads(source.read_text(encoding="utf-8"))["features"]
                if f["properties"]["iso_3166_2"].startswith("UZ-")]
    lons = [x for f in features for ring in _rings(f["geometry"]) for x, _ in ring]
    lats = [y for f in features for ring in _rings(f["geometry"]) for _, y in ring]
    cos_mid = math.cos(math.radians((min(lats) + max(lats)) / 2))
    scale = (WIDTH - 2 * PADDING) / ((max(lons) - min(lons)) * cos_mid)
    height = round((max(lats) - min(lats)) * scale + 2 * PADDING, 1)

    def project(lon: float, lat: float) -> tuple[float, float]:
        return ((lon - min(lons)) * cos_mid * scale + PADDING, (max(lats) - lat) * scale + PADDING)

    regions = {}
    for feature in sorted(features, key=lambda f: f["properties"]["iso_3166_2"]):
        rings = [[project(lon, lat) for lon, lat in ring] for ring in _rings(feature["geometry"])]
        xs = [x for ring in rings for x, _ in ring]
        ys = [y for ring in rings for _, y in ring]
        small = max(max(xs) - min(xs), max(ys) - min(ys)) < SMALL_EXTENT
        parts = []
        for ring in rings:
            points = simplify(ring, SMALL_TOLERANCE if small else TOLERANCE)
            if len(points) < 4:  # a closed ring needs three corners plus the closing point
                continue
            coords = [f"{x:.1f},{y:.1f}" for x, y in points[:-1]]
            parts.append("M" + "L".join(coords) + "Z")
        regions[feature["properties"]["iso_3166_2"]] = "".join(parts)
    return {"width": WIDTH, "height": height, "regions": regions}


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        sys.exit(__doc__)
    data = prepare(Path(argv[1]))
    OUTPUT.write_text(json.dumps(data, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{OUTPUT}: {len(data['regions'])} regions, {OUTPUT.stat().st_size} bytes")


if __name__ == "__main__":
    main(sys.argv)
