"""Input no user should send is refused at the edge, in the reader's language, and changes nothing."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select

from tests import factories
from tests.conftest import csrf_token, sign_in
from webapp.extensions import db
from webapp.models import AuditEvent, User

EVALUATE = "/api/v1/means-test/evaluate"
FACTS = factories.CALCULATOR_FACTS
DEEP = "[" * 100_000


@pytest.fixture
def staff(client):
    user = factories.make_user("registrar", national=True)
    sign_in(client, user)
    return user


def _audit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


def test_a_nul_byte_in_a_search_is_refused_in_words(client, staff):
    response = client.get("/applications", query_string={"q": "Ali\x00"})
    assert response.status_code == 400
    assert "control characters" in response.get_data(as_text=True)


def test_a_nul_byte_in_a_filter_of_the_api_is_a_json_400(client):
    headers = factories.bearer(factories.make_user("registrar", national=True))
    response = client.get("/api/v1/applications", query_string={"programme": "child\x00"}, headers=headers)
    assert response.status_code == 400 and response.is_json
    assert "control characters" in response.get_json()["message"]


def test_a_nul_byte_in_a_username_changes_nothing(client):
    before = _audit_count()
    response = client.post("/login", data={"username": "admin\x00", "password": "x" * 12,
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 400
    assert _audit_count() == before


def test_a_nul_byte_in_a_reason_is_refused(client, staff):
    response = client.post("/applications/1/withdraw", data={"reason": "moved\x00away", "csrf_token": client.csrf})
    assert response.status_code == 400


def test_a_control_character_in_an_upload_file_name_is_refused(client):
    sign_in(client, factories.make_user("finance_maker"))
    response = client.post("/statements", data={"csrf_token": client.csrf,
                                                "file": (io.BytesIO(b"x"), "statement\x00.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert "file name" in response.get_data(as_text=True)


def test_text_areas_keep_their_line_breaks_and_tabs(client, staff):
    response = client.get("/applications", query_string={"q": "Ali\tValiyev"})
    assert response.status_code == 200


def test_a_value_longer_than_any_field_is_refused(client, staff):
    assert client.get("/applications", query_string={"q": "a" * 5000}).status_code == 400


@pytest.mark.parametrize("path", ["/api/v1/applications/2147483648", "/api/v1/applications/99999999999999999999"])
def test_an_id_beyond_the_database_range_is_not_found_in_json(client, path):
    headers = factories.bearer(factories.make_user("registrar", national=True))
    response = client.get(path, headers=headers)
    assert response.status_code == 404 and response.is_json


def test_a_statement_id_beyond_the_database_range_is_not_found(client):
    sign_in(client, factories.make_user("finance_maker"))
    assert client.get("/statements/1099511627776").status_code == 404


@pytest.mark.parametrize("page", ["1e20", "99999999999999999999", "²", "-1", "0x10"])
def test_a_page_number_out_of_range_never_fails(client, staff, page):
    assert client.get("/applications", query_string={"page": page}).status_code == 200


@pytest.mark.parametrize("area", ["1e30", "99999999999999999999", "2147483648"])
def test_an_area_filter_out_of_range_is_named_and_ignored(client, staff, area):
    response = client.get("/applications", query_string={"area": area})
    assert response.status_code == 200


def test_superscript_digits_are_not_a_pin(client):
    headers = factories.bearer(factories.make_user("registrar", national=True))
    family = factories.make_family("UZ-TK")
    payload = factories.application_payload(family, applicant_pin="3²²²²²²²²²²²²²")
    response = client.post("/api/v1/applications", json=payload, headers=headers)
    assert response.status_code == 422 and response.is_json


@pytest.mark.parametrize("path", ["/api/v1/applications", EVALUATE, "/api/v1/dci/notify"])
def test_a_deeply_nested_body_is_a_400_not_a_crash(client, path):
    headers = factories.bearer(factories.make_user("registrar", national=True))
    response = client.post(path, data=DEEP, content_type="application/json", headers=headers)
    assert response.status_code == 400 and response.is_json


def test_a_four_hundred_digit_income_is_refused(client):
    headers = factories.bearer(factories.make_user("analyst", national=True))
    text = json.dumps(FACTS).replace('"amount": 900000', f'"amount": {"9" * 400}')
    assert "9" * 400 in text
    response = client.post(EVALUATE, data=text, content_type="application/json", headers=headers)
    assert response.status_code == 400 and "too large" in response.get_json()["message"]


def test_a_nul_inside_a_json_string_is_refused(client):
    headers = factories.bearer(factories.make_user("registrar", national=True))
    response = client.post("/api/v1/applications", json={"phone": "+998\u0000"}, headers=headers)
    assert response.status_code == 400 and response.is_json


def test_the_calculator_refuses_a_crowd_and_an_unknown_language(client):
    headers = factories.bearer(factories.make_user("analyst", national=True))
    crowd = {**FACTS, "members": [FACTS["members"][1]] * 20_000}
    response = client.post(EVALUATE, json=crowd, headers=headers)
    assert response.status_code == 422 and "members" in response.get_json()["errors"]
    response = client.post(EVALUATE, json={"facts": FACTS, "lang": "zz"}, headers=headers)
    assert response.status_code == 422 and "lang" in response.get_json()["errors"]


def test_an_unknown_route_under_the_api_answers_json(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.is_json


def test_the_guard_refuses_before_the_view_so_no_row_changes(client, staff):
    users = db.session.scalar(select(func.count()).select_from(User))
    audits = _audit_count()
    client.post("/applications/new", data={"applicant_pin": "\x00", "csrf_token": client.csrf})
    assert db.session.scalar(select(func.count()).select_from(User)) == users
    assert _audit_count() == audits
