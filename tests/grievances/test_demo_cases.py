"""The demo social worker's cases: the grievance and the enquiry opened once (the grievance's intake SMS in the
outbox), and the cases real events raise in `srsp demo run`, through the system's own paths, once however often
the demo runs."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from connectors.simulator import store
from connectors.simulator.app import create_simulator_app
from demo import cli as demo_cli
from demo.cases import create_demo_cases
from demo.events import newborn_pin
from demo.setup import create_demo_users
from modules.enrolment.models import Enrolment, EnrolmentStatus
from modules.grievances import reassessment
from modules.grievances.models import Case, CaseKind
from modules.means_test.models import Assessment, Decision
from modules.payments.models import LineStatus, PayrollLine
from modules.registration.models import Application, HouseholdMember, Person
from tests import factories
from tests.conftest import demo_instance
from tests.connectors.transport import live_server
from webapp.extensions import db
from webapp.models import AuditEvent, Notification, User

TODAY = date.today()


def test_demo_cases_are_opened_once_with_the_intake_sms(app):
    create_demo_users()
    factories.make_family("UZ-TK")
    assert create_demo_cases() == 2
    assert create_demo_cases() == 0
    social = db.session.scalar(select(User).where(User.username == "social"))
    cases = db.session.scalars(select(Case).where(Case.created_by_id == social.id).order_by(Case.id)).all()
    assert [case.kind for case in cases] == [CaseKind.grievance, CaseKind.enquiry]
    assert all(case.assignee_id == social.id for case in cases) and cases[0].person_id is not None
    assert "nafaqa" in cases[0].description  # what the citizen said, in Uzbek
    assert db.session.scalar(select(func.count()).select_from(Notification)
                             .where(Notification.dedupe_key == f"case:{cases[0].id}:intake")) == 1


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """(demo app, simulator engine, lines printed by two runs): `srsp demo run`'s background work, twice, on its
    own database, with the simulator and the demo server live (the civil registry notifies the server)."""
    demo, sim_url, sim_engine = demo_instance(tmp_path_factory.mktemp("demo_cases"), households=90,
                                              BANK_ACCOUNTS_ON_ENROLMENT=True)
    with demo.app_context():
        create_demo_cases()
        db.session.commit()
        db.session.remove()
    simulator = create_simulator_app(database_url=sim_url)
    demo.extensions[demo_cli.SIMULATOR_EXTENSION] = simulator
    with live_server(simulator) as sim_base, live_server(demo) as base_url:
        demo.config["SOURCES_URL"] = sim_base
        runs = [demo_cli.demo_history(demo, base_url, sim_engine) for _ in range(2)]
    return demo, sim_engine, runs


@pytest.fixture
def ctx(demo):
    """The demo app's context, over the test database's (the autouse one is pushed after module fixtures)."""
    with demo[0].app_context():
        yield demo
        db.session.remove()


@pytest.mark.committed
def test_the_demo_worker_gets_cases_from_real_events_once(ctx):
    _app, sim_engine, (first, second) = ctx
    social = db.session.scalar(select(User).where(User.username == "social"))
    cases = {case.id: case for case in db.session.scalars(select(Case).where(Case.assignee_id == social.id))}
    assert sorted(case.kind.value for case in cases.values()) == \
        ["alert", "alert", "appeal", "enquiry", "grievance", "update"]
    assert first[-1] == "  Social worker 'social' has 6 open cases (2 alert, 1 appeal, 1 enquiry, 1 grievance, " \
        f"1 update); the newborn to add with 'Record a change of circumstances': PIN {_newborn(sim_engine).pin}"
    assert not [line for line in first if "skipped" in line], first
    # Run again: nothing new, the same queue.
    assert second == [first[-1]]
    assert db.session.scalar(select(func.count(Case.id))) == len(cases)


@pytest.mark.committed
def test_the_death_came_from_the_civil_registrys_notify_and_suspended_the_childs_allowance(ctx):
    (death,) = _cases(category_code="death_reported")
    child = db.session.get(Person, death.person_id)
    assert death.source_key == f"beneficiary_died:person:{child.id}" and child.death_date == TODAY
    assert db.session.get(Enrolment, death.enrolment_id).status is EnrolmentStatus.suspended
    notified = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "person.death_recorded",
                                                          AuditEvent.object_id == str(child.id)))
    assert notified.details["source"] == "civil_registry" and notified.details["message_id"]
    # The demo month's payroll leaves the deceased child out.
    assert db.session.scalar(select(PayrollLine.id).where(PayrollLine.enrolment_id == death.enrolment_id)) is None


@pytest.mark.committed
def test_the_failed_payment_came_from_the_banks_statement(ctx):
    (alert,) = _cases(category_code="payment_failed")
    line = db.session.get(PayrollLine, alert.payroll_line_id)
    assert alert.source_key == f"payment_not_delivered:payroll_line:{line.id}"
    assert line.status in (LineStatus.returned, LineStatus.failed)
    assert line.payroll.status.value == "reconciled" and line.payroll.approved_by_id is not None


@pytest.mark.committed
def test_the_appeal_is_against_a_refusal_the_worker_did_not_handle(ctx):
    (appeal,) = _cases(kind=CaseKind.appeal)
    application = db.session.get(Application, appeal.application_id)
    decision = db.session.scalar(select(Assessment.decision).where(Assessment.application_id == application.id))
    assert (appeal.category_code, decision) == ("decision_appeal", Decision.ineligible)
    assert appeal.assignee_id not in reassessment.handlers_of(application)
    assert reassessment.can_appeal(appeal)


@pytest.mark.committed
def test_the_birth_is_an_update_on_an_assessed_household_with_the_newborn_ready_to_add(ctx):
    (update,) = _cases(kind=CaseKind.update)
    assert update.category_code == "birth" and reassessment.can_change(update)
    assert reassessment.latest_assessment(update.household_id) is not None
    assert db.session.scalar(select(Enrolment.id).where(Enrolment.household_id == update.household_id,
                                                        Enrolment.status == EnrolmentStatus.active).limit(1))
    newborn = _newborn(ctx[1])
    assert db.session.scalar(select(HouseholdMember.id).where(HouseholdMember.person_id == newborn.id)) is None
    with ctx[1].connect() as conn:
        assert conn.scalar(select(store.person.c.mother_pin).where(store.person.c.pin == newborn.pin)) == \
            db.session.get(Person, update.person_id).pin


def _cases(**where) -> list[Case]:
    query = select(Case)
    for name, value in where.items():
        query = query.where(getattr(Case, name) == value)
    return list(db.session.scalars(query.order_by(Case.id)))


def _newborn(sim_engine) -> Person:
    return db.session.scalar(select(Person).where(Person.pin == newborn_pin(sim_engine)))
