"""The payee snapshot of payroll lines: the name, PINFL, account and bank code the bank files pay to.

Generation writes it with each line; approval brings it up to date (`refresh`) and the database then freezes it
with the rest of the line (migration 0016), so that changing a person's name or bank account after approval, or
pointing the enrolment at another account, does not change whom an approved payroll pays. Only an account the
checks accept is taken (the payee's own, open, with a number); a line without one has no account in its snapshot,
and the database refuses to approve a payroll with such a line still to pay.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import Select, case, func, or_, select, update
from sqlalchemy.orm import aliased

from modules.enrolment.models import BankAccount, BankAccountStatus, Enrolment
from modules.payments.models import LineStatus, PayrollLine
from modules.registration.models import Person
from webapp.extensions import db

OPEN_ACCOUNT = (BankAccountStatus.opened, BankAccountStatus.card_issued)
COLUMNS = ("payee_name", "payee_pin", "payee_account", "payee_bank_code")


@cache
def _payee():
    """The payee's alias of Person (made on first use, once every model is imported)."""
    return aliased(Person, name="payee")


@cache
def _account():
    return aliased(BankAccount, name="payee_account")


def usable_account(enrolment=Enrolment, account=BankAccount):
    """The enrolment's account is one a payment can go to: the payee's own, open, with a number."""
    return (account.id.is_not(None) & (account.person_id == enrolment.payee_person_id)
            & account.status.in_(OPEN_ACCOUNT) & account.account_number.is_not(None))


def columns(enrolment=Enrolment) -> list:
    """The snapshot of `enrolment`'s payee as labelled columns; the query needs `joined` for them."""
    payee, account = _payee(), _account()
    usable = usable_account(enrolment, account)
    return [(payee.last_name + " " + payee.first_name).label("payee_name"), payee.pin.label("payee_pin"),
            case((usable, account.account_number)).label("payee_account"),
            case((usable, account.bank_code)).label("payee_bank_code")]


def joined(query: Select, enrolment=Enrolment) -> Select:
    """`query` (which selects from `enrolment`) joined with the payee and the enrolment's account."""
    payee, account = _payee(), _account()
    return (query.join(payee, payee.id == enrolment.payee_person_id)
            .outerjoin(account, account.id == enrolment.bank_account_id))


def refresh(payroll_id: int) -> int:
    """Bring the snapshot of the payroll's lines to pay up to date (one UPDATE of the lines whose payee or account
    changed); returns how many of those lines have no usable account."""
    line = PayrollLine
    # Every enrolment's payee as a subquery the database flattens into the UPDATE: one pass over the payroll's lines
    # with a lookup of each one's enrolment, payee and account.
    current = joined(select(Enrolment.id.label("enrolment_id"), *columns()).select_from(Enrolment)).subquery()
    stale = or_(*(getattr(line, name).is_distinct_from(current.c[name]) for name in COLUMNS))
    db.session.execute(update(line).where(line.enrolment_id == current.c.enrolment_id, line.payroll_id == payroll_id,
                                          line.status != LineStatus.excluded, stale)
                       .values({name: current.c[name] for name in COLUMNS})
                       .execution_options(synchronize_session=False))
    return db.session.scalar(select(func.count()).select_from(line).where(
        line.payroll_id == payroll_id, line.status != LineStatus.excluded,
        or_(line.payee_name.is_(None), line.payee_account.is_(None), line.payee_bank_code.is_(None)))) or 0
