"""Sign-in with lock-out, staff accounts and API tokens. No commits here: the transaction boundary commits."""

from __future__ import annotations

import secrets
from datetime import UTC, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from sqlalchemy import func, select

from webapp import audit
from webapp.auth.passwords import MIN_LENGTH, hash_password, verify_password
from webapp.auth.permissions import PERMISSIONS
from webapp.auth.scope import user_covers_area
from webapp.boundary import Refusal
from webapp.extensions import db
from webapp.models import ApiToken, Area, Role, User, UserArea
from webapp.timeutil import utcnow


class SignInRefused(Refusal):
    """Sign-in failed; the message is safe to show (it never says whether the username exists). The refusal is
    itself a record: the failure count and its audit event are kept."""

    keep = True


def _aware(moment):
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)


def authenticate(username: str, password: str) -> User:
    user = db.session.scalar(select(User).where(func.lower(User.username) == username.strip().lower()))
    now = utcnow()
    locked_until = _aware(user.locked_until) if user else None
    if user and locked_until and locked_until > now:
        verify_password(None, password)
        audit.record("user.sign_in_refused_locked", "user", user.id, actor=user)
        raise SignInRefused(_l("Too many failed sign-ins. Try again after %(time)s UTC.",
                               time=f"{locked_until:%H:%M}"))
    if not user or not verify_password(user.password_hash, password) or not user.active:
        if user:
            _count_failure(user, now)
        raise SignInRefused(_l("Wrong username or password."))
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


# Roles whose work is not tied to a place (or that manage the system): they may have neither areas nor national scope.
SCOPE_FREE_ROLES = frozenset({Role.admin, Role.analyst, Role.auditor, Role.finance_maker, Role.finance_checker})


class UserInputError(Refusal):
    """A staff account change was refused; `errors` maps form field names to messages. Nothing was changed."""

    def __init__(self, errors: dict[str, list]):
        super().__init__(_l("The account was not saved: see the fields marked."), errors=errors)


class _Errors(dict):
    def add(self, key: str, message) -> None:
        self.setdefault(key, []).append(message)

    def raise_if_any(self) -> None:
        if self:
            raise UserInputError(dict(self))


def _check_password(password: str, errors: _Errors) -> None:
    if len(password) < MIN_LENGTH:
        errors.add("password", lazy_ngettext("A password needs at least %(num)d character.",
                                             "A password needs at least %(num)d characters.", MIN_LENGTH))


def _parse_role(role, errors: _Errors) -> Role | None:
    try:
        return Role(role)
    except ValueError:
        errors.add("role", _l("Choose a role."))
        return None


def _load_areas(area_codes, errors: _Errors) -> list[Area]:
    codes = sorted(set(area_codes))
    areas = db.session.scalars(select(Area).where(Area.code.in_(codes)).order_by(Area.code)).all() if codes else []
    missing = set(codes) - {area.code for area in areas}
    if missing:
        errors.add("areas", lazy_ngettext("Unknown area code: %(codes)s", "Unknown area codes: %(codes)s",
                                          len(missing), codes=", ".join(sorted(missing))))
    return areas


def _check_scope(role: Role | None, area_codes, national_scope: bool, errors: _Errors) -> None:
    if role is not None and role not in SCOPE_FREE_ROLES and not national_scope and not area_codes:
        errors.add("areas", _l("Choose at least one area or national scope: only administrators, analysts, "
                               "auditors and finance staff may work without either."))


def _check_actor_may_grant(actor, new_areas: list[Area], grants_national: bool, errors: _Errors) -> None:
    """Staff without national scope give only what they hold themselves: areas inside theirs, never national scope."""
    if actor is None or actor.national_scope:
        return
    if grants_national:
        errors.add("national_scope", _l("Only staff with national scope can give national scope."))
    outside = sorted(area.code for area in new_areas if not user_covers_area(actor, area.id))
    if outside:
        errors.add("areas", lazy_ngettext("This area is outside your own: %(codes)s",
                                          "These areas are outside your own: %(codes)s", len(outside),
                                          codes=", ".join(outside)))


def create_user(username: str, password: str, role: Role | str, full_name: str, area_codes=(),
                national_scope: bool = False, language: str = "uz", actor=None) -> User:
    """A new staff account; raises UserInputError (a refusal) naming each refused field."""
    errors = _Errors()
    _check_password(password, errors)
    if db.session.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
        errors.add("username", _l("The username %(name)s is taken.", name=username))
    role = _parse_role(role, errors)
    areas = _load_areas(area_codes, errors)
    _check_scope(role, area_codes, national_scope, errors)
    _check_actor_may_grant(actor, areas, national_scope, errors)
    errors.raise_if_any()
    user = User(username=username, password_hash=hash_password(password), role=role, full_name=full_name,
                national_scope=national_scope, language=language, failed_logins=0, active=True)
    user.scopes = [UserArea(area=area) for area in areas]
    db.session.add(user)
    db.session.flush()
    audit.record("user.created", "user", user.id,
                 {"username": user.username, "role": user.role.value, "areas": [area.code for area in areas],
                  "national_scope": national_scope}, actor=actor)
    return user


def update_user(user: User, actor, role: Role | str, area_codes=(), national_scope: bool = False,
                active: bool = True) -> dict:
    """Change a staff account's role, areas, national scope and active flag.

    Returns what changed ({} when nothing did) and audits it as `user.updated`. Refuses, with UserInputError,
    changes that would lock the acting admin out of managing users.
    """
    errors = _Errors()
    new_role = _parse_role(role, errors)
    areas = _load_areas(area_codes, errors)
    _check_scope(new_role, area_codes, national_scope, errors)
    current_codes = {area.code for area in user.areas}
    added = [area for area in areas if area.code not in current_codes]
    _check_actor_may_grant(actor, added, national_scope and not user.national_scope, errors)
    if actor is not None and actor.id == user.id:
        if not active:
            errors.add("active", _l("You cannot deactivate your own account."))
        if new_role is not None and new_role not in PERMISSIONS["user.manage"]:
            errors.add("role", _l("You cannot remove your own right to manage users; ask another administrator."))
    errors.raise_if_any()

    changes: dict = {}
    if new_role != user.role:
        changes["role"] = {"from": user.role.value, "to": new_role.value}
        user.role = new_role
    if bool(national_scope) != bool(user.national_scope):
        changes["national_scope"] = {"from": bool(user.national_scope), "to": bool(national_scope)}
        user.national_scope = bool(national_scope)
    if bool(active) != bool(user.active):
        changes["active"] = {"from": bool(user.active), "to": bool(active)}
        user.active = bool(active)
    new_codes = {area.code for area in areas}
    if new_codes != current_codes:
        changes["areas"] = {"added": sorted(new_codes - current_codes), "removed": sorted(current_codes - new_codes)}
        user.scopes = [scope for scope in user.scopes if scope.area.code in new_codes] + [
            UserArea(area=area) for area in added]
    if changes:
        db.session.flush()
        audit.record("user.updated", "user", user.id, {"username": user.username, **changes}, actor=actor)
    return changes


def is_locked(user: User, now=None) -> bool:
    locked_until = _aware(user.locked_until)
    return bool(locked_until and locked_until > (now or utcnow()))


def unlock_user(user: User, actor) -> bool:
    """Clear a lock-out and the failure count; False (and nothing audited) when there was nothing to clear."""
    if not user.failed_logins and user.locked_until is None:
        return False
    details = {"username": user.username, "failed_logins": user.failed_logins,
               "locked_until": _aware(user.locked_until).isoformat() if user.locked_until else None}
    user.failed_logins = 0
    user.locked_until = None
    db.session.flush()
    audit.record("user.unlocked", "user", user.id, details, actor=actor)
    return True


def reset_password(user: User, password: str, actor) -> None:
    """Set a new password chosen by an administrator. The audit event says that it changed, never what to."""
    errors = _Errors()
    _check_password(password, errors)
    errors.raise_if_any()
    user.password_hash = hash_password(password)
    db.session.flush()
    audit.record("user.password_reset", "user", user.id, {"username": user.username}, actor=actor)


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
