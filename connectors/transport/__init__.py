"""Transports to external sources: X-Road REST and the DCI registry API, under a per-source resilience policy.

- `errors`: what can go wrong, as typed exceptions (retryable or not, counted by the breaker or not).
- `resilience`: `RetryPolicy`, `CircuitBreaker`, `ConcurrencyLimit`, `TTLCache`, bundled per source in
  `SourcePolicy` (built from plain config dicts).
- `xroad`: `XRoadClient` (client side) and `parse_xroad_request` / `xroad_error_response` (simulator side).
- `dci`: DCI envelopes, Ed25519 signatures with JWKS, schema validation against the DCI OpenAPI specs, and
  `DCIClient` (DCI over X-Road).

Typical use in a connector:

    policy = SourcePolicy.from_config("tax", app.config["CONNECTORS"]["tax"], app.config["CONNECTORS"]["defaults"])
    client = XRoadClient(base_url, "UZ/GOV/70000001/SRSP", "UZ/GOV/70000002/TAX/income", policy, http=shared_httpx)
    result = client.get(f"/persons/{pin}/salaries", user_id=staff_user_id(user.username), issue=application.number)
    result.json, result.request_id, result.latency_ms, result.attempts
"""

from connectors.transport.errors import (
    CircuitOpen,
    SignatureInvalid,
    SourceError,
    SourceMalformed,
    SourceNotFound,
    SourceRejected,
    SourceTimeout,
    SourceUnavailable,
)
from connectors.transport.resilience import (
    CallOutcome,
    CircuitBreaker,
    ConcurrencyLimit,
    RetryPolicy,
    SourcePolicy,
    TTLCache,
)
from connectors.transport.xroad import (
    ClientId,
    ServiceId,
    XRoadClient,
    XRoadRequest,
    XRoadRequestError,
    XRoadResult,
    parse_xroad_request,
    staff_user_id,
    xroad_error_response,
    xroad_response_headers,
)

__all__ = [
    "CallOutcome",
    "CircuitBreaker",
    "CircuitOpen",
    "ClientId",
    "ConcurrencyLimit",
    "RetryPolicy",
    "ServiceId",
    "SignatureInvalid",
    "SourceError",
    "SourceMalformed",
    "SourceNotFound",
    "SourcePolicy",
    "SourceRejected",
    "SourceTimeout",
    "SourceUnavailable",
    "TTLCache",
    "XRoadClient",
    "XRoadRequest",
    "XRoadRequestError",
    "XRoadResult",
    "parse_xroad_request",
    "staff_user_id",
    "xroad_error_response",
    "xroad_response_headers",
]
