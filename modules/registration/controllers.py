"""Staff pages for applications. Thin: load, check access, validate, call an operation, render.

The transaction boundary (webapp/boundary.py) commits or rolls back; a refusal not caught here is flashed."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError

from modules.registration import operations
from modules.registration.models import ApplicationStatus, Channel, Relation
from modules.registration.schemas import REASON_MAX, ApplicationArgs, ApplicationFilterArgs, WithdrawArgs
from modules.registration.status import allowed_targets
from modules.registration.tasks import export_applications
from webapp import jobs
from webapp.auth.permissions import require
from webapp.auth.scope import areas_in_scope
from webapp.boundary import Refusal, caught_refusal, flatten_errors
from webapp.extensions import db
from webapp.filters import load_filters
from webapp.models import AreaLevel
from webapp.programmes import offered_programmes

MAX_MEMBERS = 12


def _programmes():
    return offered_programmes()


@require("application.view")
def application_list():
    filters = load_filters(ApplicationFilterArgs())
    page = db.paginate(operations.filtered_applications(current_user, filters), page=filters["page"],
                       per_page=filters["per_page"], error_out=False)
    operations.record_list_view(page.items, current_user, searched=bool(filters["q"]))
    areas = areas_in_scope(current_user, AreaLevel.region) + areas_in_scope(current_user, AreaLevel.district)
    return render_template("registration/list.html", page=page, filters=filters, statuses=list(ApplicationStatus),
                           programmes=_programmes(), areas=sorted(areas, key=lambda a: a.code),
                           today=operations.today())


def _form_payload(form) -> dict:
    pins, relations = form.getlist("member_pin"), form.getlist("member_relation")
    members = [{"pin": pin, "relation": relation} for pin, relation in zip(pins, relations, strict=False)
               if pin.strip() or relation.strip()]
    return {"applicant_pin": form.get("applicant_pin", ""), "phone": form.get("phone", ""), "members": members,
            "programmes": form.getlist("programmes"), "channel": form.get("channel", ""),
            "language": form.get("language", "uz"), "submit": form.get("action") != "draft"}


@require("application.create")
def application_new():
    payload, errors = {"members": [], "programmes": [], "channel": "office", "language": "uz"}, {}
    if request.method == "POST":
        payload = _form_payload(request.form)
        with caught_refusal(flash_it=False) as caught:
            application = operations.register_application(_load_application_args(payload), current_user)
        errors = caught.errors
        if not caught:
            flash(_("Application %(ref)s registered; decision due by %(due)s.", ref=application.reference,
                    due=application.due_at.strftime("%d.%m.%Y") if application.due_at else "—"), "success")
            return redirect(url_for("registration.application_detail", application_id=application.id))
    return render_template("registration/new.html", payload=payload, errors=errors, programmes=_programmes(),
                           channels=list(Channel), relations=[r for r in Relation if r is not Relation.head],
                           member_rows=max(len(payload["members"]) + 2, 4), max_members=MAX_MEMBERS), \
        422 if errors else 200


def _load_application_args(payload: dict) -> dict:
    """The form's fields checked by the schema; a field's problems come back beside it, like the operation's."""
    try:
        return ApplicationArgs().load(payload)
    except ValidationError as error:
        raise Refusal(errors=flatten_errors(error.messages)) from error


def _load_withdraw_args(form) -> dict:
    try:
        return WithdrawArgs().load({"reason": form.get("reason", "")})
    except ValidationError as error:
        errors = flatten_errors(error.messages)
        raise operations.RegistrationError(errors, next(iter(errors.values()))[0]) from error


def _load_or_404(application_id: int):
    application = operations.get_application(current_user, application_id)
    if application is None:
        abort(404)  # out of scope looks exactly like missing: no hint that the record exists
    return application


@require("application.view")
def application_detail(application_id: int):
    application = _load_or_404(application_id)
    operations.record_view(application, current_user)
    from modules.enrolment.operations import enrolments_for_application
    from modules.means_test.evidence import source_table
    from modules.means_test.explain import explain, latest_assessment
    from modules.means_test.operations import can_restart

    sources = source_table(application) if application.status not in (ApplicationStatus.draft,
                                                                       ApplicationStatus.submitted) else None
    assessment = latest_assessment(application.id)
    return render_template("registration/detail.html", app=application, today=operations.today(),
                           targets=allowed_targets(application.status), sources=sources,
                           can_restart=can_restart(application), assessment=assessment,
                           explained=explain(assessment) if assessment else None,
                           enrolments=enrolments_for_application(application.id), reason_max=REASON_MAX)


@require("application.change")
def application_submit(application_id: int):
    application = _load_or_404(application_id)
    with caught_refusal() as caught:
        operations.submit(application, current_user)
    if not caught:
        flash(_("Application submitted."), "success")
    return redirect(url_for("registration.application_detail", application_id=application_id))


@require("application.change")
def application_withdraw(application_id: int):
    application = _load_or_404(application_id)
    with caught_refusal() as caught:
        operations.withdraw(application, current_user, _load_withdraw_args(request.form)["reason"])
    if not caught:
        flash(_("Application withdrawn."), "success")
    return redirect(url_for("registration.application_detail", application_id=application_id))


@require("application.export")
def application_export():
    filters = {key: value for key, value in request.form.items() if key != "csrf_token"}
    job_id = jobs.enqueue(export_applications, title=_("Export of applications"), user=current_user,
                          user_id=current_user.id, filters=filters)
    return redirect(url_for("core.job_detail", job_id=job_id))
