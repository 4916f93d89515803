"""XRoadClient against a real local HTTP server (a tiny Flask app playing security server + provider).

The upstream app uses the module's own server-side helpers (`parse_xroad_request`, `xroad_error_response`,
`xroad_response_headers`), so these tests also check that the client and the simulator side agree.
"""

from __future__ import annotations

import base64
import socket
import threading
import time
import uuid

import httpx
import pytest
from flask import Flask, Response, jsonify, request

from connectors.transport.errors import (
    CircuitOpen,
    SourceMalformed,
    SourceNotFound,
    SourceRejected,
    SourceTimeout,
    SourceUnavailable,
)
from connectors.transport.resilience import SourcePolicy
from connectors.transport.xroad import (
    ClientId,
    ServiceId,
    XRoadClient,
    XRoadRequestError,
    error_for_xroad_error,
    parse_xroad_request,
    xroad_error_response,
    xroad_response_headers,
)
from tests.connectors.transport import live_server

CLIENT = "UZ/GOV/70000001/SRSP"
SERVICE = "UZ/GOV/70000002/TAX/income"
SLOW = 0.6  # the upstream's slow answer; the client timeout in these tests is 0.2 s


class Upstream:
    """Records every request it sees, and how many were in flight at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.hits: list[dict] = []
            self.in_flight = 0
            self.max_in_flight = 0
            self.flaky_left = 0

    def count(self, suffix: str) -> int:
        with self.lock:
            return sum(1 for hit in self.hits if hit["path"] == suffix)


def make_app(upstream: Upstream) -> Flask:
    app = Flask(__name__)

    @app.route("/r1/<path:_rest>", methods=["GET", "POST"])
    def xroad(_rest):
        hit = {"raw_uri": request.environ.get("RAW_URI"), "headers": dict(request.headers), "method": request.method,
               "path": None, "xreq": None}
        with upstream.lock:
            upstream.hits.append(hit)
        try:
            xreq = parse_xroad_request(request)
        except XRoadRequestError as exc:
            return exc.response()
        hit["path"], hit["xreq"] = xreq.path, xreq
        return handle(xreq)

    def ok(xreq, payload=None):
        body = jsonify(payload or {"ok": True, "user": xreq.user_id, "path": xreq.path, "args": request.args})
        body.headers.update(xroad_response_headers(xreq, request.get_data()))
        return body

    def handle(xreq):
        path = xreq.path
        if path in ("/ok", "/persons/12345678901234"):
            return ok(xreq)
        if path == "/slow":
            time.sleep(SLOW)
            return ok(xreq)
        if path == "/error500":
            return Response("boom", status=500)
        if path == "/xroad-error":
            return xroad_error_response("Server.ServerProxy.DatabaseError", "Error accessing database (serverconf)")
        if path == "/xroad-timeout":
            return xroad_error_response("Server.ServerProxy.NetworkError",
                                        "Connect to 10.0.0.1:8080 failed: Connection timed out")
        if path == "/xroad-denied":
            return xroad_error_response("Server.ServerProxy.AccessDenied", "Request is not allowed")
        if path == "/malformed":
            return Response('{"ok": tru', status=200, content_type="application/json")
        if path == "/notfound":
            return jsonify({"error": "not_found", "message": "no such person"}), 404
        if path == "/bare404":
            return Response("<h1>Not Found</h1>", status=404, content_type="text/html")
        if path == "/wrong-id":
            response = ok(xreq)
            response.headers["X-Road-Id"] = str(uuid.uuid4())
            return response
        if path == "/flaky":
            with upstream.lock:
                failing = upstream.flaky_left > 0
                upstream.flaky_left -= 1
            return Response("busy", status=503) if failing else ok(xreq)
        if path == "/busy":
            with upstream.lock:
                upstream.in_flight += 1
                upstream.max_in_flight = max(upstream.max_in_flight, upstream.in_flight)
            time.sleep(0.15)
            with upstream.lock:
                upstream.in_flight -= 1
            return ok(xreq)
        return jsonify({"error": "unknown test path"}), 400

    return app


@pytest.fixture(scope="module")
def server():
    upstream = Upstream()
    with live_server(make_app(upstream)) as base_url:
        yield base_url, upstream


@pytest.fixture
def upstream(server):
    server[1].reset()
    return server[1]


@pytest.fixture
def base_url(server):
    return server[0]


@pytest.fixture
def http():
    with httpx.Client() as client:
        yield client


def make_client(base_url, http, service=SERVICE, **config) -> XRoadClient:
    settings = {"timeout": 0.2, "retry": {"attempts": 3, "base_delay": 0.01, "max_delay": 0.02},
                "breaker": {"failure_threshold": 50, "reset_after": 0.3}, "cache": 0}
    settings.update(config)
    return XRoadClient(base_url, CLIENT, service, SourcePolicy.from_config("tax", settings), http=http)


# -- headers and paths -----------------------------------------------------------------------------------------


def test_headers_and_path_arrive_as_specified(base_url, http, upstream):
    client = make_client(base_url, http)
    result = client.get("/persons/12345678901234", params={"month": "2024-05"}, user_id="UZregistrar1",
                        issue="APP-2024-000123")

    (hit,) = upstream.hits
    assert hit["raw_uri"] == "/r1/UZ/GOV/70000002/TAX/income/persons/12345678901234?month=2024-05"
    assert hit["headers"]["X-Road-Client"] == CLIENT
    assert hit["headers"]["X-Road-Userid"] == "UZregistrar1"
    assert hit["headers"]["X-Road-Issue"] == "APP-2024-000123"
    assert uuid.UUID(hit["headers"]["X-Road-Id"]).version == 4
    client_id, service, user_id, request_id = hit["xreq"]
    assert (str(client_id), str(service), user_id) == (CLIENT, SERVICE, "UZregistrar1")
    assert request_id == hit["headers"]["X-Road-Id"] == result.request_id

    assert result.json == {"ok": True, "user": "UZregistrar1", "path": "/persons/12345678901234",
                           "args": {"month": "2024-05"}}
    assert result.status_code == 200 and result.attempts == 1 and not result.cached
    assert result.latency_ms > 0
    assert len(base64.b64decode(result.request_hash)) == 64  # SHA-512, from the provider side


def test_each_request_gets_a_fresh_x_road_id(base_url, http, upstream):
    client = make_client(base_url, http)
    results = [client.get("/ok", user_id="UZa") for _ in range(3)]
    seen = [hit["headers"]["X-Road-Id"] for hit in upstream.hits]
    assert len(set(seen)) == 3
    assert [r.request_id for r in results] == seen


def test_identifiers_and_user_are_percent_encoded_and_decoded(base_url, http, upstream):
    client = make_client(base_url, http, service="UZ/GOV/70000002/TAX/income(v2)")
    result = client.get("/ok", user_id="UZ Алишер/100%")
    (hit,) = upstream.hits
    assert hit["raw_uri"].startswith("/r1/UZ/GOV/70000002/TAX/income%28v2%29/ok")
    assert hit["xreq"].service.service_code == "income(v2)"
    assert result.json["user"] == "UZ Алишер/100%"


def test_service_without_subsystem_is_resolved_against_known_services():
    app = Flask(__name__)

    with app.test_request_context("/r1/UZ/GOV/70000002/income/persons/1", headers={"X-Road-Client": CLIENT}):
        xreq = parse_xroad_request(services=["UZ/GOV/70000002/income", "UZ/GOV/70000002/TAX/income"])
    assert xreq.service == ServiceId("UZ", "GOV", "70000002", None, "income")
    assert xreq.path == "/persons/1"


@pytest.mark.parametrize("text", ["UZ/GOV/1/TAX_SERVICE/x", "UZ/GOV/1", "UZ/GOV/1/A/B/C", "UZ/GOV/ /A/x",
                                  "UZ/GOV/1/A/"])
def test_service_ids_follow_the_identifier_rules(text):
    with pytest.raises(ValueError):
        ServiceId.parse(text)


def test_service_path_encodes_each_part():
    assert ServiceId.parse("UZ/GOV/1/income").path() == "/r1/UZ/GOV/1/income"
    assert ServiceId.parse("UZ/GOV/1/TAX/a+b").path() == "/r1/UZ/GOV/1/TAX/a%2Bb"


def test_client_ids_may_omit_the_subsystem():
    assert str(ClientId.parse("UZ/GOV/70000001")) == "UZ/GOV/70000001"
    with pytest.raises(ValueError):
        ClientId.parse("UZ/GOV")


def test_protocol_violations_get_x_road_error_responses(base_url, http):
    missing_client = http.get(f"{base_url}/r1/UZ/GOV/70000002/TAX/income/ok")
    assert missing_client.status_code == 400
    assert missing_client.headers["X-Road-Error"] == "Client.BadRequest"
    assert missing_client.json()["type"] == "Client.BadRequest"
    assert "X-Road-Client" in missing_client.json()["message"]
    assert missing_client.json()["detail"]

    short_path = http.get(f"{base_url}/r1/UZ/GOV/ok", headers={"X-Road-Client": CLIENT})
    assert short_path.status_code == 400 and short_path.headers["X-Road-Error"] == "Client.BadRequest"


# -- error mapping ---------------------------------------------------------------------------------------------


def test_x_road_error_becomes_a_typed_retryable_error(base_url, http, upstream):
    client = make_client(base_url, http)
    with pytest.raises(SourceUnavailable) as caught:
        client.get("/xroad-error")
    assert caught.value.xroad_error == "Server.ServerProxy.DatabaseError"
    assert "serverconf" in str(caught.value)
    assert caught.value.status_code == 500
    assert upstream.count("/xroad-error") == 3 == caught.value.attempts


def test_x_road_network_timeout_is_a_timeout(base_url, http, upstream):
    with pytest.raises(SourceTimeout) as caught:
        make_client(base_url, http).get("/xroad-timeout")
    assert caught.value.xroad_error == "Server.ServerProxy.NetworkError"


def test_x_road_access_denied_is_rejected_without_retry(base_url, http, upstream):
    with pytest.raises(SourceRejected) as caught:
        make_client(base_url, http).get("/xroad-denied")
    assert caught.value.xroad_error == "Server.ServerProxy.AccessDenied"
    assert upstream.count("/xroad-denied") == 1


def test_error_type_mapping():
    assert isinstance(error_for_xroad_error("Client.BadRequest"), SourceRejected)
    assert isinstance(error_for_xroad_error("Server.ClientProxy.OutdatedGlobalConf"), SourceUnavailable)
    assert isinstance(error_for_xroad_error("Server.ServerProxy.ServiceTimeout"), SourceTimeout)
    assert isinstance(error_for_xroad_error("Server.ServerProxy.UnknownService"), SourceRejected)


def test_timeout_get_is_retried_within_the_budget(base_url, http, upstream):
    client = make_client(base_url, http)
    started = time.monotonic()
    with pytest.raises(SourceTimeout) as caught:
        client.get("/slow")
    elapsed = time.monotonic() - started
    assert caught.value.attempts == 3
    assert 0.6 <= elapsed < 1.5  # three 0.2 s attempts and short back-offs: bounded
    deadline = time.monotonic() + 2
    while upstream.count("/slow") < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert upstream.count("/slow") == 3
    assert len({hit["headers"]["X-Road-Id"] for hit in upstream.hits}) == 3


def test_timeout_post_is_not_retried_unless_idempotent(base_url, http, upstream):
    client = make_client(base_url, http)
    with pytest.raises(SourceTimeout):
        client.post("/slow", json={"pin": "1"})
    time.sleep(0.05)
    assert upstream.count("/slow") == 1

    upstream.reset()
    with pytest.raises(SourceTimeout):
        client.post("/slow", json={"pin": "1"}, idempotent=True)
    time.sleep(0.05)
    assert upstream.count("/slow") == 3


def test_5xx_is_retried_then_unavailable(base_url, http, upstream):
    client = make_client(base_url, http)
    with pytest.raises(SourceUnavailable) as caught:
        client.get("/error500")
    assert caught.value.status_code == 500 and caught.value.xroad_error is None
    assert upstream.count("/error500") == 3


def test_transient_5xx_recovers_within_the_budget(base_url, http, upstream):
    upstream.flaky_left = 2
    result = make_client(base_url, http).get("/flaky")
    assert result.attempts == 3 and result.json["ok"] is True
    assert len(set(result.request_ids)) == 3 and result.request_id == result.request_ids[-1]


def test_malformed_json_is_not_retried(base_url, http, upstream):
    with pytest.raises(SourceMalformed):
        make_client(base_url, http).get("/malformed")
    assert upstream.count("/malformed") == 1


def test_mismatched_x_road_id_is_malformed(base_url, http, upstream):
    with pytest.raises(SourceMalformed):
        make_client(base_url, http).get("/wrong-id")


def test_not_found_is_an_answer_not_retried_not_counted(base_url, http, upstream):
    client = make_client(base_url, http, breaker={"failure_threshold": 2, "reset_after": 10})
    for _ in range(4):
        with pytest.raises(SourceNotFound) as caught:
            client.get("/notfound")
        assert caught.value.pull_status == "not_found"
    assert upstream.count("/notfound") == 4  # one request per call: no retries
    assert client.policy.breaker.state == "closed" and client.policy.breaker.failures == 0


def test_bare_404_is_a_wrong_path_not_a_missing_person(base_url, http, upstream):
    with pytest.raises(SourceRejected):
        make_client(base_url, http).get("/bare404")
    with pytest.raises(SourceRejected):
        XRoadClient(base_url + "/no-such-prefix", CLIENT, SERVICE, SourcePolicy.from_config("x", {"cache": 0}),
                    http=http).get("/ok")


def test_connection_refused_is_unavailable_and_safe_to_retry(http):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again at once: nothing listens there
    client = make_client(f"http://127.0.0.1:{port}", http)
    with pytest.raises(SourceUnavailable) as caught:
        client.post("/ok", json={})
    assert caught.value.request_sent is False
    assert caught.value.attempts == 3  # even a POST: it never left


# -- breaker, concurrency, cache -------------------------------------------------------------------------------


def test_circuit_opens_fails_fast_then_half_opens(base_url, http, upstream):
    client = make_client(base_url, http, retry={"attempts": 1}, breaker={"failure_threshold": 3, "reset_after": 0.3})
    for _ in range(3):
        with pytest.raises(SourceUnavailable):
            client.get("/error500")
    assert client.policy.breaker.state == "open"

    started = time.monotonic()
    with pytest.raises(CircuitOpen):
        client.get("/ok")
    assert time.monotonic() - started < 0.05
    assert upstream.count("/ok") == 0  # the server was not called
    assert len(upstream.hits) == 3

    time.sleep(0.35)
    assert client.policy.breaker.state == "half_open"
    result = client.get("/ok")
    assert result.json["ok"] is True
    assert client.policy.breaker.state == "closed"


def test_concurrency_limit_is_honoured(base_url, http, upstream):
    def run(limit: int) -> int:
        upstream.reset()
        client = make_client(base_url, http, timeout=2, concurrency={"limit": limit, "acquire_timeout": 5})
        errors = []

        def call():
            try:
                client.get("/busy")
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=call) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert upstream.count("/busy") == 6
        return upstream.max_in_flight

    assert run(2) == 2
    assert run(6) > 2  # control: without the limit the server does see more at once


def test_cache_hit_avoids_a_second_call_within_ttl(base_url, http, upstream):
    now = [0.0]
    policy = SourcePolicy.from_config("tax", {"timeout": 0.5, "cache": {"ttl": 60}}, clock=lambda: now[0])
    client = XRoadClient(base_url, CLIENT, SERVICE, policy, http=http)

    first = client.get("/ok", params={"a": "1"}, user_id="UZa")
    second = client.get("/ok", params={"a": "1"}, user_id="UZb")
    assert upstream.count("/ok") == 1
    assert second.cached and second.attempts == 0 and second.json == first.json
    assert second.request_id == first.request_id  # the evidence points at the request that fetched the data

    client.get("/ok", params={"a": "2"})
    assert upstream.count("/ok") == 2
    client.get("/ok", params={"a": "1"}, use_cache=False)
    assert upstream.count("/ok") == 3

    now[0] += 61
    third = client.get("/ok", params={"a": "1"})
    assert not third.cached and upstream.count("/ok") == 4


def test_posts_are_not_cached_without_a_key(base_url, http, upstream):
    client = make_client(base_url, http, cache=60)
    client.post("/ok", json={"q": 1})
    client.post("/ok", json={"q": 1})
    assert upstream.count("/ok") == 2
    client.post("/ok", json={"q": 1}, idempotent=True, cache_key="q1")
    again = client.post("/ok", json={"q": 1}, idempotent=True, cache_key="q1")
    assert again.cached and upstream.count("/ok") == 3


def test_check_failure_inside_the_attempt_is_not_cached(base_url, http, upstream):
    client = make_client(base_url, http, cache=60)

    def reject(body):
        raise SourceMalformed("schema says no")

    with pytest.raises(SourceMalformed) as caught:
        client.get("/ok", check=reject)
    assert caught.value.request_id == upstream.hits[0]["headers"]["X-Road-Id"]
    client.get("/ok")
    assert upstream.count("/ok") == 2


def test_path_suffix_cannot_escape_the_service(base_url, http):
    client = make_client(base_url, http)
    for bad in ("/../other", "/ok?x=1"):
        with pytest.raises(ValueError):
            client.get(bad)
