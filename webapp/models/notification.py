"""Messages to citizens (SMS notices): one `notification` row per message, whatever the gateway."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import DateTime, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.timeutil import utcnow


class NotificationStatus(enum.StrEnum):
    """queued → sending → sent → delivered | undelivered; failed when the gateway refused or attempts ran out."""

    queued = "queued"
    sending = "sending"
    sent = "sent"
    delivered = "delivered"
    undelivered = "undelivered"
    failed = "failed"

    @property
    def final(self) -> bool:
        return self in (NotificationStatus.delivered, NotificationStatus.undelivered, NotificationStatus.failed)


class Notification(db.Model):
    """One message. `dedupe_key` is unique so that one event (e.g. one decision) can never produce two SMS."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), default="sms")
    template: Mapped[str] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(8))
    to: Mapped[str] = mapped_column(String(20))  # E.164, e.g. +998901234567
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[NotificationStatus] = mapped_column(
        Enum(NotificationStatus, name="notification_status", native_enum=False, length=16),
        default=NotificationStatus.queued,
    )
    provider_id: Mapped[str | None] = mapped_column(String(64), unique=True)  # Twilio's SM… sid; NULLs may repeat
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    application = relationship("Application")

    @property
    def masked_to(self) -> str:
        """The number with all but its last 4 digits hidden: staff lists need to tell messages apart, not dial."""
        return "•" * max(len(self.to) - 4, 0) + self.to[-4:]
