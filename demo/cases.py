"""Demo cases for the demo social worker ("social", area UZ-TK): a grievance about a payment not received (its
intake SMS lands in the outbox), an enquiry and an update of circumstances. Created once."""

from __future__ import annotations

import re

from sqlalchemy import select

from modules.grievances import operations
from modules.grievances.models import Case
from modules.registration.models import Household, HouseholdMember, Person, Relation
from webapp.extensions import db
from webapp.models import Area, User

DEMO_PHONE = "+998901234567"
_MOBILE = re.compile(r"^\+998\d{9}$")


def create_demo_cases(username: str = "social", region_code: str = "UZ-TK") -> int:
    """Open the demo cases unless the worker has cases already; returns how many were opened."""
    worker = db.session.scalar(select(User).where(User.username == username))
    if worker is None or db.session.scalar(select(Case.id).where(Case.created_by_id == worker.id).limit(1)):
        return 0
    region = db.session.scalar(select(Area).where(Area.code == region_code))
    heads = db.session.execute(
        select(Household.id, Person).join(HouseholdMember, HouseholdMember.household_id == Household.id)
        .join(Person, Person.id == HouseholdMember.person_id).join(Area, Household.area_id == Area.id)
        .where(Area.path.startswith(region.path), HouseholdMember.relation == Relation.head,
               HouseholdMember.left_at.is_(None))
        .order_by(Household.id).limit(3)).all()
    first, second = (heads + [(None, None)] * 2)[:2]
    grievance = {"kind": "grievance", "category": "payment_not_received", "channel": "phone",
                 "description": "The child allowance for last month has not arrived on the card.",
                 "phone": _phone(first[1])}
    if first[1] is not None:
        grievance["applicant_pin"] = first[1].pin
    case = operations.open_case(grievance, worker)
    operations.assign(case, worker, worker)
    operations.open_case({"kind": "enquiry", "category": "status_enquiry", "channel": "mahalla",
                          "description": "The family asks when the decision on their application will be made.",
                          **({"household_id": first[0]} if first[0] else {})}, worker)
    operations.open_case({"kind": "update", "category": "new_job", "channel": "office",
                          "description": "The head of the family started work at a textile factory.",
                          **({"household_id": second[0]} if second[0] else {})}, worker)
    return 3


def _phone(person) -> str:
    phone = getattr(person, "phone", None) or ""
    return phone if _MOBILE.match(phone) else DEMO_PHONE
