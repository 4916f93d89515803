"""API tokens: the API only, an expiry, a name, revocable by an administrator (page and command), stored hashed,
their last use recorded at most once a minute."""

from datetime import UTC, timedelta

import pytest
from sqlalchemy import select

from tests import factories
from tests.conftest import sign_in
from webapp.auth.operations import issue_token
from webapp.extensions import db
from webapp.models import ApiToken, AuditEvent
from webapp.timeutil import utcnow

API = "/api/v1/applications"


@pytest.fixture
def machine(app):
    """No session cookie: only the bearer token says who it is."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def admin(app):
    return factories.make_user("admin", national=True)


@pytest.fixture
def registrar(app):
    return factories.make_user("registrar", areas=["UZ-TK"])


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _aware(moment):
    """SQLite returns stored timestamps without their zone (UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _token_row(token: str) -> ApiToken:
    return db.session.scalar(select(ApiToken).where(ApiToken.token_hash == ApiToken.hash(token)))


@pytest.mark.parametrize(("role", "pages"), [("admin", ["/admin/users", "/admin/audit", "/jobs"]),
                                             ("finance_maker", ["/payrolls", "/statements"]),
                                             ("registrar", ["/applications", "/applications/new"])])
def test_a_token_does_not_open_staff_pages(app, role, pages):
    user = factories.make_user(role, national=True) if role != "registrar" else factories.make_user(
        role, areas=["UZ-TK"])
    headers = factories.bearer(user)
    assert app.test_client().get(API, headers=headers).status_code in {200, 403}, "the API knows the token"
    for page in pages:
        response = app.test_client().get(page, headers=headers)
        assert response.status_code == 302 and "/login" in response.headers["Location"], page


def test_a_token_expires_after_the_configured_days(app, machine, registrar):
    token = issue_token(registrar, "registry sync")
    row = _token_row(token)
    assert row.expires_at - row.created_at == timedelta(days=app.config["API_TOKEN_DAYS"])
    assert row.token_hash != token and token not in (row.name, row.token_hash)
    factories.commit()
    assert machine.get(API, headers=_bearer(token)).status_code == 200
    row.expires_at = utcnow() - timedelta(seconds=1)
    factories.commit()
    assert machine.get(API, headers=_bearer(token)).status_code == 401


def test_a_token_may_be_given_a_shorter_life(registrar):
    row = _token_row(issue_token(registrar, "one day", days=1))
    assert row.expires_at - row.created_at == timedelta(days=1)


def test_the_last_use_is_recorded_at_most_once_a_minute(machine, registrar):
    token = issue_token(registrar, "sync")
    factories.commit()
    row = _token_row(token)
    assert row.last_used_at is None
    assert machine.get(API, headers=_bearer(token)).status_code == 200
    db.session.refresh(row)
    first = row.last_used_at
    assert first is not None
    row.last_used_at = recent = utcnow() - timedelta(seconds=30)
    factories.commit()
    machine.get(API, headers=_bearer(token))
    db.session.refresh(row)
    assert _aware(row.last_used_at) == recent, "used again within the minute: not written again"
    row.last_used_at = utcnow() - timedelta(minutes=2)
    factories.commit()
    machine.get(API, headers=_bearer(token))
    db.session.refresh(row)
    assert _aware(row.last_used_at) > recent


def test_the_admin_lists_a_users_tokens_and_revokes_one(app, client, admin, registrar, machine):
    kept, revoked = issue_token(registrar, "bank sync"), issue_token(registrar, "old laptop")
    factories.commit()
    machine.get(API, headers=_bearer(kept))
    sign_in(client, admin)
    assert f"/admin/users/{registrar.id}/tokens" in client.get(f"/admin/users/{registrar.id}").get_data(as_text=True)
    page = client.get(f"/admin/users/{registrar.id}/tokens")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "bank sync" in html and "old laptop" in html and html.count("Revoke</button>") == 2
    for label in ("Created", "Expires", "Last used"):
        assert label in html

    row = _token_row(revoked)
    response = client.post(f"/admin/users/{registrar.id}/tokens/{row.id}/revoke", data={"csrf_token": client.csrf},
                           follow_redirects=True)
    assert "was revoked" in response.get_data(as_text=True)
    assert row.revoked_at is not None
    assert machine.get(API, headers=_bearer(revoked)).status_code == 401
    assert machine.get(API, headers=_bearer(kept)).status_code == 200
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "api_token.revoked")).all()
    assert event.actor_id == admin.id and event.details["name"] == "old laptop"
    assert client.get(f"/admin/users/{registrar.id}/tokens").get_data(as_text=True).count("Revoke</button>") == 1


def test_only_user_managers_see_or_revoke_tokens(client, registrar, admin):
    row = _token_row(issue_token(admin, "admin's"))
    sign_in(client, registrar)
    assert client.get(f"/admin/users/{admin.id}/tokens").status_code == 403
    assert client.post(f"/admin/users/{admin.id}/tokens/{row.id}/revoke",
                       data={"csrf_token": client.csrf}).status_code == 403
    assert row.revoked_at is None


def test_a_token_is_revoked_only_through_its_own_user(client, admin, registrar):
    other = factories.make_user("registrar", areas=["UZ-TK"])
    row = _token_row(issue_token(other, "theirs"))
    sign_in(client, admin)
    response = client.post(f"/admin/users/{registrar.id}/tokens/{row.id}/revoke", data={"csrf_token": client.csrf})
    assert response.status_code == 404
    assert row.revoked_at is None


def test_the_command_revokes_by_name_or_id_and_lists(app, registrar):
    runner = app.test_cli_runner()
    by_name, by_id = issue_token(registrar, "nightly export"), issue_token(registrar, "bank")
    factories.commit()  # a refused command rolls back
    result = runner.invoke(args=["users", "token", "--revoke", "nightly export"])
    assert result.exit_code == 0, result.output
    assert _token_row(by_name).revoked_at is not None and _token_row(by_id).revoked_at is None
    result = runner.invoke(args=["users", "token", "--revoke", str(_token_row(by_id).id)])
    assert result.exit_code == 0, result.output
    assert _token_row(by_id).revoked_at is not None
    listed = runner.invoke(args=["users", "token", registrar.username, "--list"]).output
    assert "nightly export\trevoked" in listed and "bank\trevoked" in listed
    assert runner.invoke(args=["users", "token", "--revoke", "no such token"]).exit_code != 0


def test_the_command_refuses_a_name_that_several_users_share(app, registrar):
    other = factories.make_user("registrar", areas=["UZ-TK"])
    first, second = issue_token(registrar, "sync"), issue_token(other, "sync")
    factories.commit()  # the refused command rolls back
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "token", "--revoke", "sync"])
    assert result.exit_code != 0 and "several users" in result.output
    assert _token_row(first).revoked_at is None and _token_row(second).revoked_at is None
    result = runner.invoke(args=["users", "token", other.username, "--revoke", "sync"])
    assert result.exit_code == 0, result.output
    assert _token_row(first).revoked_at is None and _token_row(second).revoked_at is not None


def test_the_command_issues_a_token_with_an_expiry(app, registrar):
    result = app.test_cli_runner().invoke(args=["users", "token", registrar.username, "--name", "gfmis", "--days",
                                                "7"])
    assert result.exit_code == 0, result.output
    row = _token_row(result.output.strip())
    assert row.name == "gfmis" and row.expires_at - row.created_at == timedelta(days=7)
