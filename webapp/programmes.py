"""The programmes of the Uzbek social assistance system (from 1 September 2021, seed 002)."""

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Programme

UZ_PROGRAMMES = [
    ("child_allowance", "Bolalar nafaqasi", "Пособие на детей", "Child allowance"),
    ("material_support", "Moddiy yordam", "Материальная помощь", "Material support for low-income families"),
    ("disabled_child_care", "Nogironligi boʻlgan bolani parvarishlash nafaqasi",
     "Пособие по уходу за ребёнком с инвалидностью", "Allowance for caregivers of children with disabilities"),
    ("maternity", "Homiladorlik va tugʻish nafaqasi", "Пособие по беременности и родам",
     "Maternity benefit (non-state sector)"),
]


def load_programmes() -> int:
    existing = set(db.session.scalars(select(Programme.code)))
    added = 0
    for code, name_uz, name_ru, name_en in UZ_PROGRAMMES:
        if code not in existing:
            db.session.add(Programme(code=code, rule_pack="uz", name_uz=name_uz, name_ru=name_ru, name_en=name_en,
                                     active=True))
            added += 1
    db.session.flush()
    return added
