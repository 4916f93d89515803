"""Authenticator (TOTP, RFC 6238) codes of staff accounts; finance checkers confirm approvals with them.

A code is accepted for the current 30-second step and one step either side (clock drift), and only once: the last
accepted step is stored per user and a code of that step or an earlier one is refused. The step is recorded with
a conditional UPDATE, so the same code presented twice at the same moment is accepted once.
"""

from __future__ import annotations

from datetime import datetime

import pyotp
from sqlalchemy import or_, update

from webapp import audit
from webapp.extensions import db
from webapp.models import User
from webapp.timeutil import utcnow

ISSUER = "SRSP"
VALID_WINDOW = 1


def _totp(user: User) -> pyotp.TOTP:
    if not user.totp_secret:
        raise ValueError(f"user {user.username} has no authenticator set up")
    return pyotp.TOTP(user.totp_secret)


def enable(user: User, actor=None) -> str:
    """Give `user` a new secret (replacing any old one) and return its provisioning URI for the QR code."""
    user.totp_secret = pyotp.random_base32()
    user.totp_last_step = None
    db.session.flush()
    audit.record("user.totp_enabled", "user", user.id, {}, actor=actor or user)
    return provisioning_uri(user)


def provisioning_uri(user: User) -> str:
    return _totp(user).provisioning_uri(name=user.username, issuer_name=ISSUER)


def verify(user: User, code: str | None, at: datetime | None = None) -> bool:
    """True once for a valid code; False for a wrong, expired or replayed code or a user without a secret."""
    if not user.totp_secret or not code:
        return False
    code = str(code).strip().replace(" ", "")
    totp = _totp(user)
    now = totp.timecode(at or utcnow())
    for step in range(now - VALID_WINDOW, now + VALID_WINDOW + 1):
        if pyotp.utils.strings_equal(code, totp.generate_otp(step)):
            return _consume(user, step)
    return False


def _consume(user: User, step: int) -> bool:
    """Record `step` as used unless it (or a later one) already was."""
    db.session.flush()
    result = db.session.execute(
        update(User).where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step).execution_options(synchronize_session=False))
    db.session.expire(user, ["totp_last_step"])
    return result.rowcount == 1
