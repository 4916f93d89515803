from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests import factories
from tests.conftest import csrf_token, sign_in
from webapp.auth.limits import limiter
from webapp.extensions import db
from webapp.models import AuditEvent


@pytest.fixture(autouse=True)
def _fresh_sign_in_limits(app):
    """Sign-in rate limits count per address and name; each test starts from none (other runs' counts too)."""
    limiter.reset()
    yield
    limiter.reset()


def _login(client, username, password, token=None):
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token or csrf_token(client)})


def test_sign_in_and_out(client, app):
    user = factories.make_user("registrar", areas=["UZ-TK"])
    assert client.get("/applications").status_code == 302, "anonymous users are sent to sign in"
    response = _login(client, user.username, factories.PASSWORD)
    assert response.status_code == 302 and response.headers["Location"].endswith("/applications")
    assert client.get("/applications").status_code == 200
    assert user.last_login_at is not None
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/applications")})
    assert response.status_code == 302
    assert client.get("/applications").status_code == 302


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(client):
    user = factories.make_user("registrar", areas=["UZ-TK"])
    wrong = _login(client, user.username, "not-the-password")
    unknown = _login(client, "nobody-here", "whatever-password")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong username or password" in wrong.get_data(as_text=True)
    assert "Wrong username or password" in unknown.get_data(as_text=True)
    assert client.get("/applications").status_code == 302


def test_lock_out_after_repeated_failures(client, app):
    user = factories.make_user("registrar", areas=["UZ-TK"])
    limit = app.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit):
        assert _login(client, user.username, "bad-password-123").status_code == 401
    assert user.locked_until is not None
    refused = _login(client, user.username, factories.PASSWORD)
    assert refused.status_code == 401, "the right password does not open a locked account"
    assert "Too many failed sign-ins" in refused.get_data(as_text=True)
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_id == str(user.id))).all()
    assert actions.count("user.sign_in_failed") == limit and "user.sign_in_refused_locked" in actions
    user.locked_until = datetime.now(UTC) - timedelta(seconds=1)  # the lock-out period has passed
    db.session.flush()
    assert _login(client, user.username, factories.PASSWORD).status_code == 302


def test_failures_below_the_limit_are_forgiven_by_a_successful_sign_in(client, app):
    user = factories.make_user("registrar", areas=["UZ-TK"])
    for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
        _login(client, user.username, "bad-password-123")
    assert _login(client, user.username, factories.PASSWORD).status_code == 302
    assert user.failed_logins == 0 and user.locked_until is None


def test_forms_without_a_csrf_token_are_refused(client):
    user = factories.make_user("registrar", areas=["UZ-TK"])
    response = client.post("/login", data={"username": user.username, "password": factories.PASSWORD})
    assert response.status_code == 400
    sign_in(client, user)
    family = factories.make_family("UZ-TK")
    data = factories.form_data(factories.application_payload(family), csrf="forged-token")
    assert client.post("/applications/new", data=data).status_code == 400
    assert client.post("/logout").status_code == 400


def test_inactive_users_cannot_sign_in(client):
    user = factories.make_user("registrar", areas=["UZ-TK"])
    user.active = False
    db.session.flush()
    assert _login(client, user.username, factories.PASSWORD).status_code == 401


def test_roles_limit_pages(client):
    maker = factories.make_user("finance_maker", national=True)
    sign_in(client, maker)
    assert client.get("/applications").status_code == 403
    assert client.get("/applications/new").status_code == 403
    assert client.get("/jobs").status_code == 200


def test_auditor_reads_but_cannot_register(client):
    auditor = factories.make_user("auditor", national=True)
    sign_in(client, auditor)
    assert client.get("/applications").status_code == 200
    assert client.get("/applications/new").status_code == 403


def test_next_parameter_cannot_redirect_off_site(client):
    user = factories.make_user("registrar", areas=["UZ-TK"])
    token = csrf_token(client)
    response = client.post("/login?next=https://evil.example/x",
                           data={"username": user.username, "password": factories.PASSWORD, "csrf_token": token})
    assert response.headers["Location"].endswith("/applications")


def test_passwords_are_stored_as_argon2id(app):
    user = factories.make_user("registrar", areas=["UZ-TK"])
    assert user.password_hash.startswith("$argon2id$")


@pytest.mark.parametrize(("role", "home"), [("finance_checker", "/payrolls"), ("analyst", "/policy/simulate"),
                                            ("auditor", "/applications"), ("mahalla_worker", "/applications")])
def test_each_role_lands_on_a_page_it_may_see(app, role, home):
    client = app.test_client()
    user = factories.make_user(role, national=True) if role != "mahalla_worker" else factories.make_user(
        role, areas=["UZ-TK"])
    response = client.post("/login", data={"username": user.username, "password": factories.PASSWORD,
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 302 and response.headers["Location"].endswith(home)
    assert client.get(home).status_code == 200
    assert client.get("/").headers["Location"].endswith(home)
