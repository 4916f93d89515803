"""Sign-in with lock-out, staff accounts and API tokens. No commits here: the caller commits."""

from __future__ import annotations

import secrets
from datetime import UTC, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from webapp import audit
from webapp.auth.passwords import MIN_LENGTH, hash_password, verify_password
from webapp.extensions import db
from webapp.models import ApiToken, Area, Role, User, UserArea
from webapp.timeutil import utcnow


class SignInRefused(Exception):
    """Sign-in failed; the message is safe to show (it never says whether the username exists)."""


def _aware(moment):
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)


def authenticate(username: str, password: str) -> User:
    user = db.session.scalar(select(User).where(func.lower(User.username) == username.strip().lower()))
    now = utcnow()
    locked_until = _aware(user.locked_until) if user else None
    if user and locked_until and locked_until > now:
        verify_password(None, password)
        audit.record("user.sign_in_refused_locked", "user", user.id, actor=user)
        raise SignInRefused(_("Too many failed sign-ins. Try again after %(time)s UTC.",
                              time=f"{locked_until:%H:%M}"))
    if not user or not verify_password(user.password_hash, password) or not user.active:
        if user:
            _count_failure(user, now)
        raise SignInRefused(_("Wrong username or password."))
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    audit.record("user.signed_in", "user", user.id, actor=user)
    return user


def _count_failure(user: User, now) -> None:
    config = current_app.config
    user.failed_logins += 1
    details = {"failures": user.failed_logins}
    if user.failed_logins >= config["LOGIN_MAX_FAILURES"]:
        user.locked_until = now + timedelta(minutes=config["LOGIN_LOCKOUT_MINUTES"])
        user.failed_logins = 0
        details["locked_until"] = user.locked_until.isoformat()
    audit.record("user.sign_in_failed", "user", user.id, details, actor=user)


def create_user(username: str, password: str, role: Role | str, full_name: str, area_codes=(),
                national_scope: bool = False, language: str = "uz", actor=None) -> User:
    if len(password) < MIN_LENGTH:
        raise ValueError(_("A password needs at least %(n)d characters.", n=MIN_LENGTH))
    if db.session.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
        raise ValueError(_("The username %(name)s is taken.", name=username))
    areas = db.session.scalars(select(Area).where(Area.code.in_(list(area_codes)))).all()
    missing = set(area_codes) - {area.code for area in areas}
    if missing:
        raise ValueError(_("Unknown area codes: %(codes)s", codes=", ".join(sorted(missing))))
    user = User(username=username, password_hash=hash_password(password), role=Role(role), full_name=full_name,
                national_scope=national_scope, language=language, failed_logins=0, active=True)
    user.scopes = [UserArea(area=area) for area in areas]
    db.session.add(user)
    db.session.flush()
    audit.record("user.created", "user", user.id, {"role": user.role.value, "areas": sorted(area_codes)}, actor=actor)
    return user


def issue_token(user: User, name: str, actor=None) -> str:
    """Create an API token for a machine client and return it; only its hash is kept."""
    token = "srsp_" + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, name=name, token_hash=ApiToken.hash(token)))
    db.session.flush()
    audit.record("api_token.issued", "user", user.id, {"name": name}, actor=actor)
    return token


def user_for_token(token: str) -> User | None:
    api_token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == ApiToken.hash(token),
                                                         ApiToken.revoked_at.is_(None)))
    if api_token is None or not api_token.user.active:
        return None
    return api_token.user
