"""/api/v1/cases: opening a case from another channel, reading it by tracking number, lists and categories."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from modules.grievances import operations
from tests import factories
from webapp.extensions import db
from webapp.models import Notification

BODY = {"kind": "grievance", "category": "payment_not_received", "channel": "api",
        "description": "No payment this month.", "phone": "+998901234500"}


@pytest.fixture
def worker(app):
    return factories.make_user("social_worker", areas=["UZ-TK"])


@pytest.fixture
def headers(worker):
    return factories.bearer(worker)


def test_post_opens_a_case_and_answers_its_tracking_number(client, headers):
    response = client.post("/api/v1/cases", json=BODY, headers=headers)
    assert response.status_code == 201, response.get_json()
    payload = response.get_json()
    assert set(payload) == {"id", "tracking_number", "status", "due_date"}
    assert payload["status"] == "new" and payload["tracking_number"].startswith("M-")
    assert response.headers["Location"] == f"/api/v1/cases/{payload['tracking_number']}"
    assert db.session.scalar(select(Notification).where(Notification.dedupe_key == f"case:{payload['id']}:intake"))


@pytest.mark.parametrize(("change", "field"), [
    ({"kind": "complaint"}, "kind"),
    ({"category": "no_such_category"}, "category"),
    ({"description": "x" * 4001}, "description"),
    ({"description": None}, "description"),
    ({"phone": "12"}, "phone"),
    ({"applicant_pin": "123"}, "applicant_pin"),
    ({"application_id": 2**31}, "application_id"),
    ({"application_id": 987654}, "application_id"),
    ({"channel": "fax"}, "channel"),
])
def test_bad_input_is_a_422_naming_the_field(client, headers, change, field):
    body = {**BODY, **change}
    if change.get("description", "") is None:
        del body["description"]
    response = client.post("/api/v1/cases", json=body, headers=headers)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"], response.get_json()


def test_a_body_that_is_not_an_object_is_a_422(client, headers):
    assert client.post("/api/v1/cases", json=[BODY], headers=headers).status_code == 422


def test_get_by_tracking_number_shows_only_public_events(client, headers, worker):
    case = operations.open_case(BODY, worker)
    operations.add_event(case, "confidential_note", "Internal remark.", worker)
    operations.add_event(case, "call", "We called you back.", worker, public=True)
    factories.commit()
    response = client.get(f"/api/v1/cases/{case.tracking_number}", headers=headers)
    assert response.status_code == 200
    payload = response.get_json()
    assert payload["status"] == "new" and payload["due_date"] == case.due_date.isoformat()
    texts = [event["text"] for event in payload["events"]]
    assert "We called you back." in texts and "Internal remark." not in texts
    assert payload["sla_status"] in ("on_track", "at_risk")
    assert client.get("/api/v1/cases/M-0000-000000", headers=headers).status_code == 404


def test_a_case_of_another_area_reads_as_missing(client, worker):
    case = operations.open_case(BODY, worker)
    outsider = factories.make_user("social_worker", areas=["UZ-SA"])
    response = client.get(f"/api/v1/cases/{case.tracking_number}", headers=factories.bearer(outsider))
    assert response.status_code == 404


def test_the_list_filters_and_pages(client, headers, worker):
    first = operations.open_case(BODY, worker)
    operations.open_case({"kind": "enquiry", "category": "status_enquiry", "description": "When?"}, worker)
    factories.commit()
    response = client.get("/api/v1/cases?kind=grievance&per_page=5", headers=headers)
    assert response.status_code == 200
    payload = response.get_json()
    assert first.tracking_number in [item["tracking_number"] for item in payload["items"]]
    assert {item["kind"] for item in payload["items"]} == {"grievance"}
    assert payload["per_page"] == 5
    assert client.get("/api/v1/cases?status=lost", headers=headers).status_code == 422
    assert client.get("/api/v1/cases?assignee=99999999999", headers=headers).status_code == 422


def test_categories_in_the_caller_language_without_hidden_ones(client):
    mahalla = factories.make_user("mahalla_worker", areas=["UZ-TK"], language="ru")
    response = client.get("/api/v1/cases/categories", headers=factories.bearer(mahalla))
    assert response.status_code == 200
    items = {item["code"]: item for item in response.get_json()}
    assert items["payment_not_received"]["name"] == "Выплата не получена"
    assert items["payment_not_received"]["sla_working_days"] == 5
    assert "grievance" in items["payment_not_received"]["kind"]
    assert "staff_conduct" not in items


def test_the_api_needs_a_signed_in_caller_with_the_permission(client):
    assert client.get("/api/v1/cases").status_code == 401
    finance = factories.make_user("finance_maker", areas=["UZ-TK"])
    assert client.get("/api/v1/cases", headers=factories.bearer(finance)).status_code == 403
    auditor = factories.make_user("auditor", national=True)
    assert client.post("/api/v1/cases", json=BODY, headers=factories.bearer(auditor)).status_code == 403
