"""Alerts raised by events, through the rule pack's alert rules (rules/alerts.py): an alert case for the household's
area, once per event, and the action a rule asks for at once (suspending the enrolments the event concerns).

- A death the civil registry reports (`person_death_recorded`): the deceased's active enrolments (as beneficiary
  or payee) are suspended, so no payroll pays them, and one case of the rule's category is opened for the
  household, assigned to the category's handling role in the household's area (else left in the area's queue),
  proposing a recalculation.
- A payroll line the bank failed or returned (`payment_lines_failed`): one case to verify the account, linked to
  the line.
- A birth the civil registry notifies (`person_birth_notified`): the household is the one the mother (the PIN the
  record carries) currently lives in; one case for it proposing the child allowance for the newborn.
- The daily scans (modules/grievances/alert_scans.py) raise alerts for entitlements that end soon and for
  applications stuck in manual verification, through `raise_alert` too.

A case keeps `source_key` ("<rule>:<object>:<id>", unique): an event that arrives again raises nothing more.
Audited as "case.opened" (channel "event"), "case.alert_raised" (the rule and the event) and "case.assigned";
suspensions as "enrolment.suspended". No commit here: this runs in the sender's transaction.
"""

from __future__ import annotations

import uuid
from datetime import date

from flask import current_app
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from modules.grievances import sla
from modules.grievances.categories import category as find_category
from modules.grievances.models import Case, CaseChannel, CaseEvent, CaseEventKind, CaseKind, CaseStatus
from rules.alerts import matching
from rules.pack import AlertRule, get_pack
from webapp import audit
from webapp.extensions import db
from webapp.models import Area, User, UserArea
from webapp.timeutil import local_today

LANGUAGES = ("uz", "ru", "en")


def _language() -> str:
    locale = get_locale()
    language = locale.language if locale is not None else "uz"
    return language if language in LANGUAGES else "uz"


def _pack():
    return get_pack(current_app.config["COUNTRY"])


def handler_for(area_id: int, role) -> User | None:
    """The active user of `role` working in the area, else the district above it, else the region (the nearest,
    then the first)."""
    area = db.session.get(Area, area_id)
    while area is not None:
        found = db.session.scalar(
            select(User).join(UserArea, UserArea.user_id == User.id)
            .where(UserArea.area_id == area.id, User.role == role, User.active.is_(True)).order_by(User.id).limit(1))
        if found is not None:
            return found
        area = area.parent
    return None


def raise_alert(rule: AlertRule, source_key: str, area_id: int, description: str, event: dict,
                handlers: dict | None = None, known_new: bool = False, **links) -> Case | None:
    """Open the alert case of `rule` for the event `source_key`, or None when that event already raised it.

    `handlers` caches the handler found per (area, role) across the alerts of one run (a scan); `known_new` skips
    the look-up of `source_key` when the caller has just checked a whole batch of keys (the unique index still
    refuses a duplicate)."""
    if not known_new and db.session.scalar(select(Case.id).where(Case.source_key == source_key)) is not None:
        return None
    found = find_category(rule.category)
    if found is None or CaseKind.alert not in found.kinds:
        raise ValueError(f"alert rule {rule.id}: {rule.category!r} is not an alert category")
    if handlers is None:
        assignee = handler_for(area_id, found.role)
    else:
        if (area_id, found.role) not in handlers:
            handlers[(area_id, found.role)] = handler_for(area_id, found.role)
        assignee = handlers[(area_id, found.role)]
    today = local_today()
    case = Case(tracking_number=f"T{uuid.uuid4().hex[:18]}", kind=CaseKind.alert, category_code=found.code,
                channel=CaseChannel.event, status=CaseStatus.assigned if assignee else CaseStatus.new,
                priority=rule.priority, area_id=area_id, language="uz", description=description,
                assignee_id=assignee.id if assignee else None, due_date=sla.due_date(today, found.sla_working_days),
                source_key=source_key, **links)
    try:
        with db.session.begin_nested():  # a concurrent delivery of the same event raised it first: nothing more
            db.session.add(case)
            db.session.flush()
    except IntegrityError:
        return None
    from modules.grievances.operations import tracking_number

    case.tracking_number = tracking_number(case.id, today)
    case.events.append(CaseEvent(kind=CaseEventKind.status_change, to_status=CaseStatus.new.value, public=False))
    if assignee is not None:
        case.events.append(CaseEvent(kind=CaseEventKind.assignment, from_status=CaseStatus.new.value,
                                     to_status=CaseStatus.assigned.value, text=assignee.full_name))
    db.session.flush()
    audit.record("case.opened", "case", case.id,
                 {"tracking_number": case.tracking_number, "kind": CaseKind.alert.value, "category": found.code,
                  "channel": case.channel.value, "area_id": area_id})
    audit.record("case.alert_raised", "case", case.id,
                 {"rule": rule.id, "source_key": source_key, "event": event})
    if assignee is not None:
        audit.record("case.assigned", "case", case.id, {"assignee_id": assignee.id, "automatic": True})
    return case


# --- a death reported by the civil registry -------------------------------------------------------------------


def on_death(person, death_date: date, source: str | None = None) -> list[Case]:
    """Suspend the deceased's active enrolments and open the alert cases the pack's rules raise (once)."""
    from modules.enrolment.models import Enrolment, EnrolmentStatus
    from modules.enrolment.operations import suspend
    from modules.registration.models import Household, HouseholdMember

    household = db.session.scalar(select(Household).join(HouseholdMember, HouseholdMember.household_id == Household.id)
                                  .where(HouseholdMember.person_id == person.id).order_by(Household.id.desc()).limit(1))
    own = list(db.session.scalars(select(Enrolment).where(
        or_(Enrolment.beneficiary_person_id == person.id, Enrolment.payee_person_id == person.id),
        Enrolment.status == EnrolmentStatus.active).order_by(Enrolment.id)))
    household_enrolled = household is not None and db.session.scalar(select(Enrolment.id).where(
        Enrolment.household_id == household.id, Enrolment.status != EnrolmentStatus.ended).limit(1)) is not None
    age = (death_date.year - person.birth_date.year) if getattr(person, "birth_date", None) else 0
    event = {"kind": "death_reported", "enrolled": bool(own), "household_enrolled": household_enrolled, "age": age}
    cases = []
    for rule in matching(_pack(), event):
        area_id = household.area_id if household is not None else None
        if area_id is None and own:
            area_id = db.session.get(Household, own[0].household_id).area_id
        if area_id is None:
            continue
        suspended = []
        if rule.suspend_enrolments:
            reason = _("Death of the beneficiary reported by the civil registry on %(date)s.",
                       date=death_date.strftime("%d.%m.%Y"))
            for enrolment in own:
                if enrolment.status is EnrolmentStatus.active:
                    suspend(enrolment, reason)
                    suspended.append(enrolment)
        language = _language()
        facts = _("The civil registry reported the death of %(name)s on %(date)s.", name=person.full_name,
                  date=death_date.strftime("%d.%m.%Y"))
        if suspended:
            facts += " " + ngettext("%(num)d enrolment was suspended and is left out of the next payroll.",
                                    "%(num)d enrolments were suspended and are left out of the next payroll.",
                                    len(suspended))
        case = raise_alert(rule, f"{rule.id}:person:{person.id}", area_id, f"{facts}\n{rule.action_text(language)}",
                           {**event, "source": source}, household_id=household.id if household else None,
                           person_id=person.id, enrolment_id=suspended[0].id if suspended else
                           (own[0].id if own else None))
        if case is not None:
            cases.append(case)
    return cases


# --- a payment the bank failed or returned --------------------------------------------------------------------


def on_payment_failed(line_ids: list[int], status: str) -> list[Case]:
    """One alert case per failed or returned payroll line, for the household's area."""
    from modules.enrolment.models import Enrolment
    from modules.payments.models import PayrollLine
    from modules.registration.models import Household

    cases = []
    pack = _pack()
    for line_id in line_ids:
        line = db.session.get(PayrollLine, line_id)
        enrolment = db.session.get(Enrolment, line.enrolment_id)
        household = db.session.get(Household, enrolment.household_id)
        event = {"kind": "payment_failed", "returned": status == "returned", "amount": float(line.amount)}
        for rule in matching(pack, event):
            if status == "returned":
                facts = _("The bank returned the payment of %(amount)s for %(period)s.",
                          amount=f"{line.amount:,.2f}".replace(",", " "), period=line.period)
            else:
                facts = _("The bank could not make the payment of %(amount)s for %(period)s.",
                          amount=f"{line.amount:,.2f}".replace(",", " "), period=line.period)
            case = raise_alert(rule, f"{rule.id}:payroll_line:{line.id}", household.area_id,
                               f"{facts}\n{rule.action_text(_language())}", {**event, "line_id": line.id},
                               household_id=household.id, person_id=enrolment.payee_person_id,
                               enrolment_id=enrolment.id, payroll_line_id=line.id)
            if case is not None:
                cases.append(case)
    return cases


# --- a birth notified by the civil registry --------------------------------------------------------------------


def on_birth(pin: str, birth_date: date, related_pin: str | None, source: str | None = None) -> list[Case]:
    """Open the alert cases the pack's rules raise for a birth into a known household (once per child's PIN).

    The civil registry's record names the child and the mother (`related_pin`): the household is the one the
    mother currently lives in. The child is not in the registry yet (the population register brings it later), so
    the case is the household's and the mother's, and keyed by the child's PIN."""
    from modules.enrolment.models import Enrolment, EnrolmentStatus
    from modules.registration.models import Household, HouseholdMember, Person, Relation

    if not related_pin:
        return []
    found = db.session.execute(
        select(Person, Household).join(HouseholdMember, HouseholdMember.person_id == Person.id)
        .join(Household, Household.id == HouseholdMember.household_id)
        .where(Person.pin == related_pin, HouseholdMember.left_at.is_(None)).limit(1)).first()
    if found is None:  # a mother the registry does not know, or who lives in no household it knows
        return []
    mother, household = found
    household_enrolled = db.session.scalar(select(Enrolment.id).where(
        Enrolment.household_id == household.id, Enrolment.status != EnrolmentStatus.ended).limit(1)) is not None
    children = db.session.scalar(
        select(func.count(HouseholdMember.id)).join(Person, Person.id == HouseholdMember.person_id)
        .where(HouseholdMember.household_id == household.id, HouseholdMember.left_at.is_(None),
               HouseholdMember.relation == Relation.child, Person.death_date.is_(None),
               Person.birth_date > _years_before(birth_date, 18)))
    event = {"kind": "birth_reported", "household_enrolled": household_enrolled, "children": children or 0}
    cases = []
    for rule in matching(_pack(), event):
        facts = _("The civil registry reported the birth of a child (PIN %(pin)s) to %(name)s on %(date)s.",
                  pin=pin, name=mother.full_name, date=birth_date.strftime("%d.%m.%Y"))
        case = raise_alert(rule, f"{rule.id}:birth:{pin}", household.area_id,
                           f"{facts}\n{rule.action_text(_language())}",
                           {**event, "pin": pin, "birth_date": birth_date.isoformat(), "source": source},
                           household_id=household.id, person_id=mother.id)
        if case is not None:
            cases.append(case)
    return cases


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)
