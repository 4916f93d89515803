"""Copying a population register into the registry's own person and household tables, set-based.

In production the registry's `person` table is a copy of the population register refreshed by the connectors;
for the demo and the tests it is filled from the simulator's database (demo/population.py reads it). A household
with any member already registered is skipped whole, so nobody ends up in two households; the dead are copied with
their death date, as former members (left_at = death date).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, insert, select

from modules.registration.models import Household, HouseholdMember, Person
from webapp.extensions import db
from webapp.models import Area, AreaLevel

_BATCH = 2000  # households per insert round


@dataclass
class PopulationRows:
    """A population register as rows: households (id, mahalla, address), people by PIN (pin, last_name,
    first_name, patronymic, birth_date, sex, phone, death_date), and each household's links (pin, relation)."""

    households: list[Mapping]
    people: dict[str, Mapping]
    members: dict[int, list[Mapping]]


def copy_population(rows: PopulationRows, joined: date | None = None) -> tuple[dict[str, int], int]:
    """Returns ({"household": n, "person": n} added, households skipped). No commit."""
    area_ids = dict(db.session.execute(select(Area.code, Area.id).where(Area.level == AreaLevel.mahalla)).all())
    known = set(db.session.scalars(select(Person.pin)))
    joined = joined or date.today()
    added, skipped = {"household": 0, "person": 0}, 0
    for start in range(0, len(rows.households), _BATCH):
        batch = []
        for household in rows.households[start:start + _BATCH]:
            links = rows.members.get(household["id"], [])
            if household["mahalla"] not in area_ids or any(link["pin"] in known for link in links):
                skipped += 1
            else:
                batch.append((household, sorted(links, key=lambda link: link["relation"] != "head")))
        if batch:
            _insert(batch, rows.people, area_ids, joined, added)
            known.update(link["pin"] for _household, links in batch for link in links)
    db.session.flush()
    return added, skipped


def _insert(batch, people, area_ids, joined, added) -> None:
    household_ids = db.session.scalars(
        insert(Household).returning(Household.id, sort_by_parameter_order=True),
        [{"area_id": area_ids[h["mahalla"]], "address": h["address"]} for h, _links in batch]).all()
    person_rows, member_rows = [], []
    for household_id, (household, links) in zip(household_ids, batch, strict=True):
        for link in links:
            person = people[link["pin"]]
            person_rows.append({"pin": person["pin"], "last_name": person["last_name"],
                                "first_name": person["first_name"], "patronymic": person["patronymic"],
                                "birth_date": person["birth_date"], "sex": person["sex"], "phone": person["phone"],
                                "area_id": area_ids[household["mahalla"]], "death_date": person["death_date"]})
            member_rows.append({"household_id": household_id, "relation": link["relation"], "joined_at": joined,
                                "left_at": person["death_date"]})
    person_ids = db.session.scalars(insert(Person).returning(Person.id, sort_by_parameter_order=True),
                                    person_rows).all()
    for member, person_id in zip(member_rows, person_ids, strict=True):
        member["person_id"] = person_id
    db.session.execute(insert(HouseholdMember), member_rows)
    added["household"] += len(household_ids)
    added["person"] += len(person_ids)


def registry_persons() -> int:
    return db.session.scalar(select(func.count(Person.id))) or 0
