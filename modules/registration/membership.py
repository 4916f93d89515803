"""Changes of a household's membership after registration (a birth, a death, a member moving in or out) and the
applications that re-assess a household outside a claim (a change of circumstances, an appeal).

Validates, writes, audits and flushes; never commits. A membership is never deleted: a member who leaves gets
`left_at`, so the household's composition on any past day stays readable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from modules.registration import status as status_machine
from modules.registration.models import (
    Application,
    ApplicationMember,
    ApplicationStatus,
    Channel,
    Household,
    HouseholdMember,
    Person,
    Purpose,
    Relation,
)
from webapp import audit, signals
from webapp.boundary import Refusal
from webapp.extensions import db
from webapp.timeutil import utcnow


class MembershipError(Refusal):
    """A change of members that does not match the household as it stands; nothing was changed."""


@dataclass(frozen=True)
class Joining:
    person: Person
    relation: Relation


def current_members(household: Household) -> list[HouseholdMember]:
    return list(db.session.scalars(select(HouseholdMember).where(
        HouseholdMember.household_id == household.id, HouseholdMember.left_at.is_(None))
        .order_by(HouseholdMember.id)))


def change_members(household: Household, joining: list[Joining], leaving: list[Person], on: date, actor) -> None:
    """Members leave (`left_at` = `on`) and join (a person living elsewhere leaves that household the same day)."""
    members = {member.person_id: member for member in current_members(household)}
    for person in leaving:
        if person.id not in members:
            raise MembershipError(_l("%(name)s is not a member of this household.", name=person.full_name))
        members[person.id].left_at = on
    for item in joining:
        if item.person.id in members and item.person not in leaving:
            raise MembershipError(_l("%(name)s is already a member of this household.", name=item.person.full_name))
        elsewhere = db.session.scalar(select(HouseholdMember).where(HouseholdMember.person_id == item.person.id,
                                                                    HouseholdMember.left_at.is_(None)))
        if elsewhere is not None and elsewhere.household_id != household.id:
            elsewhere.left_at = on
        db.session.flush()  # the old membership ends before the new one starts (one current household per person)
        db.session.add(HouseholdMember(household_id=household.id, person_id=item.person.id,
                                       relation=item.relation, joined_at=on))
    db.session.flush()
    audit.record("household.members_changed", "household", household.id,
                 {"joined": [item.person.pin for item in joining], "left": [person.pin for person in leaving],
                  "date": on.isoformat()}, actor=actor)
    signals.household_members_joined.send(household, person_ids=[i.person.id for i in joining], on=on, actor=actor)


def open_reassessment(household: Household, applicant: Person, members: list[tuple[Person, Relation]],
                      previous: Application, purpose: Purpose, as_of: date | None, actor) -> Application:
    """A submitted application that re-assesses the household: the programmes, phone and language of `previous`,
    the members given, `as_of` the day its data and rules are taken as of (None: today)."""
    if purpose is Purpose.claim:
        raise ValueError("a claim is registered through register_application")
    if not members:
        raise MembershipError(_l("A household with no members cannot be assessed."))
    busy = db.session.scalar(select(Application).where(Application.household_id == household.id,
                                                       Application.is_open))
    if busy is not None:
        raise MembershipError(_l("This household already has an open application, %(ref)s.", ref=busy.reference))
    now = utcnow()
    application = Application(household_id=household.id, applicant_id=applicant.id, area_id=household.area_id,
                              phone=previous.phone, language=previous.language, channel=Channel.office,
                              purpose=purpose, as_of=as_of, period=f"{as_of or now.date():%Y-%m}",
                              created_by_id=getattr(actor, "id", None), programmes=list(previous.programmes))
    application.members = [ApplicationMember(person_id=person.id, relation=relation, is_open=True)
                           for person, relation in members]
    status_machine.start(application, ApplicationStatus.draft, actor)
    db.session.add(application)
    db.session.flush()
    status_machine.transition(application, ApplicationStatus.submitted, actor)
    application.submitted_at = now
    db.session.flush()
    audit.record("application.created", "application", application.id,
                 {"household_id": household.id, "members": len(members), "channel": application.channel.value,
                  "purpose": purpose.value}, actor=actor)
    return application
