"""Frozen monthly returns: each computation of a month is kept as a new version beside the earlier ones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.timeutil import utcnow


class MonthlyReturn(db.Model):
    """One month's figures as computed once (modules/reporting/compute.py shape), never changed afterwards."""

    __tablename__ = "monthly_return"
    __table_args__ = (UniqueConstraint("period", "version", name="uq_monthly_return_period_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM
    version: Mapped[int] = mapped_column(Integer)  # 1, 2, … per period
    code_version: Mapped[str] = mapped_column(String(64))  # the git commit, else the package version
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    computed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    data: Mapped[dict] = mapped_column(JSON)
    reconciliation: Mapped[dict] = mapped_column(JSON)  # {"ok": bool, "differences": [...]}

    computed_by = relationship("User")

    def __repr__(self) -> str:
        return f"<MonthlyReturn {self.period} v{self.version}>"
