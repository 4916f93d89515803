"""Authenticator (TOTP, RFC 6238) codes of staff accounts; finance checkers confirm approvals with them.

A code is accepted for the current 30-second step and one step either side (clock drift), and only once: the last
accepted step is stored per user and a code of that step or an earlier one is refused, telling the user how long
until the next code. The step is recorded with a conditional UPDATE, so the same code presented twice at the same
moment is accepted once.

Wrong codes are counted on the user's row with one UPDATE … RETURNING (so parallel guesses all count): after
MAX_FAILURES in FAILURE_WINDOW, code entry is locked for LOCK_DURATION (an audited event), and while it is locked
even a right code is refused. The refusals that change the count keep it (`keep = True`): the request is refused,
the count is not rolled back with it. Secrets are encrypted at rest (webapp.models.encrypted); the ORM sees them
in clear.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pyotp
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from sqlalchemy import case, or_, select, update

from webapp import audit
from webapp.auth.passwords import verify_password
from webapp.auth.permissions import has_permission
from webapp.boundary import Refusal
from webapp.extensions import db
from webapp.models import User
from webapp.timeutil import utcnow

ISSUER = "SRSP"
VALID_WINDOW = 1
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
LOCK_DURATION = timedelta(minutes=15)


class AuthenticatorRefusal(Refusal):
    """A code or an authenticator change refused; the message says why in the reader's language."""


class CodeLocked(AuthenticatorRefusal):
    """Too many wrong codes: code entry is locked for a while. Raised with keep=True when this attempt set the lock
    (the count and the audited lock must outlive the refused request)."""


class CodeReused(AuthenticatorRefusal):
    """A right code of a step already used (a set-up confirmation, an approval a moment ago)."""


class WrongSecret(AuthenticatorRefusal):
    """A wrong password or code when setting up or replacing the authenticator; the failure count is kept."""

    keep = True


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite returns stored UTC timestamps without their zone."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _totp(user: User) -> pyotp.TOTP:
    if not user.totp_secret:
        raise ValueError(f"user {user.username} has no authenticator set up")
    return pyotp.TOTP(user.totp_secret)


def enable(user: User, actor=None) -> str:
    """Give `user` a new secret (replacing any old one) and return its provisioning URI for the QR code.

    No checks: the account page goes through `set_up`, which asks for the password (and a current code)."""
    user.totp_secret = pyotp.random_base32()
    user.totp_last_step = None
    db.session.flush()
    audit.record("user.totp_enabled", "user", user.id, {}, actor=actor or user)
    return provisioning_uri(user)


def confirmed(user: User) -> bool:
    """A code of the current secret was accepted once (`enable` clears the last used step)."""
    return bool(user.totp_secret) and user.totp_last_step is not None


def set_up(user: User, password: str | None, code: str | None = None, at: datetime | None = None) -> str:
    """Make a new key for `user` on their own request: their current password is required and, when an authenticator
    is already confirmed, a current code of it, so a borrowed session cannot move the second factor to another
    phone. Wrong answers count towards the lock like wrong codes. Returns the provisioning URI."""
    moment = at or utcnow()
    _refuse_while_locked(user, moment)
    if not verify_password(user.password_hash, password or ""):
        _count_failure(user, moment)
        raise WrongSecret(_l("The password is wrong; the authenticator was not changed."))
    if confirmed(user):
        if not (code or "").strip():
            raise AuthenticatorRefusal(_l("Enter a code from your current authenticator app to replace it; if you "
                                          "lost it, ask an administrator to reset it."))
        if not verify(user, code, moment):
            raise WrongSecret(_l("The code of your current authenticator is wrong; it was not changed."))
    return enable(user, actor=user)


def reset_authenticator(user: User, actor) -> None:
    """An administrator removes `user`'s authenticator (a lost phone) and lifts any lock on code entry; the user
    then sets up a new one with their password. Audited with the administrator as actor."""
    if not has_permission(actor, "user.manage"):
        raise AuthenticatorRefusal(_l("Only an administrator can reset an authenticator."))
    had = bool(user.totp_secret)
    user.totp_secret = None
    user.totp_last_step = None
    user.totp_failures = 0
    user.totp_failures_since = None
    user.totp_locked_until = None
    db.session.flush()
    audit.record("user.totp_reset", "user", user.id, {"had_authenticator": had}, actor=actor)


def provisioning_uri(user: User) -> str:
    return _totp(user).provisioning_uri(name=user.username, issuer_name=ISSUER)


def verify(user: User, code: str | None, at: datetime | None = None) -> bool:
    """True once for a valid code; False for a wrong or expired code or a user without a secret (a wrong code is
    counted). Raises CodeLocked while code entry is locked (or when this wrong code locks it) and CodeReused for a
    right code already used."""
    if not user.totp_secret or not code:
        return False
    moment = at or utcnow()
    _refuse_while_locked(user, moment)
    code = str(code).strip().replace(" ", "")
    totp = _totp(user)
    now = totp.timecode(moment)
    for step in range(now - VALID_WINDOW, now + VALID_WINDOW + 1):
        if pyotp.utils.strings_equal(code, totp.generate_otp(step)):
            if _consume(user, step):
                return True
            raise CodeReused(_wait_for_next_code(user, totp, moment))
    _count_failure(user, moment)
    return False


def _consume(user: User, step: int) -> bool:
    """Record `step` as used unless it (or a later one) already was; a right code clears the wrong-code count."""
    db.session.flush()
    result = db.session.execute(
        update(User).where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step, totp_failures=0, totp_failures_since=None)
        .execution_options(synchronize_session=False))
    db.session.expire(user, ["totp_last_step", "totp_failures", "totp_failures_since"])
    return result.rowcount == 1


def _wait_for_next_code(user: User, totp: pyotp.TOTP, moment: datetime):
    """The refusal of a used code: the next one appears when the step after the last used one starts."""
    last_step = db.session.scalar(select(User.totp_last_step).where(User.id == user.id))
    seconds = max(1, math.ceil((last_step + 1) * totp.interval - moment.timestamp()))
    return lazy_ngettext("This code was already used. Wait for the next code in your app: it comes in %(num)d "
                         "second.",
                         "This code was already used. Wait for the next code in your app: it comes in %(num)d "
                         "seconds.", seconds)


# --- wrong codes and the lock -----------------------------------------------------------------------------------


def locked_for(user: User, at: datetime | None = None) -> timedelta | None:
    """How much longer code entry stays locked for `user` (read from the database, not the session), or None."""
    moment = at or utcnow()
    until = _aware(db.session.scalar(select(User.totp_locked_until).where(User.id == user.id)))
    return until - moment if until is not None and until > moment else None


def _minutes(remaining: timedelta) -> int:
    return max(1, math.ceil(remaining.total_seconds() / 60))


def _refuse_while_locked(user: User, moment: datetime) -> None:
    remaining = locked_for(user, moment)
    if remaining is not None:
        raise CodeLocked(lazy_ngettext(
            "Too many wrong authenticator codes: code entry is locked. Try again in %(num)d minute.",
            "Too many wrong authenticator codes: code entry is locked. Try again in %(num)d minutes.",
            _minutes(remaining)))


def _count_failure(user: User, moment: datetime) -> int:
    """Add one wrong attempt in one UPDATE … RETURNING (a count older than the window starts again at 1); at
    MAX_FAILURES lock code entry, audit it and raise CodeLocked with keep=True."""
    db.session.flush()
    fresh = or_(User.totp_failures_since.is_(None), User.totp_failures_since < moment - FAILURE_WINDOW)
    failures = db.session.execute(
        update(User).where(User.id == user.id)
        .values(totp_failures=case((fresh, 1), else_=User.totp_failures + 1),
                totp_failures_since=case((fresh, moment), else_=User.totp_failures_since))
        .returning(User.totp_failures).execution_options(synchronize_session=False)).scalar_one()
    db.session.expire(user, ["totp_failures", "totp_failures_since"])
    if failures < MAX_FAILURES:
        return failures
    until = moment + LOCK_DURATION
    db.session.execute(update(User).where(User.id == user.id)
                       .values(totp_locked_until=until, totp_failures=0, totp_failures_since=None)
                       .execution_options(synchronize_session=False))
    db.session.expire(user, ["totp_locked_until", "totp_failures", "totp_failures_since"])
    audit.record("user.totp_locked", "user", user.id, {"failures": failures, "locked_until": until.isoformat()},
                 actor=user)
    raise CodeLocked(lazy_ngettext(
        "Too many wrong attempts: authenticator code entry is now locked for %(num)d minute.",
        "Too many wrong attempts: authenticator code entry is now locked for %(num)d minutes.",
        _minutes(LOCK_DURATION)), keep=True)
