"""The registry simulator: a Flask app serving the 13 sources of `connectors.catalog` from the simulator database.

It is a separate app from the registry (`srsp simulator serve --port 5001`, `create_simulator_app()` in tests), with
its own database (`connectors.simulator.store`, filled by `srsp synth`). It plays the provider side of the
country's interoperability platform: the X-Road security server and the registries behind it.

Endpoints
---------
X-Road REST (protocol r1, `connectors.transport.xroad`; wire formats in `connectors/wire.py`):

    GET  /r1/{service id}/persons?pin=P1&pin=P2&from=YYYY-MM&to=YYYY-MM     12 sources (all but civil_registry)
         200 {"results": [{"pin", "found": true, "data": {...}}, {"pin", "found": false}]}, in the order asked
    GET  /r1/{service id}/persons/{pin}?from=YYYY-MM&to=YYYY-MM            one person, for a client configured as
         if the registry had no batch lookup: 200 {"pin", "found": true, "data"}, or 404 {"error": "not_found"}

    The `X-Road-Client` header is required (else `X-Road-Error: Client.BadRequest`, 400); the response echoes
    `X-Road-Id` and adds `X-Road-Client`, `X-Road-Service`, `X-Road-Request-Id`, `X-Road-Request-Hash`. At most
    `wire.MAX_BATCH` PINs of 14 digits; more, none, malformed PINs or months answer 400 with
    `X-Road-Error: Server.ServerProxy.InvalidRequest` and a message saying what is wrong. An unknown service id is
    `Server.ServerProxy.UnknownService`; a wrong path below a known service is a plain-text 404 (not JSON, so a
    client cannot mistake it for "no such person"). Each request runs one query per table it reads.

DCI over X-Road, civil registry (`connectors.transport.dci`, CRVS spec in `connectors/transport/dci_schemas/`):

    POST /r1/UZ/GOV/MOJ/civil-registry/vitalEvents/registry/sync/search
         signed on-search: one `search_response` item per query; `reg_records` are the person's vital events
         `{"event": "birth|death|marriage|divorce", "date", "pin", "related_pin"}` (query
         type `wire.PIN_ID_TYPE`, a PINFL as value; other types find nothing)
    POST /r1/UZ/GOV/MOJ/civil-registry/vitalEvents/registry/subscribe
         stores the subscriber (notifications go to `callback_url(header.sender_uri, NOTIFY)`) for
         births and deaths; answers an ack (ERR for other event types).
         Subscriptions live in memory: a restarted simulator has none.
    GET  /.well-known/jwks.json   (also below the service path, through X-Road): the simulator's Ed25519 key

    POST .../registry/search              ACK, then a signed on-search to the request's `sender_uri` (none: the
                                          results wait for txn status; unsubscribe and txn status answer NACK)
    POST .../registry/unsubscribe         ACK, then on-unsubscribe (only the sender's own subscription codes)
    POST .../registry/txn/status          ACK, then txn on-status: the outcome of an earlier search, subscribe
                                          or unsubscribe of the same sender, asked by its transaction_id
    POST .../registry/sync/txn/status     the same txn-on-status envelope, as the answer
    POST .../registry/{on-search, on-subscribe, on-unsubscribe, txn/on-status, notify}
                                          callbacks sent to the registry (its spec has these paths too): checked
                                          like a request, kept (`/_control/dci/received`) and acknowledged

    A subscribe is answered by an ACK and then an on-subscribe with the subscription code. Event types may be
    spelt `BIRTH`, `DEATH`, `LiveBirth` or namespaced (`dci.event_kind`). Callbacks go to
    `dci.callback_url(sender_uri, ...)`: a `sender_uri` naming a callback (`.../notify`) has that last segment
    replaced (`.../on-subscribe`), any other is a base below which `/registry/on-search` etc. is appended; they
    are sent in the background and listed at `/_control/dci/callbacks`.

    Requests are validated against the CRVS schema, and, when trusted senders are configured, their signature is
    verified. Errors answer 4xx with a body that is both the spec's `HttpErrorResponse` and an ERR ack:
    `{"errors": [{"code", "message"}], "message": {"ack_status": "ERR", "error": {"code", "message"}, ...}}`
    (codes `err.request.bad`, `err.request.unauthorized`, `err.signature.missing`, `err.signature.invalid`, ...).
    Responses and callbacks are signed with the simulator's key and validated against the schema before they leave.

Plain DCI server, civil registry (the same endpoints without X-Road):

    POST /dci/crvs/registry/{sync/search, search, subscribe, unsubscribe, txn/status, sync/txn/status} and the
         callback paths above
    GET  /dci/crvs/.well-known/jwks.json

    `Authorization: Bearer T` is required, T one of `SIMULATOR_DCI_TOKENS` (else 401 `err.request.unauthorized`),
    and message signatures are checked as `SIMULATOR_DCI_SIGNATURES` says: `required` (the default; unsigned: 401
    `err.signature.missing`), `optional` (unsigned accepted, a present signature must verify) or `none`. A
    signature verifies with the keys of the trusted senders (`SIMULATOR_DCI_TRUSTED_SENDERS`). The civil registry's
    faults apply after the token is checked, answered as DCI errors (503 `err.service.unavailable`, 504
    `err.request.timeout`).

Control (for tests, demos and people; not behind X-Road):

    GET  /_control/health                 population (as generated), faults, DCI key and subscriptions, calls and
                                          injected failures per source; 503 when the store has no population
    GET  /_control/faults                 {"config": {...as set...}, "effective": {source: merged settings}}
    PUT  /_control/faults                 replace the fault configuration (body: the dict of faults.py); 400 if bad
    GET  /_control/dci/trusted-senders    {sender_id: [kids]}
    PUT  /_control/dci/trusted-senders    replace: {sender_id: JWKS object or JWKS URL}; {} turns verification off
    GET  /_control/dci/subscriptions      the subscribers
    GET  /_control/dci/callbacks          the callbacks sent (on-search, on-subscribe, ...) and how each went
    GET  /_control/dci/received           the callbacks received (the last 100)
    POST /_control/vital-events/emit      {"births": N, "deaths": M, "seed": S?}: registers them in the store,
                                          dated today, and POSTs a signed notify to every subscriber of their type
                                          (a subscriber's failure is logged and reported, never fatal)

Configuration (arguments of `create_simulator_app`, else the environment):

- `database_url` (`SIMULATOR_DATABASE_URL`): the simulator database (`store.default_url()`).
- `faults` (`SIMULATOR_FAULTS`, JSON): latency and failures per source (`faults.py`).
- `keyring` (`SIMULATOR_DCI_PRIVATE_KEY`, `SIMULATOR_DCI_SENDER_ID`): the Ed25519 signing key (base64url seed or
  PEM; default: a new key at each start, so clients must take it from the JWKS) and the DCI `sender_id` (default
  `civil-registry`, the connectors' default `dci_receiver_id`), which a client must use as its `receiver_id` and
  bind the JWKS to.
- `dci_tokens` (`SIMULATOR_DCI_TOKENS`, comma-separated): the bearer tokens of the plain DCI server (none: every
  request there is refused).
- `dci_signatures` (`SIMULATOR_DCI_SIGNATURES`): the plain DCI server's signature policy, `required` by default.
- `trusted_senders` (`SIMULATOR_DCI_TRUSTED_SENDERS`, JSON): `{sender_id: JWKS object or JWKS URL}` whose signed
  requests are accepted; none: requests are not verified. URLs are fetched on first use, and again when a request
  names an unknown key id (key rotation).

Faults (`faults.py`) apply to every call of a source, X-Road and DCI alike, after the X-Road headers are checked:
latency (+ jitter): a call's answer leaves that long after the call arrived, the registry's own work included (13
registries answering in 50 ms each are not 13 answers queued behind one simulator's processor); then, for a failing
call, 503 `Server.ServerProxy.ServiceFailed` (`5xx`, `down`), a hang of
`timeout_s` ended early by `SimulatorState.shutdown()` (`timeout`), or a 200 with a broken JSON body (`malformed`).
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from flask import Flask, Response, request
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from connectors import wire
from connectors.catalog import BY_NAME, SOURCES, Source
from connectors.simulator import finance, store
from connectors.simulator import sources as queries
from connectors.simulator.faults import Decision, FaultConfigError, Faults, interruptible_sleep
from connectors.transport.dci import (
    EVENT_BIRTH,
    EVENT_DEATH,
    NOTIFY,
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
    VitalEvent,
    build_ack,
    build_notify,
    build_on_subscribe,
    build_on_unsubscribe,
    build_search_response,
    build_txn_on_status,
    callback_url,
    error_body,
    event_kind,
    new_id,
    parse_ack,
    timestamp,
)
from connectors.transport.errors import SignatureInvalid
from connectors.transport.xroad import (
    XRoadRequest,
    XRoadRequestError,
    parse_xroad_request,
    xroad_error_response,
    xroad_response_headers,
)

log = logging.getLogger(__name__)

DEFAULT_DCI_SENDER_ID = "civil-registry"  # connectors/registry.py: the default `dci_receiver_id`
ENV_SENDER_ID = "SIMULATOR_DCI_SENDER_ID"
ENV_PRIVATE_KEY = "SIMULATOR_DCI_PRIVATE_KEY"
ENV_TRUSTED_SENDERS = "SIMULATOR_DCI_TRUSTED_SENDERS"
ENV_TOKENS = "SIMULATOR_DCI_TOKENS"
ENV_SIGNATURES = "SIMULATOR_DCI_SIGNATURES"
SIGNATURE_POLICIES = ("required", "optional", "none")
DCI_REGISTRY = "crvs"
DEFAULT_RECORD_TYPE = "spdci-extensions-dci:Person"
PLAIN_PREFIX = "/dci/crvs"  # the plain DCI server: /dci/crvs/registry/sync/search, ...
JWKS_PATH = "/.well-known/jwks.json"
EVENT_TYPES = {EVENT_BIRTH: "birth", EVENT_DEATH: "death"}  # the spellings notify() writes by default
DCI_CALLBACKS = (ON_SEARCH, ON_SUBSCRIBE, ON_UNSUBSCRIBE, TXN_ON_STATUS, NOTIFY)  # received and acknowledged
DCI_ENDPOINTS = (SYNC_SEARCH, SEARCH, SUBSCRIBE, UNSUBSCRIBE, TXN_STATUS, SYNC_TXN_STATUS, *DCI_CALLBACKS)
NOTIFY_TIMEOUT = 5.0
INVALID_REQUEST = "Server.ServerProxy.InvalidRequest"
SERVICE_FAILED = "Server.ServerProxy.ServiceFailed"
SERVICE_TIMEOUT = "Server.ServerProxy.Timeout"
_PIN = re.compile(r"^\d{14}$")
_ONE_PERSON = re.compile(r"^/" + re.escape(wire.BATCH_PATH) + r"/([^/]+)$")  # /persons/{pin}
SERVICE_IDS = {source.service_id: source for source in SOURCES}
JSON_TYPE = "application/json; charset=utf-8"


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    response = Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")), status=status,
                        content_type=JSON_TYPE)
    if headers:
        response.headers.update(headers)
    return response


def _plain(text: str, status: int) -> Response:
    return Response(text + "\n", status=status, content_type="text/plain; charset=utf-8")


def _dci_error(code: str, message: str, status: int, headers: Mapping[str, str] | None = None) -> Response:
    return _json(error_body(code, message), status, headers)


def _tokens_from_env() -> list[str]:
    return [token.strip() for token in os.environ.get(ENV_TOKENS, "").split(",") if token.strip()]


def _keyring_from_env() -> Keyring:
    sender_id = os.environ.get(ENV_SENDER_ID) or DEFAULT_DCI_SENDER_ID
    private_key = os.environ.get(ENV_PRIVATE_KEY)
    return Keyring.from_config(sender_id, private_key) if private_key else Keyring.generate(sender_id)


class SimulatorState:
    """Everything the simulator keeps between requests (`app.extensions["simulator"]`)."""

    def __init__(self, engine, faults: Faults, keyring: Keyring, schemas: DCISchemas, *,
                 tokens: list[str] | None = None, signatures: str = "required") -> None:
        self.engine = engine
        self.faults = faults
        self.keyring = keyring
        self.schemas = schemas
        if signatures not in SIGNATURE_POLICIES:
            raise ValueError(f"{ENV_SIGNATURES} must be one of {', '.join(SIGNATURE_POLICIES)}, not {signatures!r}")
        self.tokens = frozenset(tokens or ())  # bearer tokens of the plain DCI server
        self.signatures = signatures  # the plain DCI server's signature policy
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._subscriptions: dict[tuple[str, str], dict[str, Any]] = {}
        self._transactions: dict[tuple[str, str], dict[str, Any]] = {}  # (sender_id, transaction_id): outcome
        self._callbacks: list[dict[str, Any]] = []  # the callbacks sent, latest last (at most 200)
        self._received: list[dict[str, Any]] = []  # callbacks sent to us (on-search, notify, ...)
        self._trusted: dict[str, dict[str, Any]] = {}  # sender_id: {"jwks": ... | "url": ..., "kids": [...]}
        self._calls: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.treasury_limit: Decimal | None = None  # a fund request above it is refused (finance.py)

    def shutdown(self) -> None:
        """End every injected hang and latency at once (the server is going down)."""
        self.stop.set()

    # -- counters ----------------------------------------------------------------------------------------------

    def count(self, source: str, what: str) -> None:
        with self._lock:
            self._calls[source][what] += 1

    def calls(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {source: dict(counts) for source, counts in self._calls.items()}

    # -- trusted DCI senders -----------------------------------------------------------------------------------

    def set_trusted_senders(self, senders: Mapping[str, Any]) -> None:
        """Replace the senders whose requests are accepted: {sender_id: JWKS object or URL of one}."""
        if not isinstance(senders, Mapping):
            raise ValueError("trusted senders must be an object {sender_id: JWKS or JWKS URL}")
        entries: dict[str, dict[str, Any]] = {}
        for sender_id, jwks in senders.items():
            if isinstance(jwks, str) and jwks.startswith(("http://", "https://")):
                entries[sender_id] = {"url": jwks, "kids": []}
            elif isinstance(jwks, Mapping) and isinstance(jwks.get("keys"), list):
                entries[sender_id] = {"jwks": dict(jwks), "kids": []}
            else:
                raise ValueError(f"trusted sender {sender_id!r}: expected a JWKS object or an http(s) URL")
        with self._lock:
            for entry in self._trusted.values():
                for kid in entry["kids"]:
                    self.keyring.distrust(kid)
            self._trusted = entries
        for sender_id, entry in entries.items():
            if "jwks" in entry:
                entry["kids"] = self.keyring.trust_jwks(entry["jwks"], sender_id=sender_id)

    def trusted_senders(self) -> dict[str, list[str]]:
        with self._lock:
            return {sender_id: list(entry["kids"]) for sender_id, entry in self._trusted.items()}

    @property
    def verifies(self) -> bool:
        with self._lock:
            return bool(self._trusted)

    def _fetch_jwks(self, refresh: bool) -> None:
        with self._lock:
            pending = [(s, e) for s, e in self._trusted.items() if "url" in e and (refresh or not e["kids"])]
        for sender_id, entry in pending:
            try:
                jwks = httpx.get(entry["url"], timeout=NOTIFY_TIMEOUT).raise_for_status().json()
                for kid in entry["kids"]:
                    self.keyring.distrust(kid)
                entry["kids"] = self.keyring.trust_jwks(jwks, sender_id=sender_id)
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("simulator: cannot fetch the JWKS of %s from %s: %s", sender_id, entry["url"], exc)

    def verify(self, envelope: Any) -> None:
        """Check a request's signature against the trusted senders; raises `SignatureInvalid`."""
        self._fetch_jwks(refresh=False)
        try:
            self.keyring.verify(envelope)
        except SignatureInvalid as exc:
            if "unknown key id" not in str(exc) or not any("url" in e for e in self._trusted.values()):
                raise
            self._fetch_jwks(refresh=True)  # a sender may have rotated its key
            self.keyring.verify(envelope)

    # -- subscriptions -----------------------------------------------------------------------------------------

    def subscribe(self, sender_id: str, uri: str, event_types: list[str], notify_record_type: str | None,
                  reg_type: str | None) -> dict[str, Any]:
        """Add (or widen) the subscription of `sender_id` at `uri`: one per subscriber, however often it asks."""
        with self._lock:
            current = self._subscriptions.get((sender_id, uri))
            if current:
                current["event_types"] = sorted(set(current["event_types"]) | set(event_types))
                current["notify_record_type"] = notify_record_type or current["notify_record_type"]
                current["reg_type"] = reg_type or current["reg_type"]
                return dict(current)
            entry = {"code": new_id(), "sender_id": sender_id, "uri": uri, "event_types": sorted(set(event_types)),
                     "notify_record_type": notify_record_type, "reg_type": reg_type, "subscribed_at": timestamp()}
            self._subscriptions[(sender_id, uri)] = entry
            return dict(entry)

    def subscriptions(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self._subscriptions.values()]

    def unsubscribe(self, sender_id: str, codes: list[str]) -> list[str]:
        """Remove the sender's subscriptions with these codes; returns the codes removed."""
        with self._lock:
            gone = [key for key, entry in self._subscriptions.items()
                    if entry["sender_id"] == sender_id and entry["code"] in codes]
            return [self._subscriptions.pop(key)["code"] for key in gone]

    # -- transactions and callbacks ----------------------------------------------------------------------------

    def record(self, sender_id: str, transaction_id: str, txn_type: str, outcome: Mapping[str, Any]) -> None:
        """Keep a transaction's outcome (its callback's message) for txn status; the last 1000 are kept."""
        with self._lock:
            self._transactions[(sender_id, transaction_id)] = {"txn_type": txn_type, "message": dict(outcome)}
            while len(self._transactions) > 1000:
                self._transactions.pop(next(iter(self._transactions)))

    def transaction(self, sender_id: str, transaction_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._transactions.get((sender_id, transaction_id))

    def receive(self, endpoint: str, envelope: Mapping[str, Any]) -> None:
        """Keep a callback sent to us (the last 100)."""
        with self._lock:
            self._received.append({"endpoint": endpoint, "received_at": timestamp(), "envelope": dict(envelope)})
            del self._received[:-100]

    def received(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self._received]

    def callbacks(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self._callbacks]

    def deliver(self, endpoint: str, sender_uri: str, envelope: dict[str, Any], headers: Mapping[str, str]) -> None:
        """POST a signed callback to the sender, in the background (after the request's ACK has been sent)."""
        url = callback_url(sender_uri, endpoint)
        outcome: dict[str, Any] = {"endpoint": endpoint, "uri": url, "transaction_id":
                                   envelope["message"].get("transaction_id"), "status": None, "ack": None,
                                   "error": None}

        def send() -> None:
            try:
                response = httpx.post(url, json=envelope, headers=dict(headers), timeout=NOTIFY_TIMEOUT)
                outcome["status"] = response.status_code
                if response.is_success:
                    outcome["ack"] = _ack_status(response)
                else:
                    outcome["error"] = f"HTTP {response.status_code}"
            except Exception as exc:  # noqa: BLE001 - a receiver's failure is reported, never raised
                outcome["error"] = f"{type(exc).__name__}: {exc}"
            if outcome["error"]:
                log.warning("simulator: %s to %s failed: %s", endpoint, url, outcome["error"])
            with self._lock:
                self._callbacks.append(outcome)
                del self._callbacks[:-200]

        threading.Thread(target=send, name=f"dci-callback{endpoint}", daemon=True).start()


def create_simulator_app(database_url: str | None = None, faults: Mapping[str, Any] | str | None = None,
                         keyring: Keyring | None = None, *, trusted_senders: Mapping[str, Any] | None = None,
                         schemas: DCISchemas | None = None, dci_tokens: list[str] | None = None,
                         dci_signatures: str | None = None) -> Flask:
    """The simulator app. `faults=None` reads `SIMULATOR_FAULTS`; `trusted_senders=None` reads
    `SIMULATOR_DCI_TRUSTED_SENDERS`; `keyring=None` reads the key from the environment or makes a new one;
    `dci_tokens=None` and `dci_signatures=None` read `SIMULATOR_DCI_TOKENS` and `SIMULATOR_DCI_SIGNATURES`."""
    app = Flask(__name__)
    names = [source.name for source in SOURCES]
    fault_state = Faults(faults, names) if faults is not None else Faults.from_env(names)
    engine = store.engine_for(database_url or store.default_url())
    finance.create_tables(engine)
    state = SimulatorState(
        engine, fault_state, keyring or _keyring_from_env(), schemas or DCISchemas(),
        tokens=_tokens_from_env() if dci_tokens is None else dci_tokens,
        signatures=(dci_signatures or os.environ.get(ENV_SIGNATURES) or "required").strip().lower())
    if trusted_senders is None:
        raw = os.environ.get(ENV_TRUSTED_SENDERS)
        trusted_senders = json.loads(raw) if raw else {}
    state.set_trusted_senders(trusted_senders)
    app.extensions["simulator"] = state

    @app.route("/r1/<path:_rest>", methods=["GET", "POST"])
    def xroad(_rest):
        try:
            xreq = parse_xroad_request(request, services=[*SERVICE_IDS, *finance.SERVICES])
        except XRoadRequestError as exc:
            return exc.response()
        if str(xreq.service) in finance.SERVICES:
            state.count(str(xreq.service).split("/")[2].lower(), "calls")
            return finance.serve(state, str(xreq.service), xreq.path, lambda body, status: _json(
                body, status, headers=xroad_response_headers(xreq, request.get_data())))
        source = SERVICE_IDS[str(xreq.service)]
        state.count(source.name, "calls")
        arrived, decision = time.monotonic(), state.faults.decide(source.name)
        failed = _inject(state, source, xreq, decision)
        if failed is not None:
            return failed
        try:
            answer = _serve_dci(state, source, xreq) if source.protocol == "dci" else _serve_persons(state, source,
                                                                                                      xreq)
        except SQLAlchemyError as exc:
            log.exception("simulator: database error serving %s", source.name)
            answer = xroad_error_response(SERVICE_FAILED, f"the simulated registry's database failed: "
                                          f"{type(exc).__name__}", status=500, request_id=xreq.request_id)
        interruptible_sleep(arrived + decision.delay_s - time.monotonic(), state.stop)
        return answer

    @app.get(JWKS_PATH)
    @app.get(PLAIN_PREFIX + JWKS_PATH)
    def jwks():
        return _json(state.keyring.jwks())

    @app.route(PLAIN_PREFIX + "/registry/<path:_rest>", methods=["GET", "POST"])
    def plain_dci(_rest):
        endpoint = request.path[len(PLAIN_PREFIX):]
        state.count("civil_registry", "calls")
        refused = _authorize(state)
        if refused is not None:
            return refused
        arrived, decision = time.monotonic(), state.faults.decide("civil_registry")
        failed = _inject_plain(state, decision)
        if failed is not None:
            return failed
        try:
            answer = _serve_dci_endpoint(state, endpoint, {}, signatures=state.signatures, callback_headers={})
        except SQLAlchemyError:
            log.exception("simulator: database error serving the plain DCI server")
            answer = _dci_error("err.service.unavailable", "the simulated registry's database failed", 500)
        interruptible_sleep(arrived + decision.delay_s - time.monotonic(), state.stop)
        return answer

    @app.get("/_control/dci/callbacks")
    def get_callbacks():
        return _json(state.callbacks())

    @app.get("/_control/dci/received")
    def get_received():
        return _json(state.received())

    @app.get("/_control/health")
    def health():
        population = _population_summary(state.engine)
        body = {
            "status": "ok" if population.get("persons") else "empty",
            "population": population,
            "sources": {s.name: {"protocol": s.protocol, "service": s.service_id} for s in SOURCES},
            "faults": state.faults.config(),
            "dci": {"sender_id": state.keyring.sender_id, "kid": state.keyring.kid, "jwks": JWKS_PATH,
                    "verifies_requests": state.verifies, "subscriptions": len(state.subscriptions()),
                    "plain_server": {"base_url": PLAIN_PREFIX, "tokens": len(state.tokens),
                                     "signatures": state.signatures}},
            "calls": state.calls(),
        }
        return _json(body, 200 if population.get("persons") else 503)

    @app.get("/_control/faults")
    def get_faults():
        return _json({"config": state.faults.config(), "effective": state.faults.effective()})

    @app.put("/_control/faults")
    def put_faults():
        body = request.get_json(silent=True)
        if body is None:
            return _json({"error": "bad_request", "message": "send the fault configuration as a JSON object"}, 400)
        try:
            state.faults.configure(body)
        except FaultConfigError as exc:
            return _json({"error": "bad_request", "message": str(exc)}, 400)
        log.info("simulator: faults set to %s", json.dumps(body))
        return _json({"config": state.faults.config(), "effective": state.faults.effective()})

    @app.get("/_control/dci/trusted-senders")
    def get_trusted():
        return _json(state.trusted_senders())

    @app.put("/_control/dci/trusted-senders")
    def put_trusted():
        body = request.get_json(silent=True)
        try:
            if body is None:
                raise ValueError("send {sender_id: JWKS or JWKS URL} as JSON ({} turns verification off)")
            state.set_trusted_senders(body)
        except ValueError as exc:
            return _json({"error": "bad_request", "message": str(exc)}, 400)
        return _json(state.trusted_senders())

    @app.route("/_control/treasury", methods=["GET", "PUT"])
    def treasury_control():
        if request.method == "PUT":
            body = request.get_json(silent=True)
            try:
                limit = body["limit"]
                state.treasury_limit = None if limit is None else Decimal(str(limit))
            except (KeyError, TypeError, InvalidOperation):
                return _json({"error": "bad_request", "message": "send {\"limit\": \"UZS\" or null}"}, 400)
        return _json({"limit": None if state.treasury_limit is None else str(state.treasury_limit)})

    @app.post("/_control/bank/accounts/<number>/close")
    def close_bank_account(number):
        if not finance.close_account(state.engine, number):
            return _json({"error": "not_found", "message": f"no account {number} at the bank"}, 404)
        return _json({"account_number": number, "status": "closed"})

    @app.get("/_control/dci/subscriptions")
    def get_subscriptions():
        return _json(state.subscriptions())

    @app.post("/_control/vital-events/emit")
    def emit():
        body = request.get_json(silent=True) or {}
        try:
            births, deaths = int(body.get("births", 0)), int(body.get("deaths", 0))
            seed = body.get("seed")
            if births < 0 or deaths < 0 or births + deaths > 1000:
                raise ValueError("births and deaths must be 0..1000")
        except (TypeError, ValueError, AttributeError) as exc:
            return _json({"error": "bad_request", "message": f"expected {{'births': N, 'deaths': M}}: {exc}"}, 400)
        rng = random.Random(seed) if seed is not None else random.Random()
        try:
            with state.engine.begin() as conn:
                records = queries.emit_vital_events(conn, births, deaths, rng, date.today())
        except ValueError as exc:
            return _json({"error": "conflict", "message": str(exc)}, 409)
        return _json({"events": records, "notified": notify_subscribers(state, records)})

    return app


# -- faults ----------------------------------------------------------------------------------------------------


def _inject(state: SimulatorState, source: Source, xreq: XRoadRequest, decision: Decision) -> Response | None:
    """A failing call's answer, after the call's delay; None for a call that succeeds (its caller prepares the
    answer and sends it when the delay is over, so the registry's own work is part of its latency)."""
    if decision.failure is None:
        return None
    interruptible_sleep(decision.delay_s, state.stop)
    state.count(source.name, decision.failure)
    if decision.failure == "timeout":
        finished = interruptible_sleep(decision.timeout_s, state.stop)
        if finished:
            return xroad_error_response(SERVICE_TIMEOUT, f"{source.name}: no answer within {decision.timeout_s:g} s "
                                        "(simulated)", status=504, request_id=xreq.request_id)
        return xroad_error_response(SERVICE_FAILED, "the simulator is shutting down", status=503,
                                    request_id=xreq.request_id)
    if decision.failure == "malformed":
        return Response(b'{"results": [{"pin": "', status=200, content_type=JSON_TYPE,
                        headers=xroad_response_headers(xreq, request.get_data()))
    message = "is down" if decision.failure == "down" else "failed"
    return xroad_error_response(SERVICE_FAILED, f"{source.name} {message} (simulated)", status=503,
                                request_id=xreq.request_id)


def _inject_plain(state: SimulatorState, decision: Decision) -> Response | None:
    """The civil registry's faults on the plain DCI server, answered as a DCI server would (no X-Road errors)."""
    if decision.failure is None:
        return None
    interruptible_sleep(decision.delay_s, state.stop)
    state.count("civil_registry", decision.failure)
    if decision.failure == "timeout":
        if interruptible_sleep(decision.timeout_s, state.stop):
            return _dci_error("err.request.timeout", f"no answer within {decision.timeout_s:g} s (simulated)", 504)
        return _dci_error("err.service.unavailable", "the simulator is shutting down", 503)
    if decision.failure == "malformed":
        return Response(b'{"header": {"version": "', status=200, content_type=JSON_TYPE)
    message = "is down" if decision.failure == "down" else "failed"
    return _dci_error("err.service.unavailable", f"the civil registry {message} (simulated)", 503)


# -- X-Road sources --------------------------------------------------------------------------------------------


def _invalid(xreq: XRoadRequest, message: str) -> Response:
    return xroad_error_response(INVALID_REQUEST, message, status=400, request_id=xreq.request_id)


def _serve_persons(state: SimulatorState, source: Source, xreq: XRoadRequest) -> Response:
    single = _ONE_PERSON.match(xreq.path)
    if xreq.path != f"/{wire.BATCH_PATH}" and single is None:
        return _plain(f"no {xreq.path} below {source.service_id}: the batch lookup is /{wire.BATCH_PATH}, "
                      f"one person's /{wire.PERSON_PATH}", 404)
    if request.method != "GET":
        return _plain(f"{xreq.path} answers GET", 405)
    if single is not None:
        return _serve_person(state, source, xreq, single.group(1))
    pins = request.args.getlist(wire.PIN_PARAM)
    if not pins:
        return _invalid(xreq, f"no `{wire.PIN_PARAM}` parameter: ask for 1 to {wire.MAX_BATCH} PINs")
    if len(pins) > wire.MAX_BATCH:
        return _invalid(xreq, f"{len(pins)} PINs asked for; at most {wire.MAX_BATCH} per call")
    bad = [pin for pin in pins if not _PIN.match(pin)]
    if bad:
        return _invalid(xreq, f"a PIN is 14 digits; got {', '.join(repr(pin) for pin in bad[:5])}")
    try:
        window = queries.Window.parse(request.args.get(wire.FROM_PARAM) or None,
                                      request.args.get(wire.TO_PARAM) or None)
    except ValueError as exc:
        return _invalid(xreq, str(exc))
    distinct = list(dict.fromkeys(pins))
    with state.engine.connect() as conn:
        found = queries.QUERIES[source.name](conn, distinct, window)
    results = [{"pin": pin, "found": True, "data": found[pin]} if pin in found else {"pin": pin, "found": False}
               for pin in pins]
    return _json({"results": results}, headers=xroad_response_headers(xreq, request.get_data()))


def _serve_person(state: SimulatorState, source: Source, xreq: XRoadRequest, pin: str) -> Response:
    """One person's lookup: their record, or a JSON 404 (the registry does not know them)."""
    if not _PIN.match(pin):
        return _invalid(xreq, f"a PIN is 14 digits; got {pin!r}")
    try:
        window = queries.Window.parse(request.args.get(wire.FROM_PARAM) or None,
                                      request.args.get(wire.TO_PARAM) or None)
    except ValueError as exc:
        return _invalid(xreq, str(exc))
    with state.engine.connect() as conn:
        found = queries.QUERIES[source.name](conn, [pin], window)
    headers = xroad_response_headers(xreq, request.get_data())
    if pin not in found:
        return _json({"error": "not_found", "message": f"{source.name} does not know this PIN"}, 404, headers)
    return _json({"pin": pin, "found": True, "data": found[pin]}, headers=headers)


# -- civil registry (DCI) --------------------------------------------------------------------------------------


def _serve_dci(state: SimulatorState, source: Source, xreq: XRoadRequest) -> Response:
    """DCI below the X-Road service path: the security servers authenticate the parties, so no bearer token is
    asked for, and signatures are checked only when trusted senders are configured (as X-Road signs anyway)."""
    headers = xroad_response_headers(xreq, request.get_data())
    if xreq.path == JWKS_PATH and request.method == "GET":
        return _json(state.keyring.jwks(), headers=headers)
    if xreq.path not in DCI_ENDPOINTS:
        return _plain(f"no {xreq.path} below {source.service_id}: DCI serves {', '.join(DCI_ENDPOINTS)}", 404)
    client_id = "/".join(source.service_id.split("/")[:4])
    return _serve_dci_endpoint(state, xreq.path, headers, signatures="required" if state.verifies else "none",
                               callback_headers={"X-Road-Client": client_id})


def _authorize(state: SimulatorState) -> Response | None:
    """The plain DCI server's bearer check: a 401 in the spec's error shape unless the token is one we issued."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="crvs"'}
    if scheme.lower() != "bearer" or not token.strip():
        return _dci_error("err.request.unauthorized", "send Authorization: Bearer <token>", 401, challenge)
    if token.strip() not in state.tokens:
        return _dci_error("err.request.unauthorized", "the bearer token is not valid here", 401,
                          {"WWW-Authenticate": 'Bearer realm="crvs", error="invalid_token"'})
    return None


def _check_signature(state: SimulatorState, envelope: dict[str, Any], policy: str, endpoint: str
                     ) -> Response | None:
    """`required`: a signature must be there and verify; `optional`: one that is there must verify; `none`."""
    if policy == "none":
        return None
    if not envelope.get("signature"):
        if policy == "optional":
            return None
        return _dci_error("err.signature.missing", "the message must be signed (`signature`)", 401)
    try:
        state.verify(envelope)
    except SignatureInvalid as exc:
        log.info("simulator: refused a %s request with a bad signature: %s", endpoint, exc)
        return _dci_error("err.signature.invalid", str(exc), 401)
    return None


def _serve_dci_endpoint(state: SimulatorState, endpoint: str, headers: dict[str, str], *, signatures: str,
                        callback_headers: Mapping[str, str]) -> Response:
    if endpoint not in DCI_ENDPOINTS:
        return _dci_error("err.request.not_found", f"no {endpoint}: the CRVS registry serves "
                          f"{', '.join(DCI_ENDPOINTS)}", 404, headers)
    if request.method != "POST":
        return _dci_error("err.request.bad", f"{endpoint} answers POST", 405, headers)
    envelope = request.get_json(silent=True)
    if not isinstance(envelope, dict):
        return _dci_error("err.request.bad", "the body must be a DCI envelope (a JSON object)", 400, headers)
    refused = _check_signature(state, envelope, signatures, endpoint)
    if refused is not None:
        refused.headers.update(headers)
        return refused
    errors = state.schemas.errors(DCI_REGISTRY, endpoint, envelope, part="request")
    if not isinstance(envelope.get("message"), dict):  # some callbacks' schemas forget to require it
        errors.append("(root): 'message' is a required property")
    if errors:
        return _dci_error("err.request.bad", "the request does not follow the DCI schema: " + "; ".join(errors[:5]),
                          400, headers)
    if endpoint == SYNC_SEARCH:
        return _search(state, envelope, headers)
    if endpoint in DCI_CALLBACKS:
        return _received(state, endpoint, envelope, headers)
    if endpoint == SYNC_TXN_STATUS:
        response = state.keyring.sign(_txn_on_status(state, envelope))
        state.schemas.validate_outgoing(DCI_REGISTRY, SYNC_TXN_STATUS, response, part="response")
        return _json(response, headers=headers)
    uri = envelope["header"].get("sender_uri")
    if endpoint == SUBSCRIBE:
        return _subscribe(state, envelope, headers, callback_headers)
    sender_id = str(envelope["header"]["sender_id"])
    if endpoint == SEARCH:
        items = envelope["message"]["search_request"]
        if len(items) > wire.MAX_BATCH:
            return _dci_error("err.request.bad", f"{len(items)} queries; at most {wire.MAX_BATCH} per search", 400,
                              headers)
        callback, txn_type = _on_search(state, envelope), "search"
    elif endpoint == UNSUBSCRIBE:
        removed = state.unsubscribe(sender_id, [str(c) for c in envelope["message"]["subscription_codes"]])
        callback, txn_type = build_on_unsubscribe(envelope, state.keyring.sender_id, removed), "unsubscribe"
    else:  # TXN_STATUS
        callback, txn_type = _txn_on_status(state, envelope), None
    callback_endpoint = {SEARCH: ON_SEARCH, UNSUBSCRIBE: ON_UNSUBSCRIBE, TXN_STATUS: TXN_ON_STATUS}[endpoint]
    state.schemas.validate_outgoing(DCI_REGISTRY, callback_endpoint, callback, part="request")
    if txn_type:
        state.record(sender_id, envelope["message"]["transaction_id"], txn_type, callback["message"])
    if uri:
        state.deliver(callback_endpoint, str(uri), state.keyring.sign(callback), callback_headers)
        return _json(build_ack(correlation_id=callback["message"]["correlation_id"]), headers=headers)
    # No sender_uri, no callback: a search's results wait for txn status (ACK); the rest is done (NACK).
    return _json(build_ack(correlation_id=callback["message"]["correlation_id"],
                           ack_status="ACK" if endpoint == SEARCH else "NACK"), headers=headers)


def _ack_status(response: httpx.Response) -> str | None:
    """A receiver's acknowledgement: the spec's `message.ack_status`, or a bare `ack_status` as some send."""
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, Mapping) and isinstance(body.get("message"), Mapping):
        return parse_ack(body).ack_status
    return body.get("ack_status") if isinstance(body, Mapping) else None


def _received(state: SimulatorState, endpoint: str, envelope: dict[str, Any], headers: dict[str, str]
              ) -> Response:
    """A callback sent to the registry (the spec gives the registry these paths too, for registries that query
    others): checked like any request above, kept in `/_control/dci/received`, acknowledged."""
    state.receive(endpoint, envelope)
    correlation_id = envelope["message"].get("correlation_id") or envelope["message"].get("transaction_id")
    ack = build_ack(correlation_id=str(correlation_id)[:99] if correlation_id else None)
    state.schemas.validate_outgoing(DCI_REGISTRY, endpoint, ack, part="response")
    return _json(ack, headers=headers)


def _vital_events(state: SimulatorState, envelope: dict[str, Any]):
    pins = []
    for item in envelope["message"]["search_request"]:
        query = item["search_criteria"].get("query")
        if isinstance(query, Mapping) and str(query.get("type")).upper() == wire.PIN_ID_TYPE.upper():
            value = str(query.get("value"))
            if _PIN.match(value):
                pins.append(value)
    with state.engine.connect() as conn:
        events = queries.vital_events(conn, list(dict.fromkeys(pins)))

    def find(id_type: str, value: Any) -> list[dict[str, Any]]:
        return events.get(str(value), []) if id_type.upper() == wire.PIN_ID_TYPE.upper() else []

    return find


def _search(state: SimulatorState, envelope: dict[str, Any], headers: dict[str, str]) -> Response:
    items = envelope["message"]["search_request"]
    if len(items) > wire.MAX_BATCH:
        return _dci_error("err.request.bad", f"{len(items)} queries; at most {wire.MAX_BATCH} per search", 400,
                          headers)
    response = state.keyring.sign(build_search_response(envelope, _vital_events(state, envelope),
                                                        state.keyring.sender_id))
    state.schemas.validate_outgoing(DCI_REGISTRY, SYNC_SEARCH, response, part="response")
    return _json(response, headers=headers)


def _on_search(state: SimulatorState, envelope: dict[str, Any]) -> dict[str, Any]:
    """The on-search callback of an async search: the sync answer, sent later."""
    return build_search_response(envelope, _vital_events(state, envelope), state.keyring.sender_id)


def _txn_on_status(state: SimulatorState, envelope: dict[str, Any]) -> dict[str, Any]:
    """The status of an earlier search, subscribe or unsubscribe of the same sender, asked by transaction id
    (other attribute types find nothing)."""
    asked = envelope["message"]["txnstatus_request"]
    found = None
    if asked["attribute_type"] == "transaction_id" and isinstance(asked["attribute_value"], str):
        found = state.transaction(str(envelope["header"]["sender_id"]), asked["attribute_value"])
    if found is not None and found["txn_type"] != asked["txn_type"]:
        found = None
    message = found["message"] if found else None
    if message and "search_response" in message:  # the spec's search status names the record type
        message = {**message, "search_response": [
            {**item, "data": {"reg_record_type": DEFAULT_RECORD_TYPE, **item["data"]}}
            for item in message["search_response"]]}
    return build_txn_on_status(envelope, state.keyring.sender_id, asked["txn_type"], message)


def _subscribe(state: SimulatorState, envelope: dict[str, Any], headers: dict[str, str],
               callback_headers: Mapping[str, str]) -> Response:
    header = envelope["header"]
    items = envelope["message"]["subscribe_request"]
    wanted = [item["subscribe_criteria"]["reg_event_type"] for item in items]
    unsupported = [event for event in wanted if event_kind(event) is None]
    uri = header.get("sender_uri")
    if unsupported or not uri:
        reason = (f"unsupported event type(s) {', '.join(unsupported)}; the simulator notifies "
                  f"{', '.join(EVENT_TYPES)} (or BIRTH, DEATH)") if unsupported else \
            "header.sender_uri (the notify URL) is required"
        code = "err.request.bad" if unsupported else "err.sender_uri.invalid"
        ack = build_ack(ack_status="ERR", error=(code, reason))
    else:
        criteria = items[0]["subscribe_criteria"]
        entry = state.subscribe(str(header["sender_id"]), str(uri), wanted, criteria.get("notify_record_type"),
                                criteria.get("reg_type"))
        log.info("simulator: %s subscribed to %s at %s", header["sender_id"], ", ".join(wanted), uri)
        callback = build_on_subscribe(envelope, state.keyring.sender_id, [entry["code"]] * len(items))
        callback["message"]["correlation_id"] = entry["code"]  # the ACK's, as the sender matches them
        state.schemas.validate_outgoing(DCI_REGISTRY, ON_SUBSCRIBE, callback, part="request")
        state.record(str(header["sender_id"]), envelope["message"]["transaction_id"], "subscribe",
                     callback["message"])
        ack = build_ack(correlation_id=entry["code"])
        state.deliver(ON_SUBSCRIBE, str(uri), state.keyring.sign(callback), callback_headers)
    state.schemas.validate_outgoing(DCI_REGISTRY, SUBSCRIBE, ack, part="response")
    return _json(ack, headers=headers)


def notify_subscribers(state: SimulatorState, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """POST a signed notify with the events of its types to every subscriber; failures are logged, not raised."""
    outcomes = []
    client_id = "/".join(BY_NAME["civil_registry"].service_id.split("/")[:4])
    for subscription in state.subscriptions():
        events = [VitalEvent(event_type, record) for record in records
                  for event_type in subscription["event_types"] if event_kind(event_type) == record["event"]]
        if not events:
            continue
        envelope = state.keyring.sign(build_notify(
            state.keyring.sender_id, subscription["sender_id"], events, reg_type=subscription["reg_type"],
            reg_record_type=subscription["notify_record_type"] or DEFAULT_RECORD_TYPE))
        state.schemas.validate_outgoing(DCI_REGISTRY, NOTIFY, envelope, part="request")
        outcome: dict[str, Any] = {"uri": subscription["uri"], "sender_id": subscription["sender_id"],
                                   "events": len(events), "status": None, "ack": None, "error": None}
        try:
            response = httpx.post(callback_url(subscription["uri"], NOTIFY), json=envelope, timeout=NOTIFY_TIMEOUT,
                                  headers={"X-Road-Client": client_id, "X-Road-Id": str(uuid.uuid4())})
            outcome["status"] = response.status_code
            if response.is_success:
                outcome["ack"] = parse_ack(response.json()).ack_status
            else:
                outcome["error"] = f"HTTP {response.status_code}"
        except Exception as exc:  # noqa: BLE001 - a subscriber's failure must never break the emitter
            outcome["error"] = f"{type(exc).__name__}: {exc}"
        if outcome["error"] or outcome["ack"] != "ACK":
            log.warning("simulator: notify to %s failed: %s", subscription["uri"], outcome["error"] or outcome["ack"])
        outcomes.append(outcome)
    return outcomes


# -- health ----------------------------------------------------------------------------------------------------


def _population_summary(engine) -> dict[str, Any]:
    """From the generation row (cheap on millions of rows); `persons` 0 when there is no population."""
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(store.person.name):
                return {"persons": 0}
            has_person = conn.scalar(select(store.person.c.pin).limit(1)) is not None
            row = None
            if inspect(conn).has_table(store.generation.name):
                row = conn.execute(select(store.generation)).mappings().first()
            if row is None:
                return {"persons": conn.scalar(select(func.count()).select_from(store.person)) if has_person else 0}
            return {"persons": row["persons"] if has_person else 0, "households": row["households"],
                    "seed": row["seed"], "as_of": row["as_of"].isoformat(),
                    "generator_version": row["generator_version"]}
    except SQLAlchemyError as exc:
        return {"persons": 0, "error": f"{type(exc).__name__}: {exc}"[:300]}


def population_size(database_url: str | None = None) -> int:
    """Persons in the simulator database (0: none, or no tables): what `srsp simulator serve` checks first."""
    engine = store.engine_for(database_url or store.default_url())
    finance.create_tables(engine)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(store.person.name):
                return 0
            return int(conn.scalar(select(func.count()).select_from(store.person)) or 0)
    finally:
        engine.dispose()
