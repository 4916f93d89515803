"""Sign-in limits: the failure count is atomic (parallel guesses check no more passwords than the limit), names of
no account are locked out exactly like accounts, the lock-out time is local time, and rate limits per account and
per address answer a translated 429."""

import os
import re
import threading
import uuid
from datetime import timedelta

import pytest
from flask_babel import refresh
from sqlalchemy import func, select
from werkzeug.exceptions import TooManyRequests

from tests import factories
from tests.conftest import csrf_token
from webapp.auth import operations
from webapp.auth.limits import limiter
from webapp.extensions import db
from webapp.models import AuditEvent, User
from webapp.timeutil import local_time, utcnow

WRONG = "wrong-password-123"


@pytest.fixture(autouse=True)
def _fresh_sign_in_limits(app):
    limiter.reset()
    yield
    limiter.reset()


def _browser(app, address: str = "127.0.0.1"):
    browser = app.test_client()
    browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    browser.environ_base["REMOTE_ADDR"] = address
    return browser


def _attempt(browser, username: str, password: str = WRONG):
    return browser.post("/login", data={"username": username, "password": password,
                                        "csrf_token": csrf_token(browser)})


def _answer(response, username: str) -> tuple[int, str]:
    """What a person sees: the status and the messages, with the name and the clock time taken out (two lock-outs
    a moment apart may end in different minutes)."""
    messages = re.findall(r'<div class="flash [a-z]+" role="status">([^<]*)</div>', response.get_data(as_text=True))
    return response.status_code, re.sub(r"\d\d:\d\d", "HH:MM", " | ".join(messages).replace(username, "NAME"))


# --- one atomic count ------------------------------------------------------------------------------------------


@pytest.mark.committed
def test_parallel_wrong_passwords_check_no_more_passwords_than_the_limit(app, monkeypatch):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writing transaction at a time; the race needs PostgreSQL")
    limit, guesses = app.config["LOGIN_MAX_FAILURES"], 40
    user = factories.make_user("registrar", areas=["UZ-TK"], username=f"race-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    db.session.commit()
    user_id, username = user.id, user.username
    db.session.remove()

    checks, lock = [], threading.Lock()
    real_verify = operations.verify_password

    def counting_verify(password_hash, password):
        if password_hash is not None:
            with lock:
                checks.append(password)
        return real_verify(password_hash, password)

    monkeypatch.setattr(operations, "verify_password", counting_verify)
    start = threading.Barrier(guesses)
    outcomes, errors = [], []

    def guess():
        with app.test_request_context(headers={"Accept-Language": "en"}):  # its own session, as a worker has
            start.wait()
            try:
                operations.authenticate(username, WRONG)
            except operations.SignInRefused as refusal:
                db.session.commit()  # the boundary keeps a refused sign-in's record
                with lock:
                    outcomes.append(str(refusal))
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=guess) for _ in range(guesses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert len(checks) == limit, f"{len(checks)} passwords checked for {guesses} parallel guesses"
        assert len(outcomes) == guesses
        assert sum("Too many failed sign-ins" in outcome for outcome in outcomes) == guesses - limit
        user = db.session.get(User, user_id)
        assert operations.is_locked(user)
        failed = db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "user.sign_in_failed", AuditEvent.object_id == str(user_id)))
        assert failed == limit
    finally:
        user = db.session.get(User, user_id)
        user.active = False  # audit rows keep pointing at it; it signs nobody in
        db.session.commit()


# --- names of no account ---------------------------------------------------------------------------------------


def test_a_name_of_no_account_is_locked_out_like_an_account(app):
    user = factories.make_user("registrar", areas=["UZ-TK"])
    unknown = f"nobody-{uuid.uuid4().hex[:8]}"
    rounds = app.config["LOGIN_MAX_FAILURES"] + 2
    real = [_answer(_attempt(_browser(app), user.username), user.username) for _ in range(rounds)]
    made_up = [_answer(_attempt(_browser(app), unknown), unknown) for _ in range(rounds)]
    assert real == made_up
    assert "Too many failed sign-ins" in real[-1][1]
    assert "Too many failed sign-ins" not in real[app.config["LOGIN_MAX_FAILURES"] - 1][1]


def test_the_name_is_counted_whatever_its_case_and_spaces(app):
    unknown = f"Nobody-{uuid.uuid4().hex[:8]}"
    for index in range(app.config["LOGIN_MAX_FAILURES"]):
        _attempt(_browser(app), f" {unknown.upper()} " if index % 2 else unknown.lower())
    assert "Too many failed sign-ins" in _answer(_attempt(_browser(app), unknown), unknown)[1]


def test_a_name_of_no_account_is_free_again_after_the_lock_out(app):
    unknown = f"nobody-{uuid.uuid4().hex[:8]}"
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        _attempt(_browser(app), unknown)
    row = db.session.get(operations.SignInAttempt, unknown)
    assert row.locked_until is not None and row.failures == 0
    row.locked_until = utcnow() - timedelta(seconds=1)
    db.session.flush()
    assert _answer(_attempt(_browser(app), unknown), unknown) == (401, "Wrong username or password.")


# --- the lock-out message --------------------------------------------------------------------------------------


def test_the_lock_out_time_is_shown_in_local_time(app):
    user = factories.make_user("registrar", areas=["UZ-TK"])
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        _attempt(_browser(app), user.username)
    message = _attempt(_browser(app), user.username, factories.PASSWORD).get_data(as_text=True)
    assert "Too many failed sign-ins" in message
    locked_until = db.session.get(User, user.id).locked_until
    assert f"{local_time(locked_until):%H:%M}" in message and "UTC" not in message
    assert local_time(locked_until).utcoffset() == timedelta(hours=5), "Tashkent"


# --- rate limits -----------------------------------------------------------------------------------------------


def test_sign_in_is_rate_limited_per_account_from_any_address(app):
    user = factories.make_user("registrar", areas=["UZ-TK"])
    answers = [_attempt(_browser(app, f"10.0.0.{n}"), user.username, factories.PASSWORD if n % 3 else WRONG)
               for n in range(1, 11)]
    assert 429 not in {answer.status_code for answer in answers}
    refused = _attempt(_browser(app, "10.0.1.1"), user.username, factories.PASSWORD)
    assert refused.status_code == 429
    assert "Too many sign-in attempts" in refused.get_data(as_text=True)
    assert 'name="username"' in refused.get_data(as_text=True), "the sign-in form again"
    assert _attempt(_browser(app, "10.0.1.1"), "someone.else").status_code == 401, "other accounts still sign in"


def test_failed_sign_ins_are_rate_limited_per_address(app):
    browser = _browser(app, "192.0.2.7")
    answers = [_attempt(browser, f"guess-{n}-{uuid.uuid4().hex[:6]}").status_code for n in range(30)]
    assert set(answers) == {401}
    assert _attempt(browser, f"guess-last-{uuid.uuid4().hex[:6]}").status_code == 429
    user = factories.make_user("registrar", areas=["UZ-TK"])
    assert _attempt(_browser(app, "192.0.2.8"), user.username, factories.PASSWORD).status_code == 302


def test_successful_sign_ins_from_one_address_are_not_limited(app):
    """A whole office behind one address signs in at nine o'clock."""
    users = [factories.make_user("registrar", areas=["UZ-TK"]) for _ in range(35)]
    statuses = {_attempt(_browser(app, "198.51.100.1"), user.username, factories.PASSWORD).status_code
                for user in users}
    assert statuses == {302}


def test_too_many_requests_has_its_own_page_and_json(app):
    """Through the catalog like every error (the Uzbek and Russian texts come with the catalogs)."""
    with app.test_request_context("/api/v1/applications", headers={"Accept-Language": "en"}):
        refresh()
        response = app.make_response(app.handle_http_exception(TooManyRequests()))
        assert response.status_code == 429
        assert response.get_json() == {
            "error": "Too many requests",
            "message": "Too many requests in a short time. Wait a few minutes and try again."}
    with app.test_request_context("/applications", headers={"Accept-Language": "en"}):
        refresh()
        response = app.make_response(app.handle_http_exception(TooManyRequests()))
        assert response.status_code == 429 and "Too many requests" in response.get_data(as_text=True)
