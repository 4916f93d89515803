"""Staff pages for applications. Thin: load, check access, validate, call an operation, render.

The transaction boundary (webapp/boundary.py) commits or rolls back; a refusal not caught here is flashed."""

from __future__ import annotations

from itertools import zip_longest

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy.orm import selectinload

from modules.registration import operations
from modules.registration.models import Application, ApplicationMember, ApplicationStatus, Channel, Relation
from modules.registration.schemas import (
    MAX_MEMBERS,
    REASON_MAX,
    ApplicationArgs,
    ApplicationFilterArgs,
    WithdrawArgs,
    too_many_members,
)
from modules.registration.status import allowed_targets
from modules.registration.tasks import FORMATS as EXPORT_FORMATS
from modules.registration.tasks import export_applications
from webapp import jobs
from webapp.auth.permissions import require
from webapp.auth.scope import area_choices
from webapp.boundary import Refusal, caught_refusal, flatten_errors
from webapp.extensions import db
from webapp.filters import load_filters
from webapp.models import AreaLevel
from webapp.programmes import offered_programmes


def _programmes():
    return offered_programmes()


@require("application.view")
def application_list():
    filters = load_filters(ApplicationFilterArgs())
    # The rows' applicants, areas and programmes in one query each, not one per row.
    query = operations.filtered_applications(current_user, filters).options(
        selectinload(Application.applicant), selectinload(Application.area), selectinload(Application.programmes))
    page = db.paginate(query, page=filters["page"], per_page=filters["per_page"], error_out=False)
    operations.record_list_view(page.items, current_user, searched=bool(filters["q"]))
    areas = area_choices(current_user, (AreaLevel.region, AreaLevel.district))
    return render_template("registration/list.html", page=page, filters=filters, statuses=list(ApplicationStatus),
                           programmes=_programmes(), areas=areas,
                           today=operations.today())


# The form's buttons: register (and submit), save a draft, or change its member rows without saving anything.
ADD_MEMBER, REMOVE_MEMBER = "add_member", "remove_member:"
INITIAL_ROWS = 4


def _member_rows(form) -> list[dict]:
    """The member rows as posted, blank ones included (at most one more than the bound: the rest is not shown)."""
    pins, relations = form.getlist("member_pin"), form.getlist("member_relation")
    rows = [{"pin": pin, "relation": relation}
            for pin, relation in zip_longest(pins, relations, fillvalue="")]
    return rows[:MAX_MEMBERS + 1]


def _form_payload(form) -> dict:
    pins, relations = form.getlist("member_pin"), form.getlist("member_relation")
    members = [{"pin": pin, "relation": relation} for pin, relation in zip_longest(pins, relations, fillvalue="")
               if pin.strip() or relation.strip()]
    return {"applicant_pin": form.get("applicant_pin", ""), "phone": form.get("phone", ""), "members": members,
            "programmes": form.getlist("programmes"), "channel": form.get("channel", ""),
            "language": form.get("language", "uz"), "submit": form.get("action") != "draft"}


def _removed_row(action: str) -> int | None:
    index = action.removeprefix(REMOVE_MEMBER)
    return int(index) if action.startswith(REMOVE_MEMBER) and index.isascii() and index.isdigit() else None


def _change_rows(form) -> tuple[dict, list[dict], dict]:
    """'Add a member' or 'Remove': the form comes back as typed, with one row more or less; nothing is saved."""
    payload, rows, errors = _form_payload(form), _member_rows(form), {}
    action = form.get("action", "")
    if action == ADD_MEMBER:
        if len(rows) >= MAX_MEMBERS:
            errors["members"] = [too_many_members()]
        else:
            rows.append({"pin": "", "relation": ""})
    else:
        index = _removed_row(action)
        if index is not None and index < len(rows):
            del rows[index]
    return payload, rows[:MAX_MEMBERS], errors


def _rows_after_refusal(payload: dict) -> list[dict]:
    """The members typed (the errors are numbered by them) and blank rows for more, within the bound."""
    members = payload["members"][:MAX_MEMBERS]
    blank = max(INITIAL_ROWS - len(members), 1 if len(members) < MAX_MEMBERS else 0)
    return members + [{"pin": "", "relation": ""} for _ in range(blank)]


@require("application.create")
def application_new():
    payload = {"members": [], "programmes": [], "channel": "office", "language": "uz"}
    rows, errors, refused = [{"pin": "", "relation": ""} for _ in range(INITIAL_ROWS)], {}, False
    if request.method == "POST":
        action = request.form.get("action", "")
        if action == ADD_MEMBER or action.startswith(REMOVE_MEMBER):
            payload, rows, errors = _change_rows(request.form)
        else:
            payload = _form_payload(request.form)
            with caught_refusal(flash_it=False) as caught:
                application = operations.register_application(_load_application_args(payload), current_user)
            errors, refused = caught.errors, bool(caught)
            if not caught:
                flash(_("Application %(ref)s registered; decision due by %(due)s.", ref=application.reference,
                        due=application.due_at.strftime("%d.%m.%Y") if application.due_at else "—"), "success")
                return redirect(url_for("registration.application_detail", application_id=application.id))
            rows = _rows_after_refusal(payload)
    return render_template("registration/new.html", payload=payload, errors=errors, refused=refused,
                           programmes=_programmes(), channels=list(Channel),
                           relations=[r for r in Relation if r is not Relation.head], rows=rows,
                           max_members=MAX_MEMBERS, add_action=ADD_MEMBER, remove_action=REMOVE_MEMBER), \
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


def _load_or_404(application_id: int, *options):
    application = db.session.scalar(operations.scoped_applications(current_user)
                                    .where(Application.id == application_id).options(*options))
    if application is None:
        abort(404)  # out of scope looks exactly like missing: no hint that the record exists
    return application


@require("application.view")
def application_detail(application_id: int):
    # The members with their persons in one query each, not one per member.
    application = _load_or_404(application_id, selectinload(Application.members).selectinload(ApplicationMember.person),
                               selectinload(Application.programmes))
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
    filters = {key: value for key, value in request.form.items() if key not in ("csrf_token", "format")}
    file_format = request.form.get("format", "csv")
    job_id = jobs.enqueue(export_applications, title=_("Export of applications"), user=current_user,
                          user_id=current_user.id, filters=filters,
                          file_format=file_format if file_format in EXPORT_FORMATS else "csv")
    return redirect(url_for("core.job_detail", job_id=job_id))
