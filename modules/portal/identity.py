"""How a citizen can prove who they are: the identity providers the portal offers, behind one small interface.

A provider has a name (kept in the session and the audit trail), a label for its button and the portal endpoint
where its sign-in starts; whatever it does in between (a code by SMS, a round trip to a national sign-on), it ends
by calling `modules.portal.session.sign_in_citizen(person, provider.name)`. The code by SMS is always offered;
OpenID Connect when its issuer and client are configured (PORTAL_OIDC_*), so a national single sign-on such as
OneID is configuration, not code.
"""

from __future__ import annotations

from typing import Protocol

from modules.portal import oidc
from modules.portal.sms_code import SmsCodeProvider


class IdentityProvider(Protocol):
    name: str
    start_endpoint: str  # the portal endpoint its sign-in starts at (the SMS form, or a POST that leaves the site)

    def label(self) -> str:
        """What the citizen reads on its button, in their language."""


def providers() -> list[IdentityProvider]:
    """The configured providers, the code by SMS first."""
    found: list[IdentityProvider] = [SmsCodeProvider()]
    if oidc.configured():
        found.append(oidc.OidcProvider())
    return found


def others(current: str) -> list[IdentityProvider]:
    """The providers other than `current`, to offer beside its form."""
    return [provider for provider in providers() if provider.name != current]
