"""/api/v1/applications: bearer tokens, 201/401/403/404/422, list filters and pagination, the timeline."""

from __future__ import annotations

import json
from datetime import date

import pytest

from modules.registration import operations
from modules.registration.models import Application
from tests import factories
from tests.conftest import sign_in
from tests.registration.helpers import S, advance, bearer, commit, counts, delta, register
from webapp.extensions import db
from webapp.models import ApiToken
from webapp.pin import make_uz
from webapp.timeutil import utcnow

URL = "/api/v1/applications"


@pytest.fixture
def machine(app):
    """A client without a session cookie: only the bearer token says who it is."""
    return app.test_client()


@pytest.fixture
def headers(tk_registrar):
    return bearer(tk_registrar)


def post(machine, headers, payload, **kwargs):
    return machine.post(URL, json=payload, headers=headers, **kwargs)


def assert_unprocessable(response, errors: dict) -> None:
    """422 with a sentence for people under "error" and the messages by field under "errors"."""
    assert response.status_code == 422, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error", "errors"} and isinstance(body["error"], str) and body["error"]
    assert body["errors"] == errors


# --- create --------------------------------------------------------------------------------------------------


def test_create_returns_201_with_location_and_body(machine, headers, tk_registrar, set_today):
    set_today(date(2025, 1, 10))
    family = factories.make_family("UZ-TK", children=1)
    commit()
    before = counts()

    response = post(machine, headers, factories.application_payload(family, phone="90 123 45 67",
                                                                     channel="single_window"))

    assert response.status_code == 201, response.get_data(as_text=True)
    assert delta(before) == {"application": 1, "application_member": 3, "application_event": 2, "audit_event": 2}
    body = response.get_json()
    application = db.session.get(Application, body["id"])
    assert response.headers["Location"] == f"/api/v1/applications/{application.id}"
    assert body["reference"] == application.reference == f"A-202501-{application.id:06d}"
    assert body["status"] == "submitted"
    assert body["channel"] == "single_window"
    assert body["phone"] == "+998901234567"
    assert body["household_id"] == family["household"].id
    assert body["area"]["code"] == "UZ-TK-01-M01"
    assert body["applicant"] == {"pin": family["head"].pin, "full_name": family["head"].full_name,
                                 "birth_date": "1985-04-02", "sex": "M"}
    assert [(m["person"]["pin"], m["relation"]) for m in body["members"]] == [
        (family["head"].pin, "head"), (family["spouse"].pin, "spouse"), (family["children"][0].pin, "child")]
    assert body["programmes"] == ["child_allowance"]
    assert body["due_at"] == "2025-01-15"
    assert body["submitted_at"] and body["created_at"]
    assert [(e["from_status"], e["to_status"], e["actor"]) for e in body["timeline"]] == [
        (None, "draft", tk_registrar.username), ("draft", "submitted", tk_registrar.username)]
    assert application.created_by_id == tk_registrar.id


def test_create_a_draft(machine, headers):
    family = factories.make_family("UZ-TK", children=0)
    commit()
    response = post(machine, headers, factories.application_payload(family, submit=False))
    assert response.status_code == 201
    body = response.get_json()
    assert (body["status"], body["due_at"], body["submitted_at"]) == ("draft", None, None)


def test_the_applicant_chooses_the_language_of_the_sms_notices(machine, headers):
    family = factories.make_family("UZ-TK", children=0)
    commit()
    before = counts()
    refused = post(machine, headers, factories.application_payload(family, language="fr"))
    assert_unprocessable(refused, {"language": ["Choose a language."]})
    assert counts() == before
    response = post(machine, headers, factories.application_payload(family, language="ru"))
    assert response.status_code == 201 and response.get_json()["language"] == "ru"
    assert db.session.get(Application, response.get_json()["id"]).language == "ru"


def test_create_with_missing_fields(machine, headers):
    before = counts()
    response = post(machine, headers, {})
    assert_unprocessable(response, {key: ["This field is required."]
                                    for key in ("applicant_pin", "phone", "programmes", "channel")})
    assert counts() == before


def test_create_with_a_bad_nested_member_pin(machine, headers):
    family = factories.make_family("UZ-TK", children=1)
    commit()
    payload = factories.application_payload(family)
    payload["members"][0]["pin"] = "12345"
    payload["members"][1]["relation"] = "uncle"
    before = counts()
    assert_unprocessable(post(machine, headers, payload), {
        "members.0.pin": ["A PIN has exactly 14 digits."],
        "members.1.relation": ["Choose spouse, child, parent or other."]})
    assert counts() == before


@pytest.mark.parametrize(("data", "content_type"), [
    ("applicant_pin=30204850010012&phone=%2B998901234567", "application/x-www-form-urlencoded"),
    ("{not json", "application/json"),
    ('["a", "list"]', "application/json"),
    ('"a string"', "application/json"),
    ("", "application/json"),
])
def test_create_with_a_body_that_is_not_a_json_object(machine, headers, data, content_type):
    before = counts()
    response = machine.post(URL, data=data, content_type=content_type, headers=headers)
    assert_unprocessable(response, {"_schema": ["The body must be a JSON object."]})
    assert counts() == before


def test_create_refused_by_a_rule(machine, headers):
    family = factories.make_family("UZ-TK", children=0)
    commit()
    pin = make_uz(date(1960, 2, 2), "M", 920, 1)
    payload = factories.application_payload(family)
    payload["members"].append({"pin": pin, "relation": "parent"})
    before = counts()
    assert_unprocessable(post(machine, headers, payload),
                         {"members.1.pin": [f"No person with PIN {pin} in the population register."]})
    assert counts() == before


def test_create_refused_for_a_household_with_an_open_application(machine, headers, tk_registrar):
    family = factories.make_family("UZ-TK", children=0)
    first = register(factories.application_payload(family), tk_registrar)
    commit()
    before = counts()
    assert_unprocessable(post(machine, headers, factories.application_payload(family)),
                         {"applicant_pin": [f"This household already has an open application, {first.reference}."]})
    assert counts() == before


def test_create_refused_for_a_family_outside_the_area(machine, sa_registrar):
    family = factories.make_family("UZ-TK", children=0)
    headers = bearer(sa_registrar)
    before = counts()
    assert_unprocessable(post(machine, headers, factories.application_payload(family)), {"applicant_pin": [
        "This family lives outside your areas; the registrar of its area registers it."]})
    assert counts() == before


def test_create_with_a_member_that_is_not_an_object(machine, headers):
    family = factories.make_family("UZ-TK", children=0)
    commit()
    payload = factories.application_payload(family, members=[family["spouse"].pin])
    response = post(machine, headers, payload)
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["members.0._schema"]


# --- authentication ------------------------------------------------------------------------------------------


def test_create_without_a_token_is_401(machine, tk_registrar):
    family = factories.make_family("UZ-TK", children=0)
    commit()
    before = counts()
    response = machine.post(URL, json=factories.application_payload(family), headers={"Accept-Language": "en"})
    assert response.status_code == 401
    assert response.get_json()["error"] == "Sign-in required"
    assert counts() == before


@pytest.mark.parametrize("header", ["Bearer garbage", "Bearer ", "Bearer srsp_" + "x" * 43, "Basic dXNlcjpwdw==",
                                    "garbage"])
def test_bad_token_is_401(machine, tk_registrar, header):
    family = factories.make_family("UZ-TK", children=0)
    commit()
    before = counts()
    assert machine.get(URL, headers={"Authorization": header}).status_code == 401
    assert machine.post(URL, json=factories.application_payload(family),
                        headers={"Authorization": header}).status_code == 401
    assert counts() == before


def test_revoked_token_is_401(machine, headers, tk_registrar):
    assert machine.get(URL, headers=headers).status_code == 200
    token = db.session.scalar(db.select(ApiToken).where(ApiToken.user_id == tk_registrar.id))
    token.revoked_at = utcnow()
    commit()
    assert machine.get(URL, headers=headers).status_code == 401


def test_token_of_a_deactivated_user_is_401(machine, headers, tk_registrar):
    tk_registrar.active = False
    commit()
    assert machine.get(URL, headers=headers).status_code == 401


def test_token_without_the_create_permission_is_403(machine):
    worker = factories.make_user("social_worker", areas=["UZ-TK"])
    family = factories.make_family("UZ-TK", children=0)
    headers = bearer(worker)
    before = counts()
    response = machine.post(URL, json=factories.application_payload(family), headers=headers)
    assert response.status_code == 403
    assert counts() == before
    assert machine.get(URL, headers=headers).status_code == 200  # it may read


def test_signed_in_staff_can_read_the_api(client, tk_registrar):
    application = register(factories.application_payload(factories.make_family("UZ-TK")), tk_registrar)
    sign_in(client, tk_registrar)
    response = client.get(f"{URL}/{application.id}")
    assert response.status_code == 200
    assert response.get_json()["reference"] == application.reference


# --- read ----------------------------------------------------------------------------------------------------


def test_detail_includes_the_timeline(machine, headers, tk_registrar):
    family = factories.make_family("UZ-TK", children=0)
    application = advance(register(factories.application_payload(family), tk_registrar), S.collecting,
                          tk_registrar)
    operations.withdraw(application, tk_registrar, "duplicate")
    commit()
    response = machine.get(f"{URL}/{application.id}", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "withdrawn"
    assert [(e["from_status"], e["to_status"], e["note"]) for e in body["timeline"]] == [
        (None, "draft", None), ("draft", "submitted", None), ("submitted", "collecting", None),
        ("collecting", "withdrawn", "duplicate")]
    assert all(e["at"] for e in body["timeline"])


def test_detail_of_a_missing_application_is_404(machine, headers):
    response = machine.get(f"{URL}/999999", headers=headers)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Not found"


@pytest.fixture
def listing(tk_registrar, set_today):
    """Four applications: overdue, not yet due, withdrawn (past due), decided; different programmes."""
    def make(today, programme, name=None):
        set_today(today)
        family = factories.make_family("UZ-TK", children=1)
        if name:
            family["head"].last_name, family["head"].first_name = name
        return register(factories.application_payload(family, programmes=[programme]), tk_registrar), family

    overdue, overdue_family = make(date(2025, 1, 6), "child_allowance", ("Rahimov", "Anvar"))     # due 9 Jan
    pending, pending_family = make(date(2025, 1, 10), "material_support", ("Yusupova", "Dilnoza"))  # due 15 Jan
    withdrawn, _ = make(date(2025, 1, 6), "child_allowance")
    operations.withdraw(withdrawn, tk_registrar, "moved")
    decided, _ = make(date(2025, 1, 6), "maternity")
    advance(decided, S.decided, tk_registrar)
    set_today(date(2025, 1, 13))
    commit()
    return {"overdue": overdue, "pending": pending, "withdrawn": withdrawn, "decided": decided,
            "overdue_family": overdue_family, "pending_family": pending_family}


def api_list(machine, headers, query: str = "") -> dict:
    response = machine.get(f"{URL}?{query}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def refs(body) -> set[str]:
    return {item["reference"] for item in body["items"]}


def test_list_without_filters(machine, headers, listing):
    body = api_list(machine, headers)
    assert refs(body) == {listing[k].reference for k in ("overdue", "pending", "withdrawn", "decided")}
    assert (body["page"], body["per_page"], body["total"], body["pages"]) == (1, 25, 4, 1)
    assert all("timeline" not in item for item in body["items"])
    ids = [item["id"] for item in body["items"]]
    assert ids == sorted(ids, reverse=True)  # newest first


@pytest.mark.parametrize(("query", "expected"), [
    ("status=withdrawn", {"withdrawn"}),
    ("status=submitted", {"overdue", "pending"}),
    ("status=decided", {"decided"}),
    ("status=draft", set()),
    ("programme=child_allowance", {"overdue", "withdrawn"}),
    ("programme=maternity", {"decided"}),
    ("programme=disabled_child_care", set()),
    ("overdue=true", {"overdue"}),
    ("overdue=false", {"overdue", "pending", "withdrawn", "decided"}),
    ("status=submitted&programme=material_support", {"pending"}),
    ("q=anvar", {"overdue"}),
    ("q=RAHIMOV+anvar", {"overdue"}),
    ("q=dilnoza+yusup", {"pending"}),
    ("q=anvar+dilnoza", set()),
])
def test_list_filters(machine, headers, listing, query, expected):
    assert refs(api_list(machine, headers, query)) == {listing[key].reference for key in expected}


def test_list_search_by_member_pin(machine, headers, listing):
    child = listing["pending_family"]["children"][0]
    body = api_list(machine, headers, f"q={child.pin}")
    assert refs(body) == {listing["pending"].reference}
    assert body["total"] == 1
    assert refs(api_list(machine, headers, f"q={listing['overdue_family']['head'].pin}")) == {
        listing["overdue"].reference}
    assert refs(api_list(machine, headers, "q=30101700000000")) == set()


def test_list_pagination(machine, headers, listing):
    first = api_list(machine, headers, "per_page=3")
    second = api_list(machine, headers, "per_page=3&page=2")
    assert (first["page"], first["per_page"], first["total"], first["pages"]) == (1, 3, 4, 2)
    assert (second["page"], second["total"], second["pages"]) == (2, 4, 2)
    assert len(first["items"]) == 3 and len(second["items"]) == 1
    assert not refs(first) & refs(second)
    assert api_list(machine, headers, "per_page=3&page=3")["items"] == []


@pytest.mark.parametrize(("query", "key"), [
    ("status=approved", "status"), ("per_page=0", "per_page"), ("per_page=201", "per_page"), ("page=0", "page"),
    ("area=north", "area"), ("date_from=yesterday", "date_from"), ("overdue=perhaps", "overdue"),
])
def test_list_with_a_bad_filter_is_422(machine, headers, query, key):
    response = machine.get(f"{URL}?{query}", headers=headers)
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "Unprocessable Entity"
    assert list(body["errors"]) == [key]


def test_list_needs_a_token(machine):
    assert machine.get(URL).status_code == 401


def test_api_response_is_json_even_for_errors(machine):
    response = machine.get(f"{URL}/1")
    assert response.status_code == 401
    assert response.content_type == "application/json"
    json.loads(response.get_data(as_text=True))
