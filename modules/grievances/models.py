"""Cases (enquiries, updates of circumstances, alerts, grievances, appeals) and their timelines."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db, string_enum
from webapp.models import Area, User
from webapp.timeutil import utcnow


class CaseKind(enum.StrEnum):
    enquiry = "enquiry"
    update = "update"
    alert = "alert"
    grievance = "grievance"
    appeal = "appeal"


class CaseChannel(enum.StrEnum):
    office = "office"
    mahalla = "mahalla"
    phone = "phone"
    sms = "sms"
    portal = "portal"
    api = "api"
    event = "event"  # raised by an event or a scan (modules/grievances/alerts.py), not brought by anyone


class CaseStatus(enum.StrEnum):
    new = "new"
    assigned = "assigned"
    in_progress = "in_progress"
    waiting_citizen = "waiting_citizen"
    waiting_other = "waiting_other"
    resolved = "resolved"
    closed = "closed"


class CaseDecision(enum.StrEnum):
    upheld = "upheld"
    partially_upheld = "partially_upheld"
    rejected = "rejected"
    withdrawn = "withdrawn"
    redirected = "redirected"
    referred = "referred"


class CaseEventKind(enum.StrEnum):
    note = "note"
    confidential_note = "confidential_note"
    call = "call"
    visit = "visit"
    document = "document"
    sms = "sms"
    status_change = "status_change"
    assignment = "assignment"
    escalation = "escalation"


OPEN_STATUSES = frozenset({CaseStatus.new, CaseStatus.assigned, CaseStatus.in_progress, CaseStatus.waiting_citizen,
                           CaseStatus.waiting_other})


class Case(db.Model):
    """One matter a citizen or an event brought to the social protection staff, with its own tracking number."""

    __tablename__ = "case"
    __table_args__ = (
        Index("ix_case_assignee_status", "assignee_id", "status"),
        Index("ix_case_area_status", "area_id", "status"),
        Index("ix_case_due_date", "due_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tracking_number: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[CaseKind] = mapped_column(string_enum(CaseKind, "case_kind"))
    category_code: Mapped[str] = mapped_column(String(60))
    channel: Mapped[CaseChannel] = mapped_column(string_enum(CaseChannel, "case_channel"))
    status: Mapped[CaseStatus] = mapped_column(string_enum(CaseStatus, "case_status", 20))
    priority: Mapped[int] = mapped_column(Integer, default=2)  # 1 high, 2 normal, 3 low
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("application.id"), index=True)
    enrolment_id: Mapped[int | None] = mapped_column(ForeignKey("enrolment.id"), index=True)
    payroll_line_id: Mapped[int | None] = mapped_column(ForeignKey("payroll_line.id"), index=True)
    complainant_name: Mapped[str | None] = mapped_column(String(200))
    complainant_phone: Mapped[str | None] = mapped_column(String(20))
    # The language the citizen is written to in (uz, ru, en).
    language: Mapped[str] = mapped_column(String(8), default="uz", server_default="uz")
    description: Mapped[str] = mapped_column(Text)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    due_date: Mapped[date] = mapped_column(Date)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    escalated_to_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decision: Mapped[CaseDecision | None] = mapped_column(string_enum(CaseDecision, "case_decision", 20))
    resolution: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The event an alert was raised for ("<alert rule>:<object>:<id>"): one alert per event, however often it arrives.
    source_key: Mapped[str | None] = mapped_column(String(120), unique=True, index=True)

    area: Mapped[Area] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    escalated_to: Mapped[User | None] = relationship(foreign_keys=[escalated_to_id])
    events: Mapped[list[CaseEvent]] = relationship(back_populates="case", order_by="CaseEvent.id",
                                                   cascade="all, delete-orphan")

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class CaseEvent(db.Model):
    """One entry of a case's timeline; `public` entries are what the citizen sees through the API."""

    __tablename__ = "case_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    kind: Mapped[CaseEventKind] = mapped_column(string_enum(CaseEventKind, "case_event_kind", 20))
    text: Mapped[str | None] = mapped_column(Text)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    public: Mapped[bool] = mapped_column(Boolean, default=False)

    case: Mapped[Case] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


class HouseholdVisit(db.Model):
    """A worker's visit to a household: who was met, what was found, which facts were confirmed or contradicted
    (`facts`: [{"fact", "confirmed", "note"}]), and an optional photo or document (PDF, JPEG or PNG, stored with the
    row like the scans of records entered by hand)."""

    __tablename__ = "household_visit"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id", ondelete="SET NULL"), index=True)
    visited_on: Mapped[date] = mapped_column(Date)
    visitor_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    met: Mapped[str] = mapped_column(String(200))
    findings: Mapped[str] = mapped_column(Text)
    facts: Mapped[list] = mapped_column(JSON, default=list)
    attachment_name: Mapped[str | None] = mapped_column(String(200))
    attachment_mime: Mapped[str | None] = mapped_column(String(40))
    attachment_content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    visitor: Mapped[User] = relationship()


class ReassessmentPurpose(enum.StrEnum):
    change = "change"  # an update of circumstances: the household changed, its benefit follows
    appeal = "appeal"  # an appeal against a decision: the decision is taken again, as of its original date


class ReassessmentStatus(enum.StrEnum):
    collecting = "collecting"  # the registries are being asked for the data of the affected members
    assessed = "assessed"  # the new assessment waits for the worker to confirm what follows from it
    confirmed = "confirmed"
    discarded = "discarded"


class ReassessmentOutcome(enum.StrEnum):
    recalculated = "recalculated"  # a change: the enrolments follow the new assessment
    stands = "stands"  # an appeal: the original decision stands
    overturned = "overturned"  # an appeal: the refusal is reversed, the household enrolled with the months missed


OPEN_REASSESSMENT = (ReassessmentStatus.collecting.value, ReassessmentStatus.assessed.value)


class Reassessment(db.Model):
    """A household assessed again from a case: what changed (`changes`: [{"kind", "pin", "relation", "date"}]),
    the re-assessment application that collected the data, the assessment before and after, and what the worker
    confirmed. Nothing follows for the enrolments until a person confirms it."""

    __tablename__ = "reassessment"
    __table_args__ = (
        # One re-assessment in progress per case: two workers cannot start two at once.
        Index("uq_reassessment_open_case", "case_id", unique=True,
              sqlite_where=text("status IN ('collecting', 'assessed')"),
              postgresql_where=text("status IN ('collecting', 'assessed')")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    purpose: Mapped[ReassessmentPurpose] = mapped_column(string_enum(ReassessmentPurpose, "reassessment_purpose"))
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    previous_assessment_id: Mapped[int | None] = mapped_column(ForeignKey("assessment.id"))
    application_id: Mapped[int | None] = mapped_column(ForeignKey("application.id"), index=True)
    changes: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[ReassessmentStatus] = mapped_column(string_enum(ReassessmentStatus, "reassessment_status"))
    outcome: Mapped[ReassessmentOutcome | None] = mapped_column(string_enum(ReassessmentOutcome,
                                                                            "reassessment_outcome"))
    refreshed: Mapped[bool] = mapped_column(Boolean, default=False)  # registry data pulled again for everyone
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    case: Mapped[Case] = relationship()
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    confirmed_by: Mapped[User | None] = relationship(foreign_keys=[confirmed_by_id])
