"""Evidence behind every decision: one `data_pull` row per call to a source (DESIGN §4)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, DateTime, Enum, ForeignKey, Index, Integer, String, Text
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
