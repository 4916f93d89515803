"""The facts document built from an application whose collection ran against the simulator, over real HTTP.

The expected documents are worked out straight from the simulator's tables, not through the connectors, so a
record lost or misfiled on the way (an income line, alimony paid, a status, a car) shows up as a difference.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime

import httpx
import pytest
from sqlalchemy import func, or_, select

from connectors.base import income_window
from connectors.simulator import store
from modules.means_test.evidence import missing_sources
from modules.means_test.facts import application_day, build_facts
from modules.means_test.models import DataPull, PullStatus
from modules.registration.models import Person, Sex
from rules.facts import validate_facts
from tests.means_test.conftest import AS_OF, register
from webapp.extensions import db
from webapp.models import Area

# Submitted two weeks after the synthetic population's date, whatever today is: the income window is then the
# population's 12 months, and which statuses are active never drifts with the calendar.
SUBMITTED = datetime(2026, 10, 15, 6, 0, tzinfo=UTC)
DAY = date(2026, 10, 15)

@pytest.fixture
def collected(app, sources_at, simulator_store, registrar):
    """collected(condition) → (application, family): a simulator household with a member in `condition` (a
    select of PINs), registered and collected."""
    httpx.put(f"{sources_at}/_control/faults", json={}, timeout=5).raise_for_status()

    def make(condition):
        family = _family(simulator_store, condition)
        application = register(family, registrar, submitted_at=SUBMITTED)
        # Every source answered for every member (what follows collection, e.g. an assessment, may have run too).
        assert application.submitted_at and not missing_sources(application), [e.note for e in application.events]
        return application, family

    return make


def test_the_document_matches_the_simulators_records(collected, simulator_store):
    t = store.alimony_paid
    application, family = collected(select(t.c.pin).where(t.c.month >= "2026-01"))
    facts = build_facts(application)
    day = application_day(application)
    assert facts["application_date"] == day.isoformat() == DAY.isoformat()
    assert facts["household_id"] == application.household_id
    assert [m["pin"] for m in facts["members"]] == [p.pin for p in family]
    assert [m["relation"] for m in facts["members"]] == [m.relation.value for m in application.members]
    with simulator_store[0].connect() as conn:
        for member in facts["members"]:
            expected = _expected_member(conn, member["pin"], day)
            assert {key: member[key] for key in expected} == expected, member["pin"]
            assert Counter(_income_key(line) for line in member["income"]) == _expected_income(conn, member["pin"],
                                                                                                  day)
        assert Counter(map(_asset_key, facts["vehicles"])) == _expected_assets(conn, store.vehicle, family)
        assert Counter(map(_asset_key, facts["real_estate"])) == _expected_assets(conn, store.real_estate, family)
        assert facts["securities_value"] == _expected_securities(conn, family)
    assert any(member["alimony_paid"] for member in facts["members"]), "the household was chosen for alimony paid"
    assert validate_facts(facts) == facts


def test_alimony_paid_is_split_out_of_income(collected):
    t = store.alimony_paid
    application, _family = collected(select(t.c.pin).where(t.c.month >= "2026-01"))
    facts = build_facts(application)
    payer = next(member for member in facts["members"] if member["alimony_paid"])
    assert all(set(line) == {"month", "amount"} and line["amount"] > 0 for line in payer["alimony_paid"])
    assert all(line["source"] != "alimony_paid" for m in facts["members"] for line in m["income"])
    amounts = [line["amount"] for m in facts["members"] for line in m["income"] + m["alimony_paid"]]
    assert amounts and all(type(amount) is int for amount in amounts), "whole UZS amounts are integers"


def test_an_active_disability_gives_the_group(collected, simulator_store):
    t = store.disability
    application, family = collected(select(t.c.pin).where(or_(t.c.end_date.is_(None), t.c.end_date > DAY)))
    facts = build_facts(application)
    with simulator_store[0].connect() as conn:
        groups = {pin: group for pin, group, end in conn.execute(
            select(t.c.pin, t.c.disability_group, t.c.end_date).where(t.c.pin.in_([p.pin for p in family])))
            if end is None or end >= application_day(application)}
    assert groups
    assert {m["pin"]: m["disability_group"] for m in facts["members"] if m["disability_group"]} == groups
    assert all("disability" not in m["statuses"] for m in facts["members"])


def test_registered_unemployed_counts_as_employment_registration(collected):
    t = store.status
    application, family = collected(select(t.c.pin).where(t.c.status == "registered_unemployed",
                                                          t.c.start_date <= DAY,
                                                          or_(t.c.end_date.is_(None), t.c.end_date >= DAY)))
    facts = build_facts(application)
    registered = [m for m in facts["members"] if "employment_registered" in m["statuses"]]
    assert registered
    assert all("registered_unemployed" not in m["statuses"] for m in facts["members"])


def test_only_statuses_active_on_the_application_date_count(collected):
    # The synthetic population has no finished spells yet: newer pulls bring them, as a retry would.
    t = store.vehicle
    application, family = collected(select(t.c.owner_pin))
    head, day = family[0], application_day(application)
    spells = {"student": ("2020-09-01", (day.replace(day=1) - date.resolution).isoformat()),  # ended last month
              "detention": ((day + date.resolution).isoformat(), None),  # starts tomorrow
              "iron_notebook": (day.isoformat(), day.isoformat())}  # one day: the application date
    source = {"student": "education", "detention": "penitentiary", "iron_notebook": "local_registers"}
    for status, (start, end) in spells.items():
        _pull(application, head, source[status], [_status(head, status, start, end)])
    _pull(application, head, "disability", [_status(head, "disability", None, "2025-01-31", group="2")])
    member = build_facts(application)["members"][0]
    assert "student" not in member["statuses"] and "detention" not in member["statuses"]
    assert "iron_notebook" in member["statuses"]
    assert member["disability_group"] is None, "a disability whose period ended no longer counts"


def test_a_vehicle_reported_by_two_members_pulls_counts_once(collected):
    t = store.vehicle
    application, family = collected(select(t.c.owner_pin))
    before = build_facts(application)["vehicles"]
    owner = next(p for p in family if any(v["owner_pin"] == p.pin for v in before))
    other = next(p for p in family if p is not owner)
    owned = [{"kind": "vehicle", "owner_pin": v["owner_pin"], "year": v["year"], "vehicle_kind": v["kind"]}
             for v in before if v["owner_pin"] == owner.pin]
    # A registry that answers the family's cars under each member: the other member's newest pull repeats them.
    _pull(application, other, "vehicles", owned)
    assert build_facts(application)["vehicles"] == before
    # Two identical cars in one pull are two cars.
    _pull(application, owner, "vehicles", owned + owned[:1])
    assert len(build_facts(application)["vehicles"]) == len(before) + 1


def test_the_newest_pull_of_a_source_is_what_counts(collected):
    t = store.vehicle
    application, family = collected(select(t.c.owner_pin))
    head = family[0]
    _pull(application, head, "tax", [{"kind": "income", "pin": head.pin, "source": "salary", "month": "2026-09",
                                      "amount": 1234567.5, "currency": "UZS"}])
    member = build_facts(application)["members"][0]
    assert [line for line in member["income"] if line["source"] in ("salary", "entrepreneurial", "property")] == [
        {"source": "salary", "month": "2026-09", "amount": 1234567.5}]


def test_the_application_date_is_the_countrys_date_of_submission(collected):
    t = store.vehicle
    application, _family = collected(select(t.c.owner_pin))
    application.submitted_at = datetime(2026, 11, 9, 20, 30, tzinfo=UTC)  # 01:30 on 10 November in Tashkent
    assert build_facts(application)["application_date"] == "2026-11-10"
    application.submitted_at = None
    application.created_at = datetime(2026, 10, 31, 18, 59, tzinfo=UTC)  # 23:59 on 31 October
    assert build_facts(application)["application_date"] == "2026-10-31"


def test_identity_comes_from_the_population_register_before_the_person_row(collected):
    t = store.vehicle
    application, family = collected(select(t.c.owner_pin))
    head = family[0]
    register_birth = head.birth_date
    head.birth_date, head.sex = date(1950, 1, 1), Sex.F if head.sex is Sex.M else Sex.M  # a stale copy
    facts = build_facts(application)
    assert facts["members"][0]["birth_date"] == register_birth.isoformat()
    assert facts["members"][0]["sex"] != head.sex.value
    _pull(application, head, "population", [])  # the register no longer answers: the person row is all there is
    facts = build_facts(application)
    assert (facts["members"][0]["birth_date"], facts["members"][0]["sex"]) == ("1950-01-01", head.sex.value)


def _status(person, status: str, start: str | None, end: str | None, group: str | None = None) -> dict:
    return {"kind": "status", "pin": person.pin, "status": status, "start": start, "end": end, "group": group}


# -- expected values, straight from the simulator's tables -------------------------------------------------------


def _expected_member(conn, pin: str, day: date) -> dict:
    p = store.person
    birth, sex = conn.execute(select(p.c.birth_date, p.c.sex).where(p.c.pin == pin)).one()
    start, end = income_window(day)
    a = store.alimony_paid
    alimony = Counter(conn.execute(select(a.c.month, a.c.amount).where(a.c.pin == pin, a.c.month.between(start, end)))
                      .all())
    s = store.status
    statuses = {_status_name(status) for (status,) in conn.execute(select(s.c.status).where(
        s.c.pin == pin, s.c.start_date <= day, or_(s.c.end_date.is_(None), s.c.end_date >= day)))}
    return {"birth_date": birth.isoformat(), "sex": sex, "disability_group": _expected_group(conn, pin, day),
            "statuses": sorted(statuses), "alimony_paid": [{"month": month, "amount": int(amount)}
                                                          for month, amount in sorted(alimony.elements())]}


def _expected_group(conn, pin: str, day: date) -> str | None:
    d = store.disability
    rows = conn.execute(select(d.c.disability_group, d.c.end_date).where(d.c.pin == pin)).all()
    if not rows:
        return None
    # The register answers with the period that runs longest (open-ended first), as the simulator does.
    group, end = max(rows, key=lambda row: (row.end_date is None, row.end_date or date.min))
    return group if end is None or end >= day else None


def _expected_income(conn, pin: str, day: date) -> Counter:
    i = store.income
    start, end = income_window(day)
    return Counter((source, month, int(amount)) for source, month, amount in conn.execute(
        select(i.c.source, i.c.month, i.c.amount).where(i.c.pin == pin, i.c.month.between(start, end))))


def _expected_assets(conn, table, family) -> Counter:
    return Counter((owner, *rest) for owner, *rest in conn.execute(
        select(table.c.owner_pin, *[c for c in (table.c.get("year"), table.c.kind) if c is not None])
        .where(table.c.owner_pin.in_([p.pin for p in family]))))


def _expected_securities(conn, family) -> int:
    h = store.security_holding
    return int(conn.scalar(select(func.coalesce(func.sum(func.coalesce(h.c.market_value, h.c.nominal_value)), 0))
                           .where(h.c.owner_pin.in_([p.pin for p in family]))))


def _status_name(status: str) -> str:
    return "employment_registered" if status == "registered_unemployed" else status


def _income_key(line: dict) -> tuple:
    return line["source"], line["month"], line["amount"]


def _asset_key(item: dict) -> tuple:
    return (item["owner_pin"], item["year"], item["kind"]) if "year" in item else (item["owner_pin"], item["kind"])


# -- set-up ------------------------------------------------------------------------------------------------------


def _family(simulator_store, condition) -> list[Person]:
    """The first simulator household with a living adult head and a living member whose PIN is in `condition`,
    copied into the registry's person table (head first)."""
    engine, _url = simulator_store
    p, f = store.person, store.family_link
    with engine.connect() as conn:
        wanted = set(conn.scalars(condition))
        rows = conn.execute(select(p, f.c.relation, f.c.household_id).join(f, f.c.pin == p.c.pin)
                            .where(p.c.death_date.is_(None)).order_by(f.c.household_id, f.c.pin)).mappings().all()
    households: dict[int, list] = {}
    for row in rows:
        households.setdefault(row["household_id"], []).append(row)
    for members in households.values():
        heads = [m for m in members if m["relation"] == "head" and (AS_OF - m["birth_date"]).days > 20 * 365]
        if heads and len(members) >= 2 and any(m["pin"] in wanted for m in members):
            return [_person(m) for m in sorted(members, key=lambda m: m["relation"] != "head")]
    raise AssertionError("no suitable household in the synthetic population")


def _person(row) -> Person:
    area = db.session.scalar(select(Area).where(Area.code == row["mahalla"]))
    person = Person(pin=row["pin"], last_name=row["last_name"], first_name=row["first_name"],
                    patronymic=row["patronymic"], birth_date=row["birth_date"], sex=Sex(row["sex"]), area_id=area.id)
    db.session.add(person)
    db.session.flush()
    person.relation = row["relation"]
    return person


def _pull(application, person, source: str, payload: list[dict]) -> None:
    """A newer pull of `source` for `person`, as a retry would record it."""
    db.session.add(DataPull(application_id=application.id, person_id=person.id, source=source,
                            status=PullStatus.ok, latency_ms=1, payload=payload))
    db.session.flush()


def test_a_member_the_register_reports_dead_is_not_counted(collected):
    t = store.vehicle
    application, family = collected(select(t.c.owner_pin))
    last = family[-1]
    identity = {"kind": "identity", "pin": last.pin, "last_name": "X", "first_name": "Y", "patronymic": None,
                "birth_date": last.birth_date.isoformat(), "sex": last.sex.value, "death_date": "2026-10-01"}
    assert last.pin in [m["pin"] for m in build_facts(application)["members"]]
    _pull(application, last, "population", [identity])
    assert last.pin not in [m["pin"] for m in build_facts(application)["members"]]
