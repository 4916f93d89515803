"""What the registries answer: error bodies, acknowledgements, signed envelopes, all checked against the spec.

An error carries both shapes the SPDCI compliance profiles accept: the spec's `HttpErrorResponse`
(`{"errors": [{code, message}]}`) and the acknowledgement `Response` (`message.ack_status: "ERR"` with
`message.error.code`), codes from the spec's `Error.code` list only.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify

from connectors.transport.dci import DCISchemas, Keyring, build_header, new_id, timestamp

# Error codes of the spec's `Error.code` enumeration, with the HTTP status each is answered with.
STATUS = {
    "err.request.bad": 400,
    "err.request.unauthorized": 401,
    "err.request.forbidden": 403,
    "err.request.not_found": 404,
    "err.request.timeout": 408,
    "err.version.not_supported": 400,
    "err.request.too_many_requests": 429,
    "err.sender_id.invalid": 400,
    "err.sender_uri.invalid": 400,
    "err.receiver_id.invalid": 400,
    "err.signature.missing": 401,
    "err.signature.invalid": 401,
    "err.encryption.invalid": 400,
    "err.service.unavailable": 503,
}
MAX_MESSAGE = 999

_schemas = DCISchemas()


class DciError(Exception):
    """A request refused before any business processing; `code` is one of `STATUS`."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        if code not in STATUS:
            raise ValueError(f"{code!r} is not a DCI error code")
        super().__init__(message)
        self.code = code
        self.message = message[:MAX_MESSAGE]
        self.status = status or STATUS[code]


def schemas() -> DCISchemas:
    return _schemas


def error_body(code: str, message: str, correlation_id: str | None = None) -> dict[str, Any]:
    message = message[:MAX_MESSAGE]
    return {
        "errors": [{"code": code, "message": message}],
        "message": {"ack_status": "ERR", "timestamp": timestamp(), "correlation_id": correlation_id or new_id(),
                    "error": {"code": code, "message": message}},
    }


def error_response(error: DciError):
    response = jsonify(error_body(error.code, error.message))
    response.status_code = error.status
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="dci"'
    return response


def ack(correlation_id: str) -> dict[str, Any]:
    return {"message": {"ack_status": "ACK", "timestamp": timestamp(), "correlation_id": correlation_id}}


def keyring() -> Keyring:
    """SRSP's own DCI signing key: the one its civil-registry client signs with, published in the JWKS."""
    from connectors.registry import connectors_for

    return connectors_for(current_app)["civil_registry"].client.keyring


def envelope(action: str, message: dict[str, Any], *, receiver_id: str | None, total_count: int,
             status: str = "succ") -> dict[str, Any]:
    """A signed callback-style envelope (`MsgCallbackHeader`) from SRSP."""
    ring = keyring()
    header = build_header(action, ring.sender_id, receiver_id, total_count=total_count,
                          completed_count=total_count, status=status)
    return ring.sign({"header": header, "message": message})


def check_outgoing(registry: str, endpoint: str, body: Any, part: str = "response") -> None:
    """Our own answers must follow the spec: a failure is a bug here, raised loudly (DCISchemaError)."""
    schemas().validate_outgoing(registry, endpoint, body, part=part)


def check_enrolled(message: Any) -> None:
    """The IBR `sync/enrolled` answer against `EnrolledResponse` (a schema the generic lookup cannot reach)."""
    from jsonschema import Draft4Validator
    from referencing import Registry
    from referencing.jsonschema import DRAFT4

    from connectors.transport.dci import DCISchemaError

    uri = "urn:spdci:ibr"
    store = Registry().with_resource(uri, DRAFT4.create_resource(schemas().document("ibr")))
    validator = Draft4Validator({"$ref": f"{uri}#/components/schemas/EnrolledResponse"}, registry=store)
    errors = [error.message for error in validator.iter_errors(message)]
    if errors:
        raise DCISchemaError("EnrolledResponse does not follow the DCI schema", errors)
