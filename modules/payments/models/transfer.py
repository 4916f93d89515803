"""Fund requests to the treasury and payment files sent to the bank.

Invariants kept by the database (migration 0009):

- A payroll is covered by at most one live fund request (a partial unique index on `fund_request_payroll` where
  `live`): a refused request releases its payrolls (`live` false) so they can be requested again.
- A payroll is sent to the bank once: `bank_transfer.payroll_id` is unique, and so is the file's MsgId. Two people
  sending the same payroll at once: the second insert fails, nothing of theirs is stored and the bank is not called.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db, string_enum
from webapp.timeutil import utcnow


class FundRequestStatus(enum.StrEnum):
    pending = "pending"  # sent; the treasury has not answered yet
    confirmed = "confirmed"
    refused = "refused"


class FundRequest(db.Model):
    """One request to the treasury for the money of one or more approved payrolls of a month."""

    __tablename__ = "fund_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(35), unique=True)  # ours, sent to the treasury
    period: Mapped[str] = mapped_column(String(7))
    status: Mapped[FundRequestStatus] = mapped_column(string_enum(FundRequestStatus, "fund_request_status"),
                                                      default=FundRequestStatus.pending)
    total_amount: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    beneficiaries: Mapped[int] = mapped_column(Integer)
    lines: Mapped[list] = mapped_column(JSON, default=list)  # [{"programme", "region", "beneficiaries", "amount"}]
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    treasury_reference: Mapped[str | None] = mapped_column(String(35))
    refusal_reason: Mapped[str | None] = mapped_column(String(200))

    requested_by = relationship("User")
    payrolls: Mapped[list[FundRequestPayroll]] = relationship(back_populates="fund_request")


class FundRequestPayroll(db.Model):
    """A payroll covered by a fund request; `live` until the request is refused."""

    __tablename__ = "fund_request_payroll"
    __table_args__ = (
        Index("uq_fund_request_payroll_live", "payroll_id", unique=True,
              sqlite_where=text("live"), postgresql_where=text("live")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_request_id: Mapped[int] = mapped_column(ForeignKey("fund_request.id"), index=True)
    payroll_id: Mapped[int] = mapped_column(ForeignKey("payroll.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    live: Mapped[bool] = mapped_column(Boolean, default=True)

    fund_request: Mapped[FundRequest] = relationship(back_populates="payrolls")
    payroll = relationship("Payroll")


def live_fund_request(payroll_id: int) -> FundRequest | None:
    """The pending or confirmed fund request covering a payroll (the status machine and `funding` both ask)."""
    return db.session.scalar(select(FundRequest).join(FundRequestPayroll).where(
        FundRequestPayroll.payroll_id == payroll_id, FundRequestPayroll.live.is_(True)))


class BankTransfer(db.Model):
    """An approved payroll's payment file, sent to the bank once, with the bank's receipt."""

    __tablename__ = "bank_transfer"

    id: Mapped[int] = mapped_column(primary_key=True)
    payroll_id: Mapped[int] = mapped_column(ForeignKey("payroll.id"), unique=True)
    message_id: Mapped[str] = mapped_column(String(35), unique=True)
    file_format: Mapped[str] = mapped_column(String(20))
    sha256: Mapped[str] = mapped_column(String(64))
    transactions: Mapped[int] = mapped_column(Integer)
    control_sum: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    bank_file_id: Mapped[str | None] = mapped_column(String(40))  # the bank's receipt
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    statement_import_id: Mapped[int | None] = mapped_column(ForeignKey("statement_import.id"))  # the last fetched

    payroll = relationship("Payroll")
    sent_by = relationship("User")
    statement_import = relationship("StatementImport")


class BudgetReturn(db.Model):
    """Money of a month's payrolls that goes back to the budget (failed, returned, unpaid by the deadline), recorded
    once per programme and region after the deadline: the figures the finance officer reports to the treasury."""

    __tablename__ = "budget_return"
    __table_args__ = (UniqueConstraint("period", "programme_id", "area_id", name="uq_budget_return_month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(7))
    programme_id: Mapped[int] = mapped_column(ForeignKey("programme.id"))
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"))
    lines: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    by_status: Mapped[dict] = mapped_column(JSON, default=dict)  # {"failed"|"returned"|"unpaid": {lines, amount}}
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    programme = relationship("Programme")
    area = relationship("Area")
    recorded_by = relationship("User")
