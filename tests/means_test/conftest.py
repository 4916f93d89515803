"""Collection against the registry simulator over real HTTP: a small synthetic population in its own SQLite
store, the simulator on a free port, and the registry's person table holding copies of one family."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from sqlalchemy import select

from connectors.simulator import store
from connectors.synthetic import synthesize
from modules.registration import operations
from modules.registration.models import Person, Sex
from modules.registration.schemas import ApplicationArgs
from tests import factories
from tests.connectors.simulator import serving_simulator
from webapp.extensions import db
from webapp.models import Area, AreaLevel

AS_OF = date(2026, 10, 1)
# The synthetic families live in any region: the registrar of these tests covers them all.
ALL_REGIONS = ["UZ-AN", "UZ-BU", "UZ-FA", "UZ-JI", "UZ-NG", "UZ-NW", "UZ-QA", "UZ-QR", "UZ-SA", "UZ-SI", "UZ-SU",
               "UZ-TK", "UZ-TO", "UZ-XO"]


@pytest.fixture
def registrar(app):
    return factories.make_user("registrar", national=False, areas=ALL_REGIONS)


def set_faults(base_url: str, config: dict) -> None:
    """Make the simulator's sources fail as `config` says ({} for none)."""
    httpx.put(f"{base_url}/_control/faults", json=config, timeout=5).raise_for_status()


@pytest.fixture(scope="session")
def simulator_store(tmp_path_factory, app):
    url = f"sqlite:///{tmp_path_factory.mktemp('sim') / 'simulator.db'}"
    engine = store.engine_for(url)
    store.create_schema(engine)
    with app.app_context():
        mahallas = db.session.scalars(select(Area.code).where(Area.level == AreaLevel.mahalla)
                                      .order_by(Area.code)).all()
    synthesize(engine, households=120, seed=11, areas=mahallas, as_of=AS_OF)
    return engine, url


@pytest.fixture(scope="session")
def simulator(simulator_store):
    _engine, url = simulator_store
    with serving_simulator(url) as served:
        yield served


@pytest.fixture
def sources_at(app, simulator, monkeypatch):
    """Point the app's connectors at the simulator, with quick timeouts and no waiting between rounds."""
    _sim, base_url = simulator
    monkeypatch.setitem(app.config, "SOURCES_URL", base_url)
    monkeypatch.setitem(app.config, "SOURCES", {"*": {"timeout": 2, "retry": {"attempts": 2, "base_delay": 0.01,
                                                                             "max_delay": 0.02},
                                                      "cache": {"ttl": 0}}})
    monkeypatch.setitem(app.config, "COLLECTION_BACKOFF", 0.01)
    monkeypatch.setitem(app.config, "COLLECT_ON_SUBMIT", True)
    app.extensions.pop("srsp_connectors", None)
    yield base_url
    app.extensions.pop("srsp_connectors", None)


def copy_family(simulator_store, min_size: int = 3) -> list[Person]:
    """A simulator household with a living adult head, copied into the registry's person table (head first)."""
    engine, _url = simulator_store
    with engine.connect() as conn:
        rows = conn.execute(select(store.person, store.family_link.c.relation, store.family_link.c.household_id)
                            .join(store.family_link, store.family_link.c.pin == store.person.c.pin)
                            .where(store.person.c.death_date.is_(None))
                            .order_by(store.family_link.c.household_id)).mappings().all()
    households: dict[int, list] = {}
    for row in rows:
        households.setdefault(row["household_id"], []).append(row)
    for members in households.values():
        heads = [m for m in members if m["relation"] == "head" and (AS_OF - m["birth_date"]).days > 20 * 365]
        if heads and len(members) >= min_size:
            return [_person(m) for m in sorted(members, key=lambda m: m["relation"] != "head")]
    raise AssertionError("no suitable household in the synthetic population")


def _person(row) -> Person:
    area = db.session.scalar(select(Area).where(Area.code == row["mahalla"]))
    person = Person(pin=row["pin"], last_name=row["last_name"], first_name=row["first_name"],
                    patronymic=row["patronymic"], birth_date=row["birth_date"], sex=Sex(row["sex"]),
                    area_id=area.id)
    db.session.add(person)
    db.session.flush()
    person.relation = row["relation"]
    return person


def register(family: list[Person], user, submitted_at=None):
    """Register and submit a copied family (head first) as `user`; collection runs after the commit (inline)."""
    head, *others = family
    payload = {"applicant_pin": head.pin, "phone": "+998901234567", "channel": "office",
               "programmes": ["child_allowance"],
               "members": [{"pin": p.pin, "relation": p.relation if p.relation != "head" else "other"}
                           for p in others]}
    application = operations.register_application(ApplicationArgs().load(payload), user)
    if submitted_at is not None:
        application.submitted_at = submitted_at  # a fixed date: the income window never drifts with the calendar
    db.session.commit()
    db.session.refresh(application)
    return application
