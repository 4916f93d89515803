"""What each simulated source answers: the wire `data` (connectors/wire.py) for a batch of PINs, from the store.

Every function takes an open connection, the requested PINs (distinct, at most `wire.MAX_BATCH`) and a month
`Window`, and returns `{pin: data}` for the PINs the source knows; a PIN missing from the result is answered
`found: false`. Each function runs one query per table it reads, with `IN` over the PINs (never one per PIN).

Who is "known" (`found: true`):
- every source but the disability register knows every PIN of the population (`person`), dead or alive, and
  answers it with its full shape, lists empty when the person has nothing there (no salary, no car...);
- the disability register knows only people with a disability record: its `data` is one record, not a list.

`from`/`to` (inclusive months) filter the income-like lines (`period`); statuses, assets and identity ignore them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, select

from connectors.simulator import store

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
RELATION_ORDER = {relation: index for index, relation in enumerate(store.RELATIONS)}


@dataclass(frozen=True)
class Window:
    """Inclusive months `YYYY-MM` (None: unbounded)."""

    start: str | None = None
    end: str | None = None

    @classmethod
    def parse(cls, start: str | None, end: str | None) -> Window:
        for name, value in (("from", start), ("to", end)):
            if value is not None and not _MONTH.match(value):
                raise ValueError(f"`{name}` must be a month YYYY-MM, got {value!r}")
        if start and end and start > end:
            raise ValueError(f"`from` {start} is after `to` {end}")
        return cls(start or None, end or None)

    def where(self, column):
        """The SQL condition on a `YYYY-MM` text column (months compare as text)."""
        conditions = []
        if self.start:
            conditions.append(column >= self.start)
        if self.end:
            conditions.append(column <= self.end)
        return conditions


def _iso(value: date | str | None) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value)[:10]


def _known(conn: Connection, pins: Sequence[str]) -> set[str]:
    return set(conn.scalars(select(store.person.c.pin).where(store.person.c.pin.in_(pins))))


def _income(conn: Connection, pins: Sequence[str], window: Window, sources: Iterable[str]
            ) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """{pin: {income source: [{"period", "amount"}, ...]}} in month order, one query."""
    t = store.income
    rows = conn.execute(
        select(t.c.pin, t.c.source, t.c.month, t.c.amount)
        .where(t.c.pin.in_(pins), t.c.source.in_(tuple(sources)), *window.where(t.c.month))
        .order_by(t.c.pin, t.c.month))
    lines: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for pin, source, month, amount in rows:
        lines[pin][source].append({"period": month, "amount": int(amount)})
    return lines


def _statuses(conn: Connection, pins: Sequence[str], statuses: Iterable[str]
              ) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """{pin: {status: [{"from", "to"}, ...]}} by start date, one query."""
    t = store.status
    rows = conn.execute(
        select(t.c.pin, t.c.status, t.c.start_date, t.c.end_date)
        .where(t.c.pin.in_(pins), t.c.status.in_(tuple(statuses)))
        .order_by(t.c.pin, t.c.start_date, t.c.id))
    spells: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for pin, status, start, end in rows:
        spells[pin][status].append({"from": _iso(start), "to": _iso(end)})
    return spells


# -- the sources -----------------------------------------------------------------------------------------------


def population(conn: Connection, pins: Sequence[str], window: Window) -> dict[str, dict[str, Any]]:
    p, f = store.person, store.family_link
    people = conn.execute(select(p.c.pin, p.c.last_name, p.c.first_name, p.c.patronymic, p.c.birth_date, p.c.sex,
                                 p.c.death_date, p.c.mahalla, p.c.address).where(p.c.pin.in_(pins))).all()
    if not people:
        return {}
    # Everyone in the households of the requested PINs, in one statement.
    households = select(f.c.household_id).where(f.c.pin.in_(pins)).scalar_subquery()
    members: dict[int, list[tuple[str, str]]] = defaultdict(list)
    household_of: dict[str, int] = {}
    for pin, relation, household_id in conn.execute(
            select(f.c.pin, f.c.relation, f.c.household_id).where(f.c.household_id.in_(households))):
        members[household_id].append((pin, relation))
        household_of[pin] = household_id
    military = _statuses(conn, pins, ("military_service",))
    answers = {}
    for row in people:
        household = sorted(members.get(household_of.get(row.pin), []),
                           key=lambda member: (RELATION_ORDER.get(member[1], len(RELATION_ORDER)), member[0]))
        answers[row.pin] = {
            "surname": row.last_name,
            "given_name": row.first_name,
            "patronymic": row.patronymic,
            "birth_date": _iso(row.birth_date),
            "gender": row.sex,
            "death_date": _iso(row.death_date),
            "address": {"mahalla_code": row.mahalla, "text": row.address},
            "household": [{"pin": pin, "relation": relation} for pin, relation in household],
            "military_service": military.get(row.pin, {}).get("military_service", []),
        }
    return answers


def tax(conn: Connection, pins: Sequence[str], window: Window) -> dict[str, dict[str, Any]]:
    known = _known(conn, pins)
    lines = _income(conn, pins, window, ("salary", "entrepreneurial", "property"))
    return {pin: {"salaries": lines.get(pin, {}).get("salary", []),
                  "entrepreneurial": lines.get(pin, {}).get("entrepreneurial", []),
                  "property_income": lines.get(pin, {}).get("property", [])} for pin in known}


def pension_fund(conn: Connection, pins: Sequence[str], window: Window) -> dict[str, dict[str, Any]]:
    known = _known(conn, pins)
    t = store.income
    rows = conn.execute(
        select(t.c.pin, t.c.source, t.c.month, t.c.amount)
        .where(t.c.pin.in_(pins), t.c.source.in_(("pension", "benefit")), *window.where(t.c.month))
        .order_by(t.c.pin, t.c.month, t.c.source))
    payments: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for pin, source, month, amount in rows:
        payments[pin].append({"type": source, "period": month, "amount": int(amount)})
    return {pin: {"payments": payments.get(pin, [])} for pin in known}


def cadastre(conn: Connection, pins: Sequence[str], window: Window) -> dict[str, dict[str, Any]]:
    known = _known(conn, pins)
    t = store.real_estate
    properties: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for pin, kind in conn.execute(select(t.c.owner_pin, t.c.kind).where(t.c.owner_pin.in_(pins))
                                  .order_by(t.c.owner_pin, t.c.id)):
        properties[pin].append({"type": kind})
    return {pin: {"properties": properties.get(pin, [])} for pin in known}


def vehicles(conn: Connection, pins: Sequence[str], window: Window) -> dict[str, dict[str, Any]]:
    known = _known(conn, pins)
    t = store.vehicle
    owned: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for pin, year, kind in conn.execute(select(t.c.owner_pin, t.c.year, t.c.kind).where(t.c.owner_pin.in_(pins))
                                        .order_by(t.c.owner_pin, t.c.id)):
        owned[pin].append({"manufacture_year": int(year), "category": kind})
    return {pin: {"vehicles": owned.get(pin, [])} for pin in known}


def penitentiary(conn: Connection, pins: Sequence[str], window: Window) -> dict[str, dict[str, Any]]:
    known = _known(conn, pins)
    spells = _statuses(conn, pins, ("detention",))
    return {pin: {"detentions": spells.get(pin, {}).get("detention", [])} for pin in known}


def employment(conn: Connection, pins: Sequence[str], window: Window) -> dict[str, dict[str, Any]]:
    known = _known(conn, pins)
    lines = _income(conn, pins, window, ("unemployment_benefit", "public_works"))
    t = store.status
    registrations: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for pin, status, start, end in conn.execute(
            select(t.c.pin, t.c.status, t.c.start_date, t.c.end_date)
            .where(t.c.pin.in_(pins), t.c.status.in_(("registered_unemployed", "employment_registered")))
            .order_by(t.c.pin, t.c.start_date, t.c.id)):
        registrations[pin].append({"kind": status, "from": _iso(start), "to": _iso(end)})
    return {pin: {"unemployment_benefit": lines.get(pin, {}).get("unemployment_benefit", []),
                  "public_works": lines.get(pin, {}).get("public_works", []),
                  "registrations": registrations.get(pin, [])} for pin in known}


def education(conn: Connection, pins: Sequence[str], window: Window) -> dict[str, dict[str, Any]]:
    known = _known(conn, pins)
    spells = _statuses(conn, pins, ("student",))
    return {pin: {"enrolments": spells.get(pin, {}).get("student", [])} for pin in known}


def courts(conn: Connection, pins: Sequence[str], window: Window) -> dict[str, dict[str, Any]]:
    known = _known(conn, pins)
    received = _income(conn, pins, window, ("alimony_received",))
    t = store.alimony_paid
    paid: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for pin, month, amount in conn.execute(select(t.c.pin, t.c.month, t.c.amount)
                                           .where(t.c.pin.in_(pins), *window.where(t.c.month))
                                           .order_by(t.c.pin, t.c.month, t.c.id)):
        paid[pin].append({"period": month, "amount": int(amount)})
    return {pin: {"alimony_received": received.get(pin, {}).get("alimony_received", []),
                  "alimony_paid": paid.get(pin, [])} for pin in known}


def disability(conn: Connection, pins: Sequence[str], window: Window) -> dict[str, dict[str, Any]]:
    """One record per person; with several (re-examinations), the one that runs longest (open-ended first)."""
    t = store.disability
    best: dict[str, tuple[str, date | None]] = {}
    for pin, group, end in conn.execute(select(t.c.pin, t.c.disability_group, t.c.end_date)
                                        .where(t.c.pin.in_(pins)).order_by(t.c.pin, t.c.id)):
        current = best.get(pin)
        if current is None or (current[1] is not None and (end is None or end > current[1])):
            best[pin] = (group, end)
    return {pin: {"group": group, "valid_until": _iso(end)} for pin, (group, end) in best.items()}


def securities(conn: Connection, pins: Sequence[str], window: Window) -> dict[str, dict[str, Any]]:
    known = _known(conn, pins)
    t = store.security_holding
    holdings: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for pin, market, nominal in conn.execute(select(t.c.owner_pin, t.c.market_value, t.c.nominal_value)
                                             .where(t.c.owner_pin.in_(pins)).order_by(t.c.owner_pin, t.c.id)):
        holdings[pin].append({"market_value": None if market is None else int(market),
                              "nominal_value": int(nominal)})
    income = _income(conn, pins, window, ("securities",))
    return {pin: {"holdings": holdings.get(pin, []), "income": income.get(pin, {}).get("securities", [])}
            for pin in known}


def local_registers(conn: Connection, pins: Sequence[str], window: Window) -> dict[str, dict[str, Any]]:
    known = _known(conn, pins)
    spells = _statuses(conn, pins, ("iron_notebook",))
    return {pin: {"iron_notebook": spells.get(pin, {}).get("iron_notebook", [])} for pin in known}


Query = Callable[[Connection, Sequence[str], Window], dict[str, dict[str, Any]]]

QUERIES: dict[str, Query] = {
    "population": population,
    "tax": tax,
    "pension_fund": pension_fund,
    "cadastre": cadastre,
    "vehicles": vehicles,
    "penitentiary": penitentiary,
    "employment": employment,
    "education": education,
    "courts": courts,
    "disability": disability,
    "securities": securities,
    "local_registers": local_registers,
}


# -- the civil registry (DCI) ----------------------------------------------------------------------------------


def vital_events(conn: Connection, pins: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """{pin: [{"event", "date", "pin", "related_pin"}, ...]} by date: the events registered on each person."""
    t = store.vital_event
    events: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if not pins:
        return events
    for pin, kind, when, related in conn.execute(
            select(t.c.pin, t.c.kind, t.c.event_date, t.c.related_pin)
            .where(t.c.pin.in_(pins)).order_by(t.c.pin, t.c.event_date, t.c.id)):
        events[pin].append(vital_record(kind, when, pin, related))
    return events


def vital_record(kind: str, when: date | str, pin: str, related_pin: str | None) -> dict[str, Any]:
    return {"event": kind, "date": _iso(when), "pin": pin, "related_pin": related_pin}


# -- new births and deaths (the simulator's control API) -------------------------------------------------------

FERTILE_AGES = (18, 45)
_PATRONYMIC_SUFFIX = {"M": " oʻgʻli", "F": " qizi"}


def _check_digit(digits: str) -> int:
    """ICAO 9303 check digit (weights 7, 3, 1, modulo 10), as the PINFL's last digit."""
    return sum(int(d) * (7, 3, 1)[i % 3] for i, d in enumerate(digits)) % 10


def _pin_candidates(born: date, sex: str, district: str, serials: Iterable[int]) -> list[str]:
    century = (1 if born.year < 1900 else 3 if born.year < 2000 else 5) + (1 if sex == "F" else 0)
    out = []
    for serial in serials:
        body = f"{century}{born:%d%m}{born.year % 100:02d}{district}{serial:03d}"
        out.append(body + str(_check_digit(body)))
    return out


def _surname_for(surname: str, sex: str) -> str:
    """Uzbek surnames take `a` for women (Karimov, Karimova)."""
    if sex == "F":
        return surname if surname.endswith("a") else surname + "a"
    return surname[:-1] if surname.endswith("a") else surname


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _household_members(conn: Connection, household_id: int) -> list[Any]:
    p, f = store.person, store.family_link
    return conn.execute(
        select(f.c.pin, f.c.related_pin, f.c.relation, f.c.household_id, p.c.sex, p.c.birth_date, p.c.death_date,
               p.c.last_name, p.c.first_name, p.c.mahalla, p.c.address)
        .join(p, p.c.pin == f.c.pin).where(f.c.household_id == household_id).order_by(f.c.pin)).all()


def emit_vital_events(conn: Connection, births: int, deaths: int, rng, today: date,
                      names: tuple[Sequence[str], Sequence[str]] | None = None) -> list[dict[str, Any]]:
    """Register `births` new children and `deaths` deaths dated `today` in the store (inside the caller's
    transaction); returns their vital records in the wire shape.

    Households are drawn at random (`rng`: a `random.Random`); a birth needs a living woman aged 18-45 of the
    household (head, spouse or daughter-in-law), a death a living member other than the head (the register
    re-registers a household when its head dies, as the generator assumes). The child gets a valid PINFL of the
    mother's district, the father's surname and patronymic when he is in the household, and joins the household.
    """
    if births < 0 or deaths < 0:
        raise ValueError("births and deaths must not be negative")
    if names is None:
        from connectors import synthetic

        names = (synthetic.MALE, synthetic.FEMALE)
    last = conn.scalar(select(store.household.c.id).order_by(store.household.c.id.desc()).limit(1))
    if not last:
        raise ValueError("the simulator database has no households")
    records: list[dict[str, Any]] = []
    used: set[str] = set()
    wanted = {"birth": births, "death": deaths}
    tries = 0
    while (wanted["birth"] or wanted["death"]) and tries < 200 * (births + deaths):
        tries += 1
        members = _household_members(conn, rng.randint(1, last))
        alive = [m for m in members if m.death_date is None and m.pin not in used]
        kind = "birth" if wanted["birth"] else "death"
        if kind == "birth":
            mothers = [m for m in alive if m.sex == "F" and m.relation in ("head", "spouse", "other")
                       and FERTILE_AGES[0] <= _age(m.birth_date, today) <= FERTILE_AGES[1]]
            if not mothers:
                continue
            mother = rng.choice(mothers)
            records.append(_register_birth(conn, mother, alive, rng, today, names))
            used.add(mother.pin)
        else:
            candidates = [m for m in alive if m.relation != "head"]
            if not candidates:
                continue
            dead = rng.choice(candidates)
            conn.execute(store.person.update().where(store.person.c.pin == dead.pin).values(death_date=today))
            conn.execute(store.vital_event.insert().values(pin=dead.pin, kind="death", event_date=today,
                                                           related_pin=None))
            records.append(vital_record("death", today, dead.pin, None))
            used.add(dead.pin)
        wanted[kind] -= 1
    if wanted["birth"] or wanted["death"]:
        raise ValueError(f"could not find households for {wanted['birth']} birth(s) and {wanted['death']} death(s)")
    return records


def _register_birth(conn: Connection, mother: Any, alive: list[Any], rng, today: date,
                    names: tuple[Sequence[str], Sequence[str]]) -> dict[str, Any]:
    sex = "M" if rng.random() < 0.513 else "F"
    father = None
    if mother.relation == "spouse":
        father = next((m for m in alive if m.relation == "head" and m.sex == "M"), None)
    elif mother.relation == "head":
        father = next((m for m in alive if m.relation == "spouse" and m.sex == "M"), None)
    district = mother.pin[7:10]
    pin = None
    for _ in range(20):
        candidates = _pin_candidates(today, sex, district, rng.sample(range(1000), 20))
        taken = _known(conn, candidates)
        pin = next((c for c in candidates if c not in taken), None)
        if pin:
            break
    if pin is None:
        raise ValueError(f"no free PINFL serial left for {today} in district {district}")
    surname = _surname_for((father or mother).last_name, sex)
    conn.execute(store.person.insert().values(
        pin=pin, last_name=surname, first_name=rng.choice(names[0] if sex == "M" else names[1]),
        patronymic=(father.first_name + _PATRONYMIC_SUFFIX[sex]) if father else None, birth_date=today, sex=sex,
        death_date=None, phone=None, mahalla=mother.mahalla, address=mother.address,
        father_pin=father.pin if father else None, mother_pin=mother.pin))
    conn.execute(store.family_link.insert().values(
        pin=pin, related_pin=mother.related_pin, relation="child" if mother.relation in ("head", "spouse") else "other",
        household_id=mother.household_id))
    conn.execute(store.vital_event.insert().values(pin=pin, kind="birth", event_date=today, related_pin=mother.pin))
    return vital_record("birth", today, pin, mother.pin)
