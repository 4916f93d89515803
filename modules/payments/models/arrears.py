"""Months an enrolment is owed: a refusal overturned on appeal leaves months that were due but never paid.

Each owed month is one row, UNIQUE (enrolment_id, period), recorded once (`payments.arrears.owe_missed_months`).
The next payroll of the enrolment's programme and region pays every owed month that has no line yet, as a line
with the owed month as its `period` (`generation`): the UNIQUE (enrolment_id, period) of `payroll_line` and the
payment ledger (migration 0016) keep the database from paying such a month twice, as for any other month.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.timeutil import utcnow


class EnrolmentArrear(db.Model):
    """One month an enrolment was due and is owed, with the amount to pay for it."""

    __tablename__ = "enrolment_arrear"
    __table_args__ = (
        UniqueConstraint("enrolment_id", "period", name="uq_enrolment_arrear_enrolment_period"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id"))  # indexed by the unique constraint
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM, the month owed
    amount: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    reason: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))  # None: recorded by a job

    enrolment = relationship("Enrolment")
    created_by = relationship("User")

    def __repr__(self) -> str:
        return f"<EnrolmentArrear {self.enrolment_id} {self.period} {self.amount}>"
