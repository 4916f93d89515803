"""SRSP's DCI callback receivers (`/api/v1/dci/on-search`, `/api/v1/dci/on-subscribe`) served live, with the
civil-registry connector configured for the simulator as a plain DCI server with bearer auth and async search:
the search's results come back through SRSP's own on-search route, and the simulator's on-subscribe is
acknowledged."""

from __future__ import annotations

import threading
from datetime import date

import httpx
import pytest
from sqlalchemy import select

from connectors import synthetic
from connectors.registry import connectors_for
from connectors.simulator import store
from connectors.simulator.app import DEFAULT_DCI_SENDER_ID, PLAIN_PREFIX, create_simulator_app
from connectors.transport.dci import (
    ON_SUBSCRIBE,
    ON_UNSUBSCRIBE,
    DCISchemas,
    Keyring,
    build_on_subscribe,
    build_search_response,
    build_subscribe_request,
)
from modules.registration import civil_events
from tests.conftest import base_config
from tests.connectors.transport import live_server
from webapp import create_app

TOKEN = "srsp-at-the-civil-registry"
AREAS = ["UZ-TK-01-M01"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dci_receivers")
    sim_url = f"sqlite:///{tmp / 'simulator.db'}"
    engine = store.engine_for(sim_url)
    synthetic.synthesize(engine, 10, 7, AREAS, date(2025, 6, 15))
    with engine.connect() as conn:
        pins = list(conn.scalars(select(store.vital_event.c.pin).distinct().limit(2)))
    sim = create_simulator_app(sim_url, faults={}, trusted_senders={}, schemas=DCISchemas(), dci_tokens=[TOKEN],
                               dci_signatures="required")
    state = sim.extensions["simulator"]
    app = create_app({**base_config(tmp, f"sqlite:///{tmp / 'app.db'}"), "SOURCES": {}})
    with live_server(sim) as sim_base, live_server(app) as srsp_base:
        app.config["SOURCES"] = {"*": {"timeout": 3, "retry": {"attempts": 1}, "cache": {"ttl": 0}},
                                 "civil_registry": {"base_url": sim_base + PLAIN_PREFIX, "xroad": False,
                                                    "token": TOKEN, "search": "async", "async_timeout": 10,
                                                    "callback_url": srsp_base + civil_events.ON_SEARCH_PATH}}
        connector = connectors_for(app)["civil_registry"]
        state.set_trusted_senders({"srsp": connector.client.keyring.jwks()})
        yield app, srsp_base, state, connector, pins
    state.shutdown()
    engine.dispose()


def last_callback(state, endpoint: str) -> dict:
    """The simulator's latest callback to `endpoint` once it has been answered (it is sent after the ACK, in the
    background)."""
    pause = threading.Event()
    for _ in range(200):
        sent = [c for c in state.callbacks() if c["endpoint"] == endpoint]
        if sent and (sent[-1]["status"] or sent[-1]["error"]):
            return sent[-1]
        pause.wait(0.05)
    raise AssertionError(f"no {endpoint} was answered")


def test_async_search_comes_back_through_srsps_on_search(setup):
    _app, _base, _state, connector, pins = setup
    outcomes = connector.fetch(pins, window=("2000-01", "2025-06"))
    assert {outcome.status for outcome in outcomes.values()} == {"ok"}
    assert all(record.pin == pin for pin, outcome in outcomes.items() for record in outcome.records)


def test_the_simulators_on_subscribe_is_acknowledged(setup):
    _app, srsp_base, state, connector, _pins = setup
    ack, _sent = connector.client.subscribe(["BIRTH", "DEATH"], sender_uri=srsp_base + civil_events.NOTIFY_PATH)
    assert ack.ack_status == "ACK"
    sent = last_callback(state, ON_SUBSCRIBE)
    assert sent["uri"] == srsp_base + civil_events.ON_SUBSCRIBE_PATH
    assert (sent["status"], sent["ack"], sent["error"]) == (200, "ACK", None)


def test_forged_or_broken_callbacks_are_refused(setup):
    _app, srsp_base, state, connector, pins = setup
    stranger = Keyring.generate(DEFAULT_DCI_SENDER_ID)  # claims to be the civil registry, with another key
    search = {"header": {"sender_id": "srsp"}, "message": {
        "transaction_id": "t-1", "search_request": [{"reference_id": "r-1", "search_criteria": {
            "query": {"type": "PINFL", "value": pins[0]}}}]}}
    forged = stranger.sign(build_search_response(search, lambda _t, _v: [], DEFAULT_DCI_SENDER_ID))
    response = httpx.post(srsp_base + civil_events.ON_SEARCH_PATH, json=forged)
    assert response.status_code == 401
    assert response.json()["message"]["error"]["code"] == "err.signature.invalid"
    genuine = state.keyring.sign(build_search_response(search, lambda _t, _v: [], DEFAULT_DCI_SENDER_ID))
    late = httpx.post(srsp_base + civil_events.ON_SEARCH_PATH, json=genuine)  # nobody waits for it: dropped
    assert late.status_code == 200 and late.json()["message"]["ack_status"] == "ACK"
    unsigned = httpx.post(srsp_base + civil_events.ON_SEARCH_PATH, json={**genuine, "signature": None})
    assert unsigned.status_code == 401

    subscribe = build_subscribe_request("srsp", DEFAULT_DCI_SENDER_ID, ["BIRTH"], sender_uri="http://x/notify",
                                        notify_record_type="spdci-extensions-dci:Person")
    forged_sub = stranger.sign(build_on_subscribe(subscribe, DEFAULT_DCI_SENDER_ID, ["c-1"]))
    assert httpx.post(srsp_base + civil_events.ON_SUBSCRIBE_PATH, json=forged_sub).status_code == 401
    mine = connector.client.keyring.sign(build_on_subscribe(subscribe, "srsp", ["c-1"]))  # our own key, not theirs
    refused = httpx.post(srsp_base + civil_events.ON_SUBSCRIBE_PATH, json=mine)
    assert refused.status_code == 401 and refused.json()["message"]["error"]["code"] == "err.sender_id.invalid"
    for path in (civil_events.ON_SEARCH_PATH, civil_events.ON_SUBSCRIBE_PATH):
        broken = httpx.post(srsp_base + path, content=b"[1]", headers={"Content-Type": "application/json"})
        assert broken.status_code == 400


def test_subscribe_and_unsubscribe_commands_with_the_registrys_spellings(setup):
    app, srsp_base, state, _connector, _pins = setup
    runner = app.test_cli_runner()
    notify = srsp_base + civil_events.NOTIFY_PATH
    with app.app_context():  # the commands run in this app, whatever other app a fixture may have pushed
        result = runner.invoke(args=["sources", "subscribe", "--callback-url", notify, "--event", "BIRTH",
                                     "--event", "DEATH"])
        assert result.exit_code == 0, result.output
        code = result.output.split("correlation_id=")[1].split()[0]
        assert {"BIRTH", "DEATH"} <= set(next(s for s in state.subscriptions() if s["code"] == code)["event_types"])
        refused = runner.invoke(args=["sources", "subscribe", "--callback-url", notify, "--event", "MARRIAGE"])
        assert refused.exit_code != 0 and "MARRIAGE" in refused.output
        gone = runner.invoke(args=["sources", "unsubscribe", code, "--callback-url", notify])
        assert gone.exit_code == 0 and "ack_status=ACK" in gone.output, gone.output
    assert code not in {s["code"] for s in state.subscriptions()}
    sent = last_callback(state, ON_UNSUBSCRIBE)
    assert sent["uri"] == srsp_base + civil_events.ON_UNSUBSCRIBE_PATH
    assert (sent["status"], sent["ack"], sent["error"]) == (200, "ACK", None)
