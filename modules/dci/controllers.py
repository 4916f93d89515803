"""The DCI routes: thin views over auth.py (who asks) and operations.py (what is answered).

Every registry request goes through `_guarded`: bearer token, rate limit, a JSON body within the guard's limits,
the spec's request schema, then the sender's signature policy. Whatever is refused is answered with the spec's
error body (messages.py), never a page or a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import jsonify, request
from flask_babel import force_locale

from connectors.transport.dci import VERSION
from modules.dci import auth, messages, operations, tasks
from modules.dci.messages import DciError
from modules.dci.models import DciClient
from webapp.guard import InputRefused, read_json
from webapp.jobs import enqueue

SEARCH, SYNC_SEARCH = "/registry/search", "/registry/sync/search"
SUBSCRIBE, UNSUBSCRIBE = "/registry/subscribe", "/registry/unsubscribe"
TXN_STATUS, SYNC_TXN_STATUS = "/registry/txn/status", "/registry/sync/txn/status"
SYNC_ENROLLED = "/registry/sync/enrolled"


def _body() -> dict[str, Any]:
    if request.mimetype != "application/json":
        raise DciError("err.request.bad", "Content-Type must be application/json", status=415)
    try:
        body = read_json(request.get_data(cache=True) or b"null")
    except InputRefused as refused:
        with force_locale("en"):  # machines read these: in English, whatever the request's language
            reason = str(refused.message)
        raise DciError("err.request.bad", reason) from None
    except (ValueError, UnicodeDecodeError):
        raise DciError("err.request.bad", "the body is not JSON") from None
    if not isinstance(body, dict):
        raise DciError("err.request.bad", "the body must be a DCI envelope (a JSON object)")
    return body


def _guarded(registry: str, endpoint: str, handle: Callable[[DciClient, dict], Any]):
    try:
        client = auth.authenticated_client()
        auth.check_rate(client)
        body = _body()
        header = body.get("header")
        if isinstance(header, dict) and header.get("is_msg_encrypted") is True:
            raise DciError("err.encryption.invalid", "encrypted messages are not supported")
        errors = messages.schemas().errors(registry, endpoint, body, part="request")
        if errors:
            raise DciError("err.request.bad", "; ".join(errors[:5]))
        if header.get("version", VERSION) != VERSION:
            raise DciError("err.version.not_supported", f"version {VERSION} only")
        auth.check_signature(client, body)
        return handle(client, body)
    except DciError as error:
        return messages.error_response(error)


def _callback_url(client: DciClient, envelope: dict, required: bool = True) -> str | None:
    """The sender_uri of an async request, which must be one of the sender's registered callback URLs."""
    uri = envelope["header"].get("sender_uri")
    if not uri:
        if required:
            raise DciError("err.sender_uri.invalid", "an async request needs header.sender_uri")
        return None
    if uri not in (client.callback_urls or []):
        raise DciError("err.sender_uri.invalid", "sender_uri is not one of this sender's registered callback URLs")
    return uri


def _answer(registry: str, endpoint: str, action: str, client: DciClient, envelope: dict, message: dict,
            total: int):
    body = messages.envelope(action, message, receiver_id=envelope["header"].get("sender_id"), total_count=total)
    messages.check_outgoing(registry, endpoint, body)
    return jsonify(body)


def _acked(registry: str, endpoint: str, correlation_id: str):
    body = messages.ack(correlation_id)
    messages.check_outgoing(registry, endpoint, body)
    return jsonify(body)


# -- token -------------------------------------------------------------------------------------------------------


def token():
    """OAuth2 client credentials (form-encoded as the authz spec says; a JSON body is accepted too)."""
    try:
        form = request.form if request.mimetype == "application/x-www-form-urlencoded" else _body()
        grant, client_id, secret = (form.get("grant_type"), form.get("client_id"), form.get("client_secret"))
        if grant != "client_credentials" or not isinstance(client_id, str) or not isinstance(secret, str):
            raise DciError("err.request.bad", "grant_type=client_credentials, client_id and client_secret needed")
        issued, _client = auth.issue_token(client_id, secret)
    except DciError as error:
        return messages.error_response(error)
    response = jsonify({"access_token": issued, "token_type": "Bearer",
                        "expires_in": str(int(auth.TOKEN_TTL.total_seconds()))})
    response.headers["Cache-Control"] = "no-store"
    return response


# -- registries --------------------------------------------------------------------------------------------------


def _sync_search(registry: str):
    def handle(client: DciClient, envelope: dict):
        message = operations.search(client, registry, envelope)
        return _answer(registry, SYNC_SEARCH, "on-search", client, envelope, message,
                       len(message["search_response"]))

    return _guarded(registry, SYNC_SEARCH, handle)


def _search(registry: str):
    def handle(client: DciClient, envelope: dict):
        url = _callback_url(client, envelope)
        problem = operations.search_problem(client, envelope)
        if problem:  # what would only be rejected later is refused now, while the sender waits for the answer
            raise DciError("err.request.bad", problem)
        txn = operations.start_transaction(client, registry, "search", envelope, url)
        enqueue(tasks.answer_search, subject=f"dci_transaction:{txn.id}", transaction=txn.id)
        return _acked(registry, SEARCH, txn.correlation_id)

    return _guarded(registry, SEARCH, handle)


def _deferred(registry: str, endpoint: str, txn_type: str, action: str, build: Callable[[DciClient, dict], dict],
              callback_required: bool):
    """Answered now, delivered to the callback URL by a job (subscribe, unsubscribe, async txn status)."""

    def handle(client: DciClient, envelope: dict):
        url = _callback_url(client, envelope, required=callback_required)
        txn = operations.start_transaction(client, registry, txn_type, envelope, url)
        message = build(client, envelope)
        message["correlation_id"] = txn.correlation_id
        txn.response, txn.status = message, "succ"
        if url:
            enqueue(tasks.deliver, subject=f"dci_transaction:{txn.id}", transaction=txn.id, action=action)
        return _acked(registry, endpoint, txn.correlation_id)

    return _guarded(registry, endpoint, handle)


def _subscribe(registry: str):
    def build(client: DciClient, envelope: dict) -> dict:
        return operations.subscribe(client, envelope, envelope["header"]["sender_uri"], registry)

    return _deferred(registry, SUBSCRIBE, "subscribe", "on-subscribe", build, callback_required=True)


def _unsubscribe(registry: str):
    return _deferred(registry, UNSUBSCRIBE, "unsubscribe", "on-unsubscribe",
                     lambda client, envelope: operations.unsubscribe(client, envelope), callback_required=False)


def _txn_status(registry: str):
    return _deferred(registry, TXN_STATUS, "txn-status", "txn-on-status",
                     lambda client, envelope: operations.txn_status(client, envelope), callback_required=False)


def _sync_txn_status(registry: str):
    def handle(client: DciClient, envelope: dict):
        message = operations.txn_status(client, envelope)
        return _answer(registry, SYNC_TXN_STATUS, "txn-on-status", client, envelope, message, 1)

    return _guarded(registry, SYNC_TXN_STATUS, handle)


def _sync_enrolled(registry: str):
    """IBR only. The spec's answer is the bare `EnrolledResponse` (no envelope, so no signature), checked as such."""

    def handle(client: DciClient, envelope: dict):
        message = operations.enrolled(client, envelope)
        messages.check_enrolled(message)
        return jsonify(message)

    return _guarded(registry, SYNC_ENROLLED, handle)


def registry_view(registry: str, endpoint: str) -> Callable[[], Any]:
    """The view function of one endpoint of one registry (`social` or `ibr`)."""
    handlers = {
        SYNC_SEARCH: _sync_search, SEARCH: _search, SUBSCRIBE: _subscribe, UNSUBSCRIBE: _unsubscribe,
        TXN_STATUS: _txn_status, SYNC_TXN_STATUS: _sync_txn_status, SYNC_ENROLLED: _sync_enrolled,
    }
    handler = handlers[endpoint]

    def view():
        return handler(registry)

    view.__name__ = f"{registry}_{endpoint.strip('/').replace('/', '_').replace('-', '_')}"
    return view
