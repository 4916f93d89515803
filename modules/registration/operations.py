"""Registration: domain logic for applications. Validates, writes, audits and flushes; never commits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError

from modules.registration import status as status_machine
from modules.registration.models import (
    Application,
    ApplicationMember,
    ApplicationStatus,
    Channel,
    Household,
    HouseholdMember,
    Person,
    Relation,
    application_programme,
)
from webapp import audit, signals
from webapp.auth.scope import area_clause, user_covers_area
from webapp.boundary import Refusal
from webapp.extensions import db
from webapp.models import Area, Programme
from webapp.pin import PinError, check_matches, is_ascii_digits
from webapp.pin import parse as parse_pin
from webapp.programmes import offered_programmes
from webapp.timeutil import add_working_days, age_on, local_today, utcnow

ADULT_AGE = 18
DUE_WORKING_DAYS = 3


NOT_REGISTERED = _l("The application was not registered: see the fields marked.")


class RegistrationError(Refusal):
    """The registration or change was refused; `errors` maps field names to (lazy) messages. Nothing was saved."""

    def __init__(self, errors: dict[str, list], message=None):
        super().__init__(message, errors=errors)


@dataclass
class _Errors:
    errors: dict[str, list] = field(default_factory=dict)

    def add(self, key: str, message) -> None:
        self.errors.setdefault(key, []).append(message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise RegistrationError(self.errors, NOT_REGISTERED)


def today() -> date:
    return current_app.config.get("TODAY_OVERRIDE") or local_today()


def due_date(submitted_on: date) -> date:
    return add_working_days(submitted_on, DUE_WORKING_DAYS, set(current_app.config["PUBLIC_HOLIDAYS"]))


def register_application(args: dict, actor) -> Application:
    """Create an application from validated `ApplicationArgs`; submit it unless `submit` is false."""
    errors = _Errors()
    on = today()
    entries = [("applicant_pin", args["applicant_pin"], Relation.head)] + [
        (f"members.{i}.pin", member["pin"], Relation(member["relation"])) for i, member in enumerate(args["members"])
    ]
    persons = _load_persons(entries, errors, on)
    programmes = _load_programmes(args["programmes"], errors)
    errors.raise_if_any()

    applicant = persons["applicant_pin"]
    if age_on(applicant.birth_date, on) < ADULT_AGE:
        errors.add("applicant_pin", lazy_ngettext(
            "The applicant must be an adult (18 or older); %(name)s is %(num)d year old.",
            "The applicant must be an adult (18 or older); %(name)s is %(num)d years old.",
            age_on(applicant.birth_date, on), name=applicant.full_name))
    # No staff actor: the citizen applies for their own household through the portal, wherever it lives.
    if actor is None and args["channel"] != Channel.portal.value:
        raise ValueError("only the portal registers an application without a staff user")
    if actor is not None and not user_covers_area(actor, applicant.area_id):
        errors.add("applicant_pin", _l("This family lives outside your areas; the registrar of its area registers it."))
    errors.raise_if_any()

    household = _household_for(applicant, entries, persons, errors)
    _check_open_applications(household, entries, persons, errors, on)
    errors.raise_if_any()

    application = _create(args, actor, household, applicant, entries, persons, programmes, on)
    if args.get("submit", True):
        submit(application, actor)
    return application


def _load_persons(entries, errors: _Errors, on: date) -> dict[str, Person]:
    pins = [pin for _key, pin, _rel in entries]
    found = {person.pin: person for person in db.session.scalars(select(Person).where(Person.pin.in_(pins)))}
    country = current_app.config["COUNTRY"]
    persons, seen = {}, set()
    for key, pin, _relation in entries:
        if pin in seen:
            errors.add(key, _l("This PIN is entered twice."))
            continue
        seen.add(pin)
        try:
            parse_pin(pin, country)  # a typo is named as such, before the register is asked
        except PinError as problem:
            errors.add(key, _l("Invalid PIN: %(problem)s.", problem=str(problem)))
            continue
        person = found.get(pin)
        if person is None:
            errors.add(key, _l("No person with PIN %(pin)s in the population register.", pin=pin))
            continue
        try:
            check_matches(pin, person.birth_date, person.sex.value, country)
        except PinError as problem:
            errors.add(key, _l("Invalid PIN: %(problem)s.", problem=str(problem)))
            continue
        if person.death_date and person.death_date <= on:
            errors.add(key, _l("%(name)s is recorded as deceased.", name=person.full_name))
            continue
        persons[key] = person
    return persons


def _load_programmes(codes: list[str], errors: _Errors) -> list[Programme]:
    programmes = offered_programmes(codes)  # another country's programmes are unknown here
    unknown = sorted(set(codes) - {programme.code for programme in programmes})
    if unknown:
        errors.add("programmes", lazy_ngettext("Unknown programme: %(codes)s.", "Unknown programmes: %(codes)s.",
                                               len(unknown), codes=", ".join(unknown)))
    return programmes


def _household_for(applicant: Person, entries, persons, errors: _Errors) -> Household:
    """The applicant's current household; a new one when the applicant has none yet (not flushed)."""
    memberships = {
        m.person_id: m
        for m in db.session.scalars(select(HouseholdMember).where(
            HouseholdMember.person_id.in_([p.id for p in persons.values()]), HouseholdMember.left_at.is_(None)))
    }
    own = memberships.get(applicant.id)
    household = own.household if own else Household(area_id=applicant.area_id)
    for key, _pin, _relation in entries[1:]:
        membership = memberships.get(persons[key].id)
        if membership and membership.household_id != getattr(household, "id", None):
            errors.add(key, _l("%(name)s belongs to another household (no. %(id)d); record the move there first.",
                               name=persons[key].full_name, id=membership.household_id))
    return household


def _check_open_applications(household: Household, entries, persons, errors: _Errors, on: date) -> None:
    if household.id is not None:
        open_app = db.session.scalar(select(Application).where(Application.household_id == household.id,
                                                               Application.is_open))
        if open_app:
            errors.add("applicant_pin", _l("This household already has an open application, %(ref)s.",
                                           ref=open_app.reference))
            return
        this_month = db.session.scalar(select(Application).where(
            Application.household_id == household.id, Application.period == f"{on:%Y-%m}",
            Application.status != ApplicationStatus.withdrawn))
        if this_month:
            errors.add("applicant_pin", _l("This household already applied this month (%(ref)s); "
                                           "the next application can be made from the 1st of next month.",
                                           ref=this_month.reference))
    ids = {persons[key].id: key for key, _pin, _rel in entries}
    taken = db.session.execute(
        select(ApplicationMember.person_id, Application.id, Application.period)
        .join(Application).where(ApplicationMember.person_id.in_(list(ids)), ApplicationMember.is_open)
    ).all()
    for person_id, app_id, period in taken:
        ref = f"A-{period.replace('-', '')}-{app_id:06d}"
        errors.add(ids[person_id], _l("This person is already in an open application, %(ref)s.", ref=ref))


def _create(args, actor, household, applicant, entries, persons, programmes, on) -> Application:
    # In a savepoint: when the unique indexes refuse (two registrars racing), only this insert is undone and
    # the caller's transaction stays usable.
    try:
        with db.session.begin_nested():
            application = _insert(args, actor, household, applicant, entries, persons, programmes, on)
    except IntegrityError as exc:
        raise RegistrationError({"applicant_pin": [
            _l("Someone registered an application for this family at the same moment; reload and check.")]},
            NOT_REGISTERED) from exc
    audit.record("application.created", "application", application.id,
                 {"household_id": application.household_id, "members": len(entries),
                  "channel": application.channel.value}, actor=actor)
    return application


def _insert(args, actor, household, applicant, entries, persons, programmes, on) -> Application:
    current = {m.person_id for m in household.members} if household.id is not None else set()
    if household.id is None:
        db.session.add(household)
        db.session.flush()
    for key, _pin, relation in entries:
        if persons[key].id not in current:
            db.session.add(HouseholdMember(household_id=household.id, person_id=persons[key].id, relation=relation,
                                           joined_at=on))
    application = Application(household_id=household.id, applicant_id=applicant.id, area_id=household.area_id,
                              phone=args["phone"], language=args.get("language", "uz"),
                              channel=Channel(args["channel"]), period=f"{on:%Y-%m}",
                              created_by_id=getattr(actor, "id", None), programmes=list(programmes))
    application.members = [ApplicationMember(person_id=persons[key].id, relation=relation, is_open=True)
                           for key, _pin, relation in entries]
    status_machine.start(application, ApplicationStatus.draft, actor)
    db.session.add(application)
    db.session.flush()
    return application


def submit(application: Application, actor) -> None:
    status_machine.transition(application, ApplicationStatus.submitted, actor)
    application.submitted_at = utcnow()
    application.due_at = due_date(today())
    db.session.flush()
    signals.application_submitted.send(application, actor=actor)


def withdraw(application: Application, actor, reason: str) -> None:
    if not reason.strip():
        message = _l("Say why the application is withdrawn.")
        raise RegistrationError({"reason": [message]}, message)
    status_machine.transition(application, ApplicationStatus.withdrawn, actor, note=reason.strip())
    db.session.flush()


# --- reading -------------------------------------------------------------------------------------------------


def scoped_applications(user):
    """Every query for applications starts here, so area scoping cannot be forgotten."""
    return select(Application).where(area_clause(user, Application.area_id))


def get_application(user, application_id: int) -> Application | None:
    return db.session.scalar(scoped_applications(user).where(Application.id == application_id))


def filtered_applications(user, filters: dict):
    query = scoped_applications(user)
    if filters.get("status"):
        query = query.where(Application.status == ApplicationStatus(filters["status"]))
    if filters.get("area"):
        area = db.session.get(Area, filters["area"])
        if area is not None:
            query = query.where(Application.area_id.in_(select(Area.id).where(Area.path.startswith(area.path))))
    if filters.get("programme"):
        query = query.where(exists().where(application_programme.c.application_id == Application.id,
                                           application_programme.c.programme_id == Programme.id,
                                           Programme.code == filters["programme"]))
    if filters.get("date_from"):
        query = query.where(func.date(Application.created_at) >= filters["date_from"])
    if filters.get("date_to"):
        query = query.where(func.date(Application.created_at) <= filters["date_to"])
    if filters.get("overdue"):
        query = query.where(Application.is_open, Application.due_at < today())
    if filters.get("q"):
        query = query.where(_search_clause(filters["q"].strip()))
    return query.order_by(Application.created_at.desc(), Application.id.desc())


def _search_clause(term: str):
    """A PIN finds applications where that person is a member; otherwise the words match the applicant's name."""
    if is_ascii_digits(term):
        return exists().where(ApplicationMember.application_id == Application.id,
                              ApplicationMember.person_id == Person.id, Person.pin == term)
    words = [word.lower() for word in term.split() if word]
    name = func.lower(Person.last_name + " " + Person.first_name + " " + func.coalesce(Person.patronymic, ""))
    return exists().where(Person.id == Application.applicant_id,
                          *(name.contains(word, autoescape=True) for word in words))


def record_view(application: Application, actor) -> None:
    """Staff looked at a household's record: that is an audit event."""
    audit.record("household.viewed", "application", application.id, {"household_id": application.household_id},
                 actor=actor)


def record_list_view(applications, actor, searched: bool) -> None:
    """A list page shows applicants' names and PINs: record which applications this person saw."""
    if applications:
        audit.record("applications.listed", "application", applications[0].id,
                     {"ids": [application.id for application in applications], "searched": searched}, actor=actor)
