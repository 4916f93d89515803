"""Citizens' sign-in pages: a PIN, the phone number on file and a one-time SMS code, or a national single sign-on
over OpenID Connect.

The PIN travels only in the first form's body: the code page knows the request by an opaque ticket in the session,
and every address here (and every redirect) carries no PIN. Views are thin: sms_code.py and oidc.py do the work,
the boundary commits (a refused code is kept: its count and audit must stay).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from modules.portal import identity, oidc, sms_code
from modules.portal.session import current_citizen, sign_out_citizen
from webapp.boundary import caught_refusal
from webapp.redirects import local_path

TICKET = "citizen_ticket"
NEXT = "citizen_next"


def register(bp) -> None:
    """Add the sign-in routes to the portal's blueprint."""
    bp.add_url_rule("/sign-in", "sign_in", sign_in, methods=["GET", "POST"])
    bp.add_url_rule("/sign-in/code", "sign_in_code", sign_in_code, methods=["GET", "POST"])
    bp.add_url_rule("/sign-out", "sign_out", sign_out, methods=["POST"])
    bp.add_url_rule("/sign-in/oidc", "oidc_start", oidc_start, methods=["POST"])
    bp.add_url_rule("/sign-in/oidc/callback", "oidc_callback", oidc_callback, methods=["GET"])


def _safe_next(target: str | None) -> str | None:
    """Only a portal page may be where a sign-in returns to (never another site, never a staff page)."""
    path = local_path(target)
    if path and path.startswith("/portal/") and not path.startswith("/portal/sign-"):
        return path
    return None


def _after_sign_in(target: str | None):
    return redirect(_safe_next(target) or url_for("portal.home"), 303)


def _sign_in_page(next_path: str | None, values: dict | None = None, errors: dict | None = None, status: int = 200):
    return render_template("portal/sign_in.html", values=values or {}, errors=errors or {}, next=next_path,
                           others=identity.others(sms_code.NAME)), status


def sign_in():
    next_path = _safe_next(request.args.get("next"))
    if current_citizen() is not None:
        return _after_sign_in(next_path)
    if request.method == "GET":
        return _sign_in_page(next_path)
    with caught_refusal() as caught:
        pin, phone = sms_code.read_details(request.form.get("pin"), request.form.get("phone"))
        ticket = sms_code.request_code(pin, phone)
    if caught:
        values = {"phone": (request.form.get("phone") or "")[:40]}
        return _sign_in_page(next_path, values, caught.errors, 400 if caught.errors else 429)
    # The same answer whatever happened: on to the code page, which says a code went out if the details matched.
    session[TICKET] = ticket
    session[NEXT] = next_path
    return redirect(url_for("portal.sign_in_code"), 303)


def _code_page(errors: dict | None = None, status: int = 200):
    return render_template("portal/sign_in_code.html", errors=errors or {}, minutes=sms_code.CODE_MINUTES,
                           digits=sms_code.CODE_DIGITS), status


def sign_in_code():
    ticket = session.get(TICKET)
    if not sms_code.is_live(sms_code.ticket_row(ticket)):
        if session.pop(TICKET, None):
            flash(_("This code can no longer be used. Ask for a new code."), "error")
        return redirect(url_for("portal.sign_in"), 303)
    if request.method == "GET":
        return _code_page()
    next_path = session.get(NEXT)
    with caught_refusal() as caught:
        code = sms_code.read_code(request.form.get("code"))
        sms_code.redeem(ticket, code)
    if not caught:
        return _after_sign_in(next_path)
    if not sms_code.is_live(sms_code.ticket_row(ticket)):
        session.pop(TICKET, None)  # this code is dead: back to the first step, with why
        return redirect(url_for("portal.sign_in"), 303)
    return _code_page(caught.errors, 401 if caught.refusal.keep else 400)


def sign_out():
    sign_out_citizen()
    flash(_("You have signed out."), "info")
    return redirect(url_for("portal.sign_in"), 303)


def oidc_start():
    if not oidc.configured():
        abort(404)
    session[NEXT] = _safe_next(request.args.get("next"))
    with caught_refusal() as caught:
        response = oidc.start()
    if caught:
        return redirect(url_for("portal.sign_in"), 303)
    return response


def oidc_callback():
    if not oidc.configured():
        abort(404)
    next_path = session.get(NEXT)
    with caught_refusal() as caught:
        oidc.finish()
    if caught:
        return redirect(url_for("portal.sign_in"), 303)
    return _after_sign_in(next_path)
