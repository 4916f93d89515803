"""Programme membership (`enrolment`) and the payee's bank account."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
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


class EnrolmentStatus(enum.StrEnum):
    active = "active"
    suspended = "suspended"
    ended = "ended"


class BankAccountStatus(enum.StrEnum):
    requested = "requested"
    opened = "opened"
    card_issued = "card_issued"
    closed = "closed"



class BankAccount(db.Model):
    """The account benefits are paid into: requested from the bank, opened (number known), card issued."""

    __tablename__ = "bank_account"
    __table_args__ = (
        # One live account per person: a second request for the same payee reuses the first.
        Index("uq_bank_account_live_person", "person_id", unique=True,
              sqlite_where=text("status <> 'closed'"), postgresql_where=text("status <> 'closed'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    bank_code: Mapped[str] = mapped_column(String(5))  # MFO, the Central Bank's code of the branch
    account_number: Mapped[str | None] = mapped_column(String(20), unique=True)  # known once the bank opens it
    status: Mapped[BankAccountStatus] = mapped_column(string_enum(BankAccountStatus, "bank_account_status"))
    request_id: Mapped[str] = mapped_column(String(64), unique=True)  # our reference in the request to the bank
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    card_issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    person = relationship("Person")


class Enrolment(db.Model):
    """One beneficiary in one programme for one period, created from an eligible assessment."""

    __tablename__ = "enrolment"
    __table_args__ = (
        # At most one enrolment that is not ended per beneficiary and programme, in the database so
        # that two decisions running at once cannot both enrol.
        Index("uq_enrolment_open_beneficiary_programme", "beneficiary_person_id", "programme_id", unique=True,
              sqlite_where=text("status <> 'ended'"), postgresql_where=text("status <> 'ended'")),
        # A re-run of the decision signal never doubles enrolments.
        UniqueConstraint("assessment_id", "programme_id", "beneficiary_person_id",
                         name="uq_enrolment_assessment_programme_beneficiary"),
        CheckConstraint("monthly_amount > 0", name="monthly_amount_positive"),
        CheckConstraint("period_end >= period_start", name="period_ordered"),
        Index("ix_enrolment_status_period_end", "status", "period_end"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id"), index=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programme.id"), index=True)
    beneficiary_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    payee_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    monthly_amount: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    months: Mapped[int] = mapped_column(Integer)
    lump_sum: Mapped[bool] = mapped_column(Boolean, default=False)  # paid once for all `months` (maternity)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    status: Mapped[EnrolmentStatus] = mapped_column(string_enum(EnrolmentStatus, "enrolment_status"),
                                                    default=EnrolmentStatus.active)
    status_reason: Mapped[str | None] = mapped_column(String(500))
    bank_account_id: Mapped[int | None] = mapped_column(ForeignKey("bank_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    application = relationship("Application")
    assessment = relationship("Assessment")
    household = relationship("Household")
    programme = relationship("Programme")
    beneficiary = relationship("Person", foreign_keys=[beneficiary_person_id])
    payee = relationship("Person", foreign_keys=[payee_person_id])
    bank_account: Mapped[BankAccount | None] = relationship()
