"""Sign-in through a national single sign-on over OpenID Connect (Uzbekistan's OneID, or any OIDC provider).

Configuration only (PORTAL_OIDC_ISSUER, _CLIENT_ID, _CLIENT_SECRET, _PIN_CLAIM, _LABEL): the issuer's discovery
document gives the endpoints and keys. The flow is the authorization code flow with state, nonce and PKCE (S256);
the ID token's signature, issuer, audience, expiry and nonce are checked by Authlib, and the person is the one
whose PIN the configured claim carries. A PIN the registry does not know is refused in words: the national sign-on
has already told the citizen who they are, so saying "we have no record of you" reveals nothing to a stranger.
"""

from __future__ import annotations

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client.errors import MismatchingStateError
from authlib.integrations.flask_client import OAuth, OAuthError
from flask import current_app, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from joserfc.errors import JoseError
from sqlalchemy import select

from modules.portal.session import sign_in_citizen
from modules.portal.sms_code import pin_digest
from modules.registration.models import Person
from webapp import audit
from webapp.boundary import Refusal
from webapp.extensions import db
from webapp.pin import is_ascii_digits

NAME = "oidc"
TIMEOUT_SECONDS = 10
_CLIENTS = "srsp_portal_oidc"
# What can go wrong between us and the provider: its answer, the token's checks, the network.
_FAILURES = (AuthlibBaseError, JoseError, requests.RequestException, ValueError, KeyError, RuntimeError)


class OidcProvider:
    """The national single sign-on, when configured."""

    name = NAME
    start_endpoint = "portal.oidc_start"

    def label(self) -> str:
        return _("Sign in with %(name)s", name=current_app.config["PORTAL_OIDC_LABEL"])


def configured() -> bool:
    config = current_app.config
    return bool(config.get("PORTAL_OIDC_ISSUER") and config.get("PORTAL_OIDC_CLIENT_ID"))


def client():
    """The Authlib client for the configured issuer, made once per configuration (it caches the discovery
    document and the keys)."""
    config = current_app.config
    issuer = config["PORTAL_OIDC_ISSUER"].rstrip("/")
    key = (issuer, config["PORTAL_OIDC_CLIENT_ID"], config.get("PORTAL_OIDC_CLIENT_SECRET"))
    clients = current_app.extensions.setdefault(_CLIENTS, {})
    if key not in clients:
        oauth = OAuth()
        oauth.init_app(current_app._get_current_object())
        clients[key] = oauth.register(
            NAME, client_id=key[1], client_secret=key[2],
            server_metadata_url=f"{issuer}/.well-known/openid-configuration",
            client_kwargs={"scope": "openid", "code_challenge_method": "S256", "default_timeout": TIMEOUT_SECONDS})
    return clients[key]


def start():
    """The redirect to the provider's sign-in page (state, nonce and the PKCE verifier stay in the session)."""
    try:
        oidc = client()
        _check_issuer(oidc)
        return oidc.authorize_redirect(url_for("portal.oidc_callback", _external=True))
    except _FAILURES:
        current_app.logger.warning("the single sign-on provider could not be reached", exc_info=True)
        raise Refusal(_l("The national sign-on service does not answer. Try again later or sign in with a code "
                         "by SMS.")) from None


def finish() -> Person:
    """Check the provider's answer on the callback and sign its person in; refuses a bad or foreign answer."""
    try:
        oidc = client()
        token = oidc.authorize_access_token()
        claims = dict(token.get("userinfo") or {})
        if not claims:
            raise ValueError("the provider returned no ID token")
    except _FAILURES as error:
        audit.record("citizen.sign_in_failed", "person", 0, {"provider": NAME, "reason": _reason(error)})
        raise Refusal(_l("The sign-on did not complete. Start again."), keep=True) from None
    pin = str(claims.get(current_app.config["PORTAL_OIDC_PIN_CLAIM"]) or "").strip()
    person = db.session.scalar(select(Person).where(Person.pin == pin)) if _is_pin(pin) else None
    if person is None:
        audit.record("citizen.sign_in_failed", "person", 0,
                     {"provider": NAME, "reason": "unknown_person", "pin_digest": pin_digest(pin)[:16]})
        raise Refusal(_l("You signed in, but the social assistance registry has no record for your PIN. To apply, "
                         "go to your mahalla or the single window office."), keep=True)
    sign_in_citizen(person, NAME)
    return person


def _reason(error: Exception) -> str:
    """Why a sign-on failed, for the audit trail: a short code, never the provider's own words."""
    if isinstance(error, MismatchingStateError):
        return "bad_state"
    if isinstance(error, OAuthError):
        return "provider_refused"
    if isinstance(error, AuthlibBaseError | JoseError):
        return "bad_token"
    if isinstance(error, requests.RequestException):
        return "unreachable"
    return "bad_answer"


def _is_pin(pin: str) -> bool:
    return len(pin) == 14 and is_ascii_digits(pin)


def _check_issuer(oidc) -> None:
    """The discovery document must be the configured issuer's own (its tokens are checked against it)."""
    metadata = oidc.load_server_metadata()
    if str(metadata.get("issuer", "")).rstrip("/") != current_app.config["PORTAL_OIDC_ISSUER"].rstrip("/"):
        raise ValueError("the discovery document names another issuer")
