"""Sessions end on sign-out, a new password, a change of role or areas and deactivation: on every device, and a
copied cookie replayed afterwards is signed out too."""

import pytest
from sqlalchemy import select

from tests import factories
from tests.conftest import csrf_token, sign_in
from webapp.auth.limits import limiter
from webapp.auth.operations import reset_password, session_identity, update_user
from webapp.extensions import db
from webapp.models import AuditEvent

NEW_PASSWORD = "another-long-password-7"


@pytest.fixture(autouse=True)
def _fresh_sign_in_limits(app):
    limiter.reset()
    yield
    limiter.reset()


def _browser(app):
    browser = app.test_client()
    browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return browser


def _session_cookie(browser) -> str:
    return browser.get_cookie("session").value


def _replay(app, cookie: str):
    """Another browser that presents a copy of a session cookie."""
    thief = _browser(app)
    thief.set_cookie("session", cookie)
    return thief


def _signed_in(browser) -> bool:
    return browser.get("/applications").status_code == 200


@pytest.fixture
def registrar(app):
    user = factories.make_user("registrar", areas=["UZ-TK"])
    db.session.commit()
    return user


@pytest.fixture
def admin(app):
    return factories.make_user("admin", national=True)


def test_a_cookie_replayed_after_sign_out_is_signed_out(app, registrar):
    browser = sign_in(_browser(app), registrar)
    copied = _session_cookie(browser)
    assert _signed_in(_replay(app, copied)), "the copy works while the session is open"
    response = browser.post("/logout", data={"csrf_token": csrf_token(browser, "/applications")})
    assert response.status_code == 302
    assert not _signed_in(browser)
    assert not _signed_in(_replay(app, copied)), "a cookie replayed after sign-out is no longer signed in"
    assert db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_id == str(registrar.id))
                              .order_by(AuditEvent.id)).all()[-1] == "user.signed_out"


def test_signing_out_ends_the_sessions_on_other_devices(app, registrar):
    office, phone = sign_in(_browser(app), registrar), sign_in(_browser(app), registrar)
    assert _signed_in(office) and _signed_in(phone)
    office.post("/logout", data={"csrf_token": csrf_token(office, "/applications")})
    assert not _signed_in(phone)
    assert _signed_in(sign_in(phone, registrar)), "signing in again opens a new session"


def test_a_password_reset_ends_the_old_sessions(app, registrar, admin):
    browser = sign_in(_browser(app), registrar)
    copied = _session_cookie(browser)
    with app.test_request_context(headers={"Accept-Language": "en"}):
        reset_password(registrar, NEW_PASSWORD, admin)
    db.session.commit()
    assert not _signed_in(browser)
    assert not _signed_in(_replay(app, copied))
    assert _signed_in(sign_in(_browser(app), registrar, NEW_PASSWORD))


@pytest.mark.parametrize("change", [{"role": "social_worker", "area_codes": ["UZ-TK"]},
                                    {"role": "registrar", "area_codes": ["UZ-SA"]},
                                    {"role": "registrar", "area_codes": ["UZ-TK"], "active": False}],
                         ids=["role", "areas", "deactivation"])
def test_a_change_of_role_areas_or_activity_ends_the_sessions(app, registrar, admin, change):
    browser = sign_in(_browser(app), registrar)
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert update_user(registrar, admin, **change)
    db.session.commit()
    assert not _signed_in(browser)


def test_saving_an_account_unchanged_keeps_its_sessions(app, registrar, admin):
    browser = sign_in(_browser(app), registrar)
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert update_user(registrar, admin, "registrar", ["UZ-TK"]) == {}
    db.session.commit()
    assert _signed_in(browser)


def test_an_admin_who_changes_their_own_password_stays_signed_in_only_here(app, admin):
    db.session.commit()
    here, elsewhere = sign_in(_browser(app), admin), sign_in(_browser(app), admin)
    response = here.post(f"/admin/users/{admin.id}/password",
                         data={"csrf_token": csrf_token(here, f"/admin/users/{admin.id}"), "password": NEW_PASSWORD})
    assert response.status_code == 302
    assert here.get("/admin/users").status_code == 200
    assert elsewhere.get("/admin/users").status_code == 302


@pytest.mark.parametrize("identity", ["{id}", "{id}:x", "{id}:-1", "{id}:{next}", ":{version}", "x:{version}", ""])
def test_a_session_identity_must_name_the_current_version(registrar, identity):
    version = registrar.session_version
    assert session_identity(f"{registrar.id}:{version}") is registrar
    assert session_identity(identity.format(id=registrar.id, version=version, next=version + 1)) is None
