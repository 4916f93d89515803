"""Owed months (arrears): the months an enrolment was due but never paid, e.g. while a refusal stood that an appeal
later overturned.

`owe_missed_months` records each such month once (`EnrolmentArrear`, UNIQUE (enrolment_id, period)); the next
payroll of the enrolment's programme and region pays them (`generation`), each as a line for the owed month, so the
UNIQUE (enrolment_id, period) of the lines and the payment ledger keep any month from being paid twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from modules.enrolment.models import Enrolment
from modules.payments.generation import month_bounds
from modules.payments.models import EnrolmentArrear, PaymentLedger, Payroll, PayrollLine, PayrollStatus
from modules.payments.status import PayrollError
from webapp import audit
from webapp.extensions import db
from webapp.timeutil import month_of

REASON_LENGTH = 300  # enrolment_arrear.reason


class ArrearsError(PayrollError):
    """The owed months cannot be recorded as asked (a bad month or reason); nothing was recorded."""


@dataclass(frozen=True)
class OwedMonth:
    """An owed month and where it stands: `payroll_id` is the payroll (not cancelled) with its line, if any; `sent`
    once the month is in the payment ledger; `paid` in either case (a month paid or being paid is owed no more)."""

    arrear: EnrolmentArrear
    payroll_id: int | None
    sent: bool

    @property
    def paid(self) -> bool:
        return self.sent or self.payroll_id is not None


def months_between(first: str, last: str) -> list[str]:
    """Every month from `first` through `last` (YYYY-MM, inclusive); empty when `last` comes before `first`."""
    start, _end = month_bounds(first)
    months, index = [], 0
    while (month := month_of(start, index)) <= last:
        months.append(month)
        index += 1
    return months


def _due_months(enrolment: Enrolment, through: str) -> list[str]:
    """The months the enrolment was due from its start through `through`: a lump sum only its start month."""
    start = month_of(enrolment.period_start)
    if enrolment.lump_sum:
        return [start] if start <= through else []
    return months_between(start, min(through, month_of(enrolment.period_end)))


def _amount(enrolment: Enrolment):
    """What one due month pays: the monthly amount, or a lump sum's whole amount (all its months at once)."""
    return enrolment.monthly_amount * enrolment.months if enrolment.lump_sum else enrolment.monthly_amount


def _taken_months(enrolment_id: int, months: list[str]) -> set[str]:
    """Of `months`, those the enrolment already has a payroll line for, a payment in the ledger or an arrear for."""
    taken = set()
    for model in (PayrollLine, PaymentLedger, EnrolmentArrear):
        taken.update(db.session.scalars(select(model.period).where(model.enrolment_id == enrolment_id,
                                                                   model.period.in_(months))))
    return taken


def owe_missed_months(enrolment: Enrolment, through: str, reason: str, actor=None) -> list[EnrolmentArrear]:
    """Record as owed every month of the enrolment from its start through `through` (clipped to its end) that has no
    payroll line and no payment yet; returns the months recorded now (none on a repeat). Flushes and audits."""
    month_bounds(through)  # refuses anything that is not a month
    reason = (reason or "").strip()
    if not reason:
        raise ArrearsError(_l("Say why the months are owed (for example the appeal that overturned the refusal)."))
    if len(reason) > REASON_LENGTH:
        raise ArrearsError(_l("The reason is too long: at most %(max)d characters.", max=REASON_LENGTH))
    due = _due_months(enrolment, through)
    taken = _taken_months(enrolment.id, due) if due else set()
    amount = _amount(enrolment)
    owed = [EnrolmentArrear(enrolment_id=enrolment.id, period=month, amount=amount, reason=reason,
                            created_by_id=actor.id if actor else None)
            for month in due if month not in taken]
    if not owed:
        return []
    with db.session.begin_nested():  # a concurrent recording of the same month (the unique constraint) leaves none
        db.session.add_all(owed)
        db.session.flush()
        audit.record("enrolment.arrears_owed", "enrolment", enrolment.id,
                     {"periods": [arrear.period for arrear in owed], "amount": str(amount),
                      "total": str(sum(arrear.amount for arrear in owed)), "reason": reason}, actor=actor)
    return owed


def owed(enrolment_id: int) -> list[OwedMonth]:
    """The enrolment's owed months, oldest first, each with the live payroll paying it and whether it is paid."""
    r, line = EnrolmentArrear, PayrollLine
    rows = db.session.execute(
        select(r, Payroll.id, PaymentLedger.payroll_line_id)
        .outerjoin(line, (line.enrolment_id == r.enrolment_id) & (line.period == r.period))
        .outerjoin(Payroll, (Payroll.id == line.payroll_id) & (Payroll.status != PayrollStatus.cancelled))
        .outerjoin(PaymentLedger, (PaymentLedger.enrolment_id == r.enrolment_id) & (PaymentLedger.period == r.period))
        .where(r.enrolment_id == enrolment_id).order_by(r.period)).all()
    return [OwedMonth(arrear=arrear, payroll_id=payroll_id, sent=ledger is not None)
            for arrear, payroll_id, ledger in rows]

