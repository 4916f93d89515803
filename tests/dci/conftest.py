"""DCI registry server tests: registered senders with their own Ed25519 keys, and a real HTTP receiver for the
callbacks the registry POSTs."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from connectors.transport.dci import Keyring, build_header, new_id, timestamp
from modules.dci import auth
from modules.dci.records import FIELDS

SOCIAL = "/dci/social/registry"
IBR = "/dci/ibr/registry"


class Sender:
    """A registered sender: its keys, its bearer token, and how it sends requests."""

    def __init__(self, http, name: str, signatures: str = "required", fields=FIELDS, callback_urls=(),
                 query_types=("idtype-value", "expression", "predicate"), rate_limit: str = "1000 per minute"):
        self.http = http
        self.keys = Keyring.generate(name)
        self.client, secret = auth.new_client(
            name, signatures=signatures, callback_urls=list(callback_urls), allowed_query_types=list(query_types),
            allowed_fields=list(fields), purpose="test checks", rate_limit=rate_limit,
            jwks={"keys": [self.keys.jwk()]})
        self.secret = secret
        self.token = self.token_for(http, self.client.client_id, secret)

    @staticmethod
    def token_for(http, client_id: str, secret: str) -> str:
        reply = http.post("/dci/oauth2/client/token", data={
            "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})
        assert reply.status_code == 200, reply.get_data(as_text=True)
        return reply.get_json()["access_token"]

    def envelope(self, action: str, message: dict, sender_uri: str | None = None, total: int = 1) -> dict:
        header = build_header(action, self.keys.sender_id, "srsp", total_count=total, sender_uri=sender_uri)
        return {"header": header, "message": message}

    def post(self, path: str, body, signed: bool = True, headers: dict | None = None):
        if signed and isinstance(body, dict):
            body = self.keys.sign(body)
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        return self.http.post(path, data=data, content_type="application/json",
                              headers={"Authorization": f"Bearer {self.token}", **(headers or {})})


def search_message(criteria: dict, locale: str | None = None, items: int = 1) -> dict:
    request_items = []
    for _ in range(items):
        item = {"reference_id": new_id(), "timestamp": timestamp(), "search_criteria": {"version": "1.0.0",
                                                                                        **criteria}}
        if locale:
            item["locale"] = locale
        request_items.append(item)
    return {"transaction_id": new_id(), "search_request": request_items}


def by_pin(pin: str, **extra) -> dict:
    return {"query_type": "idtype-value", "query": {"type": "PIN", "value": pin}, **extra}


@pytest.fixture
def http(app):
    return app.test_client()


@pytest.fixture
def sender(http):
    return Sender(http, "ministry-of-health")


class Receiver:
    """A local HTTP server that records the JSON bodies POSTed to it and answers with an ACK."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/callback"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @Request.application
    def _app(self, request: Request) -> Response:
        self.bodies.append(json.loads(request.get_data()))
        ack = {"message": {"ack_status": "ACK", "timestamp": timestamp(), "correlation_id": new_id()}}
        return Response(json.dumps(ack), content_type="application/json")

    def actions(self) -> list[str]:
        return [body["header"]["action"] for body in self.bodies]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    running.thread.start()
    yield running
    running.server.shutdown()
