"""Staff pages of household visits: the phone-first form that records one, and its photo or document.

Thin: load, check access, call `visits`, render or redirect. The boundary commits."""

from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError

from modules.grievances import operations, profile, visits
from webapp.auth.permissions import require
from webapp.boundary import Refusal, caught_refusal, flatten_errors
from webapp.guard import int_arg
from webapp.timeutil import local_today

FACT_ROWS = 3


def _household_and_case(household_id: int):
    household = profile.get_household(current_user, household_id)
    if household is None:
        abort(404)  # out of scope looks exactly like missing
    case_id = int_arg("case")
    case = None
    if case_id is not None:
        case = operations.get_case(current_user, case_id)
        if case is None or case.household_id not in (None, household.id):
            abort(404)
    return household, case


def _data(household_id: int, case) -> dict:
    form = request.form
    facts = []
    for row in range(FACT_ROWS):
        fact = form.get(f"fact-{row}", "")
        if fact.strip():
            facts.append({"fact": fact, "confirmed": form.get(f"confirmed-{row}") == "yes",
                          "note": form.get(f"note-{row}", "")})
    return {"household_id": household_id, "case_id": case.id if case else None,
            "visited_on": form.get("visited_on", ""), "met": form.get("met", ""),
            "findings": form.get("findings", ""), "facts": facts}


def _upload():
    """The photo taken with the camera, else the file chosen (one attachment per visit)."""
    for name in ("photo", "document"):
        upload = request.files.get(name)
        if upload is not None and upload.filename:
            return upload
    return None


@require("case.manage")
def visit_new(household_id: int):
    household, case = _household_and_case(household_id)
    errors: dict = {}
    form = {"visited_on": local_today().isoformat()}
    if request.method == "POST":
        form = request.form.to_dict()
        with caught_refusal(flash_it=False) as caught:
            try:
                visits.record_visit(_data(household.id, case), current_user, _upload())
            except ValidationError as error:
                errors = flatten_errors(error.messages)
                raise Refusal(errors=errors) from error
        if not caught:
            flash(_("The visit was recorded."), "success")
            if case is not None:
                return redirect(url_for("grievances.case_detail", case_id=case.id))
            return redirect(url_for("grievances.household_profile", household_id=household.id))
    response = make_response(render_template(
        "grievances/visit_form.html", household=household, case=case, form=form, errors=errors,
        fact_rows=FACT_ROWS, today=local_today().isoformat(),
        met_max=visits.MET_MAX, findings_max=visits.FINDINGS_MAX, fact_max=visits.FACT_MAX,
        note_max=visits.NOTE_MAX))
    if errors:
        response.status_code = 422
    return response


@require("case.view")
def visit_attachment(household_id: int, visit_id: int):
    """The visit's photo or document, for staff who may see the household (a read of a household's record: audited)."""
    visit = visits.get_visit(current_user, household_id, visit_id)
    if visit is None or visit.attachment_content is None:
        abort(404)
    visits.record_attachment_view(visit, current_user)
    response = make_response(visit.attachment_content)
    response.headers["Content-Type"] = visit.attachment_mime or "application/octet-stream"
    response.headers["Content-Disposition"] = f'inline; filename="{visit.attachment_name or "visit"}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response
