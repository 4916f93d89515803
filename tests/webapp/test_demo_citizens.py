"""`make run`'s demo citizens for the portal: two heads of Tashkent families that have not applied, each with a demo
phone on file in the register copy and the simulator, chosen once however often the demo runs; applying from the
portal (registration's operation, channel portal, no staff user) decides citizen A's family eligible and enrols it,
and refuses citizen B's on income."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from connectors.simulator import store
from connectors.simulator.app import create_simulator_app
from demo.citizens import CITIZENS, banner_lines, create_demo_citizens
from modules.enrolment.models import Enrolment, EnrolmentStatus
from modules.means_test.models import Assessment, Decision
from modules.portal.apply import household_of, proposed_family
from modules.registration.models import Application, ApplicationStatus, Channel, Person
from modules.registration.operations import register_application
from modules.registration.schemas import ApplicationArgs
from tests.conftest import demo_instance
from tests.connectors.transport import live_server
from webapp.boundary import unit_of_work
from webapp.extensions import db

TODAY = date.today()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """(demo app, simulator engine, simulator URL, the citizens of two runs) on the demo's own databases."""
    demo, sim_url, sim_engine = demo_instance(tmp_path_factory.mktemp("demo_citizens"), households=60)
    with demo.app_context():
        runs = []
        for _ in range(2):
            with unit_of_work():
                runs.append(create_demo_citizens(sim_engine, TODAY, skip=0))
        db.session.remove()
    return demo, sim_engine, sim_url, runs


@pytest.fixture
def ctx(demo):
    with demo[0].app_context():
        yield demo
        db.session.remove()


@pytest.mark.committed
def test_the_citizens_have_their_phones_in_the_copy_and_the_simulator_and_have_not_applied(ctx):
    _app, sim_engine, _url, (first, second) = ctx
    assert [(c.label, c.phone, c.outcome) for c in first] == [(c.label, c.phone, c.outcome) for c in CITIZENS]
    assert second == first  # the same citizens on every run: nothing is chosen twice
    households = set()
    for citizen in first:
        person = db.session.scalar(select(Person).where(Person.pin == citizen.pin))
        assert person.phone == citizen.phone and person.full_name == citizen.name
        assert db.session.scalar(select(Person.id).where(Person.phone == citizen.phone, Person.id != person.id)) \
            is None
        with sim_engine.connect() as conn:
            assert conn.scalar(select(store.person.c.phone).where(store.person.c.pin == citizen.pin)) == citizen.phone
        household_id = household_of(person)
        households.add(household_id)
        assert db.session.scalar(select(Application.id).where(Application.household_id == household_id)) is None
        assert len(proposed_family(person)) >= 1  # the portal proposes the family from the register
    assert len(households) == 2
    lines = banner_lines(first, "http://127.0.0.1:5000")
    assert lines[0].startswith("  Citizens' portal at http://127.0.0.1:5000/portal/")
    assert f"PIN {first[0].pin}, phone {first[0].phone} (will be eligible" in lines[1]
    assert "http://127.0.0.1:5000/notifications" in lines[-1] and "'admin'" in lines[-1]


@pytest.mark.committed
def test_applying_from_the_portal_decides_a_eligible_and_enrolled_and_b_refused_on_income(ctx):
    app, _sim_engine, sim_url, (citizens, _second) = ctx
    outcomes = {}
    with live_server(create_simulator_app(database_url=sim_url)) as base_url:
        app.config["SOURCES_URL"] = base_url
        for citizen in citizens:
            person = db.session.scalar(select(Person).where(Person.pin == citizen.pin))
            payload = {"applicant_pin": person.pin, "phone": citizen.phone, "channel": Channel.portal.value,
                       "programmes": ["child_allowance"], "language": "uz",
                       "members": [{"pin": row.person.pin, "relation": row.relation.value}
                                   for row in proposed_family(person)]}
            with unit_of_work():  # collection and the means test run after its commit
                application_id = register_application(ApplicationArgs().load(payload), None).id
            application = db.session.get(Application, application_id)
            assessment = db.session.scalar(select(Assessment).where(Assessment.application_id == application_id))
            assert application.status is ApplicationStatus.decided and application.channel is Channel.portal
            outcomes[citizen.outcome] = (assessment, application.household_id)
    eligible, household_id = outcomes["eligible"]
    assert eligible.decision is Decision.eligible
    assert db.session.scalar(select(Enrolment.id).where(Enrolment.household_id == household_id,
                                                        Enrolment.status == EnrolmentStatus.active).limit(1))
    refused, _household_id = outcomes["refused"]
    assert refused.decision is Decision.ineligible
    assert refused.per_capita_income > 648_000  # the threshold per person: income is the reason, and the only one
    assert [reason["rule"] for reason in refused.reasons] == ["income_above_threshold"], refused.reasons
