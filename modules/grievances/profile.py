"""The household profile (the "digital social passport"): finding a household in one's areas, and everything the
system knows about it on one page. Reading only; every look is an audit event."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from marshmallow import fields, validate
from sqlalchemy import exists, false, func, or_, select

from modules.enrolment.models import BankAccount, Enrolment, EnrolmentStatus
from modules.means_test.explain import explain
from modules.means_test.models import Assessment
from modules.payments.models import PayrollLine
from modules.registration.models import Application, Household, HouseholdMember, Person, Relation
from webapp import audit
from webapp.auth.scope import area_clause
from webapp.extensions import db
from webapp.filters import PageArgs
from webapp.models import Area, Programme
from webapp.pin import is_ascii_digits

SEARCH_MAX = 100


class HouseholdFilterArgs(PageArgs):
    """?q= a PIN (exact), words of a member's name, or part of the address or mahalla; beneficiaries' filters."""

    q = fields.String(validate=validate.Length(max=SEARCH_MAX))
    programme = fields.String(validate=validate.Length(max=40))
    status = fields.String(validate=validate.OneOf([status.value for status in EnrolmentStatus]))
    area = fields.String(validate=validate.Length(max=32))


def scoped_households(user):
    """Every query for households starts here, so area scoping cannot be forgotten."""
    return select(Household).where(area_clause(user, Household.area_id))


def get_household(user, household_id: int) -> Household | None:
    return db.session.scalar(scoped_households(user).where(Household.id == household_id))


def _current_member(*conditions):
    return exists().where(HouseholdMember.household_id == Household.id, HouseholdMember.left_at.is_(None),
                          HouseholdMember.person_id == Person.id, *conditions)


def _search_clause(term: str):
    """A PIN (ASCII digits only) finds the household it is a member of; words find a member's name, the address or
    the mahalla. Other digits (superscripts, other scripts) are no PIN and find nothing."""
    if is_ascii_digits(term):
        return _current_member(Person.pin == term)
    if any(character.isdigit() for character in term) and term.replace(" ", "").isdigit():
        return false()
    words = [word.lower() for word in term.split() if word]
    name = func.lower(Person.last_name + " " + Person.first_name + " " + func.coalesce(Person.patronymic, ""))
    lowered = term.lower()
    mahalla = select(Area.id).where(or_(func.lower(Area.name_uz).contains(lowered, autoescape=True),
                                        func.lower(Area.name_ru).contains(lowered, autoescape=True),
                                        func.lower(Area.name_en).contains(lowered, autoescape=True)))
    return or_(_current_member(*(name.contains(word, autoescape=True) for word in words)),
               func.lower(func.coalesce(Household.address, "")).contains(lowered, autoescape=True),
               Household.area_id.in_(mahalla))


def filtered_households(user, filters: dict):
    """The households in the user's areas matching the search and the beneficiaries' filters, newest first."""
    query = scoped_households(user)
    if filters.get("q") and filters["q"].strip():
        query = query.where(_search_clause(filters["q"].strip()))
    if filters.get("area"):
        area = db.session.scalar(select(Area).where(Area.code == filters["area"]))
        query = query.where(Household.area_id.in_(select(Area.id).where(Area.path.startswith(area.path)))
                            if area is not None else false())
    if filters.get("programme") or filters.get("status"):
        conditions = [Enrolment.household_id == Household.id]
        if filters.get("programme"):
            conditions += [Enrolment.programme_id == Programme.id, Programme.code == filters["programme"]]
        if filters.get("status"):
            conditions.append(Enrolment.status == EnrolmentStatus(filters["status"]))
        query = query.where(exists().where(*conditions))
    return query.order_by(Household.id.desc())


def summaries(households: list[Household]) -> dict[int, dict]:
    """{household id: head, members count, latest decision, active programmes} for a page of results (4 queries)."""
    ids = [household.id for household in households]
    result = {hid: {"head": None, "members": 0, "decision": None, "programmes": []} for hid in ids}
    if not ids:
        return result
    members = db.session.execute(select(HouseholdMember.household_id, HouseholdMember.relation, Person)
                                 .join(Person, Person.id == HouseholdMember.person_id)
                                 .where(HouseholdMember.household_id.in_(ids), HouseholdMember.left_at.is_(None))
                                 .order_by(HouseholdMember.id))
    for household_id, relation, person in members:
        row = result[household_id]
        row["members"] += 1
        if relation is Relation.head or row["head"] is None:  # the head, else the first member listed
            row["head"] = person
    latest = (select(Assessment.household_id, func.max(Assessment.id).label("id"))
              .where(Assessment.household_id.in_(ids)).group_by(Assessment.household_id).subquery())
    for assessment in db.session.scalars(select(Assessment).join(latest, latest.c.id == Assessment.id)):
        result[assessment.household_id]["decision"] = assessment
    active = db.session.execute(select(Enrolment.household_id, Programme).join(Programme)
                                .where(Enrolment.household_id.in_(ids), Enrolment.status == EnrolmentStatus.active)
                                .order_by(Programme.id).distinct())
    for household_id, programme in active:
        result[household_id]["programmes"].append(programme)
    return result


def record_search(households: list[Household], actor, searched: bool) -> None:
    """A result page shows heads' names: record which households this person saw."""
    if households:
        audit.record("households.listed", "household", households[0].id,
                     {"ids": [household.id for household in households], "searched": searched}, actor=actor)


def record_view(household: Household, actor) -> None:
    audit.record("household.viewed", "household", household.id, actor=actor)


# --- the profile ---------------------------------------------------------------------------------------------


def _members(household: Household, facts: dict) -> list[dict]:
    """Current members with their registry facts as the latest means test saw them (None: not assessed)."""
    seen = {row.get("pin"): row for row in facts.get("members", [])} if facts else {}
    rows = db.session.execute(select(HouseholdMember, Person).join(Person, Person.id == HouseholdMember.person_id)
                              .where(HouseholdMember.household_id == household.id,
                                     HouseholdMember.left_at.is_(None)).order_by(HouseholdMember.id))
    members = []
    for member, person in rows:
        row = seen.get(person.pin)
        income = None
        if row is not None:
            per_month: dict[str, Decimal] = defaultdict(Decimal)
            for line in row.get("income", []):
                per_month[line["month"]] += Decimal(str(line["amount"]))
            income = sorted(per_month.items())
        members.append({"person": person, "relation": member.relation, "joined_at": member.joined_at,
                        "assessed": row is not None, "income": income,
                        "disability_group": row.get("disability_group") if row else None,
                        "statuses": row.get("statuses", []) if row else []})
    return members


def _applications(household: Household) -> list[dict]:
    """Every application of the household, newest first, with its latest assessment explained."""
    applications = db.session.scalars(select(Application).where(Application.household_id == household.id)
                                      .order_by(Application.id.desc())).all()
    latest = {}
    if applications:
        newest = (select(func.max(Assessment.id)).where(Assessment.application_id.in_([a.id for a in applications]))
                  .group_by(Assessment.application_id))
        latest = {a.application_id: a for a in db.session.scalars(select(Assessment)
                                                                   .where(Assessment.id.in_(newest)))}
    shown = []
    for application in applications:
        assessment = latest.get(application.id)
        explained = explain(assessment) if assessment is not None else None
        reasons = [rule for rule in explained["rules"] if rule["fired"]] if explained else []
        shown.append({"application": application, "assessment": assessment, "reasons": reasons,
                      "programmes": explained["programmes"] if explained else []})
    return shown


def _payments(enrolments: list[Enrolment]) -> list[dict]:
    """Payroll lines of the household's enrolments grouped by month, newest month first."""
    if not enrolments:
        return []
    lines = db.session.scalars(select(PayrollLine).where(PayrollLine.enrolment_id.in_([e.id for e in enrolments]))
                               .order_by(PayrollLine.period.desc(), PayrollLine.id)).all()
    months: dict[str, list[PayrollLine]] = {}
    for line in lines:
        months.setdefault(line.period, []).append(line)
    return [{"period": period, "lines": rows,
             "paid": sum((line.amount for line in rows if line.status.value == "paid"), Decimal("0"))}
            for period, rows in months.items()]


def _accounts(household: Household, enrolments: list[Enrolment]) -> list[BankAccount]:
    """Bank accounts of the members and of the enrolments' payees."""
    people = {member.person_id for member in household.members} | {e.payee_person_id for e in enrolments}
    if not people:
        return []
    return list(db.session.scalars(select(BankAccount).where(BankAccount.person_id.in_(people))
                                   .order_by(BankAccount.id)))


def _cases(household: Household, user) -> list[dict]:
    """The household's cases the user may see (sensitive categories only for the roles allowed), with the
    category's name in the reader's language; nothing while the case register does not exist."""
    try:
        from modules.grievances.categories import category
        from modules.grievances.models import Case
    except ImportError:
        return []
    shown = []
    for case in db.session.scalars(select(Case).where(Case.household_id == household.id).order_by(Case.id.desc())):
        declared = category(case.category_code)
        if declared is not None and not declared.visible_for(user.role):
            continue
        shown.append({"case": case, "category": declared.name if declared is not None else None})
    return shown


def profile(household: Household, user) -> dict:
    """Everything on the household's page, read in a handful of queries."""
    latest = db.session.scalar(select(Assessment).where(Assessment.household_id == household.id)
                               .order_by(Assessment.id.desc()).limit(1))
    enrolments = list(db.session.scalars(select(Enrolment).where(Enrolment.household_id == household.id)
                                         .order_by(Enrolment.period_start.desc(), Enrolment.id)))
    return {"household": household, "latest": latest, "members": _members(household, latest.facts if latest else {}),
            "applications": _applications(household), "enrolments": enrolments, "payments": _payments(enrolments),
            "accounts": _accounts(household, enrolments), "cases": _cases(household, user)}
