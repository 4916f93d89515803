"""A reader's saved ad hoc reports: a name and the report's definition, to run again with today's figures."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.timeutil import utcnow

NAME_MAX = 120


class SavedReport(db.Model):
    """One saved report of one user; saving again under the same name replaces its definition.

    `definition` is what schemas.ReportArgs reads back: {"indicators": [...], "rows": ..., "columns": ...,
    "first": "YYYY-MM", "last": "YYYY-MM", "filters": {dimension: [codes]}}."""

    __tablename__ = "saved_report"
    __table_args__ = (UniqueConstraint("owner_id", "name", name="uq_saved_report_owner_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    owner_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    definition: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def __repr__(self) -> str:
        return f"<SavedReport {self.id} {self.name!r}>"
