"""Frozen monthly returns, each computation of a month kept as a new version beside the earlier ones; the summary
the dashboards and ad hoc reports read, rebuilt month by month."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
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


class SummaryRow(db.Model):
    """One cell of the month's reporting summary: an indicator's value for one combination of its dimensions.

    Rebuilt whole for a month by modules/reporting/summary.py (never updated row by row). A dimension an indicator
    does not break down by is NULL. People and households have rows with no programme as well: a person in two
    programmes is one person there, so totals over programmes read those rows rather than adding programmes up."""

    __tablename__ = "report_summary"
    __table_args__ = (Index("ix_report_summary_period_indicator", "period", "indicator"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    period: Mapped[str] = mapped_column(String(7))
    indicator: Mapped[str] = mapped_column(String(48))
    programme: Mapped[str | None] = mapped_column(String(64))  # the programme's code
    region: Mapped[str | None] = mapped_column(String(32))  # area codes
    district: Mapped[str | None] = mapped_column(String(32))
    sex: Mapped[str | None] = mapped_column(String(1))
    age_band: Mapped[str | None] = mapped_column(String(8))
    household_size: Mapped[int | None] = mapped_column(Integer)  # 6 stands for 6 or more
    reason: Mapped[str | None] = mapped_column(String(64))  # why people entered or left, a case's kind, a rule
    value: Mapped[Decimal] = mapped_column(Numeric(18, 2))


class SummaryMonth(db.Model):
    """When a month's summary was last rebuilt, and how many rows it holds."""

    __tablename__ = "report_summary_month"

    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    refreshed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    rows: Mapped[int] = mapped_column(Integer, default=0)


class SummaryMark(db.Model):
    """A change that makes months' summaries out of date: written by whatever changed the figures (a decision, a
    payroll, a bank statement), read and deleted by the refresh. Only ever inserted, so the many transactions that
    write marks never wait for each other."""

    __tablename__ = "report_summary_mark"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    first_period: Mapped[str] = mapped_column(String(7))
    last_period: Mapped[str] = mapped_column(String(7))
    marked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
