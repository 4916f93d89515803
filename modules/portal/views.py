"""The citizen's pages: home, apply, follow the application and its payments, appeal or complain, certificate.

Thin: load what the citizen owns (anything else is a 404), call an operation, render. Every page read is audited
as 'portal.viewed' with the page and the citizen; no PIN and no amount is ever put in an address.
"""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from modules.portal import apply as applying
from modules.portal import cases as requests_
from modules.portal import follow
from modules.portal.session import citizen_required, current_citizen
from webapp import audit
from webapp.boundary import caught_refusal


def register(bp) -> None:
    """Add the citizen's routes to the portal's blueprint."""
    bp.add_url_rule("/", "home", home)
    bp.add_url_rule("/apply", "apply", apply_page, methods=["GET", "POST"])
    bp.add_url_rule("/applications/<int:application_id>", "application", application_page)
    bp.add_url_rule("/applications/<int:application_id>/appeal", "appeal", appeal_page, methods=["GET", "POST"])
    bp.add_url_rule("/payments/<int:payroll_line_id>/complaint", "complaint", complaint_page,
                    methods=["GET", "POST"])
    bp.add_url_rule("/cases/<int:case_id>", "case", case_page)
    bp.add_url_rule("/certificate", "certificate", certificate)


def _render(template: str, **context) -> str:
    return render_template(template, status_words=follow.status_words, case_words=follow.case_words,
                           line_words=follow.line_words, period_words=follow.period_words, **context)


def _viewed(page: str, obj_type: str, obj_id, citizen) -> None:
    audit.record("portal.viewed", obj_type, obj_id, {"person_id": citizen.id, "page": page})


def _language() -> str:
    return str(get_locale() or "uz")


def home():
    citizen = current_citizen()
    if citizen is None:
        return _render("portal/home.html", applications=[], cases=[])
    applications, cases = follow.applications_of(citizen), follow.cases_of(citizen)
    _viewed("home", "person", citizen.id, citizen)
    household_id = applying.household_of(citizen)
    certificates = _certificates()
    certified = bool(household_id and certificates and certificates.active_enrolments(household_id))
    return _render("portal/home.html", applications=applications, cases=cases, certified=certified,
                   decisions=follow.decisions_of(applications))


def _certificates():
    """The certificates' operations, or None where the application has none (the page then says so)."""
    try:
        from modules.enrolment.certificates import operations
    except ImportError:
        return None
    return operations


@citizen_required
def apply_page():
    citizen = current_citizen()
    errors: dict = {}
    if request.method == "POST":
        with caught_refusal() as caught:
            application = applying.apply(citizen, request.form)
        if caught.refusal is None:
            flash(_("Your application %(ref)s is received. Its progress is shown below.",
                    ref=application.reference), "success")
            return redirect(url_for("portal.application", application_id=application.id))
        errors = caught.refusal.field_errors()
    _viewed("apply", "person", citizen.id, citizen)
    page = _render("portal/apply.html", family=applying.proposed_family(citizen), programmes=applying.programmes(),
                   sources=applying.data_sources(), errors=errors, form=request.form, added_rows=applying.ADDED_ROWS,
                   choices=applying.CHOSEN, languages_for_sms=applying.LANGUAGES, posted=request.method == "POST")
    return page, 422 if errors else 200


@citizen_required
def application_page(application_id: int):
    citizen = current_citizen()
    application = follow.own_application(citizen, application_id) or abort(404)
    _viewed("application", "application", application.id, citizen)
    steps = follow.timeline(application)
    cases = [case for case in follow.cases_of(citizen) if case.application_id == application.id]
    return _render("portal/application.html", application=application, steps=steps,
                   decision=follow.decision(application), cases=cases)


def _request_page(citizen, subject, template: str, open_case, **context):
    if request.method == "POST":
        with caught_refusal() as caught:
            case = open_case(citizen, subject, request.form, _language())
        if caught.refusal is None:
            flash(_("Your request is registered under number %(number)s.", number=case.tracking_number),
                  "success")
            return redirect(url_for("portal.case", case_id=case.id))
        return _render(template, errors=caught.refusal.field_errors(), form=request.form, **context), 422
    return _render(template, errors={}, form={}, **context)


@citizen_required
def appeal_page(application_id: int):
    citizen = current_citizen()
    application = follow.own_application(citizen, application_id) or abort(404)
    if follow.decision(application) is None:
        abort(404)  # only a decision is appealed
    _viewed("appeal", "application", application.id, citizen)
    return _request_page(citizen, application, "portal/appeal.html", requests_.appeal, application=application,
                         kind="appeal")


@citizen_required
def complaint_page(payroll_line_id: int):
    citizen = current_citizen()
    line = follow.own_line(citizen, payroll_line_id) or abort(404)
    _viewed("complaint", "payroll_line", line.id, citizen)
    return _request_page(citizen, line, "portal/appeal.html", requests_.complaint, line=line, kind="complaint")


@citizen_required
def case_page(case_id: int):
    citizen = current_citizen()
    case = follow.own_case(citizen, case_id) or abort(404)
    _viewed("case", "case", case.id, citizen)
    return _render("portal/case.html", case=case, events=follow.public_events(case))


@citizen_required
def certificate():
    citizen = current_citizen()
    household_id = applying.household_of(citizen)
    certificates = _certificates()
    if certificates is None or household_id is None:
        flash(_("The certificate is not available yet.") if certificates is None else
              _("Your household has no certificate: it is issued to households receiving assistance."), "error")
        return redirect(url_for("portal.home"))
    from modules.registration.models import Household
    from webapp.extensions import db

    household = db.session.get(Household, household_id)
    language = _language()
    with caught_refusal() as caught:
        _issued, body = certificates.download(household, language)
    if caught.refusal is not None:
        return redirect(url_for("portal.home"))
    audit.record("portal.certificate_downloaded", "household", household.id,
                 {"person_id": citizen.id, "language": language})
    return Response(body, mimetype="application/pdf",
                    headers={"Content-Disposition": 'attachment; filename="certificate.pdf"',
                             "Cache-Control": "no-store"})

