"""The Social Registry server: tokens, signature policies, rate limits, searches, and the spec on every answer."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from connectors.transport.dci import DCISchemas, Keyring
from modules.dci.models import DciToken
from tests import factories
from tests.dci.conftest import SOCIAL, Sender, by_pin, search_message
from webapp.extensions import db
from webapp.models.audit import AuditEvent
from webapp.timeutil import utcnow

SPEC = DCISchemas()
SYNC = f"{SOCIAL}/sync/search"


def _ok_search(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert SPEC.errors("social", "/registry/sync/search", body, part="response") == []
    return body


def _srsp_keys(http) -> Keyring:
    ring = Keyring("verifier")
    ring.trust_jwks(http.get("/.well-known/jwks.json").get_json())
    return ring


def _assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["errors"][0]["code"] == code
    assert body["message"]["ack_status"] == "ERR" and body["message"]["error"]["code"] == code
    assert SPEC.errors("social", "/registry/search", {"message": body["message"]}, part="response") == []


def test_sync_search_by_pin_answers_a_signed_valid_response_and_audits_it(http, sender):
    family = factories.make_family()
    request = sender.envelope("search", search_message(by_pin(family["head"].pin)))
    assert SPEC.errors("social", "/registry/sync/search", sender.keys.sign(request), part="request") == []
    body = _ok_search(sender.post(SYNC, request))
    _srsp_keys(http).verify(body)  # signed with the key SRSP publishes
    item = body["message"]["search_response"][0]
    assert item["status"] == "succ" and item["pagination"]["total_count"] == 1
    record = item["data"]["reg_records"][0]
    assert record["identifier"][0]["identifier_value"] == family["head"].pin
    assert record["group_identifier"] == str(family["household"].id)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "dci.records_served")
                              .order_by(AuditEvent.id.desc()).limit(1))
    assert event.details["client"] == "ministry-of-health" and event.details["purpose"] == "test checks"
    assert event.details["records"] == [f"person:{family['head'].id}"]


def test_expression_and_predicate_queries_page_through_persons_and_households(http, sender):
    family = factories.make_family(children=3)
    area_code = family["head"].area.code
    predicate = {"query_type": "predicate", "query": [
        {"seq_num": 1, "expression1": {"attribute_name": "area_code", "operator": "eq", "attribute_value": area_code},
         "condition": "and",
         "expression2": {"attribute_name": "birth_date", "operator": "ge", "attribute_value": "2012-01-01"}}],
        "pagination": {"page_size": 2, "page_number": 2}}
    item = _ok_search(sender.post(SYNC, sender.envelope("search", search_message(predicate, locale="rus"))))[
        "message"]["search_response"][0]
    assert item["pagination"] == {"page_size": 2, "page_number": 2, "total_count": 3}
    assert len(item["data"]["reg_records"]) == 1 and item["locale"] == "rus"
    expression = {"query_type": "expression", "response_entity": "Group", "query": {
        "type": "ns:org:QueryType:NoSql", "value": {"expression": {"collection": "Group", "query": {
            "$and": [{"household_id": {"$eq": family["household"].id}}]}}}}}
    item = _ok_search(sender.post(SYNC, sender.envelope("search", search_message(expression))))[
        "message"]["search_response"][0]
    group = item["data"]["reg_records"][0]
    assert group["group_identifier"] == str(family["household"].id) and group["group_size"] == 5


def test_a_field_the_policy_forbids_is_neither_served_nor_searchable(http):
    family = factories.make_family()
    sender = Sender(http, "statistics", fields=("name", "sex"))
    item = _ok_search(sender.post(SYNC, sender.envelope("search", search_message(by_pin(family["head"].pin)))))[
        "message"]["search_response"][0]
    assert item["status"] == "rjct" and item["status_reason_code"] == "rjct.search_criteria.invalid"
    assert "not allowed" in item["status_reason_message"]
    by_name = {"query_type": "predicate", "query": [{"expression1": {
        "attribute_name": "given_name", "operator": "eq", "attribute_value": family["head"].first_name}}]}
    item = _ok_search(sender.post(SYNC, sender.envelope("search", search_message(by_name))))[
        "message"]["search_response"][0]
    assert item["data"]["reg_records"] == [{"name": {"given_name": family["head"].first_name,
                                                     "surname": "Karimov", "second_name": None}, "sex": "M"}]


def test_a_query_type_the_policy_forbids_is_rejected(http):
    sender = Sender(http, "pins-only", query_types=("idtype-value",))
    predicate = {"query_type": "predicate", "query": [{"expression1": {
        "attribute_name": "sex", "operator": "eq", "attribute_value": "M"}}]}
    item = _ok_search(sender.post(SYNC, sender.envelope("search", search_message(predicate))))[
        "message"]["search_response"][0]
    assert item["status"] == "rjct"


@pytest.mark.parametrize(("policy", "signed", "status"), [
    ("required", True, 200), ("required", False, 401), ("optional", True, 200), ("optional", False, 200),
    ("none", True, 200), ("none", False, 200)])
def test_signature_policies(http, policy, signed, status):
    sender = Sender(http, f"sender-{policy}", signatures=policy)
    response = sender.post(SYNC, sender.envelope("search", search_message(by_pin("12345678901234"))), signed=signed)
    assert response.status_code == status, response.get_data(as_text=True)
    if status == 401:
        _assert_error(response, 401, "err.signature.missing")


@pytest.mark.parametrize(("policy", "status"), [("required", 401), ("optional", 401), ("none", 200)])
def test_a_bad_signature_is_refused_unless_signatures_are_not_checked(http, policy, status):
    sender = Sender(http, f"forger-{policy}", signatures=policy)
    body = sender.keys.sign(sender.envelope("search", search_message(by_pin("12345678901234"))))
    body["message"]["transaction_id"] = "changed after signing"
    response = sender.post(SYNC, body, signed=False)
    assert response.status_code == status
    if status == 401:
        _assert_error(response, 401, "err.signature.invalid")


def test_a_signature_with_another_senders_key_is_refused(http, sender):
    other = Keyring.generate(sender.keys.sender_id)  # same name, a key the registry was never given
    body = other.sign(sender.envelope("search", search_message(by_pin("12345678901234"))))
    _assert_error(sender.post(SYNC, body, signed=False), 401, "err.signature.invalid")


def test_no_token_an_unknown_token_and_an_expired_token_are_unauthorized(http, sender):
    body = sender.keys.sign(sender.envelope("search", search_message(by_pin("12345678901234"))))
    for endpoint in ("/sync/search", "/search", "/subscribe", "/unsubscribe", "/txn/status", "/sync/txn/status"):
        response = http.post(f"{SOCIAL}{endpoint}", json=body)
        _assert_error(response, 401, "err.request.unauthorized")
    response = http.post(SYNC, json=body, headers={"Authorization": "Bearer not-a-token"})
    _assert_error(response, 401, "err.request.unauthorized")
    for token in db.session.scalars(select(DciToken).where(DciToken.client_id == sender.client.id)):
        token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.flush()
    _assert_error(sender.post(SYNC, body, signed=False), 401, "err.request.unauthorized")


def test_wrong_client_credentials_get_no_token(http, sender):
    response = http.post("/dci/oauth2/client/token", data={
        "grant_type": "client_credentials", "client_id": sender.client.client_id, "client_secret": "guess"})
    _assert_error(response, 401, "err.request.unauthorized")
    response = http.post("/dci/oauth2/client/token", data={"grant_type": "password"})
    _assert_error(response, 400, "err.request.bad")


def test_the_rate_limit_is_per_sender(http):
    slow = Sender(http, "slow", rate_limit="2 per minute")
    body = slow.envelope("search", search_message(by_pin("12345678901234")))
    assert [slow.post(SYNC, body).status_code for _ in range(3)] == [200, 200, 429]
    _assert_error(slow.post(SYNC, body), 429, "err.request.too_many_requests")
    other = Sender(http, "other")
    assert other.post(SYNC, other.envelope("search", search_message(by_pin("12345678901234")))).status_code == 200


@pytest.mark.parametrize("raw", [
    b'{"header": {"message_id": "a\\u0000b"}}',
    b"[" * 5000 + b"]" * 5000,
    b'{"header": 1' + b"0" * 400 + b"}",
    b"not json",
    b"[]",
    b'{"header": {}}',
])
def test_bad_input_gets_the_spec_error_body_never_a_500(http, sender, raw):
    _assert_error(sender.post(SYNC, raw), 400, "err.request.bad")


def test_a_request_without_message_is_rejected_on_every_endpoint(http, sender):
    for endpoint in ("/sync/search", "/search", "/subscribe", "/unsubscribe", "/txn/status", "/sync/txn/status"):
        body = sender.envelope("search", {})
        del body["message"]
        _assert_error(sender.post(f"{SOCIAL}{endpoint}", body), 400, "err.request.bad")


def test_the_key_set_publishes_certificate_and_dci_keys(http):
    keys = http.get("/.well-known/jwks.json").get_json()["keys"]
    assert len({key["kid"] for key in keys}) == len(keys) >= 2
    assert any(key["kty"] == "OKP" and key["kid"].startswith("srsp-") for key in keys)  # a certificate key


def test_the_cli_registers_a_sender_and_prints_its_credentials(app, http, tmp_path):
    keys = Keyring.generate("cli-sender")
    (tmp_path / "key.json").write_text(json.dumps(keys.jwk()))
    result = app.test_cli_runner().invoke(args=[
        "dci", "clients", "create", "cli-sender", "--signatures", "optional", "--callback-url",
        "http://127.0.0.1:9/cb", "--jwk", str(tmp_path / "key.json"), "--field", "name"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    token = http.post("/dci/oauth2/client/token", data={
        "grant_type": "client_credentials", "client_id": printed["client_id"],
        "client_secret": printed["client_secret"]})
    assert token.status_code == 200 and token.get_json()["token_type"] == "Bearer"


def test_a_body_that_is_not_declared_json_is_refused(http, sender):
    body = json.dumps(sender.keys.sign(sender.envelope("search", search_message(by_pin("12345678901234")))))
    response = http.post(SYNC, data=body, content_type="text/plain",
                         headers={"Authorization": f"Bearer {sender.token}"})
    _assert_error(response, 415, "err.request.bad")


@pytest.mark.parametrize(("size", "number"), [(0, 1), (10, 0), (-1, 1), (101, 1)])
def test_async_search_refuses_bad_pagination_before_acknowledging(http, size, number):
    sender = Sender(http, "pager", callback_urls=["http://127.0.0.1:9/cb"])
    criteria = by_pin("12345678901234", pagination={"page_size": size, "page_number": number})
    request = sender.envelope("search", search_message(criteria), sender_uri="http://127.0.0.1:9/cb")
    _assert_error(sender.post(f"{SOCIAL}/search", request), 400, "err.request.bad")


@pytest.mark.parametrize(("attribute", "value"), [("sex", "X"), ("birth_date", "2020-13-01"), ("household_id", "1.5"),
                                                  ("age", "many"), ("$where", "1"), ("given_name", {"a": 1})])
def test_values_a_query_cannot_use_reject_the_item_never_fail(http, sender, attribute, value):
    criteria = {"query_type": "predicate", "query": [{"expression1": {
        "attribute_name": attribute, "operator": "eq", "attribute_value": value}}]}
    item = _ok_search(sender.post(SYNC, sender.envelope("search", search_message(criteria))))[
        "message"]["search_response"][0]
    assert item["status"] == "rjct" and item["status_reason_code"] == "rjct.search_criteria.invalid"


def test_a_guard_refusal_is_explained_in_english(http, sender):
    response = sender.post(SYNC, b'{"n": 1' + b"0" * 40 + b"}", headers={"Accept-Language": "uz"})
    _assert_error(response, 400, "err.request.bad")
    assert "too large" in response.get_json()["errors"][0]["message"]


def test_the_consent_a_search_carries_is_audited(http, sender):
    consent = {"id": "consent-7", "purpose": "benefit check"}
    request = sender.envelope("search", search_message(by_pin("12345678901234", consent=consent)))
    _ok_search(sender.post(SYNC, request))
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "dci.records_served")
                              .order_by(AuditEvent.id.desc()).limit(1))
    assert json.loads(event.details["consent"]) == consent and event.details["total"] == 0


def test_a_new_token_drops_the_clients_expired_ones(http, sender):
    for token in db.session.scalars(select(DciToken).where(DciToken.client_id == sender.client.id)):
        token.expires_at = utcnow() - timedelta(seconds=1)
    factories.commit()
    Sender.token_for(http, sender.client.client_id, sender.secret)
    left = db.session.scalars(select(DciToken).where(DciToken.client_id == sender.client.id)).all()
    assert len(left) == 1


def test_a_sender_key_set_published_at_a_url_is_fetched_to_check_signatures(http):
    import threading

    from werkzeug.serving import make_server
    from werkzeug.wrappers import Response

    sender = Sender(http, "published-keys")
    published = json.dumps({"keys": [sender.keys.jwk()]})
    server = make_server("127.0.0.1", 0, lambda environ, start: Response(
        published, content_type="application/json")(environ, start))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sender.client.jwks, sender.client.jwks_url = None, f"http://127.0.0.1:{server.server_port}/jwks.json"
        factories.commit()
        assert sender.post(SYNC, sender.envelope("search", search_message(by_pin("12345678901234")))).status_code == 200
        stranger = Keyring.generate(sender.keys.sender_id)
        body = stranger.sign(sender.envelope("search", search_message(by_pin("12345678901234"))))
        _assert_error(sender.post(SYNC, body, signed=False), 401, "err.signature.invalid")
    finally:
        server.shutdown()
