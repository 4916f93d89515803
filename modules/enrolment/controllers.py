"""Staff actions on enrolments. Thin: load in scope, check permission, call the operation, flash, redirect; the
request's boundary commits, and a refusal (a missing reason, a change the status does not allow) changes nothing."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from modules.enrolment import operations
from modules.enrolment.models import Enrolment
from modules.registration.operations import get_application
from webapp.auth.permissions import require
from webapp.boundary import caught_refusal
from webapp.extensions import db


def _load_or_404(enrolment_id: int) -> Enrolment:
    """The enrolment, if its application is in the user's scope."""
    enrolment = db.session.get(Enrolment, enrolment_id)
    if enrolment is None or get_application(current_user, enrolment.application_id) is None:
        abort(404)
    return enrolment


def _change(enrolment_id: int, change, done: str):
    enrolment = _load_or_404(enrolment_id)
    with caught_refusal():
        change(enrolment, request.form.get("reason", ""))
        flash(done, "success")
    return redirect(url_for("registration.application_detail", application_id=enrolment.application_id))


@require("enrolment.change")
def suspend(enrolment_id: int):
    return _change(enrolment_id, lambda e, reason: operations.suspend(e, reason, current_user),
                   _("Enrolment suspended."))


@require("enrolment.change")
def resume(enrolment_id: int):
    return _change(enrolment_id, lambda e, reason: operations.resume(e, current_user, reason),
                   _("Enrolment resumed."))


@require("enrolment.change")
def end(enrolment_id: int):
    return _change(enrolment_id, lambda e, reason: operations.end(e, reason, current_user), _("Enrolment ended."))
