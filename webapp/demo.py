"""Demo set-up for `make run`: one user per role and a small, deterministic demo population.

The population is a stand-in for the population register until the connectors issue brings the synthetic
population and the registry simulator; it is consistent (valid PINs agreeing with birth date and sex).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, insert, select

from modules.registration.models import Household, HouseholdMember, Person, Relation, Sex
from webapp.auth.operations import create_user
from webapp.extensions import db
from webapp.models import Area, AreaLevel, Role, User
from webapp.pin import make_uz

MALE = ["Alisher", "Bobur", "Jasur", "Sardor", "Rustam", "Aziz", "Otabek", "Sherzod", "Dilshod", "Farrux", "Javlon",
        "Ulugʻbek", "Bekzod", "Nodir", "Shoxrux", "Akmal", "Anvar", "Temur"]
FEMALE = ["Dilnoza", "Gulnora", "Madina", "Nilufar", "Shahnoza", "Zarina", "Malika", "Feruza", "Kamola", "Sevara",
          "Munisa", "Nodira", "Dildora", "Mohira", "Gulchehra", "Maftuna", "Zuhra", "Lola"]
SURNAMES = ["Karimov", "Rahimov", "Toshmatov", "Yusupov", "Abdullayev", "Xolmatov", "Ergashev", "Nazarov",
            "Qodirov", "Saidov", "Mirzayev", "Rasulov", "Tursunov", "Haydarov", "Jurayev", "Sobirov"]

DEMO_PASSWORD_SUFFIX = "-demo-2026"
# (username, role, full name, area codes, national scope)
DEMO_USERS = [
    ("admin", Role.admin, "Admin Adminov", [], True),
    ("registrar", Role.registrar, "Gulnora Registratorova", ["UZ-TK"], False),
    ("registrar.sam", Role.registrar, "Sardor Samarqandiy", ["UZ-SA"], False),
    ("mahalla", Role.mahalla_worker, "Nodira Mahallayeva", ["UZ-TK-01"], False),
    ("social", Role.social_worker, "Rustam Ijtimoiy", ["UZ-TK"], False),
    ("finance.maker", Role.finance_maker, "Feruza Moliyaviy", [], True),
    ("finance.checker", Role.finance_checker, "Aziz Nazoratchi", [], True),
    ("analyst", Role.analyst, "Malika Tahlilchi", [], True),
    ("auditor", Role.auditor, "Temur Auditov", [], True),
]


def demo_password(username: str) -> str:
    return username.replace(".", "-") + DEMO_PASSWORD_SUFFIX


def create_demo_users() -> list[tuple[str, str, str]]:
    """Create the demo users that are missing; returns (username, password, role) for all of them."""
    existing = set(db.session.scalars(select(User.username)))
    for username, role, full_name, areas, national in DEMO_USERS:
        if username not in existing:
            create_user(username, demo_password(username), role, full_name, areas, national_scope=national)
    return [(username, demo_password(username), role.value) for username, role, *_rest in DEMO_USERS]


@dataclass
class _Member:
    relation: Relation
    sex: str
    birth_date: date


def _family(rng: random.Random, today: date) -> list[_Member]:
    """Head and spouse 22-62, 0-6 children under 18 (realistic sizes 1-9), sometimes a grandparent."""
    head_age = rng.randint(22, 62)
    head_sex = "M" if rng.random() < 0.8 else "F"
    members = [_Member(Relation.head, head_sex, _birth(rng, today, head_age))]
    if rng.random() < 0.85:
        members.append(_Member(Relation.spouse, "F" if head_sex == "M" else "M",
                               _birth(rng, today, max(19, head_age + rng.randint(-6, 3)))))
    for _ in range(rng.choice([0, 1, 2, 2, 3, 3, 4, 5, 6])):
        child_age = rng.randint(0, min(17, head_age - 19))
        members.append(_Member(Relation.child, rng.choice("MF"), _birth(rng, today, child_age)))
    if rng.random() < 0.2:
        members.append(_Member(Relation.parent, rng.choice("MF"), _birth(rng, today, head_age + rng.randint(22, 30))))
    return members


def _birth(rng: random.Random, today: date, age: int) -> date:
    return today - timedelta(days=age * 365 + rng.randint(1, 360))


def create_demo_population(households_per_district: int = 2, seed: int = 2026, today: date | None = None) -> int:
    """Persons in households across every district; deterministic for a seed. Skipped if persons exist."""
    if db.session.scalar(select(func.count(Person.id))):
        return 0
    rng, today = random.Random(seed), today or date.today()
    mahallas = db.session.scalars(select(Area).where(Area.level == AreaLevel.mahalla).order_by(Area.code)).all()
    by_district: dict[int, list[Area]] = {}
    for mahalla in mahallas:
        by_district.setdefault(mahalla.parent_id, []).append(mahalla)
    serial, count = 0, 0
    for district_no, district_mahallas in enumerate(by_district.values(), start=1):
        for _ in range(households_per_district):
            area = rng.choice(district_mahallas)
            surname = rng.choice(SURNAMES)
            household_id = db.session.execute(insert(Household).values(area_id=area.id, address=f"{area.name_uz}, "
                                              f"{rng.randint(1, 120)}-uy")).inserted_primary_key[0]
            father = None
            people = []
            for member in _family(rng, today):
                serial += 1
                first = rng.choice(MALE if member.sex == "M" else FEMALE)
                if member.relation is Relation.head and member.sex == "M":
                    father = first
                people.append((member, first, make_uz(member.birth_date, member.sex, district_no, serial)))
            for member, first, pin in people:
                is_child = member.relation is Relation.child
                person_id = db.session.execute(insert(Person).values(
                    pin=pin, first_name=first, last_name=surname + ("a" if member.sex == "F" else ""),
                    patronymic=(f"{father} {'oʻgʻli' if member.sex == 'M' else 'qizi'}" if is_child and father
                                else None),
                    birth_date=member.birth_date, sex=Sex(member.sex), area_id=area.id,
                    phone=f"+99890{rng.randint(1000000, 9999999)}" if not is_child else None,
                )).inserted_primary_key[0]
                db.session.execute(insert(HouseholdMember).values(household_id=household_id, person_id=person_id,
                                                                  relation=member.relation, joined_at=today))
                count += 1
    db.session.flush()
    return count


def sample_families(region_code: str, limit: int = 3) -> list[list[tuple[str, str, str]]]:
    """A few demo families in a region as [(pin, relation, name)], head first, for the start-up banner."""
    region = db.session.scalar(select(Area).where(Area.code == region_code))
    households = db.session.scalars(
        select(Household).join(Area, Household.area_id == Area.id)
        .where(Area.path.startswith(region.path)).order_by(Household.id).limit(limit)).all()
    order = list(Relation)
    return [[(m.person.pin, m.relation.value, m.person.full_name)
             for m in sorted(h.members, key=lambda m: order.index(m.relation))] for h in households]
