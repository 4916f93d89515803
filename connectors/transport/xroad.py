"""X-Road Message Protocol for REST (r1), client and server side, as used by Tunduk and the Uzbek platform.

Protocol (see `../shared/standards/x-road/doc/Protocols/pr-rest_x-road_message_protocol_for_rest.md`):

- request: `{METHOD} {security server}/r1/{INSTANCE}/{CLASS}/{MEMBER}/{SUBSYSTEM}/{SERVICE}[/path][?query]`, each
  identifier part percent-encoded on its own (§4.1, §4.2); identifiers use only `A-Z a-z 0-9 ' ( ) + , - . = ?`
  (§4.8; note: no underscore, no space), so `ClientId`/`ServiceId` refuse anything else at configuration time.
- request headers: `X-Road-Client: INSTANCE/CLASS/MEMBER[/SUBSYSTEM]` (mandatory), `X-Road-Id` (a fresh UUID4
  for every HTTP request, so every retry is its own message), `X-Road-UserId` (the staff user who caused the
  call), optional `X-Road-Issue` (the application the call is for). Non-ASCII user ids are percent-encoded.
- response: the provider's status/body as-is, or, when X-Road itself failed, an `X-Road-Error: {type}` header with
  a JSON body `{"type", "message", "detail"}` (§4.6).

Client: `XRoadClient.get/post` apply the source's `SourcePolicy` (timeout, retries, breaker, concurrency, cache)
and map every outcome to `connectors.transport.errors`:

| what came back                                              | raised                                     |
|-------------------------------------------------------------|--------------------------------------------|
| `X-Road-Error: Client.*`, `...AccessDenied/UnknownService`    | `SourceRejected` (not retried)             |
| `X-Road-Error: ...Timeout`, or `NetworkError` "timed out"     | `SourceTimeout` (retried if idempotent)    |
| any other `X-Road-Error: Server.*`                           | `SourceUnavailable` (retried if idempotent)|
| read/connect timeout, HTTP 408/504                          | `SourceTimeout`                            |
| connection refused/reset, HTTP 429/5xx                      | `SourceUnavailable`                        |
| HTTP 404 with a JSON body (the provider's "no such subject") | `SourceNotFound` (not retried, not a breaker failure) |
| HTTP 404 without a JSON body (wrong path), other 3xx/4xx    | `SourceRejected`                           |
| 2xx with a body that is not JSON (or empty, except 204)     | `SourceMalformed` (not retried)            |

Providers (the simulator) signal "the subject is not in this registry" with **404 and a JSON body**, e.g.
`{"error": "not_found", "message": "..."}`; a bare 404 page means a wrong URL and must not read as "no data".

Only GETs (and POSTs explicitly marked `idempotent=True`) are retried on timeouts/5xx; a request that certainly
never left (connection refused, connect timeout) may be retried for any method.

Server side (for the simulator, so both ends agree): `parse_xroad_request(flask.request)` validates the path and
headers and returns an `XRoadRequest` (it unpacks as `client, service, user_id, request_id`; `.path` is the rest
of the path after the service code); `xroad_error_response(type, message)` builds the X-Road error response;
`xroad_response_headers(xreq)` the headers the provider security server adds to a response.
"""

from __future__ import annotations

import base64
import hashlib
import json as jsonlib
import re
import string
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

import httpx

from connectors.transport.errors import (
    SourceError,
    SourceMalformed,
    SourceNotFound,
    SourceRejected,
    SourceTimeout,
    SourceUnavailable,
)
from connectors.transport.resilience import SourcePolicy

PROTOCOL_VERSION = "r1"
_ID_PART = re.compile(r"^[A-Za-z0-9'()+,\-.=?]+$")
# Header values: printable ASCII stays, everything else (and '%') is percent-encoded.
_HEADER_SAFE = "".join(c for c in string.punctuation if c != "%")
# X-Road errors that mean "our request or configuration is wrong": retrying will not help.
_CONFIG_ERRORS = frozenset({
    "AccessDenied", "UnknownService", "UnknownMember", "UnknownClient", "ServiceDisabled", "ServiceNotFound",
    "InvalidClientIdentifier", "InvalidServiceIdentifier", "InvalidRequest", "MissingHeaderField",
})


def _check_part(part: str, what: str) -> str:
    if not part or not _ID_PART.match(part):
        raise ValueError(f"invalid X-Road identifier part {what}={part!r}: only letters, digits and '()+,-.=? "
                         "are allowed")
    return part


def _encode_header(value: str) -> str:
    return quote(value, safe=_HEADER_SAFE)


# --------------------------------------------------------------------------------------------------------------
# Identifiers
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientId:
    """A member or subsystem: `INSTANCE/CLASS/MEMBER[/SUBSYSTEM]`."""

    instance: str
    member_class: str
    member_code: str
    subsystem: str | None = None

    def __post_init__(self) -> None:
        _check_part(self.instance, "instance")
        _check_part(self.member_class, "memberClass")
        _check_part(self.member_code, "memberCode")
        if self.subsystem is not None:
            _check_part(self.subsystem, "subsystem")

    @classmethod
    def parse(cls, text: str | ClientId, *, encoded: bool = False) -> ClientId:
        if isinstance(text, ClientId):
            return text
        parts = [unquote(p) if encoded else p for p in str(text).split("/")]
        if len(parts) not in (3, 4):
            raise ValueError(f"X-Road client id must be INSTANCE/CLASS/MEMBER[/SUBSYSTEM], got {text!r}")
        return cls(*parts)

    @property
    def parts(self) -> tuple[str, ...]:
        base = (self.instance, self.member_class, self.member_code)
        return base if self.subsystem is None else (*base, self.subsystem)

    def encoded(self) -> str:
        return "/".join(quote(p, safe="") for p in self.parts)

    def __str__(self) -> str:
        return "/".join(self.parts)


@dataclass(frozen=True)
class ServiceId:
    """A service: `INSTANCE/CLASS/MEMBER[/SUBSYSTEM]/SERVICE`."""

    instance: str
    member_class: str
    member_code: str
    subsystem: str | None
    service_code: str

    def __post_init__(self) -> None:
        ClientId(self.instance, self.member_class, self.member_code, self.subsystem)
        _check_part(self.service_code, "serviceCode")

    @classmethod
    def parse(cls, text: str | ServiceId, *, encoded: bool = False) -> ServiceId:
        if isinstance(text, ServiceId):
            return text
        parts = [unquote(p) if encoded else p for p in str(text).split("/")]
        if len(parts) == 5:
            return cls(*parts)
        if len(parts) == 4:
            return cls(parts[0], parts[1], parts[2], None, parts[3])
        raise ValueError(f"X-Road service id must be INSTANCE/CLASS/MEMBER[/SUBSYSTEM]/SERVICE, got {text!r}")

    @property
    def parts(self) -> tuple[str, ...]:
        provider = (self.instance, self.member_class, self.member_code)
        if self.subsystem is not None:
            provider = (*provider, self.subsystem)
        return (*provider, self.service_code)

    @property
    def provider(self) -> ClientId:
        return ClientId(self.instance, self.member_class, self.member_code, self.subsystem)

    def path(self) -> str:
        """`/r1/{serviceId}` with every part percent-encoded on its own."""
        return f"/{PROTOCOL_VERSION}/" + "/".join(quote(p, safe="") for p in self.parts)

    def __str__(self) -> str:
        return "/".join(self.parts)


def staff_user_id(username: str, country: str = "UZ") -> str:
    """An `X-Road-UserId` for a staff user: the protocol asks for an ISO country-code prefix (e.g. `UZjdoe`)."""
    return f"{country}{username}"


def user_id_of(user) -> str | None:
    """The `X-Road-UserId` of the staff user who caused a call; None for the system (a job or a command)."""
    return staff_user_id(user.username) if user is not None else None


# --------------------------------------------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class XRoadResult:
    """A successful answer. `latency_ms` is wall time for the whole call, back-offs and retries included."""

    json: Any
    status_code: int
    request_id: str
    latency_ms: float
    attempts: int
    cached: bool = False
    request_ids: tuple[str, ...] = ()
    request_hash: str | None = None
    service: str = ""
    source: str = ""


@dataclass(frozen=True)
class _Answer:
    json: Any
    status_code: int
    request_id: str
    request_ids: tuple[str, ...]
    request_hash: str | None


def error_for_xroad_error(xroad_type: str, message: str = "", **kwargs: Any) -> SourceError:
    """The typed error for an `X-Road-Error` type (and the message from its body)."""
    last = xroad_type.rsplit(".", 1)[-1]
    text = f"X-Road error {xroad_type}: {message}".rstrip(": ")
    kwargs.setdefault("xroad_error", xroad_type)
    if xroad_type.startswith("Client.") or last in _CONFIG_ERRORS:
        return SourceRejected(text, **kwargs)
    if "timeout" in last.lower() or "timed out" in message.lower():
        return SourceTimeout(text, **kwargs)
    return SourceUnavailable(text, **kwargs)


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class XRoadClient:
    """Calls one X-Road REST service through a security server, under one source's `SourcePolicy`."""

    def __init__(
        self,
        base_url: str,
        client_id: str | ClientId,
        service: str | ServiceId,
        policy: SourcePolicy | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"X-Road base_url must be an http(s) URL, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.client_id = ClientId.parse(client_id)
        self.service = ServiceId.parse(service)
        self.policy = policy or SourcePolicy.from_config(str(self.service))
        self._owns_http = http is None
        self._http = http or httpx.Client(follow_redirects=False)
        self._timeout = httpx.Timeout(self.policy.timeout, connect=self.policy.connect_timeout or self.policy.timeout)

    @property
    def source(self) -> str:
        return self.policy.name

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> XRoadClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, path_suffix: str = "") -> str:
        """The full URL for a path below the service; `path_suffix` is raw text, encoded here."""
        if path_suffix and not path_suffix.startswith("/"):
            path_suffix = "/" + path_suffix
        if "?" in path_suffix or "#" in path_suffix:
            raise ValueError("pass query parameters as params, not in path_suffix")
        if any(segment in (".", "..") for segment in path_suffix.split("/")):
            raise ValueError(f"dot segments are not allowed in path_suffix: {path_suffix!r}")
        return self.base_url + self.service.path() + quote(path_suffix, safe="/:@!$&'()*+,;=-._~")

    def headers(self, request_id: str, user_id: str | None = None, issue: str | None = None) -> dict[str, str]:
        headers = {
            "X-Road-Client": self.client_id.encoded(),
            "X-Road-Id": request_id,
            "Accept": "application/json",
        }
        if user_id:
            headers["X-Road-UserId"] = _encode_header(user_id)
        if issue:
            headers["X-Road-Issue"] = _encode_header(issue)
        return headers

    def get(
        self,
        path_suffix: str = "",
        params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        user_id: str | None = None,
        *,
        issue: str | None = None,
        use_cache: bool = True,
        check: Callable[[Any], None] | None = None,
    ) -> XRoadResult:
        """GET (idempotent: retried, cached for the policy's TTL unless `use_cache=False`)."""
        cache_key = None
        if use_cache:
            query = sorted(httpx.QueryParams(params or {}).multi_items())
            cache_key = ("GET", self.url(path_suffix), tuple(query))
        return self.request("GET", path_suffix, params=params, user_id=user_id, issue=issue, idempotent=True,
                            cache_key=cache_key, check=check)

    def post(
        self,
        path_suffix: str = "",
        json: Any = None,
        user_id: str | None = None,
        *,
        issue: str | None = None,
        idempotent: bool = False,
        cache_key: Any = None,
        check: Callable[[Any], None] | None = None,
    ) -> XRoadResult:
        """POST; retried only if `idempotent=True` (e.g. a search); cached only with an explicit `cache_key`."""
        if cache_key is not None:
            cache_key = ("POST", self.url(path_suffix), cache_key)
        return self.request("POST", path_suffix, json=json, user_id=user_id, issue=issue, idempotent=idempotent,
                            cache_key=cache_key, check=check)

    def request(
        self,
        method: str,
        path_suffix: str = "",
        *,
        params: Any = None,
        json: Any = None,
        user_id: str | None = None,
        issue: str | None = None,
        idempotent: bool,
        cache_key: Any = None,
        check: Callable[[Any], None] | None = None,
    ) -> XRoadResult:
        """One logical call. `check(json)`, if given, runs inside each attempt before the answer is accepted (and
        cached); a `SourceError` it raises (e.g. `SourceMalformed`, `SignatureInvalid`) is that attempt's outcome.
        """
        url = self.url(path_suffix)
        request_ids: list[str] = []

        def attempt(_number: int) -> _Answer:
            request_id = str(uuid.uuid4())
            request_ids.append(request_id)
            answer = self._send(method, url, params, json, self.headers(request_id, user_id, issue), request_id,
                                tuple(request_ids))
            if check is not None:
                try:
                    check(answer.json)
                except SourceError as error:
                    error.source = error.source or self.source
                    error.request_id = error.request_id or request_id
                    error.status_code = error.status_code or answer.status_code
                    raise
            return answer

        outcome = self.policy.call(attempt, idempotent=idempotent, cache_key=cache_key)
        answer: _Answer = outcome.value
        return XRoadResult(
            json=answer.json,
            status_code=answer.status_code,
            request_id=answer.request_id,
            latency_ms=outcome.latency_ms,
            attempts=outcome.attempts,
            cached=outcome.cached,
            request_ids=answer.request_ids,
            request_hash=answer.request_hash,
            service=str(self.service),
            source=self.source,
        )

    def _send(self, method: str, url: str, params: Any, json: Any, headers: dict[str, str], request_id: str,
              request_ids: tuple[str, ...]) -> _Answer:
        common = {"source": self.source, "request_id": request_id}
        try:
            response = self._http.request(method, url, params=params, json=json, headers=headers,
                                          timeout=self._timeout)
        except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise SourceTimeout(f"connect timeout: {exc}", request_sent=False, **common) from exc
        except httpx.TimeoutException as exc:
            raise SourceTimeout(f"no answer within {self.policy.timeout}s: {exc}", **common) from exc
        except httpx.ConnectError as exc:
            raise SourceUnavailable(f"cannot connect: {exc}", request_sent=False, **common) from exc
        except httpx.TransportError as exc:
            raise SourceUnavailable(f"transport error: {exc}", **common) from exc
        return self._interpret(response, request_id, request_ids)

    def _interpret(self, response: httpx.Response, request_id: str, request_ids: tuple[str, ...]) -> _Answer:
        status = response.status_code
        common = {"source": self.source, "request_id": request_id, "status_code": status}
        xroad_error = response.headers.get("X-Road-Error")
        if xroad_error:
            body = _json_or_none(response)
            body = body if isinstance(body, dict) else {}
            raise error_for_xroad_error(xroad_error, str(body.get("message") or ""), detail=body.get("detail"),
                                        **common)
        if status == 404:
            body = _json_or_none(response)
            if isinstance(body, dict):
                raise SourceNotFound(str(body.get("message") or body.get("error") or "not found"), **common)
            raise SourceRejected("404 without a JSON body: wrong service path?", **common)
        if status in (408, 504):
            raise SourceTimeout(f"HTTP {status}", **common)
        if status == 429 or status >= 500:
            raise SourceUnavailable(f"HTTP {status}", **common)
        if 300 <= status < 400:
            raise SourceRejected(f"HTTP {status} redirect to {response.headers.get('Location')!r} not followed",
                                 **common)
        if status >= 400:
            body = _json_or_none(response)
            message = body.get("message") if isinstance(body, dict) else None
            raise SourceRejected(f"HTTP {status}" + (f": {message}" if message else ""), **common)
        echoed = response.headers.get("X-Road-Id")
        if echoed and echoed != request_id:
            raise SourceMalformed(f"response X-Road-Id {echoed!r} does not match the request", **common)
        if status == 204:
            payload = None
        else:
            if not response.content:
                raise SourceMalformed("empty body", **common)
            try:
                payload = response.json()
            except ValueError as exc:
                raise SourceMalformed(f"body is not JSON: {exc}", **common) from exc
        return _Answer(payload, status, request_id, request_ids, response.headers.get("X-Road-Request-Hash"))


# --------------------------------------------------------------------------------------------------------------
# Server side (simulator)
# --------------------------------------------------------------------------------------------------------------


def xroad_error_body(type_: str, message: str, detail: str | None = None) -> dict[str, str]:
    return {"type": type_, "message": message, "detail": detail or str(uuid.uuid4())}


def xroad_error_response(type_: str, message: str, *, status: int | None = None, detail: str | None = None,
                         request_id: str | None = None):
    """The response a security server gives when X-Road itself failed: `X-Road-Error` header + JSON body.

    Status defaults to 400 for `Client.*` types and 500 otherwise (protocol §4.6).
    """
    from flask import Response

    if status is None:
        status = 400 if type_.startswith("Client.") else 500
    response = Response(jsonlib.dumps(xroad_error_body(type_, message, detail)), status=status,
                        content_type="application/json;charset=utf-8")
    response.headers["X-Road-Error"] = type_
    if request_id:
        response.headers["X-Road-Id"] = request_id
    return response


class XRoadRequestError(Exception):
    """A request that does not follow the protocol; `.response()` is the X-Road error response to send."""

    def __init__(self, type_: str, message: str, status: int | None = None, request_id: str | None = None) -> None:
        super().__init__(f"{type_}: {message}")
        self.type = type_
        self.message = message
        self.status = status
        self.request_id = request_id

    def response(self):
        return xroad_error_response(self.type, self.message, status=self.status, request_id=self.request_id)


@dataclass(frozen=True)
class XRoadRequest:
    """A parsed incoming X-Road REST request. Unpacks as `client, service, user_id, request_id`."""

    client: ClientId
    service: ServiceId
    user_id: str | None
    request_id: str
    path: str = "/"
    issue: str | None = None
    method: str = "GET"
    hash_input: bytes = field(default=b"", repr=False)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.client, self.service, self.user_id, self.request_id))


def _raw_path(req) -> str:
    raw = req.environ.get("RAW_URI") or req.environ.get("REQUEST_URI")
    if raw:
        raw = raw.split("?", 1)[0].split("#", 1)[0]
        if "://" in raw:  # absolute-form request target
            raw = "/" + raw.split("://", 1)[1].split("/", 1)[-1]
        script_root = req.script_root or ""
        if script_root and raw.startswith(script_root):
            raw = raw[len(script_root):]
        return raw
    return quote(req.path, safe="/")


def parse_xroad_request(req=None, *, services: Iterable[str | ServiceId] | None = None) -> XRoadRequest:
    """Validate an incoming X-Road REST request (a Flask/werkzeug request; default `flask.request`).

    The service id is taken from the path: five parts (with subsystem) unless `services` lists the known
    service ids, in which case the longest one the path starts with is used (so subsystem-less ids work).
    Raises `XRoadRequestError` (`Client.BadRequest`, or `Server.ServerProxy.UnknownService`).
    """
    if req is None:
        from flask import request as req
    request_id = req.headers.get("X-Road-Id") or str(uuid.uuid4())
    raw = _raw_path(req)
    if len(raw) > 2000:
        raise XRoadRequestError("Client.BadRequest", "request URI too long", request_id=request_id)
    segments = raw.split("/")
    if len(segments) < 2 or segments[0] != "" or segments[1] != PROTOCOL_VERSION:
        raise XRoadRequestError("Client.BadRequest", f"the path must start with /{PROTOCOL_VERSION}/",
                                request_id=request_id)
    parts = [unquote(p) for p in segments[2:]]

    service: ServiceId | None = None
    used = 5
    if services is not None:
        known = sorted((ServiceId.parse(s) for s in services), key=lambda s: len(s.parts), reverse=True)
        for candidate in known:
            if tuple(parts[: len(candidate.parts)]) == candidate.parts:
                service, used = candidate, len(candidate.parts)
                break
        if service is None:
            raise XRoadRequestError("Server.ServerProxy.UnknownService",
                                    f"unknown service {'/'.join(parts[:5])!r}", request_id=request_id)
    else:
        if len(parts) < 5:
            raise XRoadRequestError("Client.BadRequest",
                                    "the service id must be INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE",
                                    request_id=request_id)
        try:
            service = ServiceId(*parts[:5])
        except ValueError as exc:
            raise XRoadRequestError("Client.BadRequest", str(exc), request_id=request_id) from exc

    client_headers = req.headers.getlist("X-Road-Client")
    if not client_headers:
        raise XRoadRequestError("Client.BadRequest", "missing X-Road-Client header", request_id=request_id)
    try:
        # Several headers: the protocol says the last one is the client.
        client = ClientId.parse(client_headers[-1].strip(), encoded=True)
    except ValueError as exc:
        raise XRoadRequestError("Client.BadRequest", f"invalid X-Road-Client: {exc}", request_id=request_id) from exc

    user_id = req.headers.get("X-Road-UserId")
    issue = req.headers.get("X-Road-Issue")
    rest = "/" + "/".join(parts[used:])
    hash_input = "\n".join([
        f"{req.method} {raw}" + (f"?{req.query_string.decode('latin-1')}" if req.query_string else ""),
        f"x-road-client: {client}",
        f"x-road-id: {request_id}",
        f"x-road-userid: {user_id or ''}",
    ]).encode("utf-8")
    return XRoadRequest(
        client=client,
        service=service,
        user_id=unquote(user_id) if user_id else None,
        request_id=request_id,
        path=rest,
        issue=unquote(issue) if issue else None,
        method=req.method,
        hash_input=hash_input,
    )


def request_hash(xreq: XRoadRequest, body: bytes = b"") -> str:
    """`X-Road-Request-Hash`: base64(SHA512(SHA512(headers) + SHA512(body))), or base64(SHA512(headers)).

    "headers" is, in this implementation, the request line and the X-Road request headers (client, id, user),
    one per line: the protocol does not say which headers, only that the hash binds a response to its request.
    """
    head = hashlib.sha512(xreq.hash_input).digest()
    digest = hashlib.sha512(head + hashlib.sha512(body).digest()).digest() if body else head
    return base64.b64encode(digest).decode("ascii")


def xroad_response_headers(xreq: XRoadRequest, body: bytes = b"") -> dict[str, str]:
    """The headers the provider's security server adds to every response."""
    return {
        "X-Road-Client": xreq.client.encoded(),
        "X-Road-Service": "/".join(quote(p, safe="") for p in xreq.service.parts),
        "X-Road-Id": xreq.request_id,
        "X-Road-Request-Id": str(uuid.uuid4()),
        "X-Road-Request-Hash": request_hash(xreq, body),
    }


__all__ = [
    "ClientId",
    "ServiceId",
    "XRoadClient",
    "XRoadRequest",
    "XRoadRequestError",
    "XRoadResult",
    "error_for_xroad_error",
    "parse_xroad_request",
    "request_hash",
    "staff_user_id",
    "user_id_of",
    "xroad_error_body",
    "xroad_error_response",
    "xroad_response_headers",
]
