"""Staff pages for cases: the work queues, opening a case, and one case with its actions and timeline.

Thin: load, check access, validate the form, call an operation, render or redirect. The boundary
(webapp/boundary.py) commits; a refusal is flashed and the page shown again."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import case as sql_case
from sqlalchemy import func, literal, select
from werkzeug.routing import BuildError

from modules.grievances import categories as case_categories
from modules.grievances import operations, sla
from modules.grievances import page_labels as labels
from modules.grievances.forms import (
    OPEN_FIELDS,
    PAGE_EVENT_KINDS,
    SUMMARY_MAX,
    TEXT_MAX,
    AssignForm,
    EventForm,
    QueueArgs,
    ResolveForm,
    TransitionForm,
)
from modules.grievances.models import OPEN_STATUSES, Case, CaseChannel, CaseDecision, CaseKind, CaseStatus
from modules.grievances.page_access import case_or_404, page_today
from modules.grievances.reassessment_panel import panel as reassessment_panel
from modules.grievances.schemas import STAFF_CHANNELS, CaseArgs
from modules.grievances.status import TRANSITIONS
from modules.registration.models import Application, Person
from webapp.auth.permissions import PERMISSIONS, has_permission, require
from webapp.boundary import Refusal, caught_refusal, flatten_errors
from webapp.extensions import db
from webapp.filters import load_filters
from webapp.models import Area, User, UserArea

CLOSED = (CaseStatus.resolved, CaseStatus.closed)


def _form(schema, data: dict) -> dict:
    """The form checked by its schema; a field's problems come back beside it, like an operation's refusal."""
    try:
        return schema.load({key: value for key, value in data.items() if value not in ("", None)})
    except ValidationError as error:
        errors = flatten_errors(error.messages)
        raise Refusal("; ".join(message for messages in errors.values() for message in messages),
                      errors=errors) from error


def _category_name(code: str) -> str:
    found = case_categories.category(code)
    return found.name if found else "—"


def _who(cases) -> dict[int, str]:
    """{case id: the person the case is about}: the person, the application's applicant, or the complainant."""
    person_ids = {c.person_id for c in cases if c.person_id}
    application_ids = {c.application_id for c in cases if c.application_id and not c.person_id}
    persons = {p.id: p for p in db.session.scalars(select(Person).where(Person.id.in_(person_ids)))} \
        if person_ids else {}
    applicants = {a.id: a.applicant for a in db.session.scalars(
        select(Application).where(Application.id.in_(application_ids)))} if application_ids else {}
    names = {}
    for c in cases:
        person = persons.get(c.person_id) or applicants.get(c.application_id)
        names[c.id] = person.full_name if person else (c.complainant_name or "—")
    return names


def _page_helpers() -> dict:
    return {"status_word": lambda code: labels.word(labels.STATUS, code),
            "kind_word": lambda code: labels.word(labels.KIND, code),
            "channel_word": lambda code: labels.word(labels.CHANNEL, code),
            "decision_word": lambda code: labels.word(labels.DECISION, code),
            "event_word": lambda code: labels.word(labels.EVENT, code),
            "sla_word": lambda code: labels.word(labels.SLA, code),
            "category_name": _category_name}


# --- the queues ---------------------------------------------------------------------------------------------------


def _supervisor_view(user, today) -> dict:
    """Open cases in the supervisor's areas by status, how many are overdue, and each worker's open and overdue."""
    scoped = operations.cases_for(user, "all", {}, today=today).order_by(None).subquery()
    open_ = scoped.c.status.in_(list(OPEN_STATUSES))
    by_status = {CaseStatus(status): count for status, count in db.session.execute(
        select(scoped.c.status, func.count()).where(open_).group_by(scoped.c.status)).all()}
    overdue = db.session.scalar(select(func.count()).select_from(scoped).where(open_, scoped.c.due_date < today))
    late = func.sum(sql_case((scoped.c.due_date < today, 1), else_=0))
    rows = db.session.execute(select(scoped.c.assignee_id, func.count(), late).where(open_)
                              .group_by(scoped.c.assignee_id)).all()
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_([r[0] for r in rows if r[0]])))}
    workers = sorted(({"user": users.get(r[0]), "open": r[1], "overdue": int(r[2] or 0)} for r in rows),
                     key=lambda w: (w["user"] is None, -w["open"]))
    return {"by_status": [(s, by_status.get(s, 0)) for s in CaseStatus if s in OPEN_STATUSES],
            "overdue": overdue or 0, "workers": workers}


@require("case.view")
def case_list():
    filters = load_filters(QueueArgs())
    queue = filters["queue"]
    supervises = operations.can_supervise(current_user)
    if queue == "supervisor" and not supervises:
        queue = filters["queue"] = "mine"
    today = page_today()
    scope = {"mine": "mine", "area": "unassigned", "supervisor": "all"}[queue]
    wanted = {key: filters[key] for key in ("status", "kind", "category") if filters.get(key)}
    page = db.paginate(operations.cases_for(current_user, scope, wanted, today=today), page=filters["page"],
                       per_page=filters["per_page"], error_out=False)
    return render_template(
        "grievances/list.html", page=page, filters=filters, queue=queue, today=today,
        who=_who(page.items), sla_of={c.id: sla.sla_status(c, today) for c in page.items},
        statuses=list(CaseStatus), kinds=list(CaseKind), category_groups=_category_groups(), supervises=supervises,
        supervisor=_supervisor_view(current_user, today) if queue == "supervisor" else None,
        **_page_helpers())


# --- opening a case -----------------------------------------------------------------------------------------------


def _category_groups() -> list[tuple[str, list]]:
    """The categories the reader may see, for a grouped select: [(group name, [(code, name), …]), …]."""
    groups: dict[str, list] = {}
    for item in case_categories.categories():
        if item.visible_for(current_user.role):
            groups.setdefault(item.group.name, []).append((item.code, item.name))
    return list(groups.items())


@require("case.open")
def case_new():
    form, errors = {"channel": CaseChannel.office.value}, {}
    if request.method == "POST":
        form = {key: request.form.get(key, "").strip() for key in OPEN_FIELDS}
        with caught_refusal(flash_it=False) as caught:
            case = _opened(form)
        errors = caught.errors
        if caught and caught.refusal.message is not None:
            flash(str(caught.refusal), "error")
        if not caught:
            flash(_("Case %(number)s opened; the citizen can quote this number.", number=case.tracking_number),
                  "success")
            return redirect(url_for("grievances.case_detail", case_id=case.id))
    return render_template("grievances/new.html", form=form, errors=errors, kinds=list(CaseKind),
                           channels=[CaseChannel(value) for value in STAFF_CHANNELS],
                           category_groups=_category_groups(), text_max=TEXT_MAX,
                           **_page_helpers()), 422 if errors or request.method == "POST" else 200


def _application_id(typed: str) -> str:
    """The application's id from its reference as staff read it on its page (A-202612-000123), or the bare number."""
    if not typed.strip():
        return ""
    application_id = Application.id_from_reference(typed)
    if application_id is None:
        raise Refusal(errors={"application_id": [
            _("Give the application's reference as it appears on its page, for example A-202612-000123.")]})
    return str(application_id)


def _opened(form: dict) -> Case:
    """The case opened from the form; what the operation finds wrong with a field comes back beside it."""
    args = _form(CaseArgs(), {**form, "application_id": _application_id(form.get("application_id", ""))})
    try:
        return operations.open_case(args, current_user)
    except ValidationError as error:
        errors = flatten_errors(error.messages)
        raise Refusal(errors=errors) from error


# --- one case -----------------------------------------------------------------------------------------------------


def colleagues(case: Case) -> list[tuple[User, int]]:
    """Active staff who work cases in the case's area (a scope at or above it), each with their open caseload."""
    area_path = db.session.scalar(select(Area.path).where(Area.id == case.area_id))
    roles = [role.value for role in PERMISSIONS["case.manage"]]
    users = db.session.scalars(
        select(User).join(UserArea, UserArea.user_id == User.id).join(Area, Area.id == UserArea.area_id)
        .where(User.active.is_(True), User.role.in_(roles), literal(area_path).startswith(Area.path))
        .distinct().order_by(User.full_name)).all()
    load = operations.caseload(users) if users else {}
    return [(user, load.get(user.id, 0)) for user in users]


def _targets(case: Case) -> list[CaseStatus]:
    """The statuses the case may move to next, in the order of the status list."""
    allowed = TRANSITIONS[CaseStatus(case.status)]
    return [status for status in CaseStatus if status in allowed]


@require("case.view")
def case_detail(case_id: int):
    case = case_or_404(case_id)
    today = page_today()
    targets = _targets(case)
    confidential = has_permission(current_user, "case.manage")
    events = [e for e in case.events if confidential or e.kind.value != "confidential_note"]
    reopen = next((s for s in (CaseStatus.in_progress, CaseStatus.assigned, CaseStatus.new) if s in targets), None) \
        if case.status in CLOSED else None
    application = db.session.get(Application, case.application_id) if case.application_id else None
    person = db.session.get(Person, case.person_id) if case.person_id else None
    payment = _payment(case)
    return render_template(
        "grievances/detail.html", case=case, today=today, sla_state=sla.sla_status(case, today),
        events=events, colleagues=colleagues(case) if confidential else [],
        moves=[s for s in targets if s is not CaseStatus.resolved and (reopen is None or s is not reopen)],
        can_resolve=CaseStatus.resolved in targets, reopen=reopen, application=application, person=person,
        who=_who([case])[case.id], household_url=_household_url(case), payment=payment, event_kinds=PAGE_EVENT_KINDS,
        decisions=list(CaseDecision), text_max=TEXT_MAX, summary_max=SUMMARY_MAX, rp=reassessment_panel(case, today),
        **_page_helpers())


def _payment(case: Case):
    """The payroll line a case is about (a payment not received, a failed payment), with its payroll."""
    if not case.payroll_line_id:
        return None
    from modules.payments.models import PayrollLine

    return db.session.get(PayrollLine, case.payroll_line_id)


def _household_url(case: Case) -> str | None:
    """The household's profile page, when the case names a household and the profile pages are there."""
    if not case.household_id:
        return None
    try:
        return url_for("grievances.household_profile", household_id=case.household_id)
    except BuildError:
        return None


def _back(case_id: int):
    return redirect(url_for("grievances.case_detail", case_id=case_id))


@require("case.manage")
def case_assign(case_id: int):
    case = case_or_404(case_id)
    with caught_refusal() as caught:
        args = _form(AssignForm(), request.form)
        assignee = next((user for user, _load in colleagues(case) if user.id == args["assignee"]), None)
        if assignee is None:
            raise Refusal(_("Choose a colleague who works in the case's area."))
        operations.assign(case, assignee, current_user)
    if not caught:
        flash(_("Case assigned to %(name)s.", name=assignee.full_name), "success")
    return _back(case_id)


@require("case.manage")
def case_event(case_id: int):
    case = case_or_404(case_id)
    with caught_refusal() as caught:
        args = _form(EventForm(), request.form)
        operations.add_event(case, args["kind"], args["text"], current_user)
    if not caught:
        flash(_("Added to the timeline."), "success")
    return _back(case_id)


@require("case.manage")
def case_transition(case_id: int):
    case = case_or_404(case_id)
    with caught_refusal() as caught:
        args = _form(TransitionForm(), request.form)
        target = next((s for s in _targets(case) if s.value == args["to_status"]), None)
        if target is None:
            raise Refusal(_("The case cannot move to that status from where it is now."))
        operations.transition(case, target, current_user, note=args.get("note"))
    if not caught:
        flash(_("The case is now: %(status)s.", status=labels.word(labels.STATUS, target)), "success")
    return _back(case_id)


@require("case.manage")
def case_resolve(case_id: int):
    case = case_or_404(case_id)
    with caught_refusal() as caught:
        args = _form(ResolveForm(), request.form)
        decision = next((d for d in CaseDecision if d.value == args["decision"]), None)
        if decision is None:
            raise Refusal(errors={"decision": [_("Choose one of the decisions offered.")]})
        operations.transition(case, CaseStatus.resolved, current_user, decision=decision,
                              resolution=args["resolution"])
    if not caught:
        flash(_("Case resolved."), "success")
    return _back(case_id)


