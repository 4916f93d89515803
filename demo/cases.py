"""Demo cases for the demo social worker ("social", area UZ-TK) that citizens bring by hand: a grievance about a
payment not received (its intake SMS lands in the outbox) and an enquiry. Each is opened once. The cases that come
from events (a death, a returned payment, an appeal, a birth) are demo/events.py's.

The descriptions are what the citizen said, so they are in Uzbek, as the worker would type them."""

from __future__ import annotations

import re
from collections import Counter

from sqlalchemy import select

from modules.grievances import operations
from modules.grievances.models import OPEN_STATUSES, Case, CaseKind
from modules.registration.models import Household, HouseholdMember, Person, Relation
from webapp.extensions import db
from webapp.models import Area, User

DEMO_PHONE = "+998901234567"
_MOBILE = re.compile(r"^\+998\d{9}$")
GRIEVANCE = "Oʻtgan oy uchun bolalar nafaqasi kartaga tushmadi. Bankka bordim, ular pul kelmaganini aytishdi."
ENQUIRY = "Oila arizasi boʻyicha qaror qachon chiqishini soʻrayapti."


def create_demo_cases(username: str = "social", region_code: str = "UZ-TK") -> int:
    """Open the grievance and the enquiry that are not there yet; returns how many were opened."""
    worker = db.session.scalar(select(User).where(User.username == username))
    region = db.session.scalar(select(Area).where(Area.code == region_code))
    if worker is None or region is None:
        return 0
    mine = set(db.session.execute(select(Case.kind, Case.category_code).where(Case.created_by_id == worker.id)))
    head = db.session.execute(
        select(Household.id, Person).join(HouseholdMember, HouseholdMember.household_id == Household.id)
        .join(Person, Person.id == HouseholdMember.person_id).join(Area, Household.area_id == Area.id)
        .where(Area.path.startswith(region.path), HouseholdMember.relation == Relation.head,
               HouseholdMember.left_at.is_(None))
        .order_by(Household.id).limit(1)).first()
    household_id, person = head if head is not None else (None, None)
    opened = 0
    if (CaseKind.grievance, "payment_not_received") not in mine:
        grievance = {"kind": "grievance", "category": "payment_not_received", "channel": "phone",
                     "description": GRIEVANCE, "phone": _phone(person)}
        if person is not None:
            grievance["applicant_pin"] = person.pin
        operations.assign(operations.open_case(grievance, worker), worker, worker)
        opened += 1
    if not any(kind is CaseKind.enquiry for kind, _category in mine):
        enquiry = operations.open_case({"kind": "enquiry", "category": "status_enquiry", "channel": "mahalla",
                                        "description": ENQUIRY,
                                        **({"household_id": household_id} if household_id else {})}, worker)
        operations.assign(enquiry, worker, worker)
        opened += 1
    return opened


def queue(username: str = "social") -> Counter:
    """The worker's open cases by kind (what their "My cases" queue shows)."""
    worker = db.session.scalar(select(User).where(User.username == username))
    if worker is None:
        return Counter()
    return Counter(kind.value for kind in db.session.scalars(
        select(Case.kind).where(Case.assignee_id == worker.id, Case.status.in_(OPEN_STATUSES))))


def queue_line(counts: Counter, newborn_pin: str | None) -> str:
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(counts.items()))
    line = f"  Social worker 'social' has {sum(counts.values())} open cases" + (f" ({kinds})" if kinds else "")
    return line + (f"; the newborn to add with 'Record a change of circumstances': PIN {newborn_pin}"
                   if newborn_pin else "")


def _phone(person) -> str:
    phone = getattr(person, "phone", None) or ""
    return phone if _MOBILE.match(phone) else DEMO_PHONE
