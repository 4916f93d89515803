"""The simulator's population register, read for the registry's copy (modules/registration/population_copy.py)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from connectors.simulator import store
from modules.registration.population_copy import PopulationRows, copy_population


def simulated_population(sim_engine) -> PopulationRows:
    with sim_engine.connect() as conn:
        households = conn.execute(select(store.household).order_by(store.household.c.id)).mappings().all()
        people = {row["pin"]: row for row in conn.execute(select(store.person)).mappings()}
        members: dict[int, list] = {}
        for link in conn.execute(select(store.family_link)).mappings():
            members.setdefault(link["household_id"], []).append(link)
    return PopulationRows(list(households), people, members)


def copy_simulated_population(sim_engine, joined: date | None = None) -> tuple[dict[str, int], int]:
    """The simulator's households and persons into the registry's tables; see `copy_population`. No commit."""
    return copy_population(simulated_population(sim_engine), joined)
