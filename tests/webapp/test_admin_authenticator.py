"""An administrator resets a lost authenticator from the user's page or the command line; the audit page's
check speaks of every finding in the reader's language."""

from __future__ import annotations

from tests import factories
from tests.conftest import sign_in
from webapp.auth import totp
from webapp.extensions import db
from webapp.models import AuditEvent


def _checker_with_authenticator():
    checker = factories.finance_checker()
    assert checker.totp_secret
    return checker


def test_the_admin_resets_an_authenticator_from_the_users_page(client):
    checker = _checker_with_authenticator()
    sign_in(client, factories.make_user("admin", national=True))
    page = client.get(f"/admin/users/{checker.id}").get_data(as_text=True)
    assert "Reset authenticator" in page
    response = client.post(f"/admin/users/{checker.id}/authenticator/reset", data={"csrf_token": client.csrf})
    assert response.status_code == 302
    db.session.refresh(checker)
    assert checker.totp_secret is None
    assert db.session.query(AuditEvent).filter_by(action="user.totp_reset", object_id=str(checker.id)).count() == 1


def test_a_registrar_cannot_reset_an_authenticator(client):
    checker = _checker_with_authenticator()
    sign_in(client, factories.make_user("registrar", areas=["UZ-TK"]))
    response = client.post(f"/admin/users/{checker.id}/authenticator/reset", data={"csrf_token": client.csrf})
    assert response.status_code == 403
    db.session.refresh(checker)
    assert checker.totp_secret


def test_the_command_line_resets_in_an_administrators_name(app):
    checker = _checker_with_authenticator()
    admin = factories.make_user("admin", national=True)
    result = app.test_cli_runner().invoke(args=["users", "authenticator-reset", checker.username, "--by",
                                                admin.username])
    assert result.exit_code == 0, result.output
    db.session.refresh(checker)
    assert checker.totp_secret is None
    refused = app.test_cli_runner().invoke(args=["users", "authenticator-reset", checker.username, "--by",
                                                 factories.make_user("analyst", national=True).username])
    assert refused.exit_code == 2


def test_a_locked_code_entry_is_shown_on_the_users_page(client):
    checker = _checker_with_authenticator()
    for _attempt in range(5):
        try:
            totp.verify(checker, "000000")
        except totp.CodeLocked:
            break
    sign_in(client, factories.make_user("admin", national=True))
    assert "Approval code entry is locked until" in client.get(f"/admin/users/{checker.id}").get_data(as_text=True)
