"""The civil-registry connector as configured per source (connectors/registry.py) against the simulator over real
HTTP: DCI over X-Road, and a plain DCI server with a bearer token (fixed or by OAuth2 client credentials), sync
and async search, signed and unsigned replies. The requests the simulator receives are checked against the
bundled CRVS spec by the simulator itself (a request that does not follow it is answered 400)."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from flask import Flask, jsonify, request
from sqlalchemy import select

from connectors import synthetic, wire
from connectors.registry import build
from connectors.simulator import store
from connectors.simulator.app import DEFAULT_DCI_SENDER_ID, PLAIN_PREFIX, create_simulator_app
from connectors.transport.dci import (
    ON_SEARCH,
    SEARCH,
    SYNC_SEARCH,
    DCISchemas,
    DCITransport,
    Keyring,
    OAuth2ClientCredentials,
    PendingSearches,
    build_ack,
    build_search_response,
    callback_url,
)
from tests.connectors.transport import live_server

AS_OF = date(2025, 6, 15)
AREAS = ["UZ-TK-01-M01", "UZ-TK-01-M02"]
TOKEN = "plain-token"
OAUTH_TOKEN = "issued-by-oauth2"
FAST = {"timeout": 3, "retry": {"attempts": 1}, "cache": {"ttl": 0}}


@pytest.fixture(scope="module")
def keyring():
    return Keyring.generate("srsp")


@pytest.fixture(scope="module")
def sim(tmp_path_factory, keyring):
    url = f"sqlite:///{tmp_path_factory.mktemp('dci_client') / 'simulator.db'}"
    engine = store.engine_for(url)
    synthetic.synthesize(engine, 20, 5, AREAS, AS_OF)
    with engine.connect() as conn:
        pins = list(conn.scalars(select(store.vital_event.c.pin).distinct().limit(3)))
    app = create_simulator_app(url, faults={}, trusted_senders={"srsp": keyring.jwks()}, schemas=DCISchemas(),
                               dci_tokens=[TOKEN, OAUTH_TOKEN], dci_signatures="required")
    state = app.extensions["simulator"]
    with live_server(app) as base_url:
        yield base_url, state, pins
    state.shutdown()
    engine.dispose()


@pytest.fixture
def http():
    with httpx.Client() as client:
        yield client


def civil_registry(config: dict, sim_url: str, keyring, http):
    return build({"*": FAST, "civil_registry": config}, sim_url, keyring, http)["civil_registry"]


def fetched(connector, pins):
    outcomes = connector.fetch(pins, window=("2000-01", "2025-06"))
    return {pin: outcome.status for pin, outcome in outcomes.items()}, outcomes


def test_the_default_is_dci_over_x_road(sim, keyring, http):
    base_url, state, pins = sim
    state.set_trusted_senders({})  # X-Road path: verified only when senders are configured
    connector = civil_registry({}, base_url, keyring, http)
    statuses, outcomes = fetched(connector, pins)
    assert set(statuses.values()) == {"ok"}
    assert all(record.pin == pin for pin, outcome in outcomes.items() for record in outcome.records)
    assert isinstance(connector.client.transport, DCITransport) and connector.client.transport.xroad
    state.set_trusted_senders({"srsp": keyring.jwks()})


def test_a_plain_dci_server_with_a_bearer_token(sim, keyring, http):
    base_url, state, pins = sim
    connector = civil_registry({"base_url": base_url + PLAIN_PREFIX, "xroad": False, "token": TOKEN},
                               base_url, keyring, http)
    statuses, _ = fetched(connector, pins)
    assert set(statuses.values()) == {"ok"}
    assert connector.client.transport.url(SYNC_SEARCH) == f"{base_url}{PLAIN_PREFIX}{SYNC_SEARCH}"
    unknown, _ = fetched(connector, ["00000000000000"])
    assert unknown == {"00000000000000": "not_found"}


def test_a_wrong_token_or_none_is_refused_in_words(sim, keyring, http):
    base_url, _state, pins = sim
    for extra in ({"token": "nope"}, {}):
        connector = civil_registry({"base_url": base_url + PLAIN_PREFIX, "xroad": False, **extra}, base_url,
                                   keyring, http)
        _statuses, outcomes = fetched(connector, pins[:1])
        (outcome,) = outcomes.values()
        assert outcome.status == "error" and "err.request.unauthorized" in outcome.error


def test_oauth2_client_credentials(sim, keyring, http):
    base_url, _state, pins = sim
    issued = []
    authz = Flask("authz")

    @authz.post("/oauth2/client/token")
    def token():
        form = request.form
        if (form.get("grant_type"), form.get("client_id"), form.get("client_secret")) != (
                "client_credentials", "srsp", "s3cret"):
            return jsonify({"error": "invalid_client"}), 401
        issued.append(form.get("scope"))
        return jsonify({"access_token": OAUTH_TOKEN, "token_type": "Bearer", "expires_in": 3600})

    with live_server(authz) as authz_url:
        oauth2 = {"token_url": f"{authz_url}/oauth2/client/token", "client_id": "srsp", "client_secret": "s3cret",
                  "scope": "crvs"}
        connector = civil_registry({"base_url": base_url + PLAIN_PREFIX, "xroad": False, "oauth2": oauth2},
                                   base_url, keyring, http)
        assert set(fetched(connector, pins)[0].values()) == {"ok"}
        assert set(fetched(connector, pins)[0].values()) == {"ok"}
        assert issued == ["crvs"]  # kept while valid
        connector.client.transport.auth.invalidate()
        fetched(connector, pins[:1])
        assert len(issued) == 2
        wrong = civil_registry({"base_url": base_url + PLAIN_PREFIX, "xroad": False,
                                "oauth2": {**oauth2, "client_secret": "guess"}}, base_url, keyring, http)
        (outcome,) = wrong.fetch(pins[:1], window=("2000-01", "2025-06")).values()
        assert outcome.status == "error" and "refused the client credentials" in outcome.error
    with pytest.raises(ValueError):
        OAuth2ClientCredentials("", "a", "b")


def test_no_jwks_means_no_fetch_and_the_registry_key_must_be_known_otherwise(sim, keyring, http):
    base_url, _state, pins = sim
    alone = Keyring.generate("srsp")  # trusts nobody: the simulator's replies cannot be verified
    connector = civil_registry({"base_url": base_url + PLAIN_PREFIX, "xroad": False, "token": TOKEN,
                                "jwks_url": None}, base_url, alone, http)
    assert connector._jwks is None
    (outcome,) = connector.fetch(pins[:1], window=("2000-01", "2025-06")).values()
    assert outcome.status == "error" and "unknown key id" in outcome.error


def test_the_simulators_signature_policy_as_seen_by_the_client(sim, http):
    base_url, state, pins = sim
    stranger = Keyring.generate("srsp")  # a key the simulator does not trust
    config = {"base_url": base_url + PLAIN_PREFIX, "xroad": False, "token": TOKEN}
    connector = civil_registry(config, base_url, stranger, http)
    (outcome,) = connector.fetch(pins[:1], window=("2000-01", "2025-06")).values()
    assert outcome.status == "error" and "err.signature.invalid" in outcome.error
    state.signatures = "none"
    try:
        assert set(fetched(civil_registry(config, base_url, stranger, http), pins)[0].values()) == {"ok"}
    finally:
        state.signatures = "required"


@pytest.fixture
def unsigned_registry():
    """A registry that answers sync search without signing, as some do."""
    app = Flask("unsigned")

    @app.post("/registry/sync/search")
    def sync_search():
        envelope = request.get_json()
        return jsonify(build_search_response(envelope, lambda _t, value: [
            {"event": "birth", "date": "2020-01-02", "pin": value, "related_pin": None}], DEFAULT_DCI_SENDER_ID))

    with live_server(app) as url:
        yield url


def test_unsigned_replies_only_when_the_source_accepts_them(unsigned_registry, keyring, http):
    pin = "12345678901234"
    config = {"base_url": unsigned_registry, "xroad": False, "jwks_url": None}
    refused = civil_registry(config, unsigned_registry, keyring, http)
    (outcome,) = refused.fetch([pin], window=("2000-01", "2025-06")).values()
    assert outcome.status == "error" and "signature missing" in outcome.error
    accepted = civil_registry({**config, "accept_unsigned": True}, unsigned_registry, keyring, http)
    (outcome,) = accepted.fetch([pin], window=("2000-01", "2025-06")).values()
    assert outcome.status == "ok" and outcome.records[0].event == "birth"


def test_async_search_waits_for_on_search_at_our_receiver(sim, keyring, http):
    base_url, _state, pins = sim
    pending = PendingSearches()
    holder = {}
    receiver = Flask("srsp")

    @receiver.post("/api/v1/dci/on-search")
    def on_search():
        holder["client"].receive_on_search(request.get_json())
        return jsonify(build_ack())

    with live_server(receiver) as receiver_url:
        config = {"base_url": base_url + PLAIN_PREFIX, "xroad": False, "token": TOKEN, "search": "async",
                  "callback_url": f"{receiver_url}/api/v1/dci/on-search", "async_timeout": 10}
        connector = civil_registry(config, base_url, keyring, http)
        connector.client.pending = pending
        holder["client"] = connector.client
        statuses, outcomes = fetched(connector, pins)
        assert set(statuses.values()) == {"ok"}
        assert all(record.pin == pin for pin, outcome in outcomes.items() for record in outcome.records)
    assert callback_url(config["callback_url"], ON_SEARCH) == config["callback_url"]


def test_async_search_needs_a_callback_and_a_sender_uri(sim, keyring, http):
    base_url, _state, pins = sim
    with pytest.raises(ValueError, match="callback_url"):
        civil_registry({"search": "async"}, base_url, keyring, http)
    with pytest.raises(ValueError, match="sync"):
        civil_registry({"search": "sometimes"}, base_url, keyring, http)
    connector = civil_registry({"base_url": base_url + PLAIN_PREFIX, "xroad": False, "token": TOKEN,
                                "search": "async", "callback_url": "http://127.0.0.1:9/on-search",
                                "async_timeout": 0.2}, base_url, keyring, http)
    (outcome,) = connector.fetch(pins[:1], window=("2000-01", "2025-06")).values()
    assert outcome.status == "timeout" and "on-search" in outcome.error


def test_subscribe_and_unsubscribe_on_the_plain_server(sim, keyring, http):
    base_url, state, _pins = sim
    client = civil_registry({"base_url": base_url + PLAIN_PREFIX, "xroad": False, "token": TOKEN}, base_url,
                            keyring, http).client
    ack, _sent = client.subscribe(["BIRTH", "DEATH"], sender_uri="http://127.0.0.1:9/api/v1/dci/notify")
    assert ack.ack_status == "ACK" and ack.correlation_id in {s["code"] for s in state.subscriptions()}
    assert client.unsubscribe([ack.correlation_id], sender_uri="http://127.0.0.1:9/api/v1/dci/notify"
                              ).ack_status == "ACK"
    assert ack.correlation_id not in {s["code"] for s in state.subscriptions()}
    assert client.unsubscribe(["x"]).ack_status == "NACK"  # nowhere to send on-unsubscribe: done, no callback


def test_the_requests_follow_the_spec(keyring):
    """What the client sends for sync and async search is what the spec describes (the simulator checks too)."""
    from connectors.transport.dci import build_search_request

    schemas = DCISchemas()
    sync = keyring.sign(build_search_request("srsp", DEFAULT_DCI_SENDER_ID, [(wire.PIN_ID_TYPE, "1" * 14)]))
    async_ = keyring.sign(build_search_request("srsp", DEFAULT_DCI_SENDER_ID, [(wire.PIN_ID_TYPE, "1" * 14)],
                                               sender_uri="https://srsp.example/api/v1/dci/on-search"))
    assert schemas.errors("crvs", SYNC_SEARCH, sync, part="request") == []
    assert schemas.errors("crvs", SEARCH, async_, part="request") == []


def test_faults_on_the_plain_server_reach_the_connector_as_dci_errors(sim, keyring, http):
    base_url, state, pins = sim
    connector = civil_registry({"base_url": base_url + PLAIN_PREFIX, "xroad": False, "token": TOKEN}, base_url,
                               keyring, http)
    state.faults.configure({"civil_registry": {"mode": "down"}})
    try:
        (outcome,) = connector.fetch(pins[:1], window=("2000-01", "2025-06")).values()
        assert outcome.status == "error" and "err.service.unavailable" in outcome.error
        state.faults.configure({"civil_registry": {"error_rate": 1.0, "mode": "malformed"}})
        (outcome,) = connector.fetch(pins[:1], window=("2000-01", "2025-06")).values()
        assert outcome.status == "error" and "not JSON" in outcome.error
    finally:
        state.faults.configure({})
    assert set(fetched(connector, pins)[0].values()) == {"ok"}


def test_async_search_across_processes_through_redis(sim, keyring, http):
    """The on-search reaches another connector (another worker) than the one waiting: handed over by Redis."""
    import os

    from redis import Redis
    from redis.exceptions import RedisError

    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        pytest.skip("REDIS_URL is not set")
    try:
        Redis.from_url(redis_url, socket_connect_timeout=1).ping()
    except RedisError:
        pytest.skip("no Redis here")
    base_url, _state, pins = sim
    holder = {}
    receiver = Flask("worker2")

    @receiver.post("/api/v1/dci/on-search")
    def on_search():
        assert holder["other"].receive_on_search(request.get_json())
        return jsonify(build_ack())

    with live_server(receiver) as receiver_url:
        config = {"base_url": base_url + PLAIN_PREFIX, "xroad": False, "token": TOKEN, "search": "async",
                  "callback_url": f"{receiver_url}/api/v1/dci/on-search", "async_timeout": 10}
        waiting = build({"*": FAST, "civil_registry": config}, base_url, keyring, http,
                        redis_url=redis_url)["civil_registry"]
        holder["other"] = build({"*": FAST, "civil_registry": config}, base_url, keyring, http,
                                redis_url=redis_url)["civil_registry"].client
        assert waiting.client.pending is not holder["other"].pending
        statuses, _ = fetched(waiting, pins)
        assert set(statuses.values()) == {"ok"}


@pytest.mark.parametrize("spelling, kind", [
    ("BIRTH", "birth"), ("LiveBirth", "birth"), ("live_birth", "birth"),
    ("spdci-common:RegistryEventType:LiveBirth", "birth"), ("DEATH", "death"),
    ("spdci-common:RegistryEventType:Death", "death"), ("MARRIAGE", None), (None, None)])
def test_event_spellings(spelling, kind):
    from connectors.transport.dci import event_kind

    assert event_kind(spelling) == kind


@pytest.mark.parametrize("sender_uri, endpoint, url", [
    ("https://srsp.example/api/v1/dci/notify", "/registry/on-subscribe", "https://srsp.example/api/v1/dci/on-subscribe"),
    ("https://srsp.example/api/v1/dci/notify", "/registry/notify", "https://srsp.example/api/v1/dci/notify"),
    ("http://cb:3336/registry/on-search", "/registry/on-search", "http://cb:3336/registry/on-search"),
    ("http://cb:3336/registry/txn/on-status", "/registry/txn/on-status", "http://cb:3336/registry/txn/on-status"),
    ("http://cb:3336/registry/on-subscribe", "/registry/notify", "http://cb:3336/registry/notify"),
    ("http://cb:3336/registry", "/registry/on-search", "http://cb:3336/registry/on-search"),
    ("http://cb:3336/callback", "/registry/txn/on-status", "http://cb:3336/callback/registry/txn/on-status"),
])
def test_where_callbacks_go(sender_uri, endpoint, url):
    assert callback_url(sender_uri, endpoint) == url
