"""Sign-in with lock-out, staff accounts and API tokens. No commits here: the transaction boundary commits."""

from __future__ import annotations

import secrets
from datetime import UTC, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from webapp import audit
from webapp.auth.passwords import MIN_LENGTH, hash_password, verify_password
from webapp.auth.permissions import PERMISSIONS
from webapp.auth.scope import user_covers_area
from webapp.boundary import Refusal
from webapp.extensions import db
from webapp.models import ApiToken, Area, Role, User, UserArea
from webapp.models.user import SignInAttempt
from webapp.timeutil import local_time, utcnow


class SignInRefused(Refusal):
    """Sign-in failed; the message is safe to show (it never says whether the username exists). The refusal is
    itself a record: the failure count and its audit event are kept."""

    keep = True


def _aware(moment):
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)


def _name_key(username: str) -> str:
    return username.strip().lower()


def authenticate(username: str, password: str) -> User:
    """The account for a username and password, or SignInRefused.

    The attempt is counted before the password is checked, with one atomic UPDATE whose returned count decides:
    parallel guesses each get their own number, so no more than LOGIN_MAX_FAILURES passwords are ever checked
    before the lock-out. Names of no account are counted the same way (in `sign_in_attempt`) and answer the same
    messages after the same number of failures, so the answers never tell whether an account exists.
    """
    name = _name_key(username)
    user = db.session.scalar(select(User).where(func.lower(User.username) == name))
    now = utcnow()
    limit = current_app.config["LOGIN_MAX_FAILURES"]
    counter = _UserCounter(user) if user is not None else _NameCounter(name)
    attempt, locked_until = counter.count(now)
    if locked_until is None and attempt > limit:  # the guess that reached the limit is still being checked
        locked_until = counter.lock(now)
    if locked_until is not None:
        verify_password(None, password)  # a refusal costs the same time as a check
        if user is not None:
            audit.record("user.sign_in_refused_locked", "user", user.id, actor=user)
        raise SignInRefused(_locked_message(locked_until))
    right = verify_password(user.password_hash if user is not None else None, password)
    if user is None or not right or not user.active:
        details = {"failures": attempt}
        if attempt >= limit:
            details["locked_until"] = counter.lock(now).isoformat()
        if user is not None:
            audit.record("user.sign_in_failed", "user", user.id, details, actor=user)
        raise SignInRefused(_l("Wrong username or password."))
    counter.clear()
    user.last_login_at = now
    audit.record("user.signed_in", "user", user.id, actor=user)
    return user


def _locked_message(locked_until):
    return _l("Too many failed sign-ins. Try again after %(time)s.", time=f"{local_time(locked_until):%H:%M}")


def _lock_minutes() -> timedelta:
    return timedelta(minutes=current_app.config["LOGIN_LOCKOUT_MINUTES"])


class _UserCounter:
    """Failed sign-ins of an account: `failed_logins` and `locked_until` on its row."""

    def __init__(self, user: User):
        self.user = user

    def count(self, now):
        """(this attempt's number, the end of a lock-out in force or None), in one statement."""
        locked = and_(User.locked_until.is_not(None), User.locked_until > now)
        row = db.session.execute(
            update(User).where(User.id == self.user.id)
            .values(failed_logins=case((locked, User.failed_logins), else_=User.failed_logins + 1))
            .returning(User.failed_logins, User.locked_until, locked)
            .execution_options(synchronize_session=False)).one()
        self._refresh()
        return row[0], _aware(row[1]) if row[2] else None

    def lock(self, now):
        """Lock the account (unless a lock is already in force) and return when the lock ends."""
        db.session.execute(
            update(User).where(User.id == self.user.id, or_(User.locked_until.is_(None), User.locked_until <= now))
            .values(locked_until=now + _lock_minutes(), failed_logins=0)
            .execution_options(synchronize_session=False))
        self._refresh()
        return _aware(self.user.locked_until)

    def clear(self) -> None:
        db.session.execute(update(User).where(User.id == self.user.id).values(failed_logins=0, locked_until=None)
                           .execution_options(synchronize_session=False))
        self._refresh()

    def _refresh(self) -> None:
        db.session.expire(self.user, ["failed_logins", "locked_until"])


class _NameCounter:
    """Failed sign-ins under a name of no account (kept a day after the last failure)."""

    def __init__(self, name: str):
        self.name = name[:100]

    def count(self, now):
        db.session.execute(delete(SignInAttempt).where(SignInAttempt.last_failed_at < now - timedelta(days=1),
                                                       SignInAttempt.name != self.name))
        table = SignInAttempt.__table__
        insert = (postgresql_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert)(table)
        stored = table.c  # in ON CONFLICT DO UPDATE the table's columns are the row already stored
        locked = and_(stored.locked_until.is_not(None), stored.locked_until > now)
        statement = insert.values(name=self.name, failures=1, last_failed_at=now).on_conflict_do_update(
            index_elements=[stored.name],
            set_={"failures": case((locked, stored.failures), else_=stored.failures + 1), "last_failed_at": now},
        ).returning(table.c.failures, table.c.locked_until)
        failures, locked_until = db.session.execute(statement).one()
        locked_until = _aware(locked_until)
        return failures, locked_until if locked_until is not None and locked_until > now else None

    def lock(self, now):
        table = SignInAttempt.__table__
        db.session.execute(update(table).where(table.c.name == self.name, or_(table.c.locked_until.is_(None),
                                                                              table.c.locked_until <= now))
                           .values(locked_until=now + _lock_minutes(), failures=0))
        return _aware(db.session.scalar(select(table.c.locked_until).where(table.c.name == self.name)))

    def clear(self) -> None:  # a name of no account never signs in
        pass


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
        end_sessions(user)  # what they may see changed: they sign in again under the new rights
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
    end_sessions(user)
    audit.record("user.password_reset", "user", user.id, {"username": user.username}, actor=actor)


def issue_token(user: User, name: str, actor=None, days: int | None = None) -> str:
    """Create an API token for a machine client and return it; only its hash is kept. It opens the API only and
    expires after `days` (API_TOKEN_DAYS unless given)."""
    token = "srsp_" + secrets.token_urlsafe(32)
    now = utcnow()
    expires_at = now + timedelta(days=days or current_app.config["API_TOKEN_DAYS"])
    db.session.add(ApiToken(user_id=user.id, name=name, token_hash=ApiToken.hash(token), created_at=now,
                            expires_at=expires_at))
    db.session.flush()
    audit.record("api_token.issued", "user", user.id, {"name": name, "expires_at": expires_at.isoformat()},
                 actor=actor)
    return token


# A token's last use is written at most this often: a busy client must not turn every read into a write.
LAST_USE_PRECISION = timedelta(minutes=1)


def user_for_token(token: str) -> User | None:
    """The user of a live token (not revoked, not expired, its user active), recording when it was last used."""
    now = utcnow()
    api_token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == ApiToken.hash(token),
                                                         ApiToken.revoked_at.is_(None), ApiToken.expires_at > now))
    if api_token is None or not api_token.user.active:
        return None
    last_used = _aware(api_token.last_used_at)
    if last_used is None or last_used <= now - LAST_USE_PRECISION:
        # Conditional, so parallel requests with one token write it once.
        db.session.execute(update(ApiToken).where(ApiToken.id == api_token.id, or_(
            ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - LAST_USE_PRECISION))
            .values(last_used_at=now).execution_options(synchronize_session=False))
        db.session.expire(api_token, ["last_used_at"])
    return api_token.user


def tokens_of(user: User) -> list[ApiToken]:
    """A user's API tokens, newest first (revoked and expired ones too: they are the record of what existed)."""
    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                   .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def token_state(api_token: ApiToken, now=None) -> str:
    """"revoked", "expired" or "active"."""
    if api_token.revoked_at is not None:
        return "revoked"
    return "expired" if _aware(api_token.expires_at) <= (now or utcnow()) else "active"


def revoke_token(api_token: ApiToken, actor=None) -> bool:
    """Stop a token from working; False (and nothing audited) when it was already revoked."""
    if api_token.revoked_at is not None:
        return False
    api_token.revoked_at = utcnow()
    db.session.flush()
    audit.record("api_token.revoked", "user", api_token.user_id, {"name": api_token.name, "token": api_token.id},
                 actor=actor)
    return True


# --- sessions ---------------------------------------------------------------------------------------------------


def end_sessions(user: User) -> None:
    """End every open session of `user` (on every device): the identity in their cookies no longer matches."""
    db.session.execute(update(User).where(User.id == user.id).values(session_version=User.session_version + 1)
                       .execution_options(synchronize_session=False))
    db.session.expire(user, ["session_version"])


def sign_out(user: User) -> None:
    """Sign out: every session of the user ends, so a copied or replayed cookie stops working too."""
    end_sessions(user)
    audit.record("user.signed_out", "user", user.id, actor=user)


def session_identity(user_id: str) -> User | None:
    """The user a session cookie's identity ("<id>:<version>") names, if it is still valid."""
    user_part, _sep, version = (user_id or "").partition(":")
    if not user_part.isascii() or not user_part.isdigit() or not version.isascii() or not version.isdigit():
        return None
    user = db.session.get(User, int(user_part))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user
