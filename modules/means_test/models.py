"""Evidence behind every decision: one `data_pull` row per call to a source, or per member of a source's records
entered by hand from a document (`manual_entry`) once a second person confirmed them."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.timeutil import utcnow


class PullStatus(enum.StrEnum):
    ok = "ok"
    not_found = "not_found"
    error = "error"
    timeout = "timeout"

    @property
    def answered(self) -> bool:
        """ok and not_found are answers; error and timeout mean the source still owes one."""
        return self in (PullStatus.ok, PullStatus.not_found)


class DataPull(db.Model):
    """Append-only (a database trigger refuses UPDATE and DELETE): a retry is a new row, never an edit."""

    __tablename__ = "data_pull"
    __table_args__ = (Index("ix_data_pull_application_source", "application_id", "source", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    source: Mapped[str] = mapped_column(String(40))
    status: Mapped[PullStatus] = mapped_column(Enum(PullStatus, name="pull_status", native_enum=False, length=16))
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    latency_ms: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    request_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[list] = mapped_column(JSON, default=list)  # canonical records (connectors.records.to_json)
    # Set when the records were entered by hand from a document instead of coming from the source.
    manual_entry_id: Mapped[int | None] = mapped_column(ForeignKey("manual_entry.id"), index=True)

    person = relationship("Person")
    manual_entry = relationship("ManualEntry")


class ManualEntryStatus(enum.StrEnum):
    pending = "pending"
    confirmed = "confirmed"
    rejected = "rejected"


class ManualEntry(db.Model):
    """One source's records for the members it did not answer for, typed in by a staff member from a document.

    They count only after a second staff member confirms them (`decided_by` ≠ `entered_by`); confirming writes one
    `data_pull` per member pointing here, and the assessment goes on as if the source had answered.
    """

    __tablename__ = "manual_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(40))
    records: Mapped[dict] = mapped_column(JSON)  # {"<person id>": [canonical records]}; [] = none in the document
    document_type: Mapped[str] = mapped_column(String(40))
    document_number: Mapped[str] = mapped_column(String(64))
    document_date: Mapped[date] = mapped_column(Date)
    document_name: Mapped[str | None] = mapped_column(String(200))
    document_mime: Mapped[str | None] = mapped_column(String(100))
    document_content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    attested: Mapped[bool] = mapped_column(Boolean)  # "I have read these from the document"
    status: Mapped[ManualEntryStatus] = mapped_column(
        Enum(ManualEntryStatus, name="manual_entry_status", native_enum=False, length=16),
        default=ManualEntryStatus.pending)
    entered_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rejection_reason: Mapped[str | None] = mapped_column(String(500))

    entered_by = relationship("User", foreign_keys=[entered_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])


class Decision(enum.StrEnum):
    eligible = "eligible"
    ineligible = "ineligible"


class Assessment(db.Model):
    """One means test of one application. Immutable: a re-assessment is a new row.

    It keeps everything an auditor needs to redo the decision by hand: the pack version, the facts it saw and
    the trace (each rule with the values it saw and what it concluded).
    """

    __tablename__ = "assessment"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="initial")  # initial | recertification
    pack_id: Mapped[str] = mapped_column(String(16))
    pack_version: Mapped[str] = mapped_column(String(40))
    engine: Mapped[str] = mapped_column(String(16))  # durable_rules | pandas
    as_of: Mapped[date] = mapped_column(Date)
    decision: Mapped[Decision] = mapped_column(Enum(Decision, name="decision", native_enum=False, length=16))
    per_capita_income: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    monthly_total: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=0)
    reasons: Mapped[list] = mapped_column(JSON, default=list)  # [{"rule", "message"}] (English; pages re-word)
    programmes: Mapped[list] = mapped_column(JSON, default=list)  # [{"code", "monthly_amount", "months"}]
    facts: Mapped[dict] = mapped_column(JSON)
    trace: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    application = relationship("Application")
