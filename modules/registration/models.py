"""Persons, households, members and applications."""

from __future__ import annotations

import enum
import re
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db, string_enum
from webapp.models import Area, Programme
from webapp.timeutil import utcnow


class Sex(enum.StrEnum):
    M = "M"
    F = "F"


class Relation(enum.StrEnum):
    head = "head"
    spouse = "spouse"
    child = "child"
    parent = "parent"
    other = "other"


class Channel(enum.StrEnum):
    office = "office"
    mahalla = "mahalla"
    single_window = "single_window"
    portal = "portal"


class Purpose(enum.StrEnum):
    claim = "claim"  # a household asks for benefits
    change = "change"  # a worker re-assesses a household whose circumstances changed
    appeal = "appeal"  # a reviewer takes an appealed decision again, as of the original application's date


CLAIM_IN_MONTH = "status <> 'withdrawn' AND purpose = 'claim'"


class ApplicationStatus(enum.StrEnum):
    draft = "draft"
    submitted = "submitted"
    collecting = "collecting"
    collected = "collected"
    manual_verification = "manual_verification"
    assessed = "assessed"
    decided = "decided"
    withdrawn = "withdrawn"



class Person(db.Model):
    """A copy of the population register's record, refreshed by the connectors."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    pin: Mapped[str] = mapped_column(String(20), unique=True)
    last_name: Mapped[str] = mapped_column(String(80))
    first_name: Mapped[str] = mapped_column(String(80))
    patronymic: Mapped[str | None] = mapped_column(String(80))
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[Sex] = mapped_column(string_enum(Sex, "sex"))
    phone: Mapped[str | None] = mapped_column(String(20))
    death_date: Mapped[date | None] = mapped_column(Date)
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"), index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    area: Mapped[Area] = relationship()

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.last_name, self.first_name, self.patronymic) if part)


class Household(db.Model):
    __tablename__ = "household"

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"), index=True)
    address: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    area: Mapped[Area] = relationship()
    members: Mapped[list[HouseholdMember]] = relationship(
        primaryjoin="and_(Household.id == HouseholdMember.household_id, "
        "HouseholdMember.left_at.is_(None))", viewonly=True
    )


class HouseholdMember(db.Model):
    __tablename__ = "household_member"
    __table_args__ = (
        # A person belongs to one household at a time.
        Index("uq_household_member_current_person", "person_id", unique=True,
              sqlite_where=text("left_at IS NULL"), postgresql_where=text("left_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    relation: Mapped[Relation] = mapped_column(string_enum(Relation, "relation"))
    joined_at: Mapped[date] = mapped_column(Date, default=date.today)
    left_at: Mapped[date | None] = mapped_column(Date)

    household: Mapped[Household] = relationship()
    person: Mapped[Person] = relationship()


application_programme = Table(
    "application_programme",
    db.metadata,
    Column("application_id", ForeignKey("application.id", ondelete="CASCADE"), primary_key=True),
    Column("programme_id", ForeignKey("programme.id"), primary_key=True),
)


class Application(db.Model):
    __tablename__ = "application"
    __table_args__ = (
        # One open application per household, and at most one (not withdrawn) per calendar month:
        # enforced by the database so that two registrars typing at once cannot both succeed.
        Index("uq_application_open_household", "household_id", unique=True,
              sqlite_where=text("is_open"), postgresql_where=text("is_open")),
        # Re-assessments a case starts (a change of circumstances, an appeal) are applications too, outside that rule.
        Index("uq_application_household_month", "household_id", "period", unique=True,
              sqlite_where=text(CLAIM_IN_MONTH), postgresql_where=text(CLAIM_IN_MONTH)),
        Index("ix_application_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"), index=True)
    phone: Mapped[str] = mapped_column(String(20))
    # The language of the notices the applicant receives by SMS (uz, ru, en; kg where the country is kg).
    language: Mapped[str] = mapped_column(String(8), default="uz", server_default="uz")
    channel: Mapped[Channel] = mapped_column(string_enum(Channel, "channel"))
    status: Mapped[ApplicationStatus] = mapped_column(string_enum(ApplicationStatus, "application_status", 24))
    # Kept in step with `status` by the status machine; exists so the database can index "open".
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    period: Mapped[str] = mapped_column(String(7))  # calendar month of the application, "YYYY-MM"
    purpose: Mapped[Purpose] = mapped_column(string_enum(Purpose, "application_purpose"), default=Purpose.claim,
                                             server_default=Purpose.claim.value)
    # The day the data is collected and the rules applied as of, when it is not the day of submission (an appeal).
    as_of: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[date | None] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    household: Mapped[Household] = relationship()
    applicant: Mapped[Person] = relationship()
    area: Mapped[Area] = relationship()
    programmes: Mapped[list[Programme]] = relationship(secondary=application_programme, order_by=Programme.id)
    members: Mapped[list[ApplicationMember]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="ApplicationMember.id"
    )
    events: Mapped[list[ApplicationEvent]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="ApplicationEvent.id"
    )
    created_by = relationship("User")

    @property
    def reference(self) -> str:
        return f"A-{self.period.replace('-', '')}-{self.id:06d}"

    @staticmethod
    def id_from_reference(typed: str) -> int | None:
        """The id in a reference as staff read it (A-202612-000123) or in a bare number; None when it is neither."""
        match = _REFERENCE.fullmatch(typed.strip())
        return int(match.group(1)) if match else None

    def is_overdue(self, today: date) -> bool:
        return self.is_open and self.due_at is not None and self.due_at < today


_REFERENCE = re.compile(r"(?:A-\d{6}-)?0*(\d{1,9})", re.IGNORECASE)


class ApplicationMember(db.Model):
    """The family as declared on this application; `is_open` mirrors the application's for the unique index."""

    __tablename__ = "application_member"
    __table_args__ = (
        # A person cannot be in two open applications.
        Index("uq_application_member_open_person", "person_id", unique=True,
              sqlite_where=text("is_open"), postgresql_where=text("is_open")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    relation: Mapped[Relation] = mapped_column(string_enum(Relation, "relation"))
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)

    application: Mapped[Application] = relationship(back_populates="members")
    person: Mapped[Person] = relationship()


class ApplicationEvent(db.Model):
    """The application's timeline: every status change, with who made it and why."""

    __tablename__ = "application_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    note: Mapped[str | None] = mapped_column(Text)

    application: Mapped[Application] = relationship(back_populates="events")
    actor = relationship("User")
