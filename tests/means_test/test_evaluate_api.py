"""POST /api/v1/means-test/evaluate: the calculator for staff and machine clients; it stores nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from modules.means_test.models import Assessment
from tests import factories
from tests.factories import bearer as auth_header
from webapp.extensions import db

FACTS = factories.CALCULATOR_FACTS


def test_a_token_client_gets_the_decision_in_the_cli_contract_shape(app, client):
    headers = auth_header(factories.make_user("analyst", national=True))
    response = client.post("/api/v1/means-test/evaluate?pack=uz&as_of=2026-11-10", json=FACTS, headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == {"decision", "per_capita_income", "reasons", "programmes", "pack_version"}
    # 900,000 in the window / 2 members / 3 months = 150,000 ≤ 648,000; one child under 18.
    assert body == {"decision": "eligible", "per_capita_income": 150000.0, "reasons": [], "pack_version": "uz@2024.06",
                    "programmes": [{"code": "child_allowance", "monthly_amount": 270000.0, "months": 12}]}
    assert db.session.scalar(select(func.count()).select_from(Assessment)) == 0


def test_the_envelope_form_picks_the_version_and_language(app, client):
    headers = auth_header(factories.make_user("registrar", national=True))
    rich = {**FACTS, "members": [{**FACTS["members"][0], "income": [
        {"source": "salary", "month": "2026-09", "amount": 9_000_000}]}, FACTS["members"][1]]}
    response = client.post("/api/v1/means-test/evaluate", headers=headers,
                           json={"facts": rich, "pack": "uz", "as_of": "2022-01-01", "lang": "ru", "trace": True})
    body = response.get_json()
    assert response.status_code == 200 and body["pack_version"] == "uz@2021.09"
    assert body["reasons"][0]["rule"] == "income_above_threshold" and "сум" in body["reasons"][0]["message"]
    assert body["trace"]["rules"][0]["values"]["income_threshold"] == 498000.0


def test_bad_input_is_422_naming_the_field_and_anonymous_is_401(app, client):
    headers = auth_header(factories.make_user("registrar", national=True))
    bad = {**FACTS, "members": [{**FACTS["members"][0], "birth_date": "1985-02-30"}]}
    response = client.post("/api/v1/means-test/evaluate", json=bad, headers=headers)
    assert response.status_code == 422 and "members[0].birth_date" in response.get_json()["errors"]
    empty = client.post("/api/v1/means-test/evaluate", json={**FACTS, "members": []}, headers=headers)
    assert empty.status_code == 422 and "members" in empty.get_json()["errors"]
    early = client.post("/api/v1/means-test/evaluate?as_of=2019-01-01", json=FACTS, headers=headers)
    assert early.status_code == 422 and "no version is in force" in early.get_json()["errors"]["as_of"][0]
    unknown = client.post("/api/v1/means-test/evaluate?pack=zz", json=FACTS, headers=headers)
    assert unknown.status_code == 422 and "pack" in unknown.get_json()["errors"]
    assert client.post("/api/v1/means-test/evaluate", json=FACTS).status_code == 401
