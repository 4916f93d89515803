"""Monthly payrolls per programme and region and their lines.

Invariants kept by the database, not only by the code (migrations 0007, 0011 and 0016):

- UNIQUE (enrolment_id, period) on `payroll_line`: a beneficiary is never paid twice for one month, whatever
  payroll the line is in. Lines of a cancelled payroll are deleted when it is cancelled (`status.cancel`), so
  that the month can be paid by a new payroll; the payroll row itself stays, with its totals, as the record.
- Once a payroll is sent, its lines are written to `payment_ledger` (by a trigger on the move to sent), which
  nobody can update, delete or truncate; UNIQUE (enrolment_id, period) there, and a line for an enrolment and
  month already in the ledger cannot be added or included again, even if the paid line itself is gone.
- At most one payroll that is not cancelled per (programme, area, period): a partial unique index.
- The status moves only as `status.TRANSITIONS` says (a sent or reconciled payroll is never cancelled); a new
  payroll is a draft; a line's status moves only as `LINE_MOVES` says (a paid line never goes back to included).
- Approval needs an active finance checker who did not prepare the payroll (CHECK approved_by_id <> prepared_by_id
  and a trigger reading the approver's role), and every line to pay must carry its payee snapshot.
- An approved payroll cannot change: triggers refuse changing a line's amount, enrolment, period, payroll or payee
  snapshot, and adding or deleting lines, while the payroll is approved, sent or reconciled (a line's status still
  moves to paid/failed/returned on reconciliation); the payroll's own programme, area, period, totals and people
  are frozen as well. Only its status moves on. A cancelled payroll does not change at all.
- PostgreSQL: `line_count` and `total_amount` are the count and sum of the lines not excluded, kept by statement
  triggers on `payroll_line`; nobody writes them directly. (On SQLite `generation.refresh_totals` writes them.)
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db, string_enum
from webapp.timeutil import utcnow


class PayrollStatus(enum.StrEnum):
    draft = "draft"
    checked = "checked"
    approved = "approved"
    sent = "sent"
    reconciled = "reconciled"
    cancelled = "cancelled"


# Statuses in which a payroll is frozen (the triggers of migration 0007 list the same values).
FROZEN = (PayrollStatus.approved, PayrollStatus.sent, PayrollStatus.reconciled)


class LineStatus(enum.StrEnum):
    included = "included"
    excluded = "excluded"
    paid = "paid"
    failed = "failed"
    returned = "returned"


# The moves of a line's status (from → to): in or out of the payroll while it is prepared, then the bank's outcome.
# The triggers of migration 0016 list the same pairs; a paid, failed or returned line never goes back.
LINE_MOVES = frozenset((LineStatus(before), LineStatus(after)) for before, after in (
    ("included", "excluded"), ("excluded", "included"), ("included", "paid"), ("included", "failed"),
    ("included", "returned"), ("paid", "returned")))


class Payroll(db.Model):
    """One programme's payments in one region for one month."""

    __tablename__ = "payroll"
    __table_args__ = (
        CheckConstraint("approved_by_id IS NULL OR approved_by_id <> prepared_by_id", name="approver_not_preparer"),
        # One live payroll per programme, region and month; a cancelled one can be replaced.
        Index("uq_payroll_live_programme_area_period", "programme_id", "area_id", "period", unique=True,
              sqlite_where=text("status <> 'cancelled'"), postgresql_where=text("status <> 'cancelled'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programme.id"), index=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"), index=True)  # a region
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    status: Mapped[PayrollStatus] = mapped_column(string_enum(PayrollStatus, "payroll_status"),
                                                  default=PayrollStatus.draft)
    prepared_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))  # None: prepared by a job or the CLI
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reconciled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The number and sum of the lines not excluded (kept by the database's triggers on PostgreSQL).
    line_count: Mapped[int] = mapped_column(Integer, default=0)
    total_amount: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=Decimal("0.00"))

    programme = relationship("Programme")
    area = relationship("Area")
    prepared_by = relationship("User", foreign_keys=[prepared_by_id])
    approved_by = relationship("User", foreign_keys=[approved_by_id])

    def __repr__(self) -> str:
        return f"<Payroll {self.id} {self.period} {self.status}>"


class PayrollLine(db.Model):
    """One enrolment paid (or excluded, with the reason) for one month."""

    __tablename__ = "payroll_line"
    __table_args__ = (
        UniqueConstraint("enrolment_id", "period", name="uq_payroll_line_enrolment_period"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_payroll_line_payroll_status", "payroll_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payroll_id: Mapped[int] = mapped_column(ForeignKey("payroll.id"))
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id"))  # indexed by the unique constraint
    period: Mapped[str] = mapped_column(String(7))
    amount: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    status: Mapped[LineStatus] = mapped_column(string_enum(LineStatus, "payroll_line_status"),
                                               default=LineStatus.included)
    exclusion_reason: Mapped[str | None] = mapped_column(String(40))
    end_to_end_id: Mapped[str | None] = mapped_column(String(35), unique=True)  # set right after the insert
    # Mirrors the payroll's cancellation. Lines are deleted when their payroll is cancelled (so the month can be paid
    # again), so today no stored line has it set; it stays for a future "keep cancelled lines" policy.
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Who is paid, as it stood when the payroll was approved (written at generation, brought up to date by the
    # approval, frozen after it): the bank files are made from these, never from the live person or account.
    payee_name: Mapped[str | None] = mapped_column(String(161))  # "last first"
    payee_pin: Mapped[str | None] = mapped_column(String(20))
    payee_account: Mapped[str | None] = mapped_column(String(20))
    payee_bank_code: Mapped[str | None] = mapped_column(String(5))

    payroll: Mapped[Payroll] = relationship()
    enrolment = relationship("Enrolment")


class PaymentLedger(db.Model):
    """Every line of every payroll sent to the bank, written by the database when the payroll moves to sent:
    append-only (no UPDATE, DELETE or TRUNCATE), one row per enrolment and month, whatever happens to the lines."""

    __tablename__ = "payment_ledger"
    __table_args__ = (UniqueConstraint("enrolment_id", "period", name="uq_payment_ledger_enrolment_period"),)

    payroll_line_id: Mapped[int] = mapped_column(ForeignKey("payroll_line.id"), primary_key=True, autoincrement=False)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id"))
    period: Mapped[str] = mapped_column(String(7))
    payroll_id: Mapped[int] = mapped_column(ForeignKey("payroll.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
