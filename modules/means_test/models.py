"""Evidence behind every decision: one `data_pull` row per call to a source."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Date, DateTime, Enum, ForeignKey, Index, Integer, Numeric, String, Text
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

    person = relationship("Person")


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
