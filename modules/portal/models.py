"""What the portal keeps of a citizen's sign-in: the one-time SMS codes asked for, each under an opaque ticket.

Nothing here holds a PIN, a phone number or a code in clear: each is an HMAC under SECRETS_KEY, so the rows can be
counted per PIN, phone and address (the limits) and a code checked, but a copy of the table reveals none of them.
A row is written for every request, whether or not the details matched a person, so the counts and the answers
are the same for a PIN that exists and one that does not.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.timeutil import utcnow


class CitizenSignInCode(db.Model):
    __tablename__ = "citizen_sign_in_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_digest: Mapped[str] = mapped_column(String(64), unique=True)  # the session holds the ticket itself
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)  # None: no match, no SMS
    pin_digest: Mapped[str] = mapped_column(String(64), index=True)
    phone_digest: Mapped[str] = mapped_column(String(64), index=True)
    code_digest: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
