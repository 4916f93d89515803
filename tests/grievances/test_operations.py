"""Opening and working cases: links and areas, the citizen's SMS, area scoping, sensitive categories, escalation."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from marshmallow import ValidationError
from sqlalchemy import func, select

from modules.grievances import operations
from modules.grievances import status as machine
from modules.grievances.models import Case, CaseEventKind, CaseStatus
from modules.grievances.tasks import escalate_cases
from tests import factories
from webapp.extensions import db
from webapp.models import AuditEvent, Notification, Role, User
from webapp.timeutil import local_today


def _actions(case_id: int) -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "case",
                                                                    AuditEvent.object_id == str(case_id))
                                   .order_by(AuditEvent.id)))


def _grievance(actor, **fields) -> Case:
    data = {"kind": "grievance", "category": "payment_not_received", "channel": "phone",
            "description": "The November payment did not arrive.", "phone": "+998 90 111 22 33", **fields}
    return operations.open_case(data, actor)


@pytest.fixture
def worker(app):
    return factories.make_user("social_worker", areas=["UZ-TK"])


def test_a_grievance_gets_a_tracking_number_a_due_date_and_an_intake_sms(worker):
    case = _grievance(worker, language="ru")
    assert case.tracking_number == f"M-{local_today():%y%m}-{case.id:06d}"
    assert case.status is CaseStatus.new and case.priority == 1
    assert case.due_date > local_today()
    assert case.area_id == worker.scopes[0].area_id
    sms = db.session.scalar(select(Notification).where(Notification.dedupe_key == f"case:{case.id}:intake"))
    assert sms.to == "+998901112233" and sms.language == "ru"
    assert case.tracking_number in sms.body
    assert [event.kind for event in case.events] == [CaseEventKind.status_change, CaseEventKind.sms]
    assert _actions(case.id) == ["case.opened"]


def test_an_enquiry_sends_no_sms(worker):
    case = operations.open_case({"kind": "enquiry", "category": "status_enquiry", "description": "Where is it?",
                                 "phone": "+998901112233"}, worker)
    assert db.session.scalar(select(func.count()).select_from(Notification)
                             .where(Notification.dedupe_key.like(f"case:{case.id}:%"))) == 0


def test_a_category_of_another_kind_is_refused_naming_the_field(worker):
    with pytest.raises(ValidationError) as refused:
        operations.open_case({"kind": "appeal", "category": "birth", "description": "x"}, worker)
    assert set(refused.value.messages) == {"category"}


def test_an_application_outside_the_actor_areas_is_refused(app):
    registrar = factories.make_user("registrar", national=True)
    application = factories.register_family(registrar, "UZ-SA")
    worker = factories.make_user("social_worker", areas=["UZ-TK"])
    with pytest.raises(ValidationError) as refused:
        _grievance(worker, application_id=application.id)
    assert set(refused.value.messages) == {"application_id"}
    inside = factories.make_user("social_worker", areas=["UZ-SA"])
    case = _grievance(inside, application_id=application.id, phone=None)
    assert case.area_id == application.area_id and case.household_id == application.household_id
    assert case.complainant_phone == application.phone


def test_working_a_case_to_resolution_audits_every_step_and_sends_the_outcome_once(worker):
    case = _grievance(worker)
    operations.assign(case, worker, worker)
    assert case.status is CaseStatus.assigned
    operations.add_event(case, "call", "Called the citizen.", worker, public=True)
    secret = operations.add_event(case, "confidential_note", "Neighbour says otherwise.", worker, public=True)
    assert secret.public is False
    operations.transition(case, "in_progress", worker)
    with pytest.raises(machine.DecisionRequired):
        operations.transition(case, "resolved", worker)
    operations.transition(case, "resolved", worker, decision="upheld", resolution="Paid again on 4 December.")
    assert case.resolved_at is not None and case.decision.value == "upheld"
    sms = db.session.scalar(select(Notification).where(Notification.dedupe_key == f"case:{case.id}:resolved"))
    assert "Paid again on 4 December." in sms.body and case.tracking_number in sms.body
    operations.transition(case, "in_progress", worker, note="The citizen called back.")  # reopened
    assert case.decision is None and case.resolved_at is None
    operations.transition(case, "resolved", worker, decision="upheld", resolution="Paid.")
    assert db.session.scalar(select(func.count()).select_from(Notification)
                             .where(Notification.dedupe_key == f"case:{case.id}:resolved")) == 1
    operations.transition(case, "closed", worker)
    assert _actions(case.id) == ["case.opened", "case.assigned", "case.status_changed", "case.note_added",
                                 "case.note_added", "case.status_changed", "case.status_changed",
                                 "case.status_changed", "case.status_changed", "case.status_changed"]


def test_a_worker_of_another_area_cannot_take_the_case(worker):
    case = _grievance(worker)
    other = factories.make_user("social_worker", areas=["UZ-SA"])
    with pytest.raises(operations.AssigneeRefused):
        operations.assign(case, other, worker)
    registrar = factories.make_user("registrar", areas=["UZ-TK"])
    with pytest.raises(operations.AssigneeRefused):
        operations.assign(case, registrar, worker)


def test_queues_keep_to_the_area_and_hide_sensitive_categories(worker):
    mahalla = factories.make_user("mahalla_worker", areas=["UZ-TK"])
    outsider = factories.make_user("social_worker", areas=["UZ-SA"])
    plain = _grievance(worker)
    conduct = _grievance(worker, category="staff_conduct", description="Rude at the office.", phone=None)
    seen = set(db.session.scalars(operations.cases_for(worker, "area")))
    assert {plain, conduct} <= seen
    assert plain in set(db.session.scalars(operations.cases_for(mahalla, "area")))
    assert conduct not in set(db.session.scalars(operations.cases_for(mahalla, "area")))
    assert not operations.visible(conduct, mahalla) and operations.visible(conduct, worker)
    assert not set(db.session.scalars(operations.cases_for(outsider, "area"))) & {plain, conduct}
    assert not operations.visible(plain, outsider)
    assert list(db.session.scalars(operations.cases_for(worker, "mine"))) == []
    operations.assign(plain, worker, worker)
    assert list(db.session.scalars(operations.cases_for(worker, "mine"))) == [plain]
    assert operations.caseload([worker, mahalla]) == {worker.id: 1, mahalla.id: 0}


def test_the_queue_puts_breached_cases_first(worker):
    later = _grievance(worker, phone=None)
    breached = _grievance(worker, phone=None, category="status_enquiry", kind="enquiry")
    breached.due_date = local_today() - timedelta(days=3)
    soon = _grievance(worker, phone=None)
    soon.due_date = local_today()
    db.session.flush()
    ordered = [case for case in db.session.scalars(operations.cases_for(worker, "area"))
               if case in (later, breached, soon)]
    assert ordered == [breached, soon, later]
    assert list(db.session.scalars(operations.cases_for(worker, "area", {"overdue": True}))) == [breached]


def test_escalation_runs_twice_and_escalates_once(worker):
    factories.make_user("social_worker", areas=["UZ-TK"])  # a supervisor of the region (UZ-TK is a region)
    late = _grievance(worker, phone=None)
    operations.assign(late, worker, worker)
    late.due_date = local_today() - timedelta(days=1)
    on_time = _grievance(worker, phone=None)
    db.session.flush()
    first = escalate_cases("job-1", as_of=local_today().isoformat())
    second = escalate_cases("job-2", as_of=local_today().isoformat())
    assert first["escalated"] >= 1 and second == {"escalated": 0}
    assert late.escalated_at is not None and on_time.escalated_at is None
    # The region's supervisor: this test's, or an older social worker of the region that other tests committed.
    escalated_to = db.session.get(User, late.escalated_to_id)
    assert escalated_to.active and escalated_to.id != late.assignee_id
    assert escalated_to.role is Role.social_worker and "UZ-TK" in {area.code for area in escalated_to.areas}
    assert _actions(late.id).count("case.escalated") == 1
    assert [event.kind for event in late.events].count(CaseEventKind.escalation) == 1


def test_a_resolved_case_is_never_escalated(worker):
    case = _grievance(worker, phone=None)
    case.due_date = date(2020, 1, 1)
    operations.transition(case, "resolved", worker, decision="rejected", resolution="Not our matter.")
    assert operations.escalate(case) is False
