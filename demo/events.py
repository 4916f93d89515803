"""Cases that reach the demo social worker ("social", UZ-TK) from real events, through the system's own paths.

- A death: the simulated civil registry records the death of a child the demo month's families are paid for and
  POSTs its signed DCI notify to the running server (`/api/v1/dci/notify`, subscribed to as `srsp sources
  subscribe` would); the alerts suspend the child's enrolment and open an alert case.
- A failed payment: a childless low-income family is decided eligible for material support and enrolled, its
  payroll is prepared, approved (by a finance checker with an authenticator), funded by the simulated treasury
  and sent to the simulated bank; the payee's account is closed at the bank before the statement is fetched, so
  the bank returns that payment and reconciliation raises the alert "verify the account".
- An appeal against a refusal the demo history decided, opened at the office.
- A birth the family reports at the office, in a household receiving the child allowance: the newborn is in the
  simulator's registries and in the registry's copy of the population register (not yet in the household), so the
  worker records the change from the case.

The alert cases go to the handling role's worker of the household's district when there is one; the demo worker
covers the whole region, so the demo gives them the cases left in the area queue, as a worker picks them up.
Each step does nothing when its case exists, and skips with a reason when it finds nothing to work with.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from datetime import date, timedelta

import httpx
import pyotp
from flask import current_app
from sqlalchemy import select, update

from connectors.registry import connectors_for
from connectors.simulator import finance, store
from connectors.simulator import sources as simulated
from connectors.simulator.app import notify_subscribers
from connectors.transport.dci import EVENT_BIRTH, EVENT_DEATH
from modules.grievances import operations
from modules.grievances.models import Case, CaseKind
from modules.registration.models import Household, HouseholdMember, Person, Relation, Sex
from webapp.boundary import Refusal, unit_of_work
from webapp.extensions import db
from webapp.models import Area, Role, User
from webapp.timeutil import age_on, month_of

log = logging.getLogger(__name__)
WORKER, REGION = "social", "UZ-TK"
DEATH_KEY = "beneficiary_died:person:"
SUPPORT = "material_support"
APPROVER = ("finance.approver", "Dilshod Tasdiqlovchi")  # approved the earlier payroll; not a sign-in of the banner
MAX_CANDIDATES = 6
BIRTH_DAYS_AGO = 9
FERTILE = (18, 45)
_NAMES = (["Jasur", "Otabek", "Bekzod", "Sardor"], ["Madina", "Zarina", "Nilufar", "Sevara"])

DESCRIPTIONS = {
    "appeal": "Arizamiz rad etildi, lekin oilamizning daromadi juda kam: erim ishsiz, men uyda bolalarga qarayman. "
              "Qarorni qayta koʻrib chiqishingizni soʻrayman.",
    "birth": "Oilamizda farzand tugʻildi ({name}, {date}). Tugʻilganlik haqidagi guvohnomani olib keldim, "
             "bolani oila tarkibiga qoʻshib, nafaqani qayta hisoblab berishingizni soʻrayman.",
}


def worker() -> User | None:
    return db.session.scalar(select(User).where(User.username == WORKER))


def take(case: Case | None, user: User) -> None:
    """The worker takes a case left in the area queue (no district worker was found to assign it to)."""
    if case is not None and case.assignee_id is None and case.is_open:
        operations.assign(case, user, user)


def _region() -> Area:
    return db.session.scalar(select(Area).where(Area.code == REGION))


def _in_region(query):
    return query.join(Area, Household.area_id == Area.id).where(Area.path.startswith(_region().path))


# --- a death reported by the civil registry ----------------------------------------------------------------------


def wait_for_server(base_url: str, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code < 500:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


def report_death(simulator_state, notify_url: str, today: date | None = None) -> str:
    """A death the civil registry notifies to `notify_url`; returns what happened, in words."""
    if db.session.scalar(select(Case.id).where(Case.source_key.startswith(DEATH_KEY)).limit(1)) is not None:
        return "exists"
    today = today or date.today()
    child = _enrolled_child()
    if child is None:
        return "skipped: no child is paid the child allowance in the region"
    pin, child_id = child.pin, child.id
    db.session.remove()  # the server writes the alert: no transaction of ours may hold the database meanwhile
    client = connectors_for(current_app)["civil_registry"].client
    ack, _envelope = client.subscribe([EVENT_BIRTH, EVENT_DEATH], sender_uri=notify_url)
    if ack.ack_status != "ACK":
        return f"skipped: the civil registry refused the subscription ({ack.error_message})"
    with simulator_state.engine.begin() as conn:
        conn.execute(update(store.person).where(store.person.c.pin == pin).values(death_date=today))
        conn.execute(store.vital_event.insert().values(pin=pin, kind="death", event_date=today, related_pin=None))
    outcomes = notify_subscribers(simulator_state, [simulated.vital_record("death", today, pin, None)])
    if not any(outcome["ack"] == "ACK" and outcome["uri"] == notify_url for outcome in outcomes):
        return f"skipped: the notify was not acknowledged ({outcomes})"
    with unit_of_work():
        case = db.session.scalar(select(Case).where(Case.source_key.startswith(DEATH_KEY),
                                                    Case.person_id == child_id))
        if case is None:
            return "skipped: the notify raised no alert"
        take(case, worker())
    return "opened"


def _enrolled_child() -> Person | None:
    """A child with an active child-allowance enrolment in the region, in a household that keeps other children
    paid (the death then leaves the family's other allowances going)."""
    from modules.enrolment.models import Enrolment, EnrolmentStatus

    rows = db.session.execute(_in_region(
        select(Enrolment.household_id, Person).join(Person, Person.id == Enrolment.beneficiary_person_id)
        .join(Household, Household.id == Enrolment.household_id))
        .where(Enrolment.status == EnrolmentStatus.active, Enrolment.beneficiary_person_id
               != Enrolment.payee_person_id).order_by(Enrolment.household_id.desc(), Enrolment.id)).all()
    counts: dict[int, int] = {}
    for household_id, _person in rows:
        counts[household_id] = counts.get(household_id, 0) + 1
    return next((person for household_id, person in rows if counts[household_id] > 1), None)


# --- a payment the bank returned ---------------------------------------------------------------------------------


def fail_a_payment(sim_engine, today: date | None = None) -> str:
    """A sent material-support payroll whose statement returns one payment; returns what happened, in words."""
    from modules.payments.models import Payroll
    from webapp.models import Programme

    if db.session.scalar(select(Case.id).where(Case.kind == CaseKind.alert, Case.category_code == "payment_failed")
                         .limit(1)) is not None:
        return "exists"
    # Tashkent's only: the demo's payment history elsewhere is no reason to skip this.
    if db.session.scalar(select(Payroll.id).join(Programme, Programme.id == Payroll.programme_id)
                         .join(Area, Area.id == Payroll.area_id)
                         .where(Programme.code == SUPPORT, Area.code == REGION).limit(1)) is not None:
        return "skipped: a material-support payroll exists already"
    today = today or date.today()
    eligible = 0
    for household in _childless_households(today):
        eligible += _apply_for_support(sim_engine, household, today)
        if eligible == 2:
            break
    if not eligible:
        return "skipped: no childless family was decided eligible for material support"
    try:
        return _pay_and_return(sim_engine, today)
    except Refusal as refusal:
        return f"skipped: {refusal}"


def _childless_households(today: date) -> list[Household]:
    from modules.registration.models import Application

    applied = select(Application.household_id).where(Application.household_id.is_not(None))
    households = db.session.scalars(_in_region(select(Household)).where(Household.id.not_in(applied))
                                    .order_by(Household.id.desc()).limit(300)).all()
    chosen = []
    for household in households:
        people = [member.person for member in household.members]
        if (people and all(p.death_date is None and age_on(p.birth_date, today) >= 18 for p in people)
                and any(m.relation is Relation.head for m in household.members)):
            chosen.append(household)
        if len(chosen) == MAX_CANDIDATES:
            break
    return chosen


def _apply_for_support(sim_engine, household: Household, today: date) -> int:
    """Low income in the simulated registries, then an application through the real path; 1 when enrolled."""
    from demo.payroll import _low_income
    from modules.enrolment.models import Enrolment
    from modules.registration.operations import RegistrationError, register_application
    from modules.registration.schemas import ApplicationArgs

    members = sorted(((m.person, m.relation) for m in household.members), key=lambda pr: pr[1] is not Relation.head)
    (head, _), *others = members
    household_id = household.id
    with sim_engine.begin() as conn:
        _low_income(conn, [person.pin for person, _relation in members], today)
    registrar = db.session.scalar(select(User).where(User.username == "registrar"))
    payload = {"applicant_pin": head.pin, "phone": "+998901234567", "channel": "mahalla", "programmes": [SUPPORT],
               "members": [{"pin": person.pin, "relation": relation.value} for person, relation in others]}
    try:
        with unit_of_work():  # collection and the means test run after its commit
            register_application(ApplicationArgs().load(payload), registrar)
    except RegistrationError as refusal:
        log.info("demo: family of %s not registered: %s", head.pin, refusal)
        return 0
    return int(db.session.scalar(select(Enrolment.id).where(Enrolment.household_id == household_id).limit(1))
               is not None)


def _pay_and_return(sim_engine, today: date) -> str:
    from modules.enrolment.banking import sync_accounts
    from modules.payments import funding, sending, status
    from modules.payments.checks import run_checks
    from modules.payments.generation import generate
    from modules.payments.models import LineStatus, PayrollLine
    from webapp.auth import totp

    for _ in range(2):  # the bank opens the accounts, then issues the cards
        with unit_of_work():
            sync_accounts()
    with unit_of_work():
        maker = db.session.scalar(select(User).where(User.username == "finance.maker"))
        payroll = generate(SUPPORT, REGION, month_of(today, 1), maker)
        run_checks(payroll, maker)
        payroll_id = payroll.id
    with unit_of_work():
        approver = db.session.scalar(select(User).where(User.username == APPROVER[0]))
        if approver is None:
            from webapp.auth.operations import create_user

            approver = create_user(APPROVER[0], secrets.token_urlsafe(18), Role.finance_checker, APPROVER[1], [],
                                   national_scope=True)
            totp.enable(approver)
        payroll = db.session.get(type(payroll), payroll_id)
        status.approve(payroll, approver, pyotp.TOTP(approver.totp_secret).now())
    with unit_of_work():
        maker = db.session.scalar(select(User).where(User.username == "finance.maker"))
        funding.request_funds([db.session.get(type(payroll), payroll_id)], maker)
    with unit_of_work():
        maker = db.session.scalar(select(User).where(User.username == "finance.maker"))
        sending.send_to_bank(db.session.get(type(payroll), payroll_id), maker)
    line = db.session.scalar(select(PayrollLine).where(PayrollLine.payroll_id == payroll_id)
                             .order_by(PayrollLine.id).limit(1))
    if line is None or not line.payee_account:
        return "skipped: the payroll has no line to pay"
    finance.close_account(sim_engine, line.payee_account)  # the payee closed the card account meanwhile
    line_id = line.id
    with unit_of_work():
        maker = db.session.scalar(select(User).where(User.username == "finance.maker"))
        sending.fetch_statement(db.session.get(type(payroll), payroll_id), maker)
        case = db.session.scalar(select(Case).where(Case.payroll_line_id == line_id, Case.kind == CaseKind.alert))
        if case is None or db.session.get(PayrollLine, line_id).status not in (LineStatus.failed, LineStatus.returned):
            return "skipped: the bank's statement failed no payment"
        take(case, worker())
    return "opened"


# --- an appeal against a refusal ---------------------------------------------------------------------------------


def open_appeal() -> str:
    from modules.means_test.models import Assessment, Decision
    from modules.registration.models import Application, ApplicationStatus, Purpose

    user = worker()
    if user is None:
        return "skipped: no demo social worker"
    if db.session.scalar(select(Case.id).where(Case.kind == CaseKind.appeal, Case.created_by_id == user.id)
                         .limit(1)) is not None:
        return "exists"
    refused = db.session.scalars(
        select(Application).join(Assessment, Assessment.application_id == Application.id)
        .join(Area, Application.area_id == Area.id)
        .where(Area.path.startswith(_region().path), Application.status == ApplicationStatus.decided,
               Application.purpose == Purpose.claim, Assessment.decision == Decision.ineligible,
               Application.created_by_id != user.id).order_by(Application.id)).first()
    if refused is None:
        return "skipped: the demo history has no refused application in the region"
    case = operations.open_case({"kind": "appeal", "category": "decision_appeal", "channel": "office",
                                 "application_id": refused.id, "description": DESCRIPTIONS["appeal"]}, user)
    operations.assign(case, user, user)
    return "opened"


# --- a birth reported at the office ------------------------------------------------------------------------------


def report_birth(sim_engine, today: date | None = None) -> str:
    """An update case about a newborn of a household receiving benefits; returns what happened, in words."""
    from modules.enrolment.models import Enrolment, EnrolmentStatus
    from modules.means_test.models import Assessment

    user = worker()
    if user is None:
        return "skipped: no demo social worker"
    if _birth_case(user) is not None:
        return "exists"
    today = today or date.today()
    born = today - timedelta(days=BIRTH_DAYS_AGO)
    dead = select(Case.household_id).where(Case.source_key.startswith(DEATH_KEY), Case.household_id.is_not(None))
    households = db.session.scalars(_in_region(select(Household)).where(
        Household.id.in_(select(Assessment.household_id)),
        Household.id.in_(select(Enrolment.household_id).where(Enrolment.status == EnrolmentStatus.active)),
        Household.id.not_in(dead)).order_by(Household.id)).all()
    for household in households:
        mother = next((m.person for m in household.members if m.left_at is None and m.person.sex is Sex.F
                       and m.relation in (Relation.head, Relation.spouse)
                       and FERTILE[0] <= age_on(m.person.birth_date, born) <= FERTILE[1]), None)
        if mother is not None:
            break
    else:
        return "skipped: no mother in a household receiving benefits"
    newborn = _register_newborn(sim_engine, mother, household, born)
    if newborn is None:
        return "skipped: the mother is not in the simulated population register"
    description = DESCRIPTIONS["birth"].format(name=newborn.full_name, date=f"{born:%d.%m.%Y}")
    case = operations.open_case({"kind": "update", "category": "birth", "channel": "office",
                                 "household_id": household.id, "applicant_pin": mother.pin,
                                 "description": description}, user)
    operations.assign(case, user, user)
    return "opened"


def _register_newborn(sim_engine, mother: Person, household: Household, born: date) -> Person | None:
    """The birth in the simulator's civil and population registers, and the child in the registry's copy."""
    with sim_engine.begin() as conn:
        link = conn.execute(select(store.family_link).where(store.family_link.c.pin == mother.pin)).mappings().first()
        if link is None:
            return None
        # The simulator's own birth registration: a valid PINFL, the father's surname, the household link.
        members = simulated._household_members(conn, link["household_id"])
        alive = [m for m in members if m.death_date is None]
        mother_row = next(m for m in members if m.pin == mother.pin)
        record = simulated._register_birth(conn, mother_row, alive, random.Random(mother.pin), born, _NAMES)
        child = conn.execute(select(store.person).where(store.person.c.pin == record["pin"])).mappings().one()
    newborn = Person(pin=child["pin"], last_name=child["last_name"], first_name=child["first_name"],
                     patronymic=child["patronymic"], birth_date=child["birth_date"], sex=Sex(child["sex"]),
                     area_id=household.area_id)
    db.session.add(newborn)
    db.session.flush()
    return newborn


def _birth_case(user: User) -> Case | None:
    return db.session.scalar(select(Case).where(Case.kind == CaseKind.update, Case.category_code == "birth",
                                                Case.created_by_id == user.id).order_by(Case.id).limit(1))


def newborn_pin(sim_engine) -> str | None:
    """The PIN of the child of the demo birth case (the simulator's register of the mother's births), while the
    child is not yet a member of the household."""
    user = worker()
    case = _birth_case(user) if user is not None else None
    mother = db.session.get(Person, case.person_id) if case is not None and case.person_id else None
    if mother is None:
        return None
    with sim_engine.connect() as conn:
        pin = conn.scalar(select(store.vital_event.c.pin).where(store.vital_event.c.kind == "birth",
                                                                store.vital_event.c.related_pin == mother.pin)
                          .order_by(store.vital_event.c.id.desc()).limit(1))
    newborn = db.session.scalar(select(Person).where(Person.pin == pin)) if pin is not None else None
    if newborn is None:
        return None
    added = db.session.scalar(select(HouseholdMember.id).where(HouseholdMember.person_id == newborn.id,
                                                               HouseholdMember.left_at.is_(None)).limit(1))
    return None if added is not None else pin  # once in the household there is nothing left to type
