"""Background jobs: the outbox of work committed with the state change that needs it, and its progress."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, DateTime, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.timeutil import utcnow


class JobStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    finished = "finished"
    failed = "failed"


class Job(db.Model):
    __tablename__ = "job"
    __table_args__ = (Index("ix_job_status_created_at", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(120))  # the registered task's name
    queue: Mapped[str] = mapped_column(String(40))
    title: Mapped[str | None] = mapped_column(String(200))  # only jobs with a title are shown on the jobs page
    status: Mapped[JobStatus] = mapped_column(
        Enum(JobStatus, name="job_status", native_enum=False, length=16), default=JobStatus.queued
    )
    progress: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(String(500))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(String(80), index=True)  # what it works on: "application:7"
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)  # one run per schedule slot
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=1)
    run_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dispatch_id: Mapped[str | None] = mapped_column(String(60))  # the rq job it was handed over as
    worker: Mapped[str | None] = mapped_column(String(120))  # host:pid running it
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    created_by = relationship("User")

    @property
    def done(self) -> bool:
        return self.status in (JobStatus.finished, JobStatus.failed)
