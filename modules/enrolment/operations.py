"""Enrolment from a decision, its status changes, bank accounts for payees, and who is due for recertification.

Operations flush and audit; they never commit (the request or the job that calls them does).
"""

from __future__ import annotations

import calendar
import re
import uuid
from datetime import date, timedelta
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from sqlalchemy import select

from modules.enrolment import status as machine
from modules.enrolment.models import BankAccount, BankAccountStatus, Enrolment, EnrolmentStatus
from modules.means_test.models import Assessment, Decision
from modules.registration.models import Person
from rules.evaluation import paid_for
from rules.pack import Version, get_pack
from webapp import audit
from webapp.boundary import Refusal
from webapp.extensions import db
from webapp.models import Programme
from webapp.timeutil import local_time, utcnow

S = EnrolmentStatus
CENT = Decimal("0.01")
BANK_CODE = re.compile(r"\d{5}")  # MFO, the Central Bank's code of a bank branch
ACCOUNT_NUMBER = re.compile(r"\d{20}")  # Uzbek bank accounts are 20 digits



class EnrolmentError(Refusal):
    """An assessment or a request that cannot be turned into enrolments as it stands; nothing was changed."""


def period_for(assessment: Assessment, months: int, first_month: date | None = None) -> tuple[date, date]:
    """From the first day of the month after the decision (or of `first_month`, for an appeal that reverses an
    earlier refusal) to the last day of the last month paid."""
    if first_month is not None:
        first = first_month.year * 12 + first_month.month - 1
    else:
        decided = local_time(assessment.created_at).date()
        first = decided.year * 12 + decided.month  # month index of the month after the decision (0-based months)
    last = first + months - 1
    start = date(first // 12, first % 12 + 1, 1)
    end_year, end_month = last // 12, last % 12 + 1
    return start, date(end_year, end_month, calendar.monthrange(end_year, end_month)[1])


def enrolments_of(assessment_id: int) -> list[Enrolment]:
    return list(db.session.scalars(select(Enrolment).where(Enrolment.assessment_id == assessment_id)
                                   .order_by(Enrolment.id)))


def enrolments_for_application(application_id: int) -> list[Enrolment]:
    return list(db.session.scalars(select(Enrolment).where(Enrolment.application_id == application_id)
                                   .order_by(Enrolment.id)))


def enrol_from_assessment(assessment: Assessment, actor=None, first_month: date | None = None) -> list[Enrolment]:
    """One enrolment per programme and beneficiary of an eligible assessment; the existing ones on a re-run.
    `first_month`: the periods start then instead of the month after the decision."""
    if assessment.decision is not Decision.eligible:
        return []
    existing = enrolments_of(assessment.id)
    if existing:
        return existing
    pack = get_pack(assessment.pack_id)
    version = next((v for v in pack.versions if v.version == assessment.pack_version), None) \
        or pack.version_for(assessment.as_of)
    lump_sums = {programme.code: programme.lump_sum for programme in pack.programmes}
    people = _people(assessment)
    created = []
    for item in assessment.programmes:
        programme = db.session.scalar(select(Programme).where(Programme.code == item["code"]))
        if programme is None:
            raise EnrolmentError(_l("Assessment %(id)d grants the programme %(code)s, which is not in the registry.",
                                    id=assessment.id, code=item["code"]))
        start, end = period_for(assessment, int(item["months"]), first_month)
        for beneficiary, amount in _beneficiaries(assessment, item, version, people):
            _supersede(beneficiary.id, programme.id, assessment, start, actor)
            enrolment = Enrolment(
                application_id=assessment.application_id, assessment_id=assessment.id,
                household_id=assessment.household_id, programme_id=programme.id,
                beneficiary_person_id=beneficiary.id, payee_person_id=assessment.application.applicant_id,
                monthly_amount=amount, months=int(item["months"]), lump_sum=lump_sums.get(item["code"], False),
                period_start=start, period_end=end, status=S.active)
            db.session.add(enrolment)
            db.session.flush()
            audit.record("enrolment.created", "enrolment", enrolment.id,
                         {"assessment": assessment.id, "programme": programme.code, "beneficiary": beneficiary.pin,
                          "monthly_amount": str(amount), "months": enrolment.months,
                          "period": [start.isoformat(), end.isoformat()]}, actor=actor)
            created.append(enrolment)
    return created


def _people(assessment: Assessment) -> dict[str, Person]:
    pins = [member["pin"] for member in assessment.facts.get("members", [])]
    found = {person.pin: person for person in db.session.scalars(select(Person).where(Person.pin.in_(pins)))}
    missing = sorted(set(pins) - set(found))
    if missing:
        raise EnrolmentError(_l("Assessment %(id)d: no person with PIN %(pin)s is in the registry.",
                                id=assessment.id, pin=missing[0]))
    return found


def beneficiaries(assessment: Assessment) -> list[tuple[str, Person, Decimal, int]]:
    """[(programme code, beneficiary, monthly amount, months)] an eligible assessment would enrol; nothing written."""
    if assessment.decision is not Decision.eligible:
        return []
    pack = get_pack(assessment.pack_id)
    version = next((v for v in pack.versions if v.version == assessment.pack_version), None) \
        or pack.version_for(assessment.as_of)
    people = _people(assessment)
    return [(item["code"], person, amount, int(item["months"])) for item in assessment.programmes
            for person, amount in _beneficiaries(assessment, item, version, people)]


def _beneficiaries(assessment: Assessment, item: dict, version: Version, people: dict[str, Person]):
    """[(person, monthly amount)] for one programme of the assessment: those the pack pays it for (`paid_for`),
    each becoming one enrolment at the pack's amount per person; the applicant for a household benefit."""
    code, total = item["code"], Decimal(str(item["monthly_amount"]))
    declared = {programme.code: programme for programme in version.pack.programmes}[code]
    if declared.paid_for is None:
        return [(assessment.application.applicant, total)]
    pins, parameter = paid_for(version, assessment.facts, declared), declared.paid_for.amount
    if not pins:
        raise EnrolmentError(_l("Assessment %(id)d grants %(code)s, but no beneficiary of it is in the facts.",
                                id=assessment.id, code=code))
    each = (total / len(pins)).quantize(CENT)
    expected = Decimal(str(version.parameters[parameter])).quantize(CENT)
    if each != expected:  # the trace and the amount disagree: never pay a guessed amount
        raise EnrolmentError(lazy_ngettext(
            "Assessment %(id)d: %(code)s of %(total)s for %(num)d beneficiary is %(each)s, but the rules pay "
            "%(expected)s (%(parameter)s).",
            "Assessment %(id)d: %(code)s of %(total)s for %(num)d beneficiaries is %(each)s each, but the rules pay "
            "%(expected)s (%(parameter)s).",
            len(pins), id=assessment.id, code=code, total=total, each=each, expected=expected, parameter=parameter))
    return [(people[pin], each) for pin in pins]


def _supersede(person_id: int, programme_id: int, assessment: Assessment, start: date, actor) -> None:
    """A beneficiary enrolled again by a newer decision: the older enrolment ends the month before the new one."""
    old = db.session.scalar(select(Enrolment).where(
        Enrolment.beneficiary_person_id == person_id, Enrolment.programme_id == programme_id,
        Enrolment.status != S.ended, Enrolment.assessment_id != assessment.id))
    if old is None:
        return
    if old.period_start < start:
        old.period_end = min(old.period_end, start - timedelta(days=1))
    machine.transition(old, S.ended, f"superseded by assessment {assessment.id}", actor)


def _reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise EnrolmentError(_l("A reason is required."))
    if len(reason) > 500:
        raise EnrolmentError(_l("The reason must be at most 500 characters."))
    return reason


def suspend(enrolment: Enrolment, reason: str, actor=None) -> Enrolment:
    machine.transition(enrolment, S.suspended, _reason(reason), actor)
    db.session.flush()
    return enrolment


def resume(enrolment: Enrolment, actor=None, reason: str | None = None) -> Enrolment:
    """Resume a suspended enrolment; the reason is optional (at most 500 characters)."""
    reason = (reason or "").strip()
    machine.transition(enrolment, S.active, _reason(reason) if reason else None, actor)
    db.session.flush()
    return enrolment


def end(enrolment: Enrolment, reason: str, actor=None) -> Enrolment:
    machine.transition(enrolment, S.ended, _reason(reason), actor)
    db.session.flush()
    return enrolment


def live_account(person_id: int) -> BankAccount | None:
    return db.session.scalar(select(BankAccount).where(BankAccount.person_id == person_id,
                                                       BankAccount.status != BankAccountStatus.closed))


def request_bank_accounts(enrolments: list[Enrolment], bank_code: str, actor=None) -> list[BankAccount]:
    """Link each enrolment to its payee's account, requesting one (once per person) where there is none.

    Returns the accounts newly requested."""
    if not BANK_CODE.fullmatch(bank_code or ""):
        raise EnrolmentError(_l("%(code)s is not a bank code: give the bank's 5-digit MFO code.", code=bank_code))
    requested, accounts = [], {}
    for enrolment in enrolments:
        if enrolment.bank_account_id is not None:
            continue
        person_id = enrolment.payee_person_id
        account = accounts.get(person_id) or live_account(person_id)
        if account is None:
            account = BankAccount(person_id=person_id, bank_code=bank_code, status=BankAccountStatus.requested,
                                  request_id=uuid.uuid4().hex, requested_at=utcnow())
            db.session.add(account)
            db.session.flush()
            audit.record("bank_account.requested", "bank_account", account.id,
                         {"person": person_id, "bank_code": bank_code, "request_id": account.request_id},
                         actor=actor)
            requested.append(account)
        accounts[person_id] = account
        enrolment.bank_account = account
    db.session.flush()
    return requested


def record_account_opened(account: BankAccount, account_number: str, actor=None) -> BankAccount:
    number = (account_number or "").strip()
    if not ACCOUNT_NUMBER.fullmatch(number):
        raise EnrolmentError(_l("%(number)s is not an account number: give its 20 digits.",
                                number=account_number))
    machine.account_transition(account, BankAccountStatus.opened, actor, {"account_number": number})
    account.account_number = number
    account.opened_at = utcnow()
    db.session.flush()
    return account


def record_card_issued(account: BankAccount, actor=None) -> BankAccount:
    machine.account_transition(account, BankAccountStatus.card_issued, actor)
    account.card_issued_at = utcnow()
    db.session.flush()
    return account


def due_for_recertification(as_of: date) -> list[int]:
    """Households with an active enrolment whose period ends by the end of the month of `as_of`."""
    month_end = date(as_of.year, as_of.month, calendar.monthrange(as_of.year, as_of.month)[1])
    return list(db.session.scalars(select(Enrolment.household_id).distinct()
                                   .where(Enrolment.status == S.active, Enrolment.period_end <= month_end)
                                   .order_by(Enrolment.household_id)))
