"""Staff accounts, their role, their area scope and API tokens for machine clients."""

from __future__ import annotations

import enum
import hashlib
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, DateTime, Enum, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.encrypted import Encrypted
from webapp.timeutil import utcnow


class Role(enum.StrEnum):
    admin = "admin"
    registrar = "registrar"
    mahalla_worker = "mahalla_worker"
    social_worker = "social_worker"
    finance_maker = "finance_maker"
    finance_checker = "finance_checker"
    analyst = "analyst"
    auditor = "auditor"


class User(UserMixin, db.Model):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(Enum(Role, name="role", native_enum=False, length=32))
    # National scope (ministry staff, auditors): every area. Otherwise only the areas in `scopes` and below.
    national_scope: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str] = mapped_column(String(5), default="uz")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Authenticator (TOTP) for finance approvals; the last accepted time step, so a code is never accepted twice.
    # The secret is encrypted at rest under SECRETS_KEY (the ORM sees it clear).
    totp_secret: Mapped[str | None] = mapped_column(Encrypted(255))
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    # Part of the signed-in identity kept in session and remember-me cookies: raising it ends every open session
    # (sign-out, a new password, a changed role or area, deactivation).
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Wrong codes (or passwords on the authenticator page) counted in a window from the first; too many lock code
    # entry until totp_locked_until.
    totp_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    totp_failures_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    totp_locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    scopes: Mapped[list[UserArea]] = relationship(back_populates="user", cascade="all, delete-orphan")

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def areas(self):
        return [scope.area for scope in self.scopes]

    def get_id(self) -> str:
        """The identity Flask-Login keeps in the cookie; a cookie made before the version was raised no longer
        matches (see `session_identity`)."""
        return f"{self.id}:{self.session_version}"

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"


class UserArea(db.Model):
    __tablename__ = "user_area"
    __table_args__ = (UniqueConstraint("user_id", "area_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"), index=True)

    user: Mapped[User] = relationship(back_populates="scopes")
    area = relationship("Area")


class ApiToken(db.Model):
    """A bearer token for a machine client, for the API only; only its SHA-256 is stored. It stops working when
    it expires or is revoked."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()

    @staticmethod
    def hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()


class SignInAttempt(db.Model):
    """Failed sign-ins under names that belong to no account, counted like an account's own, so that a name
    that does not exist is locked out after the same number of failures and cannot be told apart."""

    __tablename__ = "sign_in_attempt"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
