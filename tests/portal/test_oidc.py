"""Sign-in through OpenID Connect against a local stand-in for the national single sign-on, over real HTTP: the
portal fetches the discovery document, the keys and the token from it; the browser's hop through its authorization
endpoint is a real request too."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from modules.portal.session import KEY as CITIZEN
from tests import factories
from tests.portal import oidc_standin
from webapp.extensions import db
from webapp.models import AuditEvent

_CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


@pytest.fixture(scope="module")
def standin():
    provider = oidc_standin.OidcStandIn()
    with oidc_standin.serving(provider) as issuer:
        provider.issuer = issuer
        yield provider


@pytest.fixture(autouse=True)
def _configured(app, standin, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_OIDC_ISSUER", standin.issuer)
    monkeypatch.setitem(app.config, "PORTAL_OIDC_CLIENT_ID", oidc_standin.CLIENT_ID)
    monkeypatch.setitem(app.config, "PORTAL_OIDC_CLIENT_SECRET", oidc_standin.CLIENT_SECRET)
    monkeypatch.setattr(standin, "foreign_key", False)


@pytest.fixture
def portal(app):
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _start(portal) -> str:
    """Press the sign-on button; returns where the browser is sent (the provider's authorization endpoint)."""
    page = portal.get("/portal/sign-in").get_data(as_text=True)
    assert "Sign in with OneID" in page
    token = _CSRF.search(page).group(1)
    response = portal.post("/portal/sign-in/oidc", data={"csrf_token": token})
    assert response.status_code == 302
    return response.location


def _through_provider(location: str) -> str:
    """The browser's visit to the provider, which signs its test user in and sends it back; the callback's path."""
    answer = requests.get(location, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    return f"{back.path}?{back.query}"


def _signed_in(client):
    with client.session_transaction() as session:
        return (session.get(CITIZEN) or {}).get("person_id")


def test_sign_in_through_the_national_sign_on(portal, standin):
    person = factories.make_person()
    standin.pin = person.pin
    location = _start(portal)
    query = parse_qs(urlsplit(location).query)
    assert location.startswith(standin.issuer + "/authorize")
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    callback = _through_provider(location)
    assert callback.startswith("/portal/sign-in/oidc/callback?") and person.pin not in callback
    done = portal.get(callback)
    assert done.status_code == 303 and done.location.endswith("/portal/")
    assert _signed_in(portal) == person.id
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "citizen.signed_in")
                              .order_by(AuditEvent.id.desc()).limit(1))
    assert event.details == {"provider": "oidc"}


def test_a_forged_state_is_refused(portal, standin):
    standin.pin = factories.make_person().pin
    callback = _through_provider(_start(portal))
    forged = re.sub(r"state=[^&]+", "state=forged", callback)
    refused = portal.get(forged)
    assert refused.status_code == 303 and refused.location.endswith("/portal/sign-in")
    assert _signed_in(portal) is None
    assert "The sign-on did not complete" in portal.get("/portal/sign-in").get_data(as_text=True)
    [failure] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "citizen.sign_in_failed"))
    assert failure.details == {"provider": "oidc", "reason": "bad_state"}


def test_a_callback_without_a_sign_on_started_is_refused(portal):
    refused = portal.get("/portal/sign-in/oidc/callback?code=abc&state=xyz")
    assert refused.status_code == 303 and _signed_in(portal) is None


def test_a_pin_the_registry_does_not_know_is_refused(portal, standin):
    standin.pin = "31234567890123"
    refused = portal.get(_through_provider(_start(portal)))
    assert refused.status_code == 303 and refused.location.endswith("/portal/sign-in")
    assert _signed_in(portal) is None
    page = portal.get("/portal/sign-in").get_data(as_text=True)
    assert "has no record for your PIN" in page and standin.pin not in page
    [failure] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "citizen.sign_in_failed"))
    assert failure.details["reason"] == "unknown_person" and standin.pin not in str(failure.details)


def test_an_id_token_signed_with_another_key_is_refused(portal, standin):
    standin.pin = factories.make_person().pin
    standin.foreign_key = True
    refused = portal.get(_through_provider(_start(portal)))
    assert refused.status_code == 303 and _signed_in(portal) is None
    [failure] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "citizen.sign_in_failed"))
    assert failure.details["reason"] == "bad_token"


def test_without_configuration_there_is_no_sign_on(app, portal, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_OIDC_ISSUER", None)
    assert "OneID" not in portal.get("/portal/sign-in").get_data(as_text=True)
    assert portal.post("/portal/sign-in/oidc").status_code in (400, 404)  # no CSRF token, or no such sign-on
