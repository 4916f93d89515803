"""Cases: open, assign, note, move through the status machine, escalate, list for a worker. No commit here.

Every change is audited ("case.opened", "case.assigned", "case.status_changed", "case.escalated",
"case.note_added"); a grievance or appeal with a phone gets an SMS with its tracking number on intake and its
outcome on resolution, in the citizen's language, once (notification dedupe keys "case:<id>:intake|resolved").
"""

from __future__ import annotations

import uuid
from datetime import date

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _pl
from marshmallow import ValidationError
from sqlalchemy import Select, and_, false, func, select
from sqlalchemy import case as sql_case

from modules.grievances import sla
from modules.grievances import status as machine
from modules.grievances.categories import category as find_category
from modules.grievances.categories import escalation as escalation_rule
from modules.grievances.categories import sensitive_codes_hidden_from
from modules.grievances.models import (
    OPEN_STATUSES,
    Case,
    CaseChannel,
    CaseDecision,
    CaseEvent,
    CaseEventKind,
    CaseKind,
    CaseStatus,
)
from modules.grievances.schemas import CaseArgs, normalize_phone
from webapp import audit
from webapp.auth.permissions import has_permission
from webapp.auth.scope import area_clause, user_covers_area
from webapp.boundary import Refusal
from webapp.extensions import db
from webapp.models import Area, Role, User, UserArea
from webapp.timeutil import local_today, utcnow

CITIZEN_KINDS = frozenset({CaseKind.grievance, CaseKind.appeal})
SMS_LANGUAGES = ("uz", "ru", "en")
TRACKING_PREFIX = "M"

DECISION_LABELS = {
    CaseDecision.upheld: _pl("case decision", "upheld"),
    CaseDecision.partially_upheld: _pl("case decision", "partially upheld"),
    CaseDecision.rejected: _pl("case decision", "rejected"),
    CaseDecision.withdrawn: _pl("case decision", "withdrawn"),
    CaseDecision.redirected: _pl("case decision", "redirected to the responsible body"),
    CaseDecision.referred: _pl("case decision", "referred to a case"),
}


class NoArea(Refusal):
    def __init__(self):
        super().__init__(_l("The case cannot be placed in an area: link a household or an application, "
                            "or ask an administrator to give you an area."))


class AssigneeRefused(Refusal):
    def __init__(self):
        super().__init__(_l("This person cannot take the case: they do not work with cases in its area."),
                         errors={"assignee": _l("Choose a worker of the case's area.")})


# --- reading --------------------------------------------------------------------------------------------------


def can_supervise(user) -> bool:
    """Supervisors: administrators, and social workers with national scope."""
    return has_permission(user, "case.supervise") and (user.role is Role.admin or bool(user.national_scope))


def visible(case: Case, user) -> bool:
    """Whether `user` may see `case`: the permission, the area, and the category's sensitivity."""
    if not has_permission(user, "case.view"):
        return False
    found = find_category(case.category_code)
    if found is not None and not found.visible_for(user.role):
        return False
    return bool(user.national_scope) or user_covers_area(user, case.area_id)


def get_by_tracking_number(user, tracking_number: str) -> Case | None:
    found = db.session.scalar(select(Case).where(Case.tracking_number == tracking_number.strip().upper()))
    return found if found is not None and visible(found, user) else None


def get_case(user, case_id: int) -> Case | None:
    found = db.session.get(Case, case_id)
    return found if found is not None and visible(found, user) else None


def cases_for(user, scope: str = "mine", filters: dict | None = None, today: date | None = None) -> Select:
    """The cases `user` may see, for a queue: "mine", "unassigned", "area" or "all" (supervisors), most urgent first
    (breached, then by due date, then by priority)."""
    filters = filters or {}
    today = today or local_today()
    query = select(Case).where(area_clause(user, Case.area_id))
    if not has_permission(user, "case.view"):
        query = query.where(Case.id.is_(None))
    hidden = sensitive_codes_hidden_from(user.role)
    if hidden:
        query = query.where(Case.category_code.not_in(hidden))
    if scope == "mine":
        query = query.where(Case.assignee_id == user.id)
    elif scope == "unassigned":
        query = query.where(Case.assignee_id.is_(None), Case.status.in_(OPEN_STATUSES))
    if filters.get("status"):
        query = query.where(Case.status == CaseStatus(filters["status"]))
    if filters.get("open") is not None:
        query = query.where(Case.status.in_(OPEN_STATUSES) if filters["open"] else Case.status.not_in(OPEN_STATUSES))
    if filters.get("kind"):
        query = query.where(Case.kind == CaseKind(filters["kind"]))
    if filters.get("category"):
        query = query.where(Case.category_code == filters["category"])
    if filters.get("assignee"):
        query = query.where(Case.assignee_id == filters["assignee"])
    if filters.get("area"):
        area = db.session.get(Area, filters["area"])
        inside = select(Area.id).where(Area.path.startswith(area.path)) if area else select(Area.id).where(false())
        query = query.where(Case.area_id.in_(inside))
    if filters.get("overdue"):
        query = query.where(Case.status.in_(OPEN_STATUSES), Case.due_date < today)
    breached = sql_case((and_(Case.status.in_(OPEN_STATUSES), Case.due_date < today), 0), else_=1)
    return query.order_by(breached, Case.due_date, Case.priority, Case.id)


def caseload(users) -> dict[int, int]:
    """Open cases per user id (0 for a user with none)."""
    ids = [user.id for user in users]
    counts = dict(db.session.execute(
        select(Case.assignee_id, func.count(Case.id))
        .where(Case.assignee_id.in_(ids), Case.status.in_(OPEN_STATUSES)).group_by(Case.assignee_id)).all()) \
        if ids else {}
    return {user_id: counts.get(user_id, 0) for user_id in ids}


def sla_status(case: Case, today: date | None = None) -> str:
    return sla.sla_status(case, today or local_today())


# --- opening --------------------------------------------------------------------------------------------------


def open_case(data: dict, actor) -> Case:
    """Validate `data` (CaseArgs), link what it names, place it in an area, and open the case."""
    args = CaseArgs().load(data)
    kind = CaseKind(args["kind"])
    category = find_category(args["category"])
    if kind not in category.kinds:
        raise ValidationError({"category": [_("This category does not fit the kind of case.")]})
    links = _links(args, actor)
    area_id = links.pop("area_id") or _first_area_id(actor)
    if area_id is None:
        raise NoArea()
    if actor is not None and not actor.national_scope and not user_covers_area(actor, area_id):
        raise NoArea()
    phone = normalize_phone(args["phone"]) if args.get("phone") else links.pop("phone", None)
    links.pop("phone", None)
    language = args.get("language") or links.pop("language", None) or "uz"
    links.pop("language", None)
    today = local_today()
    case = Case(tracking_number=f"T{uuid.uuid4().hex[:18]}", kind=kind, category_code=category.code,
                channel=CaseChannel(args["channel"]), status=CaseStatus.new,
                priority=args.get("priority") or category.priority, area_id=area_id,
                complainant_name=args.get("complainant_name"), complainant_phone=phone,
                language=language if language in SMS_LANGUAGES else "uz", description=args["description"],
                created_by_id=getattr(actor, "id", None), due_date=sla.due_date(today, category.sla_working_days),
                **links)
    db.session.add(case)
    db.session.flush()
    case.tracking_number = tracking_number(case.id, today)
    case.events.append(CaseEvent(kind=CaseEventKind.status_change, actor_id=getattr(actor, "id", None),
                                 to_status=CaseStatus.new.value, public=True))
    db.session.flush()
    audit.record("case.opened", "case", case.id,
                 {"tracking_number": case.tracking_number, "kind": kind.value, "category": category.code,
                  "channel": case.channel.value, "area_id": area_id}, actor=actor)
    if kind in CITIZEN_KINDS and case.complainant_phone:
        _sms(case, "intake", lambda: _("Your request is registered under number %(number)s. We will answer by "
                                       "%(date)s. Quote this number when you contact us.",
                                       number=case.tracking_number, date=case.due_date.strftime("%d.%m.%Y")))
    return case


def tracking_number(case_id: int, opened_on: date) -> str:
    """"M-YYMM-NNNNNN": digits only after the letter, so it is read out over the phone without confusion."""
    return f"{TRACKING_PREFIX}-{opened_on:%y%m}-{case_id:06d}"


def _links(args: dict, actor) -> dict:
    """The records the case concerns, each checked to exist in the actor's areas; the area and contact they give."""
    from modules.enrolment.models import Enrolment
    from modules.payments.models import PayrollLine
    from modules.registration.models import Application, Household, HouseholdMember, Person

    links: dict = {"area_id": None}
    if args.get("payroll_line_id"):
        line = db.session.get(PayrollLine, args["payroll_line_id"])
        enrolment = db.session.get(Enrolment, line.enrolment_id) if line else None
        if enrolment is None or not _in_scope(actor, db.session.get(Household, enrolment.household_id).area_id):
            raise ValidationError({"payroll_line_id": [_("No such payment line in your areas.")]})
        links.update(payroll_line_id=line.id, enrolment_id=enrolment.id, household_id=enrolment.household_id,
                     person_id=enrolment.beneficiary_person_id, application_id=enrolment.application_id)
    if args.get("application_id"):
        application = db.session.get(Application, args["application_id"])
        if application is None or not _in_scope(actor, application.area_id):
            raise ValidationError({"application_id": [_("No such application in your areas.")]})
        links.update(application_id=application.id, household_id=application.household_id,
                     person_id=links.get("person_id") or application.applicant_id, area_id=application.area_id,
                     phone=application.phone, language=application.language)
    if args.get("household_id") and not links.get("household_id"):
        household = db.session.get(Household, args["household_id"])
        if household is None or not _in_scope(actor, household.area_id):
            raise ValidationError({"household_id": [_("No such household in your areas.")]})
        links["household_id"] = household.id
    if args.get("applicant_pin") and not links.get("person_id"):
        person = db.session.scalar(select(Person).where(Person.pin == args["applicant_pin"]))
        if person is None or not _in_scope(actor, person.area_id):
            raise ValidationError({"applicant_pin": [_("No person with this PIN in your areas.")]})
        links["person_id"] = person.id
        links.setdefault("phone", person.phone)
        if not links.get("household_id"):
            links["household_id"] = db.session.scalar(
                select(HouseholdMember.household_id).where(HouseholdMember.person_id == person.id,
                                                           HouseholdMember.left_at.is_(None)).limit(1))
        links["area_id"] = links["area_id"] or person.area_id
    if links.get("household_id") and not links["area_id"]:
        links["area_id"] = db.session.get(Household, links["household_id"]).area_id
    if not links.get("phone"):
        links.pop("phone", None)
    return links


def _in_scope(actor, area_id: int) -> bool:
    return actor is None or bool(actor.national_scope) or user_covers_area(actor, area_id)


def _first_area_id(actor) -> int | None:
    if actor is None:
        return None
    return db.session.scalar(select(UserArea.area_id).where(UserArea.user_id == actor.id)
                             .order_by(UserArea.id).limit(1))


# --- working a case -------------------------------------------------------------------------------------------


def assign(case: Case, assignee: User, actor) -> Case:
    """Give the case to `assignee` (a case worker covering its area); a new case becomes assigned."""
    if not machine.is_open(case.status):
        raise machine.CaseNotOpen()
    if (assignee is None or not assignee.active or not has_permission_role(assignee, "case.manage")
            or not (assignee.national_scope or user_covers_area(assignee, case.area_id))
            or not _category_visible(case, assignee)):
        raise AssigneeRefused()
    previous = case.assignee_id
    case.assignee_id = assignee.id
    case.assignee = assignee
    case.events.append(CaseEvent(kind=CaseEventKind.assignment, actor_id=getattr(actor, "id", None),
                                 text=assignee.full_name))
    audit.record("case.assigned", "case", case.id, {"from": previous, "to": assignee.id}, actor=actor)
    if case.status is CaseStatus.new:
        transition(case, CaseStatus.assigned, actor)
    db.session.flush()
    return case


def has_permission_role(user, permission: str) -> bool:
    """The permission by role, for a user who is not the one signed in."""
    from webapp.auth.permissions import PERMISSIONS

    return user.role in PERMISSIONS[permission]


def _category_visible(case: Case, user) -> bool:
    found = find_category(case.category_code)
    return found is None or found.visible_for(user.role)


def add_event(case: Case, kind: CaseEventKind | str, text: str | None, actor, public: bool = False) -> CaseEvent:
    """A timeline entry (note, call, visit, document…); a confidential note is never public."""
    kind = CaseEventKind(kind)
    if kind in (CaseEventKind.status_change, CaseEventKind.assignment, CaseEventKind.escalation):
        raise ValueError(f"{kind.value} entries are written by their operations")
    if kind is CaseEventKind.confidential_note:
        public = False
    event = CaseEvent(kind=kind, text=(text or "").strip() or None, actor_id=getattr(actor, "id", None),
                      public=bool(public))
    case.events.append(event)
    db.session.flush()
    audit.record("case.note_added", "case", case.id, {"event_id": event.id, "kind": kind.value, "public": event.public},
                 actor=actor)
    return event


def transition(case: Case, to_status: CaseStatus | str, actor, note: str | None = None,
               decision: CaseDecision | str | None = None, resolution: str | None = None) -> Case:
    """Move the case through the status machine (refusals from modules.grievances.status)."""
    target = CaseStatus(to_status)
    decision = CaseDecision(decision) if decision else None
    current = case.status
    machine.check(current, target, decision, resolution)
    now = utcnow()
    case.status = target
    if target is CaseStatus.resolved:
        case.decision, case.resolution, case.resolved_at = decision, resolution.strip(), now
    elif target is CaseStatus.closed:
        case.closed_at = now
    elif current in (CaseStatus.resolved, CaseStatus.closed):  # reopened: the decision is in the timeline
        case.decision, case.resolution, case.resolved_at, case.closed_at = None, None, None, None
    text = resolution.strip() if target is CaseStatus.resolved else None
    case.events.append(CaseEvent(kind=CaseEventKind.status_change, actor_id=getattr(actor, "id", None),
                                 from_status=current.value, to_status=target.value,
                                 text="\n\n".join(part for part in (text, (note or "").strip()) if part) or None,
                                 public=True))
    db.session.flush()
    audit.record("case.status_changed", "case", case.id,
                 {"from": current.value, "to": target.value, "decision": decision.value if decision else None},
                 actor=actor)
    if target is CaseStatus.resolved and case.kind in CITIZEN_KINDS and case.complainant_phone:
        _sms(case, "resolved", lambda: _("Your request %(number)s has been considered: %(decision)s. %(resolution)s",
                                         number=case.tracking_number, decision=DECISION_LABELS[decision],
                                         resolution=case.resolution))
    return case


# --- escalation -----------------------------------------------------------------------------------------------


def escalate(case: Case, actor=None, to_user: User | None = None, reason: str = "breached",
             look_up: bool = True) -> bool:
    """Escalate an open case once: to `to_user`, else (with `look_up`) to a worker of its handling role over a wider
    area.

    False when it was escalated already (a breach is escalated, and notified, only once)."""
    if case.escalated_at is not None or not machine.can_escalate(case.status):
        return False
    target = to_user or (supervisor_for(case) if look_up else None)
    case.escalated_at = utcnow()
    case.escalated_to_id = target.id if target else None
    # Added beside the case, not through case.events: appending there would load the whole timeline first.
    db.session.add(CaseEvent(case=case, kind=CaseEventKind.escalation, actor_id=getattr(actor, "id", None),
                             text=target.full_name if target else None))
    audit.record("case.escalated", "case", case.id,
                 {"to": case.escalated_to_id, "reason": reason, "due_date": case.due_date.isoformat()}, actor=actor)
    return True


def supervisor_for(case: Case) -> User | None:
    """The first active user of the category's handling role whose areas hold the case's area at the escalation
    level (a region by default); None when there is none."""
    return _supervisor(*_supervisor_key(case))


def _supervisor_key(case: Case) -> tuple:
    """(the case's area at the escalation level or None, the handling role, the assignee to pass over)."""
    found = find_category(case.category_code)
    role = found.role if found else Role.social_worker
    level = escalation_rule().level
    area = db.session.get(Area, case.area_id)
    while area is not None and area.level != level:
        area = area.parent
    return (area.id if area is not None else None, role, case.assignee_id)


def _supervisor(area_id: int | None, role: Role, assignee_id: int | None) -> User | None:
    if area_id is None:
        return None
    query = (select(User).join(UserArea, UserArea.user_id == User.id)
             .where(UserArea.area_id == area_id, User.role == role, User.active.is_(True)))
    if assignee_id is not None:
        query = query.where(User.id != assignee_id)
    return db.session.scalar(query.order_by(User.id).limit(1))


def escalate_breached(today: date | None = None, batch: int = 500) -> int:
    """Escalate every open case past its due date that was not escalated yet; returns how many were."""
    today = today or local_today()
    done, last_id = 0, 0
    supervisors: dict[tuple, User | None] = {}  # one look-up per region, role and assignee, not one per case
    areas = db.session.scalars(select(Area)).all()  # noqa: F841 - held: a case's way up to its region, no query
    with audit.appending_in_bulk():  # thousands of escalations: one lock, the rows written batch by batch
        while True:
            cases = db.session.scalars(
                select(Case).where(Case.status.in_(OPEN_STATUSES), Case.due_date < today,
                                   Case.escalated_at.is_(None), Case.id > last_id).order_by(Case.id).limit(batch)).all()
            if not cases:
                return done
            for case in cases:
                key = _supervisor_key(case)
                if key not in supervisors:
                    supervisors[key] = _supervisor(*key)
                done += escalate(case, to_user=supervisors[key], look_up=False)
            last_id = cases[-1].id


# --- messages -------------------------------------------------------------------------------------------------


def _sms(case: Case, event: str, body, phone: str | None = None, occurrence: int | None = None) -> None:
    """Queue the citizen's SMS for `event` in their language, once (per `occurrence` of an event that can recur),
    and note it on the timeline; to `phone`, else the complainant's."""
    from modules.notifications.operations import MAX_BODY, queue_sms

    language = case.language if case.language in SMS_LANGUAGES else "uz"
    with force_locale(language):
        text = body()
    if len(text) > MAX_BODY:
        text = text[:MAX_BODY - 1] + "…"
    key = f"case:{case.id}:{event}" + (f":{occurrence}" if occurrence is not None else "")
    notification = queue_sms(key, phone or case.complainant_phone, text, language, f"case_{event}",
                             application_id=case.application_id)
    case.events.append(CaseEvent(kind=CaseEventKind.sms, text=text, public=True,
                                 actor_id=None, from_status=None, to_status=None))
    db.session.flush()
    return notification
