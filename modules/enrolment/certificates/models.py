"""Low-income certificates (`certificate`) and the issuer's signing keys (`certificate_key`)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.encrypted import Encrypted
from webapp.timeutil import utcnow


class CertificateKey(db.Model):
    """An Ed25519 key the certificates are signed with. The private half is encrypted under SECRETS_KEY; a retired
    key signs nothing more, but its public half stays in the published key set so what it signed still verifies."""

    __tablename__ = "certificate_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    public_jwk: Mapped[dict] = mapped_column(JSON)
    private_key: Mapped[str] = mapped_column(Encrypted(400))  # PKCS#8 PEM, as a Fernet token at rest
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Certificate(db.Model):
    """One issued certificate: what its credential says, and whether it was revoked (and why).

    `status_index` is the certificate's position in the published revocation status list (one global sequence,
    split into lists of status_list.LIST_SIZE); the serial's number is that index plus one."""

    __tablename__ = "certificate"

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(String(32), unique=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    head_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    programmes: Mapped[list] = mapped_column(JSON)  # [{"code", "name": {"uz", "ru"}}]
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    status_index: Mapped[int] = mapped_column(Integer, unique=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revocation_reason: Mapped[str | None] = mapped_column(String(32))
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("certificate.id"))
    kid: Mapped[str] = mapped_column(String(64))
    credential: Mapped[str] = mapped_column(Text)  # the compact JWS the QR code carries
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    head = relationship("Person")
    household = relationship("Household")
