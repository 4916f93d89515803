"""Routes for signing in and out and choosing a language."""

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_limiter import RateLimitExceeded
from flask_login import current_user, login_required, login_user, logout_user

from webapp.auth import limits
from webapp.auth.authenticator import authenticator
from webapp.auth.forms import LoginForm
from webapp.auth.operations import authenticate, sign_out
from webapp.boundary import caught_refusal
from webapp.redirects import local_path

bp = Blueprint("auth", __name__)
bp.add_url_rule("/account/authenticator", "authenticator", authenticator, methods=["GET", "POST"])


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an attacker's link must not bounce a fresh sign-in to another site.
    if path := local_path(target):
        return path
    from webapp.home import home_url

    return home_url(current_user)


@bp.route("/login", methods=["GET", "POST"])
@limits.limiter.limit(limits.ACCOUNT_LIMIT, key_func=limits.account_key, methods=["POST"])
@limits.limiter.limit(limits.ADDRESS_FAILURE_LIMIT, methods=["POST"], deduct_when=limits.failed)
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        # A refused sign-in keeps its record (the failure count, the audit event): the boundary commits it.
        with caught_refusal() as caught:
            user = authenticate(form.username.data, form.password.data)
        if caught:
            return render_template("auth/login.html", form=form), 401
        login_user(user)
        session["lang"] = user.language
        return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form), 400 if form.errors else 200


@bp.errorhandler(RateLimitExceeded)
def too_many_sign_ins(_error):
    """The sign-in form again, with why it was refused: nothing was checked."""
    flash(_("Too many sign-in attempts. Wait a few minutes and try again."), "error")
    return render_template("auth/login.html", form=LoginForm()), 429


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    sign_out(current_user)  # every session of the user ends, on every device, not only this cookie
    logout_user()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/language", methods=["POST"])
def set_language():
    from flask import current_app

    language = request.form.get("language", "")
    if language in current_app.config["LANGUAGES"]:
        session["lang"] = language
        if current_user.is_authenticated:
            current_user.language = language
    return redirect(_safe_next(request.form.get("next")))
