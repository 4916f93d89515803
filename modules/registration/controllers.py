"""Staff pages for applications. Thin: load, check access, validate, call an operation, commit, render."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select

from modules.registration import operations
from modules.registration.models import ApplicationStatus, Channel, Relation
from modules.registration.schemas import ApplicationArgs, ApplicationFilterArgs
from modules.registration.status import IllegalTransition, allowed_targets
from webapp import jobs
from webapp.auth.permissions import require
from webapp.auth.scope import areas_in_scope
from webapp.boundary import flatten_errors
from webapp.extensions import db
from webapp.filters import load_filters
from webapp.models import AreaLevel, Programme

MAX_MEMBERS = 12


def _programmes():
    return db.session.scalars(select(Programme).where(Programme.active).order_by(Programme.id)).all()


@require("application.view")
def application_list():
    filters = load_filters(ApplicationFilterArgs())
    page = db.paginate(operations.filtered_applications(current_user, filters), page=filters["page"],
                       per_page=filters["per_page"], error_out=False)
    operations.record_list_view(page.items, current_user, searched=bool(filters["q"]))
    db.session.commit()
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
        try:
            application = operations.register_application(ApplicationArgs().load(payload), current_user)
        except ValidationError as error:
            errors = flatten_errors(error.messages)
        except operations.RegistrationError as error:
            db.session.rollback()
            errors = error.errors
        else:
            db.session.commit()
            flash(_("Application %(ref)s registered; decision due by %(due)s.", ref=application.reference,
                    due=application.due_at.strftime("%d.%m.%Y") if application.due_at else "—"), "success")
            return redirect(url_for("registration.application_detail", application_id=application.id))
    return render_template("registration/new.html", payload=payload, errors=errors, programmes=_programmes(),
                           channels=list(Channel), relations=[r for r in Relation if r is not Relation.head],
                           member_rows=max(len(payload["members"]) + 2, 4), max_members=MAX_MEMBERS), \
        422 if errors else 200


def _load_or_404(application_id: int):
    application = operations.get_application(current_user, application_id)
    if application is None:
        abort(404)  # out of scope looks exactly like missing: no hint that the record exists
    return application


@require("application.view")
def application_detail(application_id: int):
    application = _load_or_404(application_id)
    operations.record_view(application, current_user)
    db.session.commit()
    from modules.enrolment.operations import enrolments_for_application
    from modules.means_test.explain import explain, latest_assessment
    from modules.means_test.operations import can_restart, source_table

    sources = source_table(application) if application.status not in (ApplicationStatus.draft,
                                                                       ApplicationStatus.submitted) else None
    assessment = latest_assessment(application.id)
    return render_template("registration/detail.html", app=application, today=operations.today(),
                           targets=allowed_targets(application.status), sources=sources,
                           can_restart=can_restart(application), assessment=assessment,
                           explained=explain(assessment) if assessment else None,
                           enrolments=enrolments_for_application(application.id))


@require("application.change")
def application_submit(application_id: int):
    application = _load_or_404(application_id)
    try:
        operations.submit(application, current_user)
    except IllegalTransition as refusal:
        db.session.rollback()
        flash(str(refusal), "error")
    else:
        db.session.commit()
        flash(_("Application submitted."), "success")
    return redirect(url_for("registration.application_detail", application_id=application_id))


@require("application.change")
def application_withdraw(application_id: int):
    application = _load_or_404(application_id)
    try:
        operations.withdraw(application, current_user, request.form.get("reason", ""))
    except (IllegalTransition, operations.RegistrationError) as refusal:
        db.session.rollback()
        flash(str(getattr(refusal, "errors", {}).get("reason", [refusal])[0]), "error")
    else:
        db.session.commit()
        flash(_("Application withdrawn."), "success")
    return redirect(url_for("registration.application_detail", application_id=application_id))


@require("application.export")
def application_export():
    filters = {key: value for key, value in request.form.items() if key != "csrf_token"}
    job_id = jobs.enqueue("modules.registration.tasks:export_applications", queue="reports",
                          title=_("Export of applications"), user=current_user, user_id=current_user.id,
                          filters=filters)
    db.session.commit()
    return redirect(url_for("core.job_detail", job_id=job_id))
