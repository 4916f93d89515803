"""Copying the simulated population register into the registry's own person and household tables.

In production the registry's `person` table is a copy of the population register refreshed by the connectors;
for the demo (and tests) this fills it from the simulator's database in one set-based pass.
"""

from __future__ import annotations

from sqlalchemy import func, insert, select

from connectors.simulator import store
from modules.registration.models import Household, HouseholdMember, Person
from webapp.extensions import db
from webapp.models import Area

_BATCH = 5000


def copy_population(sim_engine, limit_households: int | None = None) -> int:
    """Insert the simulator's living persons, their households and memberships; PINs already known are skipped.
    Returns the number of persons added. No commit."""
    areas = dict(db.session.execute(select(Area.code, Area.id)).all())
    known = set(db.session.scalars(select(Person.pin)))
    query = (select(store.person, store.family_link.c.relation, store.family_link.c.household_id,
                    store.household.c.address.label("household_address"))
             .join(store.family_link, store.family_link.c.pin == store.person.c.pin)
             .join(store.household, store.household.c.id == store.family_link.c.household_id)
             .where(store.person.c.death_date.is_(None))
             .order_by(store.family_link.c.household_id))
    if limit_households:
        query = query.where(store.family_link.c.household_id.in_(
            select(store.household.c.id).order_by(store.household.c.id).limit(limit_households)))
    with sim_engine.connect() as conn:
        rows = [row for row in conn.execute(query).mappings() if row["pin"] not in known and row["mahalla"] in areas]
    households = {}
    for row in rows:
        households.setdefault(row["household_id"], row)
    household_ids = {}
    for sim_id, row in households.items():
        household_ids[sim_id] = db.session.execute(insert(Household).values(
            area_id=areas[row["mahalla"]], address=row["household_address"])).inserted_primary_key[0]
    for start in range(0, len(rows), _BATCH):
        _insert_batch(rows[start:start + _BATCH], areas, household_ids)
    db.session.flush()
    return len(rows)


def _insert_batch(rows, areas, household_ids) -> None:
    db.session.execute(insert(Person), [
        {"pin": r["pin"], "last_name": r["last_name"], "first_name": r["first_name"], "patronymic": r["patronymic"],
         "birth_date": r["birth_date"], "sex": r["sex"], "phone": r["phone"], "area_id": areas[r["mahalla"]]}
        for r in rows])
    ids = dict(db.session.execute(select(Person.pin, Person.id).where(Person.pin.in_([r["pin"] for r in rows]))).all())
    db.session.execute(insert(HouseholdMember), [
        {"household_id": household_ids[r["household_id"]], "person_id": ids[r["pin"]], "relation": r["relation"]}
        for r in rows])


def registry_persons() -> int:
    return db.session.scalar(select(func.count(Person.id))) or 0
