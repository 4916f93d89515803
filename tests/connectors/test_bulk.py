"""One request per registry for a whole family, a registry without the batch lookup asked per person, and each
registry's connection kept between requests."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from connectors import wire
from connectors.base import income_window
from connectors.catalog import BY_NAME, CLIENT_ID, SOURCES
from connectors.registry import build, connectors_for, fetch_all
from connectors.transport.dci import Keyring
from connectors.transport.xroad import ServiceId
from tests.means_test.conftest import (  # noqa: F401 - fixtures
    AS_OF,
    calls,
    family_pins,
    requests_during,
    simulator,
    simulator_store,
    sources_at,
)

UNKNOWN = "30101010010016"  # a valid PIN no registry knows
WINDOW = income_window(AS_OF)


def test_every_registry_is_asked_once_for_the_whole_family(app, sources_at, family_pins):  # noqa: F811
    pins = family_pins + [UNKNOWN]
    connectors = connectors_for(app)
    asked, outcomes = requests_during(sources_at, lambda: fetch_all(connectors, list(connectors), pins,
                                                                    window=WINDOW))
    assert len(pins) >= 4
    assert asked == {source.name: 1 for source in SOURCES}
    assert all(set(by_pin) == set(pins) and all(o.answered for o in by_pin.values())
               for by_pin in outcomes.values())


@pytest.mark.parametrize("source", ["tax", "disability"])
def test_a_registry_without_the_batch_lookup_is_asked_once_per_person(  # noqa: F811
        app, sources_at, family_pins, monkeypatch, source):  # noqa: F811
    pins = family_pins + [UNKNOWN]
    batched = connectors_for(app)[source].fetch(pins, window=WINDOW)
    monkeypatch.setitem(app.config, "SOURCES", {**app.config["SOURCES"], source: {"batch": False}})
    app.extensions.pop("srsp_connectors", None)
    connector = connectors_for(app)[source]
    assert connector.batch is False and connectors_for(app)["population"].batch is True

    asked, outcomes = requests_during(sources_at, lambda: connector.fetch(pins, window=WINDOW))
    assert asked[source] == len(pins) and sum(asked.values()) == len(pins)
    assert {pin: (o.status, o.records) for pin, o in outcomes.items()} == {
        pin: (o.status, o.records) for pin, o in batched.items()}
    assert outcomes[UNKNOWN].status == "not_found" and outcomes[UNKNOWN].error is None
    requests = [outcomes[pin].request_id for pin in pins]
    assert all(requests) and len(set(requests)) == len(pins), "each person's evidence names its own request"


def test_the_simulator_answers_one_person_and_the_batch_alike(sources_at, family_pins):  # noqa: F811
    service = sources_at + ServiceId.parse(BY_NAME["tax"].service_id).path()
    headers = {"X-Road-Client": CLIENT_ID}
    window = {wire.FROM_PARAM: WINDOW[0], wire.TO_PARAM: WINDOW[1]}
    batch = httpx.get(f"{service}/{wire.BATCH_PATH}", headers=headers,
                      params=[(wire.PIN_PARAM, family_pins[0]), *window.items()]).json()["results"]
    one = httpx.get(f"{service}/{wire.PERSON_PATH.format(pin=family_pins[0])}", headers=headers, params=window)
    assert one.status_code == 200 and one.json() == batch[0]
    unknown = httpx.get(f"{service}/{wire.PERSON_PATH.format(pin=UNKNOWN)}", headers=headers, params=window)
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    bad = httpx.get(f"{service}/{wire.PERSON_PATH.format(pin='123')}", headers=headers)
    assert bad.status_code == 400 and bad.headers["X-Road-Error"] == "Server.ServerProxy.InvalidRequest"


class _Registry(BaseHTTPRequestHandler):
    """A registry behind a server that keeps connections open; it counts the connections it was given."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        pins = parse_qs(urlsplit(self.path).query).get(wire.PIN_PARAM, [])
        body = json.dumps({"results": [{"pin": pin, "found": False} for pin in pins]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


class _Server(ThreadingHTTPServer):
    block_on_close = False  # its kept connections end with the test's clients


@contextmanager
def keepalive_registry():
    server = _Server(("127.0.0.1", 0), _Registry)
    server.lock, server.connections = threading.Lock(), 0
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield server, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_each_registry_keeps_its_connection_between_requests(tmp_path):
    with keepalive_registry() as (server, base_url):
        connectors = build({"*": {"cache": {"ttl": 0}}, "civil_registry": {"jwks_url": None}}, base_url,
                           Keyring.generate("srsp"))
        try:
            for _ in range(3):
                connectors["tax"].fetch([UNKNOWN], window=WINDOW)
            assert server.connections == 1, "later requests reuse the first one's connection"
            connectors["cadastre"].fetch([UNKNOWN], window=WINDOW)
            assert server.connections == 2, "each registry has its own pool"
            for _ in range(2):
                fetch_all(connectors, ["tax", "cadastre"], [UNKNOWN], window=WINDOW)
            assert server.connections == 2
        finally:
            for connector in connectors.values():
                transport = getattr(connector.client, "transport", connector.client)
                transport._http.close()
