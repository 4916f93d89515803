"""The staff account's authenticator (TOTP) set-up: make a key, show it as a QR code, confirm it with a code.

Registered on the auth blueprint at /account/authenticator. Making a key asks for the account's password and, when
an authenticator is already confirmed, a code of it (totp.set_up). The request's boundary commits what a step did;
a refused step keeps only what must be kept (the wrong-attempt count, an audited lock).
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp.auth import totp
from webapp.auth.permissions import require
from webapp.boundary import caught_refusal

_MAX_INPUT = 200  # a password or code longer than this is wrong anyway; not worth hashing


def _field(name: str) -> str:
    return (request.form.get(name) or "")[:_MAX_INPUT]


def _qr_svg(uri: str) -> str | None:
    """The URI as an inline SVG QR code, or None when segno is not installed."""
    try:
        import segno
    except ImportError:
        return None
    return segno.make(uri, error="m").svg_inline(scale=4)


@require("account.authenticator")
def authenticator():
    user = current_user
    if request.method == "POST":
        action = request.form.get("action")
        with caught_refusal():
            if action == "setup":
                totp.set_up(user, _field("password"), _field("code"))
                flash(_("A new authenticator key was made. Add it to your app, then confirm with a code."), "success")
            elif action == "confirm":
                # A wrong code changes nothing but the wrong-attempt count; a locked entry or a used code is refused.
                if user.totp_secret and totp.verify(user, _field("code")):
                    flash(_("Authenticator confirmed: you can use its codes to approve payrolls."), "success")
                else:
                    flash(_("The code is wrong or was already used; nothing changed. Try the next code."), "error")
        return redirect(url_for("auth.authenticator"))
    confirmed = totp.confirmed(user)
    uri = totp.provisioning_uri(user) if user.totp_secret and not confirmed else None
    return render_template("auth/authenticator.html", has_secret=bool(user.totp_secret), confirmed=confirmed,
                           uri=uri, secret=user.totp_secret if uri else None, qr=_qr_svg(uri) if uri else None)
