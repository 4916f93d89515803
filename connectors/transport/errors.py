"""What can go wrong when asking a source, as a small exception hierarchy.

Every transport (X-Road REST, DCI) maps whatever happened on the wire to one of these, so connectors and the
collection job never look at HTTP status codes or `httpx` exceptions.

| exception           | meaning                                                 | retry | later | breaker | pull      |
|---------------------|---------------------------------------------------------|-------|-------|---------|-----------|
| `SourceTimeout`     | no answer in time (read/connect timeout, 408/504)       | yes   | yes   | failure | timeout   |
| `SourceUnavailable` | 5xx, connection refused/reset, X-Road `Server.*` errors | yes   | yes   | failure | error     |
| `SourceMalformed`   | body not parseable, or fails the schema                 | no    | no    | failure | error     |
| `SignatureInvalid`  | DCI signature missing, wrong, or from an unknown key    | no    | no    | failure | error     |
| `SourceRejected`    | 4xx / X-Road `Client.*`, access denied, unknown service | no    | no    | answer  | error     |
| `SourceNotFound`    | the subject is not in that registry: an answer          | no    | no    | answer  | not_found |
| `CircuitOpen`       | we did not call: the source's breaker is open           | no    | yes   | --      | error     |

- *retry* (`retryable`): the same call may be repeated at once, inside the call's retry budget (`RetryPolicy`).
- *later* (`transient`): the collection job may try again later (after its own back-off); a non-transient error will not
  go away by waiting and should go to manual verification at once.
- *breaker* (`counts_as_failure`): "failure" errors count towards opening the circuit; "answer" errors prove the
  source is up and count as a success (they reset the failure run); `CircuitOpen` is raised by the breaker itself.
- *pull* (`pull_status`): the `data_pull` status to record (ok / not_found / error / timeout).
- `request_sent`: False when the request certainly never reached the source (connection refused, connect
  timeout, breaker open, no free concurrency slot); such errors may be retried even for non-idempotent calls.
"""

from __future__ import annotations


class SourceError(Exception):
    """Base class: a call to an external source did not give a usable answer."""

    retryable = False
    transient = False
    counts_as_failure = True
    pull_status = "error"

    def __init__(
        self,
        message: str = "",
        *,
        source: str | None = None,
        request_id: str | None = None,
        status_code: int | None = None,
        xroad_error: str | None = None,
        detail: str | None = None,
        request_sent: bool = True,
    ) -> None:
        super().__init__(message or self.__class__.__name__)
        self.message = message or self.__class__.__name__
        self.source = source
        self.request_id = request_id
        self.status_code = status_code
        self.xroad_error = xroad_error
        self.detail = detail
        self.request_sent = request_sent
        # Filled in by the resilience layer once the call is over.
        self.attempts = 0
        self.latency_ms: float | None = None

    def __str__(self) -> str:
        parts = [self.message]
        if self.source:
            parts.append(f"source={self.source}")
        if self.xroad_error:
            parts.append(f"x-road-error={self.xroad_error}")
        if self.status_code is not None:
            parts.append(f"status={self.status_code}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return " ".join(parts)


class SourceTimeout(SourceError):
    """No answer within the per-attempt timeout (or the source/X-Road reported a timeout)."""

    retryable = True
    transient = True
    pull_status = "timeout"


class SourceUnavailable(SourceError):
    """The source or the X-Road security server is down or failing: 5xx, refused or reset connections."""

    retryable = True
    transient = True


class SourceMalformed(SourceError):
    """The source answered, but the body is not parseable or does not follow the agreed schema."""


class SignatureInvalid(SourceError):
    """A DCI message whose signature is missing, does not verify, or names a key we do not trust."""


class SourceRejected(SourceError):
    """The source (or X-Road) refused the request: a 4xx or `Client.*` error, access denied, unknown service.

    The source is up; the request or our configuration is wrong, so repeating it will not help.
    """

    counts_as_failure = False


class SourceNotFound(SourceError):
    """The subject is not in that registry. Not a failure: a definite answer ("nothing recorded")."""

    counts_as_failure = False
    pull_status = "not_found"


class CircuitOpen(SourceError):
    """The source's circuit breaker is open: we fail fast without calling it."""

    transient = True

    def __init__(self, message: str = "circuit open", *, retry_after: float | None = None, **kwargs) -> None:
        kwargs.setdefault("request_sent", False)
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


__all__ = [
    "CircuitOpen",
    "SignatureInvalid",
    "SourceError",
    "SourceMalformed",
    "SourceNotFound",
    "SourceRejected",
    "SourceTimeout",
    "SourceUnavailable",
]
