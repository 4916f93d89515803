"""The re-assessment pages: a change of circumstances shown before it is saved and refused beside its field, the
case page's comparison and plan, confirming and discarding, the appeal review button, and who may use them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from modules.enrolment.models import Enrolment
from modules.grievances import operations
from modules.grievances.models import Case, Reassessment, ReassessmentStatus
from modules.registration.models import HouseholdMember
from tests import factories
from tests.conftest import sign_in
from tests.means_test.conftest import set_faults, simulator, simulator_store, sources_at  # noqa: F401 - fixtures
from webapp.extensions import db


@pytest.fixture
def worker(app):
    user = factories.make_user("social_worker", areas=["UZ-TK"])
    user.language = "en"
    return user


def _update_case(worker) -> tuple[int, int]:
    previous = factories.household_decided(300_000, datetime(2026, 9, 20, 8, tzinfo=UTC))
    factories.evidence_on_file(previous.application)
    case = operations.open_case({"kind": "update", "category": "birth", "channel": "mahalla",
                                 "description": "A daughter was born.", "application_id": previous.application_id},
                                worker)
    factories.commit()
    return case.id, previous.household_id


def _form(pin: str, **extra) -> dict:
    return {"kind-0": "birth", "pin-0": pin, "relation-0": "child", "date-0": "2026-11-02", **extra}


@pytest.mark.usefixtures("sources_at")
def test_a_birth_is_previewed_saved_compared_and_confirmed_through_the_pages(client, worker):
    case_id, household_id = _update_case(worker)
    newborn = factories.make_person("UZ-TK", date(2026, 11, 2), "F", first_name="Zuhra")
    factories.commit()
    sign_in(client, worker)
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f"/cases/{case_id}/changes/new" in page

    preview = client.post(f"/cases/{case_id}/changes/new", data={"csrf_token": client.csrf, "action": "preview",
                                                                  **_form(newborn.pin)})
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and 'id="preview"' in text and "Zuhra" in text
    assert not db.session.scalar(select(HouseholdMember.id).where(HouseholdMember.person_id == newborn.id))

    saved = client.post(f"/cases/{case_id}/changes/new", data={"csrf_token": client.csrf, "action": "confirm",
                                                                **_form(newborn.pin)})
    assert saved.status_code == 302 and saved.headers["Location"].endswith(f"/cases/{case_id}#reassessment")
    found = db.session.scalar(select(Reassessment).where(Reassessment.case_id == case_id))
    assert found.status is ReassessmentStatus.assessed
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'id="compare"' in page and 'id="plan"' in page and "Zuhra" in page
    assert "child_allowance" not in page  # programmes by name, never by code

    confirmed = client.post(f"/cases/{case_id}/reassessments/{found.id}/confirm", data={"csrf_token": client.csrf})
    assert confirmed.status_code == 302
    db.session.expire_all()
    assert db.session.scalar(select(Enrolment.id).where(Enrolment.beneficiary_person_id == newborn.id))
    assert db.session.get(Reassessment, found.id).status is ReassessmentStatus.confirmed


def test_a_pin_the_register_does_not_know_is_refused_beside_its_field_and_nothing_changes(client, worker):
    case_id, household_id = _update_case(worker)
    sign_in(client, worker)
    response = client.post(f"/cases/{case_id}/changes/new", data={"csrf_token": client.csrf, "action": "confirm",
                                                                   **_form("31111111111111")})
    text = response.get_data(as_text=True)
    assert response.status_code == 422 and "No person with PIN 31111111111111" in text
    bad = client.post(f"/cases/{case_id}/changes/new", data={"csrf_token": client.csrf, "action": "preview",
                                                             "kind-0": "birth", "pin-0": "12", "date-0": "2099-01-01"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "14 digits" in text and "future" in text
    assert db.session.scalar(select(Reassessment.id).where(Reassessment.case_id == case_id)) is None


def test_the_change_page_is_not_offered_for_a_grievance_and_readers_cannot_post(client, worker):
    grievance = operations.open_case({"kind": "grievance", "category": "payment_not_received", "channel": "phone",
                                      "description": "No money.", "phone": "+998901112233"}, worker)
    factories.commit()
    sign_in(client, worker)
    assert client.get(f"/cases/{grievance.id}/changes/new").status_code == 404
    assert client.post(f"/cases/{grievance.id}/reassessments/999/confirm",
                       data={"csrf_token": client.csrf}).status_code == 404


def test_an_appeal_case_offers_the_review_and_refuses_the_person_who_handled_the_application(client, worker):
    refused = factories.household_decided(3_000_000, datetime(2026, 9, 20, 8, tzinfo=UTC))
    case = operations.open_case({"kind": "appeal", "category": "decision_appeal", "channel": "office",
                                 "description": "We disagree.", "application_id": refused.application_id}, worker)
    handler = db.session.get(type(worker), refused.application.created_by_id)
    handler.role = worker.role
    factories.commit()
    case_id = case.id
    sign_in(client, handler, factories.PASSWORD)
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'id="appeal-review"' in page
    refused_review = client.post(f"/cases/{case_id}/appeal-review", data={"csrf_token": client.csrf, "refresh": "1"},
                                 follow_redirects=True)
    assert "must be reviewed by someone else" in refused_review.get_data(as_text=True)
    assert db.session.scalar(select(Reassessment.id).where(Reassessment.case_id == case_id)) is None
    assert db.session.get(Case, case_id).status.value in ("new", "assigned")


def test_a_death_alert_opens_the_change_form_with_the_death_filled_in(client, worker):
    from modules.grievances.alerts import on_death

    family = factories.household_decided(300_000, datetime(2026, 9, 20, 8, tzinfo=UTC))
    child = family.application.members[-1].person
    child.death_date = date(2026, 11, 30)
    alert = on_death(child, child.death_date, "civil_registry")[0]
    factories.commit()
    sign_in(client, worker)
    page = client.get(f"/cases/{alert.id}").get_data(as_text=True)
    assert f"/cases/{alert.id}/changes/new" in page
    form = client.get(f"/cases/{alert.id}/changes/new").get_data(as_text=True)
    assert '<option value="death" selected>' in form
    assert f'value="{child.pin}"' in form and 'value="2026-11-30"' in form


@pytest.mark.usefixtures("sources_at")
def test_a_registry_that_does_not_answer_leaves_the_reassessment_waiting_and_says_what_to_do(app, client, worker):
    registries = app.config["SOURCES_URL"]
    case_id, _household_id = _update_case(worker)
    newborn = factories.make_person("UZ-TK", date(2026, 11, 2), "M", first_name="Jasur")
    factories.commit()
    sign_in(client, worker)
    set_faults(registries, {"tax": {"mode": "down"}})
    try:
        client.post(f"/cases/{case_id}/changes/new", data={"csrf_token": client.csrf, "action": "confirm",
                                                           **_form(newborn.pin)})
    finally:
        set_faults(registries, {})
    found = db.session.scalar(select(Reassessment).where(Reassessment.case_id == case_id))
    assert found.status is ReassessmentStatus.collecting
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "some registries did not answer" in page
    assert f"/cases/{case_id}/reassessments/{found.id}/confirm" not in page  # nothing to confirm yet
