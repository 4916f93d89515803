"""The transaction boundary: a request commits once when it answers below 400 and rolls back otherwise; a refusal
raised deep in an operation reaches a person as a translated flash on pages and as a 422 on the API.

Tests run in an outer transaction and the app's commits are savepoints (tests/conftest.py). So "kept" is checked
by rolling the test's session back after the request: what the request committed survives that, the rest does not.
"""

from __future__ import annotations

import re
from pathlib import Path

import flask_babel
import pytest
from flask import get_flashed_messages
from sqlalchemy import event, func, select

from modules.registration import operations as registration
from tests import factories
from tests.conftest import csrf_token, sign_in
from webapp import audit
from webapp.boundary import dispatch
from webapp.extensions import db
from webapp.models import AuditEvent, User

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ends():
    """How the requests ended: "commit" or "rollback", in order."""
    session, seen = db.session(), []
    listeners = {"after_commit": lambda _s: seen.append("commit"),
                 "after_soft_rollback": lambda _s, _t: seen.append("rollback")}
    for name, listener in listeners.items():
        event.listen(session, name, listener)
    yield seen
    for name, listener in listeners.items():
        event.remove(session, name, listener)


def kept(action: str, object_id) -> int:
    """How many audit events `action` on the object survive the test session's rollback (were committed)."""
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == action, AuditEvent.object_id == str(object_id)))


@pytest.fixture
def application(app, registrar):
    """A submitted application, committed (so that a request's rollback cannot take it away)."""
    submitted = factories.register_family(registrar, children=1)
    factories.commit()
    return submitted


def _withdraw_without_a_reason(application, registrar):
    """A view that reads (an audited read) and then calls an operation that refuses; it catches nothing."""
    registration.record_view(application, registrar)
    registration.withdraw(application, registrar, "  ")
    return "never reached"


def test_a_refusal_not_caught_by_a_page_view_is_flashed_translated_and_redirects_back(app, application, registrar,
                                                                                      ends):
    page = f"/applications/{application.id}"
    with app.test_request_context(f"{page}/withdraw", method="POST", headers={
            "Accept-Language": "ru", "Referer": f"http://localhost{page}"}):
        flask_babel.refresh()
        response = app.make_response(dispatch(lambda: _withdraw_without_a_reason(application, registrar)))
        flashed = get_flashed_messages(with_categories=True)
    assert response.status_code == 302 and response.headers["Location"] == page
    assert flashed == [("error", "Укажите причину отзыва заявления.")]
    assert ends == ["rollback"]
    assert kept("household.viewed", application.id) == 0, "the read audit of a refused request is not kept"
    assert db.session.get(type(application), application.id).status.value == "submitted"


def test_a_refusal_not_caught_by_an_api_view_is_a_422_with_field_errors(app, application, registrar, ends):
    with app.test_request_context(f"/api/v1/applications/{application.id}/withdraw", method="POST",
                                  headers={"Accept-Language": "en"}):
        flask_babel.refresh()
        response = app.make_response(dispatch(lambda: _withdraw_without_a_reason(application, registrar)))
    assert response.status_code == 422
    assert response.get_json() == {"error": "Say why the application is withdrawn.",
                                   "errors": {"reason": ["Say why the application is withdrawn."]}}
    assert ends == ["rollback"]
    assert kept("household.viewed", application.id) == 0


def test_a_refused_registration_on_the_api_is_a_422_and_keeps_nothing(app, registrar, ends):
    family = factories.make_family("UZ-TK", children=1)
    headers = factories.bearer(registrar)  # commits the family and the token
    applications = _count_applications()
    ends.clear()
    response = app.test_client().post("/api/v1/applications", headers=headers,
                                      json=factories.application_payload(family, programmes=["no_such_programme"]))
    assert response.status_code == 422
    body = response.get_json()
    assert set(body) == {"error", "errors"} and list(body["errors"]) == ["programmes"]
    assert ends == ["rollback"]
    db.session.rollback()
    assert _count_applications() == applications


def _count_applications() -> int:
    from modules.registration.models import Application

    return db.session.scalar(select(func.count()).select_from(Application))


def test_a_refused_sign_in_keeps_its_failure_count_and_audit_and_shows_the_form_again(client, ends):
    user = factories.make_user("registrar", areas=["UZ-TK"])
    token = csrf_token(client)  # a 200: commits the user
    ends.clear()
    response = client.post("/login", data={"username": user.username, "password": "wrong-password-1",
                                           "csrf_token": token})
    assert response.status_code == 401
    text = response.get_data(as_text=True)
    assert "Wrong username or password." in text and 'name="username"' in text
    assert ends == ["commit"], "a refusal that keeps its record is committed, once"
    assert kept("user.sign_in_failed", user.id) == 1
    assert db.session.get(User, user.id).failed_logins == 1


def test_a_view_that_answers_normally_commits_once_with_its_read_audit(client, registrar, application, ends):
    sign_in(client, registrar)
    ends.clear()
    assert client.get(f"/applications/{application.id}").status_code == 200
    assert ends == ["commit"]
    assert kept("household.viewed", application.id) == 1


def test_an_exception_in_a_view_rolls_everything_back(app, ends):
    def failing_view():
        audit.record("test.boundary", "test", 7)
        raise RuntimeError("a bug")

    with app.test_request_context("/anything", method="POST"), pytest.raises(RuntimeError):
        dispatch(failing_view)
    assert ends == ["rollback"]
    assert kept("test.boundary", 7) == 0


def test_an_error_answer_rolls_back_what_the_view_wrote(app, ends):
    def not_found():
        audit.record("test.boundary", "test", 8)
        return "gone", 404

    with app.test_request_context("/anything"):
        assert app.make_response(dispatch(not_found)).status_code == 404
    assert ends == ["rollback"]
    assert kept("test.boundary", 8) == 0


# --- the rule: views never commit or roll back ------------------------------------------------------------------

_HANDS_ON = re.compile(r"\.(commit|rollback)\(")
_ROUTES = re.compile(r"@\w+\.(route|get|post|put|patch|delete)\(|\.add_url_rule\(")


def view_modules() -> list[Path]:
    """Every module that handles requests: controllers, APIs, views, blueprints, the core pages, the admin and
    auth packages, and any other module that declares a route."""
    named = {"controllers.py", "api.py", "blueprint.py"}
    found = set()
    for path in [*ROOT.glob("modules/**/*.py"), *ROOT.glob("webapp/**/*.py")]:
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith("webapp/migrations/") or relative == "webapp/boundary.py":
            continue
        if (path.name in named or "views" in path.name or relative == "webapp/core.py"
                or relative.startswith(("webapp/admin/", "webapp/auth/"))
                or _ROUTES.search(path.read_text(encoding="utf-8"))):
            found.add(path)
    return sorted(found)


def hands_on_transactions(paths) -> list[str]:
    """Each line (comments aside) that commits or rolls back, as "path:line: code"."""
    return [f"{path}:{number}: {line.strip()}" for path in paths
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if _HANDS_ON.search(line.split("#", 1)[0])]


def test_no_view_module_commits_or_rolls_back():
    modules = view_modules()
    assert {"modules/registration/controllers.py", "webapp/core.py", "webapp/auth/blueprint.py"} <= {
        path.relative_to(ROOT).as_posix() for path in modules}
    assert hands_on_transactions(modules) == []


def test_the_rule_finds_a_commit(tmp_path):
    view = tmp_path / "controllers.py"
    view.write_text("def save():\n    db.session.commit()\n    # a comment may say db.session.rollback()\n",
                    encoding="utf-8")
    assert hands_on_transactions([view]) == [f"{view}:2: db.session.commit()"]
