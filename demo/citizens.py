"""Two demo citizens for the citizens' portal in `make run`, each the head of a Tashkent family that has not applied.

Citizen A's registry records (in the simulator's registries, never in the registry's own tables) are those of a
low-income family, so an application from the portal is decided eligible, the family is enrolled and the
certificate can be downloaded. Citizen B's family earns well above the threshold per person, so the application is
refused with that reason, and B can appeal.

Each gets a fixed demo phone number, in the registry's copy of the population register and in the simulated
register alike (the portal sends the sign-in code to the number on file). The number is also how a later run finds
the same citizens again: nothing is chosen twice, and a family that has applied meanwhile keeps its application.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, update

from connectors.simulator import store
from demo.payroll import _low_income
from modules.registration.models import Application, Household, HouseholdMember, Person, Relation
from webapp.extensions import db
from webapp.models import Area
from webapp.timeutil import age_on

REGION = "UZ-TK"
# Households before this one (by id) are the banner's families, the demo history's and the demo month's.
SKIP = 240
CANDIDATES = 400
HIGH_SALARY = 6_000_000  # UZS a month per adult: far above the threshold per person of any family


@dataclass(frozen=True)
class DemoCitizen:
    label: str
    phone: str
    outcome: str  # "eligible" or "refused"
    pin: str = ""
    name: str = ""


CITIZENS = (DemoCitizen("A", "+998901110001", "eligible"), DemoCitizen("B", "+998901110002", "refused"))


def create_demo_citizens(sim_engine, today: date | None = None, skip: int = SKIP) -> list[DemoCitizen]:
    """Find or choose the demo citizens, give them their phone numbers and their families' registry records.
    Flushes, never commits. Returns the citizens found (none when the region has no family left to choose)."""
    today = today or date.today()
    found = []
    chosen_households: set[int] = set()
    for citizen in CITIZENS:
        person = db.session.scalar(select(Person).where(Person.phone == citizen.phone).order_by(Person.id).limit(1))
        household = _household(person) if person is not None else None
        if person is None or household is None:
            person, household = _choose(today, chosen_households, skip)
            if person is None:
                continue
            person.phone = citizen.phone
            db.session.flush()
        chosen_households.add(household.id)
        pins = [member.person.pin for member in household.members if member.left_at is None]
        with sim_engine.begin() as conn:
            conn.execute(update(store.person).where(store.person.c.pin == person.pin).values(phone=citizen.phone))
            _low_income(conn, pins, today)  # no assets: income is the only reason the means test can weigh
            if citizen.outcome == "refused":
                conn.execute(update(store.income).where(store.income.c.pin.in_(pins)).values(amount=HIGH_SALARY))
        found.append(DemoCitizen(citizen.label, citizen.phone, citizen.outcome, person.pin, person.full_name))
    return found


def _household(person: Person) -> Household | None:
    member = db.session.scalar(select(HouseholdMember).where(HouseholdMember.person_id == person.id,
                                                             HouseholdMember.left_at.is_(None)).limit(1))
    return member.household if member is not None else None


def _choose(today: date, taken: set[int], skip: int) -> tuple[Person | None, Household | None]:
    """The head of a Tashkent household that has not applied, everyone alive, the head an adult, one child under
    18. One child only: the demo's reported death (demo/events.py) is of a child whose family keeps other
    children paid, and so never of this family's."""
    region = db.session.scalar(select(Area).where(Area.code == REGION))
    if region is None:
        return None, None
    applied = select(Application.household_id).where(Application.household_id.is_not(None))
    with_phones = select(Person.id).where(Person.phone.in_([citizen.phone for citizen in CITIZENS]))
    households = db.session.scalars(
        select(Household).join(Area, Household.area_id == Area.id)
        .where(Area.path.startswith(region.path), Household.id.not_in(applied), Household.id.not_in(taken))
        .order_by(Household.id).offset(skip).limit(CANDIDATES)).all()
    for household in households:
        members = [member for member in household.members if member.left_at is None]
        head = next((member.person for member in members if member.relation is Relation.head), None)
        children = [member for member in members if member.relation is Relation.child
                    and age_on(member.person.birth_date, today) < 18]
        if (head is not None and age_on(head.birth_date, today) >= 18 and len(children) == 1
                and all(member.person.death_date is None for member in members)
                and not db.session.scalar(with_phones.where(Person.id.in_([m.person_id for m in members])))):
            return head, household
    return None, None


def banner_lines(citizens: list[DemoCitizen], url: str | None) -> list[str]:
    """How to try the portal as a citizen: who to sign in as, and where the sign-in codes can be read."""
    if not citizens:
        return []
    portal = f"{url}/portal/" if url else "/portal/"
    what = {"eligible": "will be eligible: download the certificate after applying",
            "refused": "will be refused: see why, appeal"}
    lines = [f"  Citizens' portal at {portal} (the certificate check: {url or ''}/verify)"]
    lines += [f"    citizen {citizen.label}: PIN {citizen.pin}, phone {citizen.phone} ({what[citizen.outcome]})"
              for citizen in citizens]
    lines.append(f"    Sign-in codes arrive as SMS in the outbox: {url or ''}/notifications "
                 "(sign in as 'admin' to read them)")
    return lines
