"""Loading the area tree (regions and districts from data/areas_uz.csv, synthetic mahallas)."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Area, AreaLevel

DATA_FILE = Path(__file__).parent / "data" / "areas_uz.csv"

# Mahalla names are synthetic (the real list has ~9,000 entries and changes yearly); these are common ones.
MAHALLA_NAMES = ["Navroʻz", "Mustaqillik", "Doʻstlik", "Tinchlik", "Yangiobod", "Bogʻishamol", "Guliston",
                 "Obod", "Istiqlol", "Nurafshon", "Bunyodkor", "Mehribon"]


def load_areas(mahallas_per_district: int = 3, path: Path = DATA_FILE) -> dict[str, int]:
    """Insert or update regions, districts and synthetic mahallas; safe to run again. Returns counts added."""
    existing = {area.code: area for area in db.session.scalars(select(Area))}
    added = {"region": 0, "district": 0, "mahalla": 0}
    with open(path, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        level = AreaLevel(row["level"])
        parent = existing[row["parent_code"]] if row["parent_code"] else None
        names = {"name_uz": row["name_uz"], "name_ru": row["name_ru"], "name_en": row["name_en"]}
        area = _upsert(existing, row["code"], level, parent, names, added)
        if level is AreaLevel.district:
            for number in range(1, mahallas_per_district + 1):
                name = MAHALLA_NAMES[(number - 1) % len(MAHALLA_NAMES)]
                _upsert(existing, f"{area.code}-M{number:02d}", AreaLevel.mahalla, area,
                        {"name_uz": f"{name} MFY", "name_ru": f"махалля «{name}»", "name_en": f"{name} mahalla"},
                        added)
    db.session.flush()
    return added


def _upsert(existing: dict, code: str, level: AreaLevel, parent: Area | None, names: dict, added: dict) -> Area:
    area = existing.get(code)
    if area is None:
        area = Area(code=code, level=level, parent=parent, path="", **names)
        db.session.add(area)
        db.session.flush()  # the id is part of the path
        area.path = f"{parent.path if parent else '/'}{area.id}/"
        existing[code] = area
        added[level.value] += 1
    else:
        for key, value in names.items():
            setattr(area, key, value)
    return area
