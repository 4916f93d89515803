"""The authenticator under attack: wrong codes are throttled (and the count survives the refused request), a new key
needs the password and a current code, an administrator can reset it, secrets are encrypted at rest, and a code
already used is refused saying when the next one comes."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import flask_babel
import pyotp
import pytest
from cryptography.fernet import InvalidToken
from flask import current_app
from sqlalchemy import select, text, update

from modules.payments import checks, generation
from modules.payments.models import Payroll, PayrollStatus
from tests import factories
from tests.conftest import sign_in
from webapp.auth import totp
from webapp.extensions import db
from webapp.models import AuditEvent, User
from webapp.models.encrypted import decrypt, encrypt

T0 = datetime(2026, 1, 5, 10, 0, 10, tzinfo=UTC)  # 10 s into a 30-second step


@pytest.fixture(autouse=True)
def _english_outside_requests(app, _transaction, monkeypatch):
    """Refusals and reports read outside a request speak the default language; these tests read them in English."""
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "en")
    flask_babel.refresh()


def _code(user, at: datetime) -> str:
    return pyotp.TOTP(user.totp_secret).at(at)


def _wrong(user, at: datetime) -> str:
    return f"{(int(_code(user, at)) + 1) % 1_000_000:06d}"


def _client(app, user):
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return sign_in(client, user)


def _row(user) -> dict:
    """What the database holds for the user now (the test's session may hold older values)."""
    return db.session.execute(text('SELECT totp_secret, totp_failures, totp_locked_until FROM "user" WHERE id = :id'),
                              {"id": user.id}).mappings().one()


def _checked_payroll() -> Payroll:
    family = factories.assessed_family()
    factories.enrol(family)
    maker = factories.make_user("finance_maker", national=True)
    payroll = generation.generate("child_allowance", "UZ-TK", factories.PAYROLL_PERIOD, maker)
    checks.run_checks(payroll, maker)
    return payroll


# --- wrong codes are throttled -----------------------------------------------------------------------------------

def test_five_wrong_codes_lock_code_entry_and_a_right_code_is_refused_until_the_lock_ends():
    checker = factories.finance_checker()
    for _ in range(totp.MAX_FAILURES - 1):
        assert not totp.verify(checker, _wrong(checker, T0), T0)
    with pytest.raises(totp.CodeLocked, match="locked for 15 minutes") as locking:
        totp.verify(checker, _wrong(checker, T0), T0)
    assert locking.value.keep, "the lock must survive the refused request"
    locked = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.totp_locked",
                                                        AuditEvent.object_id == str(checker.id)))
    assert locked is not None and locked.details["failures"] == totp.MAX_FAILURES

    later = T0 + timedelta(minutes=3)
    with pytest.raises(totp.CodeLocked, match="Try again in 12 minutes"):
        totp.verify(checker, _code(checker, later), later)
    almost = T0 + timedelta(minutes=14, seconds=40)
    with pytest.raises(totp.CodeLocked, match="Try again in 1 minute\\.$"):
        totp.verify(checker, _code(checker, almost), almost)
    after = T0 + timedelta(minutes=16)
    assert totp.verify(checker, _code(checker, after), after)


def test_the_count_is_read_and_added_in_the_database_not_from_the_session():
    checker = factories.finance_checker()
    assert not totp.verify(checker, _wrong(checker, T0), T0)
    # Three more wrong codes counted by other requests (other processes) that this session never saw.
    db.session.execute(update(User).where(User.id == checker.id).values(totp_failures=4)
                       .execution_options(synchronize_session=False))
    with pytest.raises(totp.CodeLocked):
        totp.verify(checker, _wrong(checker, T0), T0)
    assert _row(checker)["totp_locked_until"] is not None


def test_wrong_codes_older_than_the_window_start_counting_again():
    checker = factories.finance_checker()
    for _ in range(totp.MAX_FAILURES - 1):
        assert not totp.verify(checker, _wrong(checker, T0), T0)
    later = T0 + totp.FAILURE_WINDOW + timedelta(minutes=1)
    assert not totp.verify(checker, _wrong(checker, later), later)
    assert _row(checker)["totp_failures"] == 1 and _row(checker)["totp_locked_until"] is None


def test_a_right_code_clears_the_count():
    checker = factories.finance_checker()
    for _ in range(totp.MAX_FAILURES - 1):
        assert not totp.verify(checker, _wrong(checker, T0), T0)
    assert totp.verify(checker, _code(checker, T0), T0)
    assert _row(checker)["totp_failures"] == 0


def test_refused_approvals_keep_their_count_and_the_lock_refuses_the_right_code(app):
    checker = factories.finance_checker()
    payroll = _checked_payroll()
    db.session.commit()
    client = _client(app, checker)
    now = datetime.now(UTC)
    wrong = _code(checker, now - timedelta(minutes=10))
    for _ in range(totp.MAX_FAILURES - 1):
        page = factories.page_text(client.post(f"/payrolls/{payroll.id}/approve",
                                               data={"code": wrong, "csrf_token": client.csrf},
                                               follow_redirects=True))
        assert "The authenticator code is wrong" in page
    assert _row(checker)["totp_failures"] == totp.MAX_FAILURES - 1, "each refused request kept its count"
    page = factories.page_text(client.post(f"/payrolls/{payroll.id}/approve",
                                           data={"code": wrong, "csrf_token": client.csrf}, follow_redirects=True))
    assert "code entry is now locked for 15 minutes" in page
    page = factories.page_text(client.post(f"/payrolls/{payroll.id}/approve",
                                           data={"code": pyotp.TOTP(checker.totp_secret).now(),
                                                 "csrf_token": client.csrf}, follow_redirects=True))
    assert "code entry is locked. Try again in 15 minutes" in page
    db.session.expire_all()
    assert db.session.get(Payroll, payroll.id).status is PayrollStatus.checked
    assert _row(checker)["totp_locked_until"] is not None


# --- replacing the authenticator ---------------------------------------------------------------------------------

def _setup(client, **fields):
    return factories.page_text(client.post("/account/authenticator",
                                           data={"action": "setup", "csrf_token": client.csrf, **fields},
                                           follow_redirects=True))


def test_a_confirmed_authenticator_is_replaced_only_with_the_password_and_a_current_code(app):
    checker = factories.finance_checker()
    assert totp.verify(checker, _code(checker, T0), T0)  # confirmed
    db.session.commit()
    secret = checker.totp_secret
    client = _client(app, checker)

    assert "The password is wrong" in _setup(client)
    assert "The password is wrong" in _setup(client, password="not the password", code="000000")
    assert "Enter a code from your current authenticator" in _setup(client, password=factories.PASSWORD)
    stale = _code(checker, datetime.now(UTC) - timedelta(minutes=10))
    assert "code of your current authenticator is wrong" in _setup(client, password=factories.PASSWORD, code=stale)
    db.session.expire_all()
    assert db.session.get(User, checker.id).totp_secret == secret
    assert _row(checker)["totp_failures"] == 3, "wrong passwords and codes count towards the lock"

    page = _setup(client, password=factories.PASSWORD, code=pyotp.TOTP(secret).now())
    assert "A new authenticator key was made" in page
    db.session.expire_all()
    assert db.session.get(User, checker.id).totp_secret not in (None, secret)


def test_the_first_key_needs_the_password_too(app):
    user = factories.make_user("finance_checker", national=True)
    db.session.commit()
    client = _client(app, user)
    assert "The password is wrong" in _setup(client)
    db.session.expire_all()
    assert db.session.get(User, user.id).totp_secret is None
    assert "Not confirmed" in _setup(client, password=factories.PASSWORD)


def test_the_page_asks_for_the_current_code_once_confirmed(app):
    checker = factories.finance_checker()
    assert totp.verify(checker, _code(checker, T0), T0)
    db.session.commit()
    page = factories.page_text(_client(app, checker).get("/account/authenticator"))
    assert 'name="password"' in page and 'id="setup-code"' in page


def test_an_administrator_resets_an_authenticator_and_lifts_its_lock():
    checker = factories.finance_checker()
    for _ in range(totp.MAX_FAILURES - 1):
        totp.verify(checker, _wrong(checker, T0), T0)
    with pytest.raises(totp.CodeLocked):
        totp.verify(checker, _wrong(checker, T0), T0)
    admin = factories.make_user("admin", national=True)
    with pytest.raises(totp.AuthenticatorRefusal, match="Only an administrator"):
        totp.reset_authenticator(checker, factories.make_user("finance_checker", national=True))
    totp.reset_authenticator(checker, admin)
    db.session.expire_all()
    row = _row(checker)
    assert row["totp_secret"] is None and row["totp_locked_until"] is None and row["totp_failures"] == 0
    reset = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.totp_reset"))
    assert reset.actor_id == admin.id and reset.object_id == str(checker.id)
    totp.enable(checker)
    assert totp.verify(checker, _code(checker, T0), T0)


# --- secrets at rest ---------------------------------------------------------------------------------------------

def test_secrets_are_stored_encrypted_under_the_secrets_key():
    checker = factories.finance_checker()
    secret = checker.totp_secret
    stored = _row(checker)["totp_secret"]
    assert secret not in stored and stored.startswith("gAAAAA")
    assert decrypt(stored, current_app.config["SECRETS_KEY"]) == secret
    with pytest.raises(InvalidToken):
        decrypt(stored, "another key that the database never saw")


def test_the_migration_encrypts_secrets_stored_in_clear():
    migration = importlib.import_module("webapp.migrations.versions.0014_authenticator_lock")
    checker = factories.finance_checker()
    secret = checker.totp_secret
    db.session.execute(text('UPDATE "user" SET totp_secret = :s WHERE id = :id'), {"s": secret, "id": checker.id})
    assert migration.rewrite_secrets(db.session.connection(), migration.encrypt_clear) >= 1
    stored = _row(checker)["totp_secret"]
    assert stored != secret and decrypt(stored, current_app.config["SECRETS_KEY"]) == secret
    db.session.expire_all()
    assert totp.verify(db.session.get(User, checker.id), _code(checker, T0), T0)
    # Run again (or on an already encrypted secret), nothing changes.
    assert migration.rewrite_secrets(db.session.connection(), migration.encrypt_clear) == 0


def test_a_secret_under_another_key_reads_as_no_authenticator():
    checker = factories.finance_checker()
    db.session.execute(text('UPDATE "user" SET totp_secret = :s WHERE id = :id'),
                       {"s": encrypt("JBSWY3DPEHPK3PXP", "some other key"), "id": checker.id})
    db.session.expire_all()
    assert db.session.get(User, checker.id).totp_secret is None


# --- a used code -------------------------------------------------------------------------------------------------

def test_a_code_used_to_confirm_the_set_up_is_refused_saying_when_the_next_one_comes():
    checker = factories.finance_checker()
    code = _code(checker, T0)
    assert totp.verify(checker, code, T0)  # the set-up confirmation
    with pytest.raises(totp.CodeReused, match="already used. Wait for the next code in your app: it comes in 20 "
                                              "seconds."):
        totp.verify(checker, code, T0)
    last = T0 + timedelta(seconds=19, milliseconds=500)
    with pytest.raises(totp.CodeReused, match="it comes in 1 second\\.$"):
        totp.verify(checker, code, last)
    assert _row(checker)["totp_failures"] == 0, "a used code is not a wrong one"


def test_an_approval_with_the_confirmation_code_says_to_wait_for_the_next_one(app):
    checker = factories.finance_checker()
    code = pyotp.TOTP(checker.totp_secret).now()
    assert totp.verify(checker, code)
    payroll = _checked_payroll()
    db.session.commit()
    client = _client(app, checker)
    page = factories.page_text(client.post(f"/payrolls/{payroll.id}/approve",
                                           data={"code": code, "csrf_token": client.csrf}, follow_redirects=True))
    assert "This code was already used. Wait for the next code in your app: it comes in" in page
