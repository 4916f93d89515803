"""Factory helpers: users, persons with valid PINs, families in households."""

from __future__ import annotations

import itertools
from datetime import date

from sqlalchemy import select

from modules.registration.models import Household, HouseholdMember, Person, Relation, Sex
from webapp.auth.operations import create_user
from webapp.extensions import db
from webapp.models import Area, AreaLevel, Role
from webapp.pin import make_uz

PASSWORD = "correct-horse-battery"
_serial = itertools.count(1)
_names = itertools.count(1)


def area(code: str) -> Area:
    return db.session.scalar(select(Area).where(Area.code == code))


def mahalla_in(code: str) -> Area:
    """The first mahalla inside a region or district."""
    parent = area(code)
    return db.session.scalar(select(Area).where(Area.level == AreaLevel.mahalla, Area.path.startswith(parent.path))
                             .order_by(Area.code))


def make_user(role: str, areas=(), national: bool = False, username: str | None = None, password: str = PASSWORD,
              language: str = "en"):
    username = username or f"{role}-{next(_names)}"
    user = create_user(username, password, Role(role), f"Test {role}", list(areas), national_scope=national,
                       language=language)
    db.session.flush()
    return user


def make_person(area_code: str = "UZ-TK", birth_date: date = date(1985, 4, 2), sex: str = "M", **fields) -> Person:
    serial = next(_serial)
    person = Person(pin=fields.pop("pin", None) or make_uz(birth_date, sex, serial // 1000 + 1, serial),
                    last_name=fields.pop("last_name", "Karimov"), first_name=fields.pop("first_name", f"Test{serial}"),
                    birth_date=birth_date, sex=Sex(sex), area_id=mahalla_in(area_code).id, **fields)
    db.session.add(person)
    db.session.flush()
    return person


def make_family(area_code: str = "UZ-TK", children: int = 2, household: bool = True) -> dict:
    """Head (1985, M), spouse (1988, F) and children born 2012+; in one household unless household=False."""
    head = make_person(area_code, date(1985, 4, 2), "M")
    spouse = make_person(area_code, date(1988, 9, 15), "F", last_name="Karimova")
    kids = [make_person(area_code, date(2012 + i, 1 + i, 10), "F" if i % 2 else "M") for i in range(children)]
    family = {"head": head, "spouse": spouse, "children": kids, "household": None}
    if household:
        home = Household(area_id=head.area_id, address="Test street 1")
        db.session.add(home)
        db.session.flush()
        relations = [(head, Relation.head), (spouse, Relation.spouse)] + [(kid, Relation.child) for kid in kids]
        for person, relation in relations:
            db.session.add(HouseholdMember(household_id=home.id, person_id=person.id, relation=relation))
        db.session.flush()
        family["household"] = home
    return family


def application_payload(family: dict, **overrides) -> dict:
    payload = {
        "applicant_pin": family["head"].pin,
        "phone": "+998901234567",
        "members": [{"pin": family["spouse"].pin, "relation": "spouse"}]
        + [{"pin": kid.pin, "relation": "child"} for kid in family["children"]],
        "programmes": ["child_allowance"],
        "channel": "office",
    }
    payload.update(overrides)
    return payload


def form_data(payload: dict, csrf: str, action: str = "submit") -> dict:
    """The same payload as the 'New application' form posts it."""
    return {
        "csrf_token": csrf,
        "applicant_pin": payload["applicant_pin"],
        "phone": payload["phone"],
        "member_pin": [m["pin"] for m in payload["members"]],
        "member_relation": [m["relation"] for m in payload["members"]],
        "programmes": payload["programmes"],
        "channel": payload["channel"],
        "action": action,
    }
