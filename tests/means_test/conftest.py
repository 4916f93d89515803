"""Collection against the registry simulator over real HTTP: a small synthetic population in its own SQLite
store, the simulator on a free port, and the registry's person table holding copies of one family."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from sqlalchemy import select

from connectors.catalog import BY_NAME
from connectors.simulator import store
from connectors.synthetic import synthesize
from modules.means_test.assessment import store_assessment
from modules.means_test.models import Assessment
from modules.registration import operations
from modules.registration.models import (
    Application,
    ApplicationStatus,
    Channel,
    Household,
    HouseholdMember,
    Person,
    Relation,
    Sex,
)
from modules.registration.schemas import ApplicationArgs
from rules.engines import evaluate
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


# --- assessed households for the policy simulation -------------------------------------------------------------

RAISED = {"income_threshold": 750000}


def _months(application_date: str) -> list[str]:
    year, month = int(application_date[:4]), int(application_date[5:7])
    index = year * 12 + month - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - 3, index)]


def _facts(persons: list, application_date: str, per_capita: float, household_id: int) -> dict:
    """Head (the only earner: per_capita × members every month of the window), spouse registered with the
    employment service (so never an idle adult), children."""
    months = _months(application_date)
    monthly = per_capita * len(persons)
    members = []
    for person, relation in persons:
        member = {"pin": person.pin, "relation": relation.value, "birth_date": person.birth_date.isoformat(),
                  "sex": person.sex.value, "income": [], "statuses": []}
        if relation is Relation.head:
            member["income"] = [{"source": "salary", "month": m, "amount": monthly} for m in months]
        if relation is Relation.spouse:
            member["statuses"] = ["employment_registered"]
        members.append(member)
    return {"household_id": household_id, "application_date": application_date, "members": members}


def _household(region: str, children: int, spouse: bool = True) -> tuple[Household, list]:
    head = factories.make_person(region, date(1985, 4, 2), "M")
    persons = [(head, Relation.head)]
    if spouse:
        persons.append((factories.make_person(region, date(1988, 9, 15), "F", last_name="Karimova"), Relation.spouse))
    persons += [(factories.make_person(region, date(2012 + i, 1 + i, 10), "M"), Relation.child)
                for i in range(children)]
    home = Household(area_id=head.area_id, address="Test street 1")
    db.session.add(home)
    db.session.flush()
    for person, relation in persons:
        db.session.add(HouseholdMember(household_id=home.id, person_id=person.id, relation=relation))
    db.session.flush()
    return home, persons


def _assess(home: Household, persons: list, application_date: str, per_capita: float) -> Assessment:
    application = Application(household_id=home.id, applicant_id=persons[0][0].id, area_id=home.area_id,
                              phone="+998901234567", channel=Channel.office, status=ApplicationStatus.decided,
                              is_open=False, period=application_date[:7])
    db.session.add(application)
    db.session.flush()
    facts = _facts(persons, application_date, per_capita, home.id)
    result = evaluate(facts, "uz", engine="pandas")
    return store_assessment(application, facts, result, "pandas")


@pytest.fixture
def households(app):
    made = {}
    home, persons = _household("UZ-TK", children=2)
    older = _assess(home, persons, "2026-05-12", 100000)  # eligible then; a later assessment replaces it
    made["H1"] = _assess(home, persons, "2026-11-10", 700000)
    made["H2"] = _assess(*_household("UZ-SA", children=1), "2026-11-10", 720000)
    made["H3"] = _assess(*_household("UZ-TK", children=0), "2026-11-10", 500000)
    made["H4"] = _assess(*_household("UZ-TK", children=1), "2026-11-10", 900000)
    made["H5"] = _assess(*_household("UZ-SA", children=0, spouse=False), "2026-11-10", 600000)
    made["H6"] = _assess(*_household("UZ-AN", children=1), "2022-05-10", 600000)
    # The fixture is what the tests below assume (so that a wrong expectation is the simulation's fault).
    assert older.decision.value == "eligible" and older.id < made["H1"].id
    assert {k: a.decision.value for k, a in made.items()} == {
        "H1": "ineligible", "H2": "ineligible", "H3": "eligible", "H4": "ineligible", "H5": "eligible",
        "H6": "ineligible"}
    assert made["H6"].pack_version == "2022.04" and made["H1"].pack_version == "2024.06"
    return made


# --- the registries' side: who asked what --------------------------------------------------------------------


@pytest.fixture
def family_pins(simulator_store):
    engine, _url = simulator_store
    with engine.connect() as conn:
        household = conn.scalar(select(store.family_link.c.household_id).group_by(store.family_link.c.household_id)
                                .order_by(store.family_link.c.household_id).limit(1))
        return list(conn.scalars(select(store.family_link.c.pin).where(store.family_link.c.household_id == household)))


def calls(base_url: str) -> dict[str, int]:
    health = httpx.get(f"{base_url}/_control/health", timeout=5).json()
    return {source: counts.get("calls", 0) for source, counts in health["calls"].items()}


def requests_during(base_url: str, action) -> tuple[dict[str, int], object]:
    """What `action()` returns, and how many requests each registry got meanwhile."""
    before = calls(base_url)
    result = action()
    after = calls(base_url)
    return {source: after.get(source, 0) - before.get(source, 0) for source in BY_NAME}, result
