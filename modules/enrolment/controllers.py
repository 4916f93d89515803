"""Staff actions on enrolments. Thin: load in scope, check permission, call the operation, commit."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from modules.enrolment import operations
from modules.enrolment.models import Enrolment
from modules.enrolment.status import IllegalTransition
from modules.registration.operations import get_application
from webapp.auth.permissions import require
from webapp.extensions import db


def _load_or_404(enrolment_id: int) -> Enrolment:
    """The enrolment, if its application is in the user's scope."""
    enrolment = db.session.get(Enrolment, enrolment_id)
    if enrolment is None or get_application(current_user, enrolment.application_id) is None:
        abort(404)
    return enrolment


def _change(enrolment_id: int, change, done: str, needs_reason: bool = True):
    enrolment = _load_or_404(enrolment_id)
    reason = request.form.get("reason", "").strip()
    if needs_reason and not reason:
        flash(_("A reason is required."), "error")
    elif len(reason) > 500:
        flash(_("The reason must be at most 500 characters."), "error")
    else:
        try:
            change(enrolment, reason)
        except IllegalTransition:
            db.session.rollback()
            flash(_("This enrolment is %(status)s; that change is not possible.", status=_(enrolment.status.value)),
                  "error")
        else:
            db.session.commit()
            flash(done, "success")
    return redirect(url_for("registration.application_detail", application_id=enrolment.application_id))


@require("enrolment.change")
def suspend(enrolment_id: int):
    return _change(enrolment_id, lambda e, reason: operations.suspend(e, reason, current_user),
                   _("Enrolment suspended."))


@require("enrolment.change")
def resume(enrolment_id: int):
    return _change(enrolment_id, lambda e, reason: operations.resume(e, current_user, reason or None),
                   _("Enrolment resumed."), needs_reason=False)


@require("enrolment.change")
def end(enrolment_id: int):
    return _change(enrolment_id, lambda e, reason: operations.end(e, reason, current_user), _("Enrolment ended."))
