"""Imported bank statements and the entries a finance officer must look at (nothing is dropped)."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import DateTime, ForeignKey, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db, string_enum
from webapp.timeutil import utcnow


class ExceptionKind(enum.StrEnum):
    unmatched = "unmatched"  # no payroll line of a sent payroll has this EndToEndId
    amount_mismatch = "amount_mismatch"  # the line exists but the bank reports another amount; line unchanged
    already_settled = "already_settled"  # the line already has a different outcome
    unclassified = "unclassified"  # a final booking that is not an outcome of our payments
    pending = "pending"  # not final yet: a later file must settle it


class StatementImport(db.Model):
    """One bank file imported once: its digest is unique, so the same bytes are never applied twice."""

    __tablename__ = "statement_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str | None] = mapped_column(String(255))
    message_id: Mapped[str | None] = mapped_column(String(140))
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    matched: Mapped[int] = mapped_column(Integer, default=0)
    paid: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    returned: Mapped[int] = mapped_column(Integer, default=0)
    unmatched: Mapped[int] = mapped_column(Integer, default=0)  # every exception, whatever its kind, except pending
    pending: Mapped[int] = mapped_column(Integer, default=0)

    imported_by = relationship("User")
    exceptions: Mapped[list[StatementException]] = relationship(back_populates="statement_import",
                                                                order_by="StatementException.id")

    # Not stored: set by `import_statement` when the same file was imported before.
    repeat = False

    def counts(self) -> dict[str, int]:
        return {"matched": self.matched, "paid": self.paid, "failed": self.failed, "returned": self.returned,
                "unmatched": self.unmatched, "pending": self.pending}


class StatementException(db.Model):
    """A statement entry that could not be applied to a payroll line, kept until a finance officer resolves it."""

    __tablename__ = "statement_exception"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("statement_import.id"), index=True)
    end_to_end_id: Mapped[str | None] = mapped_column(String(35), index=True)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))  # None: the file did not say
    currency: Mapped[str | None] = mapped_column(String(3))
    outcome: Mapped[str] = mapped_column(String(16))  # paid/failed/returned, or the bank's status when set aside
    reason_code: Mapped[str | None] = mapped_column(String(35))
    reason_text: Mapped[str | None] = mapped_column(String(500))
    source_line: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[ExceptionKind] = mapped_column(string_enum(ExceptionKind, "statement_exception_kind"))
    payroll_line_id: Mapped[int | None] = mapped_column(ForeignKey("payroll_line.id"))
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolution: Mapped[str | None] = mapped_column(String(500))

    statement_import: Mapped[StatementImport] = relationship(back_populates="exceptions")
    resolved_by = relationship("User")
