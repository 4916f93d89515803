"""The simulator's CRVS registry as a plain DCI server (`/dci/crvs/registry/...`) over real HTTP: bearer tokens,
the signature policy, event spellings, async search with on-search callbacks, on-subscribe, unsubscribe and
transaction status. Every request sent is checked against the bundled CRVS spec first."""

from __future__ import annotations

import queue
from datetime import date

import httpx
import pytest
from flask import Flask, jsonify, request
from sqlalchemy import select

from connectors import synthetic, wire
from connectors.simulator import store
from connectors.simulator.app import DEFAULT_DCI_SENDER_ID, PLAIN_PREFIX, create_simulator_app
from connectors.transport.dci import (
    EVENT_DEATH,
    ON_SEARCH,
    ON_SUBSCRIBE,
    ON_UNSUBSCRIBE,
    SEARCH,
    SUBSCRIBE,
    SYNC_SEARCH,
    SYNC_TXN_STATUS,
    TXN_ON_STATUS,
    TXN_STATUS,
    UNSUBSCRIBE,
    DCISchemas,
    Keyring,
    build_ack,
    build_search_request,
    build_subscribe_request,
    build_txn_status_request,
    build_unsubscribe_request,
    open_envelope,
    parse_ack,
    parse_search_response,
)
from tests.connectors.transport import live_server

AS_OF = date(2025, 6, 15)
AREAS = [f"UZ-TK-01-M{mahalla:02d}" for mahalla in range(1, 3)]
SENDER = "srsp"
TOKEN = "sim-token-1"
PERSON = "spdci-extensions-dci:Person"


@pytest.fixture(scope="module")
def schemas():
    return DCISchemas()


@pytest.fixture(scope="module")
def sender():
    return Keyring.generate(SENDER)


@pytest.fixture(scope="module")
def sim(tmp_path_factory, schemas, sender):
    url = f"sqlite:///{tmp_path_factory.mktemp('dci_sim') / 'simulator.db'}"
    engine = store.engine_for(url)
    synthetic.synthesize(engine, 20, 3, AREAS, AS_OF)
    with engine.connect() as conn:
        pin = conn.scalar(select(store.vital_event.c.pin).limit(1))
    app = create_simulator_app(url, faults={}, trusted_senders={SENDER: sender.jwks()}, schemas=schemas,
                               dci_tokens=[TOKEN, "other-token"], dci_signatures="required")
    state = app.extensions["simulator"]
    with live_server(app) as base_url:
        yield base_url, state, pin
    state.shutdown()
    engine.dispose()


@pytest.fixture(scope="module")
def receiver(schemas, sim):
    """A local callback receiver: every callback it gets (verified with the simulator's key, schema-checked) is put
    on the queue of its endpoint."""
    _base, state, _pin = sim
    keyring = Keyring.generate(SENDER)
    keyring.trust_jwks(state.keyring.jwks(), sender_id=DEFAULT_DCI_SENDER_ID)
    inbox = {endpoint: queue.Queue() for endpoint in (ON_SEARCH, ON_SUBSCRIBE, ON_UNSUBSCRIBE, TXN_ON_STATUS)}
    app = Flask("receiver")

    @app.post("/cb/<path:name>")
    def callback(name):
        endpoint = next(e for e in inbox if f"/{name}".endswith(e[len("/registry"):]))
        envelope = request.get_json()
        open_envelope(envelope, keyring=keyring, schemas=schemas, registry="crvs", endpoint=endpoint,
                      part="request")
        inbox[endpoint].put(envelope)
        return jsonify(build_ack())

    with live_server(app) as url:
        yield url, inbox


@pytest.fixture
def http(sim):
    base_url, state, _pin = sim
    state.signatures = "required"
    with httpx.Client(base_url=base_url + PLAIN_PREFIX, timeout=5,
                      headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client
    state.signatures = "required"


def post(http, schemas, endpoint, envelope, **kwargs) -> httpx.Response:
    assert schemas.errors("crvs", endpoint, envelope, part="request") == []
    return http.post(endpoint, json=envelope, **kwargs)


def search(pin, **kwargs):
    return build_search_request(SENDER, DEFAULT_DCI_SENDER_ID, [(wire.PIN_ID_TYPE, pin)], **kwargs)


def assert_error(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["errors"][0]["code"] == code
    assert body["message"]["ack_status"] == "ERR" and body["message"]["error"]["code"] == code


def wait(inbox, endpoint):
    return inbox[endpoint].get(timeout=10)


def test_bearer_token_is_required(sim, schemas, sender):
    base_url, _state, pin = sim
    envelope = sender.sign(search(pin))
    url = f"{base_url}{PLAIN_PREFIX}{SYNC_SEARCH}"
    missing = httpx.post(url, json=envelope)
    assert_error(missing, 401, "err.request.unauthorized")
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert missing.headers["Content-Type"].startswith("application/json")
    assert_error(httpx.post(url, json=envelope, headers={"Authorization": "Bearer wrong"}), 401,
                 "err.request.unauthorized")
    assert_error(httpx.post(url, json=envelope, headers={"Authorization": f"Basic {TOKEN}"}), 401,
                 "err.request.unauthorized")
    for endpoint in (SEARCH, SUBSCRIBE, UNSUBSCRIBE, TXN_STATUS, SYNC_TXN_STATUS):
        assert_error(httpx.post(f"{base_url}{PLAIN_PREFIX}{endpoint}", json=envelope), 401,
                     "err.request.unauthorized")
    other = httpx.post(url, json=envelope, headers={"Authorization": "Bearer other-token"})
    assert other.status_code == 200


def test_sync_search_finds_the_persons_events(http, schemas, sender, sim):
    _base, _state, pin = sim
    response = post(http, schemas, SYNC_SEARCH, sender.sign(search(pin)))
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    schemas.validate_incoming("crvs", SYNC_SEARCH, response.json(), part="response")
    (result,) = parse_search_response(response.json()).results
    assert result.status == "succ" and result.records and all(r["pin"] == pin for r in result.records)


@pytest.mark.parametrize("policy, unsigned, forged", [
    ("required", ("err.signature.missing", 401), ("err.signature.invalid", 401)),
    ("optional", None, ("err.signature.invalid", 401)),
    ("none", None, None),
])
def test_the_signature_policy(http, schemas, sender, sim, policy, unsigned, forged):
    _base, state, pin = sim
    state.signatures = policy
    plain = search(pin)
    stranger = Keyring.generate(SENDER).sign(search(pin))  # the right name, a key nobody trusts
    tampered = sender.sign(search(pin))
    tampered["message"]["search_request"][0]["search_criteria"]["query"]["value"] = "00000000000000"
    garbage = {**sender.sign(search(pin)), "signature": "Signature: nonsense"}
    for envelope, expected in ((plain, unsigned), (stranger, forged), (tampered, forged), (garbage, forged)):
        response = http.post(SYNC_SEARCH, json=envelope)
        if expected is None:
            assert response.status_code == 200, response.text
        else:
            assert_error(response, expected[1], expected[0])
    assert post(http, schemas, SYNC_SEARCH, sender.sign(search(pin))).status_code == 200


def test_schema_invalid_requests_are_refused_in_both_shapes(http, sender, sim):
    _base, state, pin = sim
    state.signatures = "none"
    for endpoint in (SYNC_SEARCH, SEARCH, SUBSCRIBE):
        assert_error(http.post(endpoint, json={"header": search(pin)["header"]}), 400, "err.request.bad")
    assert_error(http.post(SYNC_SEARCH, content=b"[]", headers={"Content-Type": "application/json"}), 400,
                 "err.request.bad")
    assert_error(http.post("/registry/nowhere", json={}), 404, "err.request.not_found")


@pytest.mark.parametrize("events", [["BIRTH", "DEATH"], ["spdci-common:RegistryEventType:LiveBirth", EVENT_DEATH],
                                    ["LiveBirth"]])
def test_subscribe_accepts_the_event_spellings_and_calls_on_subscribe(http, schemas, sender, receiver, events):
    url, inbox = receiver
    envelope = sender.sign(build_subscribe_request(SENDER, DEFAULT_DCI_SENDER_ID, events,
                                                   sender_uri=f"{url}/cb/notify", notify_record_type=PERSON))
    response = post(http, schemas, SUBSCRIBE, envelope)
    ack = parse_ack(response.json())
    assert response.status_code == 200 and ack.ack_status == "ACK"
    callback = wait(inbox, ON_SUBSCRIBE)
    assert callback["header"]["action"] == "on-subscribe"
    assert callback["message"]["transaction_id"] == envelope["message"]["transaction_id"]
    items = callback["message"]["subscribe_response"]
    assert [item["reference_id"] for item in items] == [i["reference_id"] for i in
                                                        envelope["message"]["subscribe_request"]]
    assert {item["subscriptions"][0]["code"] for item in items} == {ack.correlation_id}


def test_other_events_are_refused(http, schemas, sender, receiver):
    url, _inbox = receiver
    envelope = sender.sign(build_subscribe_request(SENDER, DEFAULT_DCI_SENDER_ID, ["MARRIAGE"],
                                                   sender_uri=f"{url}/cb/notify", notify_record_type=PERSON))
    ack = parse_ack(post(http, schemas, SUBSCRIBE, envelope).json())
    assert ack.ack_status == "ERR" and ack.error_code == "err.request.bad"


def test_async_search_acks_then_calls_on_search_and_txn_status_reports_it(http, schemas, sender, receiver, sim):
    _base, _state, pin = sim
    url, inbox = receiver
    envelope = sender.sign(search(pin, sender_uri=f"{url}/cb/on-search"))
    response = post(http, schemas, SEARCH, envelope)
    assert response.status_code == 200, response.text
    schemas.validate_incoming("crvs", SEARCH, response.json(), part="response")
    assert parse_ack(response.json()).ack_status == "ACK"
    callback = wait(inbox, ON_SEARCH)
    found = parse_search_response(callback)
    assert found.transaction_id == envelope["message"]["transaction_id"]
    assert found.correlation_id == parse_ack(response.json()).correlation_id
    (result,) = found.results
    assert result.reference_id == envelope["message"]["search_request"][0]["reference_id"]
    assert result.records and all(record["pin"] == pin for record in result.records)

    status = sender.sign(build_txn_status_request(SENDER, DEFAULT_DCI_SENDER_ID, found.transaction_id))
    sync = post(http, schemas, SYNC_TXN_STATUS, status)
    assert sync.status_code == 200, sync.text
    schemas.validate_incoming("crvs", SYNC_TXN_STATUS, sync.json(), part="response")
    txn = sync.json()["message"]["txnstatus_response"]
    assert txn["txn_type"] == "search"
    assert txn["txn_status"]["search_response"][0]["data"]["reg_records"] == result.records

    unknown = sender.sign(build_txn_status_request(SENDER, DEFAULT_DCI_SENDER_ID, "no-such-transaction",
                                                   sender_uri=f"{url}/cb/on-search"))
    assert parse_ack(post(http, schemas, TXN_STATUS, unknown).json()).ack_status == "ACK"
    on_status = wait(inbox, TXN_ON_STATUS)
    assert on_status["message"]["transaction_id"] == unknown["message"]["transaction_id"]
    assert on_status["message"]["txnstatus_response"]["txn_status"]["status"] == "rjct"


def test_without_a_sender_uri_async_results_wait_for_txn_status(http, schemas, sender, sim):
    _base, state, pin = sim
    envelope = sender.sign(search(pin))
    ack = parse_ack(post(http, schemas, SEARCH, envelope).json())
    assert ack.ack_status == "ACK"
    status = sender.sign(build_txn_status_request(SENDER, DEFAULT_DCI_SENDER_ID,
                                                  envelope["message"]["transaction_id"]))
    txn = post(http, schemas, SYNC_TXN_STATUS, status).json()["message"]["txnstatus_response"]
    assert txn["txn_status"]["search_response"][0]["data"]["reg_records"]
    assert parse_ack(post(http, schemas, TXN_STATUS, status).json()).ack_status == "NACK"
    unsubscribe = sender.sign(build_unsubscribe_request(SENDER, DEFAULT_DCI_SENDER_ID, ["x"]))
    assert parse_ack(post(http, schemas, UNSUBSCRIBE, unsubscribe).json()).ack_status == "NACK"


def test_unsubscribe_removes_the_subscription_and_calls_on_unsubscribe(http, schemas, sender, receiver, sim):
    _base, state, _pin = sim
    url, inbox = receiver
    subscribe = sender.sign(build_subscribe_request(SENDER, DEFAULT_DCI_SENDER_ID, ["DEATH"],
                                                    sender_uri=f"{url}/cb/elsewhere/registry",
                                                    notify_record_type=PERSON))
    code = parse_ack(post(http, schemas, SUBSCRIBE, subscribe).json()).correlation_id
    wait(inbox, ON_SUBSCRIBE)
    assert code in {s["code"] for s in state.subscriptions()}
    envelope = sender.sign(build_unsubscribe_request(SENDER, DEFAULT_DCI_SENDER_ID, [code, "not-a-code"],
                                                     sender_uri=f"{url}/cb/notify"))
    response = post(http, schemas, UNSUBSCRIBE, envelope)
    assert parse_ack(response.json()).ack_status == "ACK"
    callback = wait(inbox, ON_UNSUBSCRIBE)
    assert callback["message"]["transaction_id"] == envelope["message"]["transaction_id"]
    assert callback["message"]["subscription_status"] == [{"code": code, "status": "unsubscribe"}]
    assert callback["message"]["status"] == "rjct"  # one of the two codes was not a subscription
    assert code not in {s["code"] for s in state.subscriptions()}

    status = sender.sign(build_txn_status_request(SENDER, DEFAULT_DCI_SENDER_ID,
                                                  envelope["message"]["transaction_id"], txn_type="unsubscribe"))
    txn = post(http, schemas, SYNC_TXN_STATUS, status).json()["message"]["txnstatus_response"]
    assert txn["txn_status"]["subscription_status"] == [{"code": code, "status": "unsubscribe"}]


def test_the_x_road_path_still_needs_no_token(sim, schemas, sender):
    base_url, _state, pin = sim
    response = httpx.post(f"{base_url}/r1/UZ/GOV/MOJ/civil-registry/vitalEvents{SYNC_SEARCH}",
                          json=sender.sign(search(pin)), headers={"X-Road-Client": "UZ/GOV/SRSP/single-registry"})
    assert response.status_code == 200, response.text
    assert parse_search_response(response.json()).results[0].records


# -- requests shaped as the SPDCI compliance suite sends them --------------------------------------------------


def suite_envelope(action: str, message: dict, callback_base: str | None, callback: str | None) -> dict:
    """The suite's envelope: a placeholder signature, its own ids, `sender_uri` the callback path itself."""
    header = {"version": "1.0.0", "message_id": "m-" + action, "message_ts": "2025-06-15T10:00:00.000Z",
              "action": action, "sender_id": "test-client", "receiver_id": "crvs-server", "total_count": 1}
    if callback_base and callback:
        header["sender_uri"] = callback_base + callback
    return {"signature": "unsigned-stub", "header": header, "message": message}


@pytest.fixture(scope="module")
def suite_receiver():
    """The suite's callback server: records every POST, whatever its path."""
    received = queue.Queue()
    app = Flask("suite")

    @app.post("/<path:path>")
    def record(path):
        received.put(("/" + path, request.get_json()))
        return jsonify({"ack_status": "ACK"})

    with live_server(app) as url:
        yield url, received


def test_the_suites_requests_under_signatures_none(http, schemas, suite_receiver, sim):
    _base, state, _pin = sim
    state.signatures = "none"
    url, received = suite_receiver
    ts = "2025-06-15T10:00:00.000Z"
    queries = [("idtype-value", {"type": "BIRTH_REG_NO", "value": "BIRTH-TEST-001"}),
               ("expression", {"type": "ns:org:QueryType:expression", "value": {"expression": {
                   "collection": "Person", "query": {"$and": [{"date_of_birth": {"$gte": "2000-01-01"}}]}}}}),
               ("predicate", [{"seq_num": 1, "expression1": {"attribute_name": "gender", "operator": "eq",
                                                             "attribute_value": "male"}}])]
    for n, (query_type, query) in enumerate(queries):
        message = {"transaction_id": f"t-search-{n}", "search_request": [{
            "reference_id": f"ref-{n}", "timestamp": ts,
            "search_criteria": {"query_type": query_type, "query": query}}]}
        sync = post(http, schemas, SYNC_SEARCH, suite_envelope("search", message, None, None))
        assert sync.status_code == 200, sync.text
        schemas.validate_incoming("crvs", SYNC_SEARCH, sync.json(), part="response")
        assert sync.json()["message"]["search_response"][0]["data"]["reg_records"] == []
        ack = post(http, schemas, SEARCH, suite_envelope("search", message, url, ON_SEARCH))
        assert ack.status_code == 200 and parse_ack(ack.json()).ack_status == "ACK"
        path, body = received.get(timeout=10)
        assert path == ON_SEARCH and body["header"]["action"] == "on-search"
        assert body["message"]["transaction_id"] == f"t-search-{n}"
        assert body["message"]["correlation_id"] == ack.json()["message"]["correlation_id"]

    steps = [
        (SUBSCRIBE, "subscribe", ON_SUBSCRIBE, "on-subscribe", {"transaction_id": "t-sub", "subscribe_request": [{
            "reference_id": "ref-sub", "timestamp": ts, "subscribe_criteria": {
                "reg_event_type": "BIRTH", "filter": {"type": "BIRTH_REG_NO", "value": "BIRTH-TEST-001"},
                "notify_record_type": "Person"}}]}),
        (UNSUBSCRIBE, "unsubscribe", ON_UNSUBSCRIBE, "on-unsubscribe",
         {"transaction_id": "t-unsub", "timestamp": ts, "subscription_codes": ["sub-crvs-test-001"]}),
        (TXN_STATUS, "txn-status", TXN_ON_STATUS, "txn-on-status", {"transaction_id": "t-txn", "txnstatus_request": {
            "reference_id": "ref-txn", "txn_type": "search", "attribute_type": "transaction_id",
            "attribute_value": "t-txn"}}),
    ]
    for endpoint, action, callback, callback_action, message in steps:
        ack = post(http, schemas, endpoint, suite_envelope(action, message, url, callback))
        assert ack.status_code == 200, ack.text
        schemas.validate_incoming("crvs", endpoint, ack.json(), part="response")
        assert parse_ack(ack.json()).ack_status == "ACK"
        path, body = received.get(timeout=10)
        assert (path, body["header"]["action"]) == (callback, callback_action)
        assert body["message"]["transaction_id"] == message["transaction_id"]
        assert body["message"]["correlation_id"] == ack.json()["message"]["correlation_id"]
        schemas.validate_incoming("crvs", callback, body, part="request")
    sync = post(http, schemas, SYNC_TXN_STATUS, suite_envelope("txn-status", steps[2][4], None, None))
    assert sync.status_code == 200
    schemas.validate_incoming("crvs", SYNC_TXN_STATUS, sync.json(), part="response")

    state.signatures = "optional"  # a placeholder signature is a signature that does not verify
    refused = http.post(SYNC_SEARCH, json=suite_envelope("search", {"transaction_id": "t", "search_request": [{
        "reference_id": "r", "timestamp": ts, "search_criteria": {"query_type": "idtype-value",
                                                                  "query": queries[0][1]}}]}, None, None))
    assert_error(refused, 401, "err.signature.invalid")


def test_tokens_and_policy_from_the_environment(monkeypatch, tmp_path, schemas):
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("SIMULATOR_DCI_TOKENS", " a-token , b-token,")
    monkeypatch.setenv("SIMULATOR_DCI_SIGNATURES", "Optional")
    state = create_simulator_app(url, faults={}, trusted_senders={}, schemas=schemas).extensions["simulator"]
    assert state.tokens == {"a-token", "b-token"} and state.signatures == "optional"
    monkeypatch.delenv("SIMULATOR_DCI_SIGNATURES")
    monkeypatch.delenv("SIMULATOR_DCI_TOKENS")
    state = create_simulator_app(url, faults={}, trusted_senders={}, schemas=schemas).extensions["simulator"]
    assert state.tokens == frozenset() and state.signatures == "required"
    monkeypatch.setenv("SIMULATOR_DCI_SIGNATURES", "sometimes")
    with pytest.raises(ValueError, match="SIMULATOR_DCI_SIGNATURES"):
        create_simulator_app(url, faults={}, trusted_senders={}, schemas=schemas)


def test_callbacks_sent_to_the_registry_are_acknowledged(http, schemas, sim):
    _base, state, _pin = sim
    state.signatures = "none"
    ts = "2025-06-15T10:00:00.000Z"

    def callback_header(action):
        return {"version": "1.0.0", "message_id": "m-" + action, "message_ts": ts, "action": action,
                "status": "succ", "total_count": 1, "completed_count": 1, "sender_id": "crvs-server",
                "receiver_id": "test-client"}

    bodies = {
        ON_SEARCH: (callback_header("on-search"), {"transaction_id": "t1", "correlation_id": "c1", "search_response": [
            {"reference_id": "r1", "timestamp": ts, "status": "succ",
             "data": {"version": "1.0.0", "reg_record_type": "Person", "reg_records": []}}]}),
        ON_SUBSCRIBE: (suite_envelope("on-subscribe", {}, None, None)["header"], {
            "transaction_id": "t2", "correlation_id": "c2", "subscribe_response": [{
                "reference_id": "r2", "timestamp": ts, "status": "succ",
                "subscriptions": [{"code": "sub-1", "status": "subscribe", "timestamp": ts}]}]}),
        ON_UNSUBSCRIBE: (suite_envelope("on-unsubscribe", {}, None, None)["header"], {
            "transaction_id": "t3", "correlation_id": "c3", "timestamp": ts, "status": "succ",
            "subscription_status": [{"code": "sub-crvs-test-001", "status": "unsubscribe"}]}),
        TXN_ON_STATUS: (callback_header("txn-on-status"), {"transaction_id": "t4", "correlation_id": "c4",
                                                           "txnstatus_response": {"txn_type": "search", "txn_status": {
                                                               "transaction_id": "t4", "correlation_id": "c5",
                                                               "search_response": []}}}),
        "/registry/notify": (callback_header("notify"), {"transaction_id": "t5", "notify_event": [{
            "reference_id": "r5", "timestamp": ts, "locale": "eng",
            "data": {"version": "1.0.0", "reg_record_type": "Person", "reg_records": {}}}]}),
    }
    for endpoint, (header, message) in bodies.items():
        response = post(http, schemas, endpoint, {"signature": "unsigned-stub", "header": header, "message": message})
        assert response.status_code == 200, (endpoint, response.text)
        schemas.validate_incoming("crvs", endpoint, response.json(), part="response")
        assert parse_ack(response.json()).ack_status == "ACK"
    assert [entry["endpoint"] for entry in state.received()[-5:]] == list(bodies)
    assert_error(http.post(ON_SEARCH, json={"header": bodies[ON_SEARCH][0]}), 400, "err.request.bad")
