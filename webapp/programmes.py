"""The programmes of the registry: one row per programme a rule pack declares (`programmes:` in rules/packs/*.yaml).

The packs are the only list of programmes. Every pack's programmes are loaded (a registry keeps the rows of a
country it does not serve, so a payroll or a report can still name them), but only the programmes of the
country's own pack are offered: registration takes those and nothing else.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from rules.pack import Pack, get_pack, pack_ids
from webapp.extensions import db
from webapp.models import Programme

NAME_LANGUAGES = ("uz", "ru", "en")  # the name_* columns: the languages of the pages


def country_pack_id() -> str:
    """The rule pack of the country this registry serves (packs are named after the country profile)."""
    return current_app.config["COUNTRY"]


def _names(pack: Pack, names: dict) -> dict[str, str]:
    """name_uz/name_ru/name_en from the pack; a language the pack does not write (kg has no Uzbek) reads English."""
    fallback = names.get("en") or next(iter(names.values()))
    return {f"name_{language}": names.get(language) or fallback for language in NAME_LANGUAGES}


def load_programmes() -> int:
    """Add a row for every programme of every pack and bring the names of existing rows up to date; never deletes.

    Returns how many rows were added.
    """
    existing = {programme.code: programme for programme in db.session.scalars(select(Programme))}
    declared_by: dict[str, str] = {}
    added = 0
    for pack_id in pack_ids():
        pack = get_pack(pack_id)
        for declared in pack.programmes:
            if declared_by.setdefault(declared.code, pack.id) != pack.id:
                raise ValueError(f"programme {declared.code!r} is declared by the packs "
                                 f"{declared_by[declared.code]!r} and {pack.id!r}; a code names one programme")
            values = {"rule_pack": pack.id, **_names(pack, declared.name)}
            row = existing.get(declared.code)
            if row is None:
                db.session.add(Programme(code=declared.code, active=True, **values))
                added += 1
            else:
                for key, value in values.items():
                    setattr(row, key, value)
    db.session.flush()
    return added


def offered_programmes(codes: list[str] | None = None) -> list[Programme]:
    """Active programmes of the country's pack (those of `codes` only, when given), in the order they were loaded."""
    query = select(Programme).where(Programme.active, Programme.rule_pack == country_pack_id())
    if codes is not None:
        query = query.where(Programme.code.in_(codes))
    return list(db.session.scalars(query.order_by(Programme.id)))


def rule_pack_of(programmes: list[Programme]) -> str:
    """The one rule pack that decides these programmes (the country's when the list is empty)."""
    packs = {programme.rule_pack for programme in programmes}
    if len(packs) > 1:
        raise ValueError(f"programmes of different rule packs: {sorted(packs)}")
    return packs.pop() if packs else country_pack_id()
