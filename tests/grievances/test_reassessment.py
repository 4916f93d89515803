"""Re-assessing a household from a case: a birth recorded by a worker (the household changes, only the newborn is
asked about, the new assessment waits for confirmation, the newborn is enrolled), a death and an ineligible
result (enrolments stop at the end of the month), and an appeal that overturns a refusal (a different reviewer, the
original date's rules, enrolment from the month after the first decision, the months missed paid once)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from modules.enrolment.models import Enrolment, EnrolmentStatus
from modules.grievances import operations
from modules.grievances import reassessment as flows
from modules.grievances.models import CaseDecision, CaseStatus, ReassessmentOutcome, ReassessmentStatus
from modules.means_test.models import Assessment, DataPull, Decision
from modules.registration.models import Application, ApplicationStatus, HouseholdMember, Purpose, Relation
from tests import factories
from tests.means_test.conftest import simulator, simulator_store, sources_at  # noqa: F401 - pytest fixtures
from webapp.extensions import db
from webapp.models import AuditEvent, Notification
from webapp.timeutil import local_today

TODAY = date(2026, 12, 5)


@pytest.fixture
def worker(app):
    return factories.make_user("social_worker", areas=["UZ-TK"])


def _case(worker, assessment: Assessment, kind="update", category="birth") -> object:
    application = assessment.application
    return operations.open_case({"kind": kind, "category": category, "channel": "mahalla",
                                 "description": "The family reports a change.", "application_id": application.id,
                                 "phone": "+998 90 555 44 33"}, worker)


def _run_jobs():
    factories.commit()  # the re-assessment's collection job runs after the commit (inline in tests)


@pytest.mark.usefixtures("sources_at")
def test_a_birth_changes_the_household_asks_only_about_the_newborn_and_enrols_it_once_confirmed(app, worker):
    previous = factories.household_decided(300_000, datetime(2026, 9, 20, 8, tzinfo=UTC))
    household_id = previous.household_id
    before = {e.beneficiary_person_id for e in db.session.scalars(
        select(Enrolment).where(Enrolment.household_id == household_id))}
    assert before  # the two children receive the child allowance
    factories.evidence_on_file(previous.application)
    newborn = factories.make_person("UZ-TK", date(2026, 11, 2), "F", first_name="Newborn")
    case = _case(worker, previous)

    shape = flows.composition(case, [flows.Change("birth", newborn, Relation.child, date(2026, 11, 2))])
    assert [p.id for p, _r in shape.after][-1] == newborn.id and len(shape.after) == len(shape.before) + 1
    assert shape.asked == [newborn]
    assert db.session.scalar(select(func.count()).select_from(HouseholdMember).where(
        HouseholdMember.person_id == newborn.id)) == 0  # the preview wrote nothing

    found = flows.record_change(case, [flows.Change("birth", newborn, Relation.child, date(2026, 11, 2))], worker)
    application = db.session.get(Application, found.application_id)
    assert application.purpose is Purpose.change and application.as_of is None
    assert case.status is CaseStatus.in_progress
    _run_jobs()

    found = db.session.get(type(found), found.id)
    assert found.status is ReassessmentStatus.assessed
    new = flows.new_assessment(found)
    assert new is not None and new.decision is Decision.eligible
    asked_again = set(db.session.scalars(select(DataPull.person_id).where(
        DataPull.application_id == application.id, DataPull.request_id.is_not(None))))
    assert asked_again == {newborn.id}  # the others' evidence was carried over, not asked for again
    # Nothing follows before a person confirms: no enrolment for the newborn, no SMS about it.
    assert not db.session.scalar(select(Enrolment.id).where(Enrolment.beneficiary_person_id == newborn.id))
    plan = flows.plan_for(found, TODAY)
    assert newborn in [s.beneficiary for s in plan.starting]
    assert not plan.stopping

    assert flows.confirm(found, TODAY, worker) is ReassessmentOutcome.recalculated
    enrolled = db.session.scalar(select(Enrolment).where(Enrolment.beneficiary_person_id == newborn.id))
    decided = local_today()
    assert enrolled.status is EnrolmentStatus.active
    assert enrolled.period_start == date(decided.year + decided.month // 12, decided.month % 12 + 1, 1)
    assert enrolled.programme.code == "child_allowance"
    live = db.session.scalars(select(Enrolment).where(Enrolment.household_id == household_id,
                                                      Enrolment.status != EnrolmentStatus.ended)).all()
    assert {e.beneficiary_person_id for e in live} == before | {newborn.id}
    sms = db.session.scalar(select(Notification).where(Notification.dedupe_key == f"case:{case.id}:reassessed:"
                                                       f"{found.id}"))
    assert sms is not None and case.tracking_number in sms.body
    with pytest.raises(flows.ReassessmentRefused):
        flows.confirm(found, TODAY, worker)  # confirmed once


@pytest.mark.usefixtures("sources_at")
def test_a_death_stops_the_deceased_childs_enrolment_at_the_end_of_the_month(app, worker):
    previous = factories.household_decided(300_000, datetime(2026, 9, 20, 8, tzinfo=UTC))
    factories.evidence_on_file(previous.application)
    members = [m.person for m in previous.application.members]
    head = members[0]
    case = _case(worker, previous, category="death")
    changes = [flows.Change("death", members[-1], None, date(2026, 11, 30))]
    found = flows.record_change(case, changes, worker)
    assert db.session.scalar(select(HouseholdMember.left_at).where(
        HouseholdMember.person_id == members[-1].id)) == date(2026, 11, 30)
    _run_jobs()
    found = db.session.get(type(found), found.id)
    new = flows.new_assessment(found)
    # With one child fewer the household stays eligible: the child who died is no longer paid for.
    plan = flows.plan_for(found, TODAY)
    stopped = [s.enrolment.beneficiary_person_id for s in plan.stopping]
    assert stopped == [members[-1].id] and new.decision is Decision.eligible
    flows.confirm(found, TODAY, worker)
    gone = db.session.scalar(select(Enrolment).where(Enrolment.beneficiary_person_id == members[-1].id))
    assert gone.period_end == date(2026, 12, 31)
    assert head.id not in stopped


def test_a_change_that_does_not_fit_the_household_is_refused_and_changes_nothing(app, worker):
    previous = factories.household_decided(300_000, datetime(2026, 9, 20, 8, tzinfo=UTC))
    case = _case(worker, previous)
    stranger = factories.make_person("UZ-TK", date(1990, 1, 1), "M")
    with force_locale("en"), pytest.raises(flows.ReassessmentRefused, match="not a member"):
        flows.record_change(case, [flows.Change("moved_out", stranger, None, date(2026, 11, 1))], worker)
    member = previous.application.members[1].person
    with force_locale("en"), pytest.raises(flows.ReassessmentRefused, match="already a member"):
        flows.record_change(case, [flows.Change("moved_in", member, Relation.other, date(2026, 11, 1))], worker)
    assert flows.of_case(case) == []


@pytest.mark.usefixtures("sources_at")
def test_an_appeal_overturns_a_refusal_enrols_from_the_month_after_and_owes_the_months_missed(app, worker):
    from modules.payments import generation
    from modules.payments.models import PayrollLine

    refused = factories.household_decided(3_000_000, datetime(2026, 9, 20, 8, tzinfo=UTC))
    assert refused.decision is Decision.ineligible
    case = _case(worker, refused, kind="appeal", category="decision_appeal")
    handler = db.session.get(type(worker), refused.application.created_by_id)
    with force_locale("en"), pytest.raises(flows.ReassessmentRefused, match="someone else"):
        flows.start_appeal_review(case, handler, refresh=True)

    # The registries' answers on file show 300 000 a month; the refusal was taken on a wrong figure of 3 000 000.
    factories.evidence_on_file(refused.application)
    found = flows.start_appeal_review(case, worker, refresh=False)
    application = db.session.get(Application, found.application_id)
    assert application.purpose is Purpose.appeal and application.as_of == date(2025, 11, 10)
    _run_jobs()
    found = db.session.get(type(found), found.id)
    new = flows.new_assessment(found)
    assert new.decision is Decision.eligible and new.as_of == date(2025, 11, 10)
    assert new.pack_version == refused.pack_version  # the version in force on the original date
    assert flows.outcome_of(found) is ReassessmentOutcome.overturned
    plan = flows.plan_for(found, TODAY)
    assert {s.period_start for s in plan.starting} == {date(2026, 10, 1)}

    assert flows.confirm(found, TODAY, worker) is ReassessmentOutcome.overturned
    case = db.session.get(type(case), case.id)
    assert case.status is CaseStatus.resolved and case.decision is CaseDecision.upheld
    enrolments = db.session.scalars(select(Enrolment).where(Enrolment.assessment_id == new.id)).all()
    assert enrolments and all(e.period_start == date(2026, 10, 1) for e in enrolments)
    for enrolment in enrolments:
        factories.bank_account(enrolment.payee_person_id)
        enrolment.bank_account_id = factories.bank_account(enrolment.payee_person_id).id
    db.session.flush()

    payroll = generation.generate("child_allowance", "UZ-TK", "2026-12")
    lines = db.session.scalars(select(PayrollLine).where(PayrollLine.payroll_id == payroll.id)).all()
    ours = sorted((line.enrolment_id, line.period) for line in lines if line.enrolment_id in {e.id for e in enrolments})
    assert ours == sorted((e.id, period) for e in enrolments for period in ("2026-10", "2026-11", "2026-12"))
    assert all(line.amount == Decimal(str(enrolments[0].monthly_amount)) for line in lines
               if line.enrolment_id == enrolments[0].id)
    following = generation.generate("child_allowance", "UZ-TK", "2027-01")
    again = db.session.scalars(select(PayrollLine.period).where(
        PayrollLine.payroll_id == following.id, PayrollLine.enrolment_id.in_([e.id for e in enrolments]))).all()
    assert sorted(set(again)) == ["2027-01"]  # the months missed were paid once
    sms = db.session.scalars(select(Notification).where(Notification.dedupe_key.like(f"case:{case.id}:%"))).all()
    assert any("upheld" in n.body or case.tracking_number in n.body for n in sms)
    actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_id == str(case.id))))
    assert {"case.reassessment_started", "case.reassessment_ready", "case.reassessment_confirmed"} <= actions


def test_an_appeal_the_data_does_not_support_leaves_the_decision_standing_and_enrols_no_one(app, worker):
    refused = factories.household_decided(3_000_000, datetime(2026, 9, 20, 8, tzinfo=UTC))
    head = refused.application.applicant
    factories.evidence_on_file(refused.application, {head.pin: 9_000_000})
    case = _case(worker, refused, kind="appeal", category="decision_appeal")
    found = flows.start_appeal_review(case, worker, refresh=False)
    assert found.refreshed is False
    _run_jobs()  # nothing to ask: every source's answer is carried over, the decision is taken again at once
    found = db.session.get(type(found), found.id)
    assert flows.new_assessment(found).decision is Decision.ineligible
    assert flows.outcome_of(found) is ReassessmentOutcome.stands
    assert flows.plan_for(found, TODAY) is None
    assert flows.confirm(found, TODAY, worker) is ReassessmentOutcome.stands
    case = db.session.get(type(case), case.id)
    assert case.status is CaseStatus.resolved and case.decision is CaseDecision.rejected
    assert not db.session.scalar(select(Enrolment.id).where(Enrolment.household_id == refused.household_id))


def test_a_discarded_reassessment_withdraws_its_application_and_frees_the_case(app, worker):
    refused = factories.household_decided(3_000_000, datetime(2026, 9, 20, 8, tzinfo=UTC))
    case = _case(worker, refused, kind="appeal", category="decision_appeal")
    found = flows.start_appeal_review(case, worker, refresh=True)
    with force_locale("en"), pytest.raises(flows.ReassessmentRefused, match="already in progress"):
        flows.start_appeal_review(case, worker, refresh=True)
    flows.discard(found, worker)
    assert db.session.get(Application, found.application_id).status is ApplicationStatus.withdrawn
    assert flows.current(case) is None
