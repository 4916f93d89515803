"""The DCI (SPDCI) registry API: envelopes, Ed25519 signatures, JWKS, and schema validation.

Every DCI message is an envelope `{"signature": ..., "header": {...}, "message": {...}}` (see the CRVS and Social
Registry OpenAPI specs in `dci_schemas/`). This module builds and parses the messages SRSP uses:

- sync search by identifier (`/registry/sync/search`, `query_type: idtype-value`): `build_search_request`,
  `parse_search_response`; for the simulator, `build_search_response`;
- subscribe to vital events (`/registry/subscribe`) and receive notifications (`/registry/notify`):
  `build_subscribe_request`, `parse_ack`, `parse_notify`; for the simulator, `build_ack`, `build_on_subscribe`,
  `build_notify`;
- async search (`/registry/search`, results by `on-search` callback), unsubscribe, txn status:
  `build_unsubscribe_request`, `build_txn_status_request`, `receive_on_search`, `receive_on_subscribe`; for the
  simulator, `build_on_unsubscribe`, `build_txn_on_status`; `callback_url` says where a callback goes;
- `DCIClient`: the above over an `XRoadClient` (DCI over X-Road, so one source policy governs both) or a
  `DCITransport` (the same, or a plain DCI server without the X-Road service path, with a bearer token that is
  fixed or obtained by OAuth2 client credentials);
- `event_kind`: births and deaths under the spellings in use (`BIRTH`, `LiveBirth`, the namespaced codes);
  `error_body`: 4xx bodies that are both the spec's `errors` and an ERR acknowledgement.

Signatures
----------
The spec's `MsgSignature` is a string in the HTTP-signature style SPDCI inherited from Beckn:

    Signature: namespace="spdci", kidId="{sender_id}|{kid}|ed25519", algorithm="ed25519",
               created="{unix time}", expires="{unix time}", headers="(created) (expires) digest",
               signature="{base64 of the Ed25519 signature of the signing string}"

(one line; the spec's own example leaves the last quote unclosed, and the samples use namespace "dci": both
namespaces are accepted on input, "spdci" is written.) The signing string, as the `headers` parameter says, is

    (created): {created}\\n(expires): {expires}\\ndigest: BLAKE-512={base64(BLAKE2b-512(canonical body))}

where the canonical body is `{"header": header, "message": message}` serialised as JSON with keys sorted at every
level, no whitespace (`separators=(",", ":")`), UTF-8 without escaping (`ensure_ascii=False`). That equals RFC 8785
(JCS) for the messages we exchange (integers and strings, keys in the Basic Multilingual Plane). The signature and
digest are standard base64 (the spec writes "Base64"); JWK `x` is base64url without padding (RFC 8037).

The `kid` is the key's RFC 7638 thumbprint unless configured otherwise (the JWKS spec describes `kid` that way).
`Keyring.verify` refuses (`SignatureInvalid`) a missing or unparseable signature, an algorithm other than Ed25519,
a kid we do not trust, a kid bound to another sender than `header.sender_id`, a signature created in the future or
expired (with `clock_skew` leeway), and a digest or Ed25519 check that fails -- i.e. any change to header or message.

Schema validation
-----------------
`DCISchemas` validates envelopes against the request/response schemas of an endpoint, extracted at run time from
the OpenAPI YAML. Specs are read from `spec_dir`, else `$SRSP_DCI_SPEC_DIR`, else the copies in `dci_schemas/`
(public standards, copied so the application does not depend on `../shared/` at run time; see the README there for
the defects fixed in the copies). Outgoing messages that fail raise `DCISchemaError` (a bug on our side);
incoming ones raise `SourceMalformed`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from connectors.transport.errors import (
    SignatureInvalid,
    SourceMalformed,
    SourceNotFound,
    SourceRejected,
    SourceTimeout,
    SourceUnavailable,
)
from connectors.transport.xroad import XRoadClient

VERSION = "1.0.0"
NAMESPACE = "spdci"
ACCEPTED_NAMESPACES = frozenset({"spdci", "dci"})
ALGORITHM = "ed25519"
SIGNED_HEADERS = "(created) (expires) digest"
DIGEST_PREFIX = "BLAKE-512="

QUERY_IDTYPE_VALUE = "idtype-value"
EVENT_BIRTH = "spdci-common:RegistryEventType:LiveBirth"
EVENT_DEATH = "spdci-common:RegistryEventType:Death"

SYNC_SEARCH = "/registry/sync/search"
SEARCH = "/registry/search"
ON_SEARCH = "/registry/on-search"
SUBSCRIBE = "/registry/subscribe"
ON_SUBSCRIBE = "/registry/on-subscribe"
UNSUBSCRIBE = "/registry/unsubscribe"
ON_UNSUBSCRIBE = "/registry/on-unsubscribe"
TXN_STATUS = "/registry/txn/status"
TXN_ON_STATUS = "/registry/txn/on-status"
SYNC_TXN_STATUS = "/registry/sync/txn/status"
NOTIFY = "/registry/notify"
CALLBACKS = (ON_SEARCH, ON_SUBSCRIBE, ON_UNSUBSCRIBE, TXN_ON_STATUS, NOTIFY)

# The spellings of the two events in use: the spec's namespaced codes, their bare names, and the short forms.
_EVENT_KINDS = {"livebirth": "birth", "birth": "birth", "death": "death"}

DEFAULT_SPEC_DIR = Path(__file__).with_name("dci_schemas")
SPEC_DIR_ENV = "SRSP_DCI_SPEC_DIR"


class DCISchemaError(ValueError):
    """A message we built does not follow the DCI schema (a bug on our side)."""

    def __init__(self, message: str, errors: Sequence[str] = ()) -> None:
        super().__init__(message + ("".join(f"\n  - {e}" for e in errors) if errors else ""))
        self.errors = list(errors)


# --------------------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------------------


def event_kind(event_type: Any) -> str | None:
    """"birth" or "death" for any spelling of the two events (`BIRTH`, `LiveBirth`, `live_birth`,
    `spdci-common:RegistryEventType:LiveBirth`, `DEATH`, ...); None for other events."""
    if not isinstance(event_type, str):
        return None
    name = event_type.rsplit(":", 1)[-1].replace("_", "").replace("-", "").replace(" ", "").lower()
    return _EVENT_KINDS.get(name)


def callback_url(sender_uri: str, endpoint: str) -> str:
    """Where to deliver a callback (`endpoint`, e.g. `/registry/on-search`) for a request's `sender_uri`.

    A `sender_uri` that already names a callback (`.../notify`, `.../on-search`, ...) has its last segment
    replaced by the wanted one (`txn/on-status` for the status), so one receiver URL serves as the base of its
    siblings; one ending in `/registry` gets the callback's name; any other is a base URL below which the spec's
    path is appended.
    """
    name = endpoint.rsplit("/", 1)[-1]
    parts = urlsplit(sender_uri)
    path = parts.path.rstrip("/")
    last = path.rsplit("/", 1)[-1]
    if last == name:
        pass
    elif last in {c.rsplit("/", 1)[-1] for c in CALLBACKS}:
        path = path[: len(path) - len(last)] + endpoint[len("/registry/"):]
    elif last == "registry":
        path = path + endpoint[len("/registry"):]
    else:
        path = path + endpoint
    return parts._replace(path=path).geturl()


def error_body(code: str, message: str, correlation_id: str | None = None) -> dict[str, Any]:
    """A 4xx/5xx body read both ways: the spec's `HttpErrorResponse` (`errors`) and an ERR acknowledgement
    (`message.ack_status: ERR` with `error.code`), which clients of the profile also accept."""
    message = message[:999]
    return {"errors": [{"code": code, "message": message}],
            **build_ack(correlation_id, ack_status="ERR", error=(code, message))}


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the byte string that is digested and signed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_id() -> str:
    return str(uuid.uuid4())


def timestamp(now: datetime | None = None) -> str:
    """ISO 8601 with time zone and milliseconds, e.g. `2024-05-01T09:30:00.123Z`."""
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def body_digest(header: Mapping[str, Any], message: Any) -> str:
    digest = hashlib.blake2b(canonical_json({"header": header, "message": message}), digest_size=64).digest()
    return DIGEST_PREFIX + base64.b64encode(digest).decode("ascii")


def signing_string(created: int, expires: int, digest: str) -> bytes:
    return f"(created): {created}\n(expires): {expires}\ndigest: {digest}".encode()


_SIG_PARAM = re.compile(r'([A-Za-z]+)\s*=\s*"([^"]*)"?')


def parse_signature(value: Any) -> dict[str, str]:
    """The parameters of a `Signature: k="v", ...` string; raises `SignatureInvalid` if it is not one."""
    if not isinstance(value, str) or not value.strip():
        raise SignatureInvalid("signature missing")
    text = value.strip()
    if text.lower().startswith("signature:"):
        text = text[len("signature:"):]
    params = {k: v for k, v in _SIG_PARAM.findall(text)}
    missing = [k for k in ("kidId", "algorithm", "created", "expires", "headers", "signature") if k not in params]
    if missing:
        raise SignatureInvalid(f"signature lacks {', '.join(missing)}")
    return params


def jwk_thumbprint(x: str) -> str:
    """RFC 7638 thumbprint of an Ed25519 OKP key (base64url SHA-256 of the required members, sorted)."""
    return b64url(hashlib.sha256(canonical_json({"crv": "Ed25519", "kty": "OKP", "x": x})).digest())


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _public_key(key: Ed25519PublicKey | bytes | str) -> Ed25519PublicKey:
    if isinstance(key, Ed25519PublicKey):
        return key
    raw = b64url_decode(key) if isinstance(key, str) else key
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


# --------------------------------------------------------------------------------------------------------------
# Keys, signing, JWKS
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrustedKey:
    kid: str
    key: Ed25519PublicKey
    sender_id: str | None  # the sender this key may sign for; None: any sender


@dataclass(frozen=True)
class VerifiedSignature:
    sender_id: str
    kid: str
    created: int
    expires: int


class Keyring:
    """Our own Ed25519 signing key (with its kid) and the public keys we trust, by kid.

    Our own public key is trusted too, bound to our own `sender_id` (so loopback tests work, and a message that
    claims another sender but is signed with our key is still refused).
    """

    def __init__(
        self,
        sender_id: str,
        private_key: Ed25519PrivateKey | None = None,
        kid: str | None = None,
        *,
        signature_ttl: int = 300,
        clock_skew: int = 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not sender_id:
            raise ValueError("sender_id is required")
        self.sender_id = sender_id
        self._private = private_key
        self.signature_ttl = int(signature_ttl)
        self.clock_skew = int(clock_skew)
        self._clock = clock
        self._lock = threading.Lock()
        self._trusted: dict[str, TrustedKey] = {}
        self.kid = None
        if private_key is not None:
            self.kid = kid or jwk_thumbprint(b64url(_raw_public(private_key.public_key())))
            self.trust(self.kid, private_key.public_key(), sender_id=sender_id)

    # -- construction ------------------------------------------------------------------------------------------

    @classmethod
    def generate(cls, sender_id: str, kid: str | None = None, **kwargs: Any) -> Keyring:
        return cls(sender_id, Ed25519PrivateKey.generate(), kid, **kwargs)

    @classmethod
    def from_config(cls, sender_id: str, private_key: str | None = None, kid: str | None = None,
                    **kwargs: Any) -> Keyring:
        """`private_key`: the 32-byte Ed25519 seed as base64url, or a PEM (PKCS#8) text; None: verify only."""
        key = None
        if private_key:
            text = private_key.strip()
            if text.startswith("-----BEGIN"):
                loaded = serialization.load_pem_private_key(text.encode(), password=None)
                if not isinstance(loaded, Ed25519PrivateKey):
                    raise ValueError("the DCI signing key must be an Ed25519 key")
                key = loaded
            else:
                key = Ed25519PrivateKey.from_private_bytes(b64url_decode(text))
        return cls(sender_id, key, kid, **kwargs)

    def private_key_b64(self) -> str:
        """Our private key as the base64url seed that `from_config` reads (keep it secret)."""
        if self._private is None:
            raise ValueError("this keyring has no private key")
        return b64url(self._private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                                  serialization.NoEncryption()))

    @property
    def public_key(self) -> Ed25519PublicKey | None:
        return self._private.public_key() if self._private else None

    # -- trust -------------------------------------------------------------------------------------------------

    def trust(self, kid: str, key: Ed25519PublicKey | bytes | str, sender_id: str | None = None) -> None:
        with self._lock:
            self._trusted[kid] = TrustedKey(kid, _public_key(key), sender_id)

    def distrust(self, kid: str) -> None:
        with self._lock:
            self._trusted.pop(kid, None)

    def trusted(self, kid: str) -> TrustedKey | None:
        with self._lock:
            return self._trusted.get(kid)

    def trust_jwks(self, jwks: Mapping[str, Any], sender_id: str | None = None) -> list[str]:
        """Trust every Ed25519 signing key of a JWKS (other key types are skipped); returns the kids added."""
        keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
        if not isinstance(keys, list):
            raise ValueError("a JWKS is an object with a `keys` array")
        added = []
        for jwk in keys:
            if not isinstance(jwk, Mapping) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
                continue
            if jwk.get("use", "sig") != "sig" or jwk.get("alg", "EdDSA") != "EdDSA":
                continue
            x, kid = jwk.get("x"), jwk.get("kid")
            if not isinstance(x, str):
                raise ValueError("an OKP JWK needs `x`")
            kid = kid if isinstance(kid, str) and kid else jwk_thumbprint(x)
            self.trust(kid, x, sender_id)
            added.append(kid)
        return added

    def jwk(self) -> dict[str, str]:
        if self.public_key is None:
            raise ValueError("this keyring has no private key")
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url(_raw_public(self.public_key)), "kid": self.kid,
                "use": "sig", "alg": "EdDSA"}

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """What we publish at `/.well-known/jwks.json`: our own public signing key."""
        return {"keys": [self.jwk()]}

    # -- sign / verify -----------------------------------------------------------------------------------------

    def signature_for(self, header: Mapping[str, Any], message: Any, *, created: int | None = None) -> str:
        if self._private is None:
            raise ValueError("this keyring has no private key")
        created = int(self._clock()) if created is None else created
        expires = created + self.signature_ttl
        digest = body_digest(header, message)
        sig = base64.b64encode(self._private.sign(signing_string(created, expires, digest))).decode("ascii")
        return (f'Signature: namespace="{NAMESPACE}", kidId="{self.sender_id}|{self.kid}|{ALGORITHM}", '
                f'algorithm="{ALGORITHM}", created="{created}", expires="{expires}", headers="{SIGNED_HEADERS}", '
                f'signature="{sig}"')

    def sign(self, envelope: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of the envelope with `signature` over its header and message."""
        header, message = envelope.get("header"), envelope.get("message")
        if header is None:
            raise ValueError("an envelope needs a header")
        return {"signature": self.signature_for(header, message), "header": header, "message": message}

    def verify(self, envelope: Mapping[str, Any]) -> VerifiedSignature:
        """Check the envelope's signature; raises `SignatureInvalid` with the reason."""
        if not isinstance(envelope, Mapping):
            raise SignatureInvalid("not a DCI envelope")
        header = envelope.get("header")
        if not isinstance(header, Mapping):
            raise SignatureInvalid("envelope without a header")
        params = parse_signature(envelope.get("signature"))
        if params.get("namespace", NAMESPACE) not in ACCEPTED_NAMESPACES:
            raise SignatureInvalid(f"unknown signature namespace {params['namespace']!r}")
        kid_parts = params["kidId"].split("|")
        if len(kid_parts) != 3:
            raise SignatureInvalid("kidId must be {sender_id}|{kid}|{algorithm}")
        signer, kid, kid_alg = kid_parts
        if params["algorithm"].lower() != ALGORITHM or kid_alg.lower() != ALGORITHM:
            raise SignatureInvalid(f"unsupported signature algorithm {params['algorithm']!r}")
        if " ".join(params["headers"].split()) != SIGNED_HEADERS:
            raise SignatureInvalid(f"signature must cover {SIGNED_HEADERS!r}")
        if signer != header.get("sender_id"):
            raise SignatureInvalid(f"signed by {signer!r} but header.sender_id is {header.get('sender_id')!r}")
        trusted = self.trusted(kid)
        if trusted is None:
            raise SignatureInvalid(f"unknown key id {kid!r}")
        if trusted.sender_id is not None and trusted.sender_id != signer:
            raise SignatureInvalid(f"key {kid!r} belongs to {trusted.sender_id!r}, not {signer!r}")
        try:
            created, expires = int(params["created"]), int(params["expires"])
            signature = base64.b64decode(params["signature"], validate=True)
        except ValueError as exc:
            raise SignatureInvalid(f"malformed signature parameters: {exc}") from exc
        now = self._clock()
        if created > now + self.clock_skew:
            raise SignatureInvalid("signature created in the future")
        if expires < now - self.clock_skew:
            raise SignatureInvalid("signature expired")
        digest = body_digest(header, envelope.get("message"))
        try:
            trusted.key.verify(signature, signing_string(created, expires, digest))
        except InvalidSignature as exc:
            raise SignatureInvalid("signature does not match the header and message") from exc
        return VerifiedSignature(signer, kid, created, expires)


# --------------------------------------------------------------------------------------------------------------
# Schemas
# --------------------------------------------------------------------------------------------------------------


def _pointer_escape(text: str) -> str:
    return text.replace("~", "~0").replace("/", "~1")


def _format_checker():
    from jsonschema import FormatChecker

    checker = FormatChecker(())

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value: Any) -> bool:  # ISO 8601 with a time zone, as the spec's message_ts demands
        if not isinstance(value, str):
            return True
        return datetime.fromisoformat(value).tzinfo is not None

    @checker.checks("uri")
    def _uri(value: Any) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        return bool(parts.scheme and (parts.netloc or parts.path))

    return checker


_specs: dict[Path, dict[str, Any]] = {}
_specs_lock = threading.Lock()


def _spec(path: Path) -> dict[str, Any]:
    """A DCI OpenAPI document, parsed once per process (and shared by every `DCISchemas`, which only read it)."""
    import yaml

    with _specs_lock:
        if path not in _specs:
            if not path.is_file():
                raise FileNotFoundError(f"DCI spec {path} not found (set {SPEC_DIR_ENV} or spec_dir)")
            with path.open(encoding="utf-8") as handle:  # libyaml's parser when present: 10 times faster
                _specs[path] = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        return _specs[path]


class DCISchemas:
    """Request/response validators for DCI endpoints, read from the OpenAPI YAML of each registry type.

    `registry` is the spec's prefix: `crvs` (civil registration) or `social` (social registry); the file read is
    `{registry}_api_v1.0.0.yaml`.
    """

    def __init__(self, spec_dir: str | os.PathLike[str] | None = None) -> None:
        self.spec_dir = Path(spec_dir or os.environ.get(SPEC_DIR_ENV) or DEFAULT_SPEC_DIR)
        self._lock = threading.Lock()
        self._docs: dict[str, dict[str, Any]] = {}
        self._validators: dict[tuple[str, str, str], Any] = {}

    @cached_property
    def _checker(self):
        return _format_checker()

    def document(self, registry: str) -> dict[str, Any]:
        with self._lock:
            if registry not in self._docs:
                self._docs[registry] = _spec(self.spec_dir / f"{registry}_api_v1.0.0.yaml")
            return self._docs[registry]

    def _pointer(self, doc: Mapping[str, Any], endpoint: str, part: str) -> str:
        try:
            operation = doc["paths"][endpoint]["post"]
        except KeyError:
            raise KeyError(f"no POST {endpoint} in the spec") from None
        base = f"/paths/{_pointer_escape(endpoint)}/post"
        json_type = _pointer_escape("application/json")
        if part == "request":
            return f"{base}/requestBody/content/{json_type}/schema"
        if part != "response":
            raise ValueError("part must be 'request' or 'response'")
        response = operation["responses"]["default"]
        if "$ref" in response:
            return response["$ref"].lstrip("#") + f"/content/{json_type}/schema"
        return f"{base}/responses/default/content/{json_type}/schema"

    def validator(self, registry: str, endpoint: str, part: str):
        from jsonschema import Draft4Validator
        from referencing import Registry
        from referencing.jsonschema import DRAFT4

        key = (registry, endpoint, part)
        doc = self.document(registry)
        with self._lock:
            if key not in self._validators:
                uri = f"urn:spdci:{registry}"
                store = Registry().with_resource(uri, DRAFT4.create_resource(doc))
                schema = {"$ref": f"{uri}#{self._pointer(doc, endpoint, part)}"}
                self._validators[key] = Draft4Validator(schema, registry=store, format_checker=self._checker)
            return self._validators[key]

    def errors(self, registry: str, endpoint: str, body: Any, *, part: str) -> list[str]:
        """Readable validation errors (empty when valid); `oneOf`/`anyOf` failures list their branches' errors."""
        found = []
        for error in sorted(self.validator(registry, endpoint, part).iter_errors(body), key=lambda e: e.path):
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            if error.context and error.validator in ("oneOf", "anyOf"):
                found.append(f"{where}: matches none of the {error.validator} alternatives; nearest one says:")
                # Report the branch that got furthest into the document (for messages: the non-encrypted one).
                branches: dict[Any, list[Any]] = {}
                for sub in error.context:
                    branches.setdefault(sub.relative_schema_path[0], []).append(sub)
                best = min(branches.values(), key=lambda subs: (-max(len(e.absolute_path) for e in subs), len(subs)))
                for sub in best:
                    sub_where = "/".join(str(p) for p in sub.absolute_path) or "(root)"
                    found.append(f"  {sub_where}: {sub.message[:200]}")
            else:
                found.append(f"{where}: {error.message[:200]}")
        return found

    def validate_outgoing(self, registry: str, endpoint: str, body: Any, *, part: str = "request") -> None:
        errors = self.errors(registry, endpoint, body, part=part)
        if errors:
            raise DCISchemaError(f"{part} for {registry} {endpoint} does not follow the DCI schema", errors)

    def validate_incoming(self, registry: str, endpoint: str, body: Any, *, part: str = "response",
                          source: str | None = None, request_id: str | None = None) -> None:
        errors = self.errors(registry, endpoint, body, part=part)
        if errors:
            raise SourceMalformed(f"{part} for {registry} {endpoint} does not follow the DCI schema: "
                                  + "; ".join(errors[:5]), source=source, request_id=request_id)


# --------------------------------------------------------------------------------------------------------------
# Building messages
# --------------------------------------------------------------------------------------------------------------


def build_header(
    action: str,
    sender_id: str,
    receiver_id: str | None = None,
    *,
    total_count: int,
    message_id: str | None = None,
    message_ts: str | None = None,
    sender_uri: str | None = None,
    status: str | None = None,
    completed_count: int | None = None,
) -> dict[str, Any]:
    """`MsgHeader_V1.0.0`, or `MsgCallbackHeader_V1.0.0` when a `status` is given (responses, notify)."""
    header: dict[str, Any] = {
        "version": VERSION,
        "message_id": message_id or new_id(),
        "message_ts": message_ts or timestamp(),
        "action": action,
    }
    if status is not None:
        header["status"] = status
    header["sender_id"] = sender_id
    if sender_uri:
        header["sender_uri"] = sender_uri
    if receiver_id:
        header["receiver_id"] = receiver_id
    header["total_count"] = int(total_count)
    if completed_count is not None:
        header["completed_count"] = int(completed_count)
    header["is_msg_encrypted"] = False
    return header


@dataclass(frozen=True)
class IdQuery:
    """One identifier to look up; `reference_id` correlates the request item with its response item."""

    id_type: str
    value: str
    reference_id: str = field(default_factory=new_id)


def _as_queries(queries: Iterable[IdQuery | tuple[str, str]]) -> list[IdQuery]:
    out = [q if isinstance(q, IdQuery) else IdQuery(str(q[0]), str(q[1])) for q in queries]
    if not out:
        raise ValueError("at least one query is needed")
    return out


def build_search_request(
    sender_id: str,
    receiver_id: str,
    queries: Iterable[IdQuery | tuple[str, str]],
    *,
    reg_type: str | None = None,
    reg_record_type: str | None = None,
    transaction_id: str | None = None,
    locale: str | None = None,
    page_size: int | None = None,
    sender_uri: str | None = None,
) -> dict[str, Any]:
    """An unsigned search envelope: one `search_request` item per identifier (`idtype-value`); `sender_uri` is
    where an async search's on-search goes."""
    now = timestamp()
    items = []
    for query in _as_queries(queries):
        criteria: dict[str, Any] = {"version": VERSION}
        if reg_type:
            criteria["reg_type"] = reg_type
        if reg_record_type:
            criteria["reg_record_type"] = reg_record_type
        criteria["query_type"] = QUERY_IDTYPE_VALUE
        criteria["query"] = {"type": query.id_type, "value": query.value}
        if page_size:
            criteria["pagination"] = {"page_size": int(page_size), "page_number": 1}
        item: dict[str, Any] = {"reference_id": query.reference_id, "timestamp": now, "search_criteria": criteria}
        if locale:
            item["locale"] = locale
        items.append(item)
    return {
        "header": build_header("search", sender_id, receiver_id, total_count=len(items), message_ts=now,
                               sender_uri=sender_uri),
        "message": {"transaction_id": transaction_id or new_id(), "search_request": items},
    }


def build_search_response(
    request: Mapping[str, Any],
    find: Callable[[str, Any], list[dict[str, Any]] | None],
    sender_id: str,
    *,
    reg_type: str | None = None,
    reg_record_type: str | None = None,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """(Simulator) An unsigned on-search envelope answering a search request.

    `find(id_type, value)` returns the matching records (an empty list or None: not found -- answered as
    status `succ` with no records; the spec has no "not found" reason code).
    """
    now = timestamp()
    items = []
    for item in request["message"]["search_request"]:
        criteria = item["search_criteria"]
        query = criteria.get("query")
        # Only idtype-value queries are looked up; expression and predicate queries (lists, nested objects) find
        # nothing here.
        records = (find(str(query.get("type")), query.get("value")) or []) if isinstance(query, Mapping) else []
        data: dict[str, Any] = {"version": VERSION}
        if reg_type or criteria.get("reg_type"):
            data["reg_type"] = reg_type or criteria["reg_type"]
        if reg_record_type or criteria.get("reg_record_type"):
            data["reg_record_type"] = reg_record_type or criteria["reg_record_type"]
        data["reg_records"] = list(records)
        items.append({
            "reference_id": item["reference_id"],
            "timestamp": now,
            "status": "succ",
            "data": data,
            "pagination": {"page_size": max(len(records), 1), "page_number": 1, "total_count": len(records)},
        })
    request_header = request["header"]
    header = build_header("on-search", sender_id, request_header.get("sender_id"), total_count=len(items),
                          completed_count=len(items), status="succ", message_ts=now)
    return {
        "header": header,
        "message": {
            "transaction_id": request["message"]["transaction_id"],
            "correlation_id": correlation_id or new_id(),
            "search_response": items,
        },
    }


def build_subscribe_request(
    sender_id: str,
    receiver_id: str,
    event_types: Iterable[str],
    *,
    sender_uri: str,
    notify_record_type: str,
    reg_type: str | None = None,
    filter_type: str = "expression",
    filter: Any = None,
    transaction_id: str | None = None,
) -> dict[str, Any]:
    """An unsigned subscribe envelope, one item per event type; notifications go to `sender_uri`.

    The spec requires a `filter`; the default is every event in the country
    (`country_code eq UZ`, an `expression` filter).
    """
    if filter is None:
        filter = [{"seq_num": 1, "expression1": {"attribute_name": "country_code", "operator": "eq",
                                                 "attribute_value": "UZ"}}]
    now = timestamp()
    items = []
    for event_type in event_types:
        criteria: dict[str, Any] = {"version": VERSION}
        if reg_type:
            criteria["reg_type"] = reg_type
        criteria.update({"reg_event_type": event_type, "filter_type": filter_type, "filter": filter,
                         "notify_record_type": notify_record_type})
        items.append({"reference_id": new_id(), "timestamp": now, "subscribe_criteria": criteria})
    if not items:
        raise ValueError("at least one event type is needed")
    return {
        "header": build_header("subscribe", sender_id, receiver_id, total_count=len(items), sender_uri=sender_uri,
                               message_ts=now),
        "message": {"transaction_id": transaction_id or new_id(), "subscribe_request": items},
    }


def build_ack(correlation_id: str | None = None, ack_status: str = "ACK", error: tuple[str, str] | None = None
              ) -> dict[str, Any]:
    """The synchronous acknowledgement of an async call (`/registry/subscribe`, `/registry/notify`, ...)."""
    message: dict[str, Any] = {"ack_status": ack_status, "timestamp": timestamp(),
                               "correlation_id": correlation_id or new_id()}
    if error:
        message["error"] = {"code": error[0], "message": error[1]}
    return {"message": message}


def build_on_subscribe(request: Mapping[str, Any], sender_id: str, codes: Sequence[str] | None = None
                       ) -> dict[str, Any]:
    """(Simulator) An unsigned on-subscribe envelope: one subscription code per subscribe item."""
    now = timestamp()
    items = []
    for index, item in enumerate(request["message"]["subscribe_request"]):
        criteria = item["subscribe_criteria"]
        code = codes[index] if codes else new_id()
        items.append({
            "reference_id": item["reference_id"],
            "timestamp": now,
            "status": "succ",
            "subscriptions": [{
                "code": code, "status": "subscribe", "timestamp": now,
                "reg_event_type": criteria["reg_event_type"], "notify_record_type": criteria["notify_record_type"],
            }],
        })
    return {
        "header": build_header("on-subscribe", sender_id, request["header"].get("sender_id"),
                               total_count=len(items), message_ts=now),
        "message": {"transaction_id": request["message"]["transaction_id"], "correlation_id": new_id(),
                    "subscribe_response": items},
    }


def build_unsubscribe_request(sender_id: str, receiver_id: str, codes: Sequence[str], *,
                              sender_uri: str | None = None, transaction_id: str | None = None) -> dict[str, Any]:
    """An unsigned unsubscribe envelope for the subscription codes given."""
    now = timestamp()
    return {
        "header": build_header("unsubscribe", sender_id, receiver_id, total_count=len(codes), message_ts=now,
                               sender_uri=sender_uri),
        "message": {"transaction_id": transaction_id or new_id(), "timestamp": now,
                    "subscription_codes": [str(code) for code in codes]},
    }


def build_on_unsubscribe(request: Mapping[str, Any], sender_id: str, removed: Sequence[str]) -> dict[str, Any]:
    """(Simulator) An unsigned on-unsubscribe envelope: `succ` when every code was a subscription."""
    codes = request["message"]["subscription_codes"]
    missing = [code for code in codes if code not in removed]
    message: dict[str, Any] = {"transaction_id": request["message"]["transaction_id"], "correlation_id": new_id(),
                               "timestamp": timestamp(), "status": "rjct" if missing else "succ"}
    if missing:
        message["status_reason_code"] = "rjct.subscription_code.invalid"
        message["status_reason_message"] = ("no subscription " + ", ".join(missing))[:999]
    message["subscription_status"] = [{"code": code, "status": "unsubscribe"} for code in removed]
    return {
        "header": build_header("on-unsubscribe", sender_id, request["header"].get("sender_id"),
                               total_count=len(codes), completed_count=len(removed),
                               status="rjct" if missing else "succ"),
        "message": message,
    }


def build_txn_status_request(sender_id: str, receiver_id: str, transaction_id: str, *, txn_type: str = "search",
                             sender_uri: str | None = None) -> dict[str, Any]:
    """An unsigned txn-status envelope asking after an earlier transaction by its id."""
    return {
        "header": build_header("txn-status", sender_id, receiver_id, total_count=1, sender_uri=sender_uri),
        "message": {"transaction_id": new_id(), "txnstatus_request": {
            "reference_id": new_id(), "txn_type": txn_type, "attribute_type": "transaction_id",
            "attribute_value": transaction_id}},
    }


def build_txn_on_status(request: Mapping[str, Any], sender_id: str, txn_type: str,
                        status: Mapping[str, Any] | None) -> dict[str, Any]:
    """(Simulator) An unsigned txn-on-status envelope: `status` is the earlier transaction's outcome (an
    on-search / on-subscribe / on-unsubscribe message), None when the transaction is unknown."""
    header = build_header("txn-on-status", sender_id, request["header"].get("sender_id"), total_count=1,
                          completed_count=1 if status is not None else 0, status="succ")
    if status is None:  # the spec's only status with a reason code for this: a rejected (un)subscribe's shape
        asked = request["message"]["txnstatus_request"]
        status = {"transaction_id": str(asked["attribute_value"])[:99], "correlation_id": new_id(),
                  "timestamp": timestamp(), "status": "rjct", "status_reason_code": "rjct.reference_id.invalid",
                  "status_reason_message": "no such transaction"}
    response: dict[str, Any] = {"txn_type": txn_type, "txn_status": dict(status)}
    return {"header": header, "message": {"transaction_id": request["message"]["transaction_id"],
                                          "correlation_id": new_id(), "txnstatus_response": response}}


@dataclass(frozen=True)
class VitalEvent:
    """(Simulator) One event to notify: a birth or death with the person's record."""

    event_type: str
    record: dict[str, Any]
    reference_id: str = field(default_factory=new_id)
    timestamp: str = field(default_factory=timestamp)


def build_notify(sender_id: str, receiver_id: str, events: Sequence[VitalEvent], *, reg_type: str | None = None,
                 reg_record_type: str = "spdci-extensions-dci:Person", transaction_id: str | None = None
                 ) -> dict[str, Any]:
    """(Simulator) An unsigned notify envelope; each event carries one record (`reg_records` is an object)."""
    items = []
    for event in events:
        data: dict[str, Any] = {"version": VERSION}
        if reg_type:
            data["reg_type"] = reg_type
        data.update({"reg_event_type": event.event_type, "reg_record_type": reg_record_type,
                     "reg_records": event.record})
        items.append({"reference_id": event.reference_id, "timestamp": event.timestamp, "data": data})
    return {
        "header": build_header("notify", sender_id, receiver_id, total_count=len(items), status="succ",
                               completed_count=len(items)),
        "message": {"transaction_id": transaction_id or new_id(), "notify_event": items},
    }


# --------------------------------------------------------------------------------------------------------------
# Parsing messages
# --------------------------------------------------------------------------------------------------------------


def _need(condition: bool, what: str) -> None:
    if not condition:
        raise SourceMalformed(f"DCI message: {what}")


def _envelope_parts(envelope: Any) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    _need(isinstance(envelope, Mapping), "not an object")
    header, message = envelope.get("header"), envelope.get("message")
    _need(isinstance(header, Mapping), "no header")
    _need(isinstance(message, Mapping), "no message")
    if header.get("is_msg_encrypted") or "ciphertext" in message:
        raise SourceMalformed("DCI message: encrypted messages are not supported")
    if header.get("status") == "rjct":
        raise SourceRejected(f"DCI message rejected: {header.get('status_reason_code')} "
                             f"{header.get('status_reason_message') or ''}".strip())
    return header, message


@dataclass(frozen=True)
class SearchResult:
    """One `search_response` item: the records found for one query (empty: not found)."""

    reference_id: str
    status: str
    records: list[dict[str, Any]]
    reg_type: str | None = None
    reg_record_type: str | None = None
    status_reason_code: str | None = None
    status_reason_message: str | None = None
    total_count: int | None = None

    @property
    def found(self) -> bool:
        return self.status == "succ" and bool(self.records)


@dataclass(frozen=True)
class SearchResponse:
    message_id: str
    sender_id: str | None
    transaction_id: str
    correlation_id: str | None
    results: list[SearchResult]

    def for_reference(self, reference_id: str) -> SearchResult | None:
        return next((r for r in self.results if r.reference_id == reference_id), None)


def parse_search_response(envelope: Any) -> SearchResponse:
    """Parse an on-search envelope (sync search response). Raises `SourceMalformed` / `SourceRejected`."""
    header, message = _envelope_parts(envelope)
    items = message.get("search_response")
    _need(isinstance(items, list), "no search_response array")
    results = []
    for item in items:
        _need(isinstance(item, Mapping) and isinstance(item.get("reference_id"), str), "item without reference_id")
        data = item.get("data") or {}
        _need(isinstance(data, Mapping), "data is not an object")
        records = data.get("reg_records", [])
        if isinstance(records, Mapping):  # a lone record where the spec wants a set
            records = [records]
        _need(isinstance(records, list) and all(isinstance(r, Mapping) for r in records),
              "reg_records is not an array of objects")
        pagination = item.get("pagination") or {}
        total = pagination.get("total_count") if isinstance(pagination, Mapping) else None
        results.append(SearchResult(
            reference_id=item["reference_id"],
            status=str(item.get("status")),
            records=[dict(r) for r in records],
            reg_type=data.get("reg_type"),
            reg_record_type=data.get("reg_record_type"),
            status_reason_code=item.get("status_reason_code") or None,
            status_reason_message=item.get("status_reason_message") or None,
            total_count=int(total) if isinstance(total, int | float) else None,
        ))
    return SearchResponse(
        message_id=str(header.get("message_id")),
        sender_id=header.get("sender_id"),
        transaction_id=str(message.get("transaction_id")),
        correlation_id=message.get("correlation_id"),
        results=results,
    )


@dataclass(frozen=True)
class Ack:
    ack_status: str
    correlation_id: str | None
    timestamp: str | None
    error_code: str | None = None
    error_message: str | None = None


def parse_ack(body: Any) -> Ack:
    _need(isinstance(body, Mapping) and isinstance(body.get("message"), Mapping), "ack without message")
    message = body["message"]
    _need(message.get("ack_status") in ("ACK", "NACK", "ERR"), "ack_status must be ACK, NACK or ERR")
    error = message.get("error") if isinstance(message.get("error"), Mapping) else {}
    return Ack(message["ack_status"], message.get("correlation_id"), message.get("timestamp"),
               error.get("code"), error.get("message"))


@dataclass(frozen=True)
class NotifyEvent:
    reference_id: str
    timestamp: str
    event_type: str | None
    reg_type: str | None
    reg_record_type: str | None
    record: dict[str, Any]


@dataclass(frozen=True)
class Notification:
    message_id: str
    sender_id: str | None
    transaction_id: str
    events: list[NotifyEvent]


def parse_notify(envelope: Any) -> Notification:
    """Parse a notify envelope (vital events pushed by the registry). Raises `SourceMalformed`."""
    header, message = _envelope_parts(envelope)
    items = message.get("notify_event")
    _need(isinstance(items, list), "no notify_event array")
    events = []
    for item in items:
        _need(isinstance(item, Mapping) and isinstance(item.get("data"), Mapping), "notify_event without data")
        data = item["data"]
        record = data.get("reg_records")
        if isinstance(record, list) and len(record) == 1:
            record = record[0]
        _need(isinstance(record, Mapping), "reg_records is not a record")
        events.append(NotifyEvent(
            reference_id=str(item.get("reference_id")),
            timestamp=str(item.get("timestamp")),
            event_type=data.get("reg_event_type"),
            reg_type=data.get("reg_type"),
            reg_record_type=data.get("reg_record_type"),
            record=dict(record),
        ))
    return Notification(str(header.get("message_id")), header.get("sender_id"), str(message.get("transaction_id")),
                        events)


def parse_on_subscribe(envelope: Any) -> dict[str, str]:
    """Parse an on-subscribe envelope: {reference_id of the subscribe item: subscription code}."""
    _header, message = _envelope_parts(envelope)
    items = message.get("subscribe_response")
    _need(isinstance(items, list), "no subscribe_response array")
    codes = {}
    for item in items:
        subscriptions = item.get("subscriptions") if isinstance(item, Mapping) else None
        if item.get("status") == "succ" and subscriptions:
            codes[str(item.get("reference_id"))] = str(subscriptions[0].get("code"))
    return codes


def open_envelope(envelope: Any, *, keyring: Keyring | None, schemas: DCISchemas | None, registry: str,
                  endpoint: str, part: str, source: str | None = None) -> VerifiedSignature | None:
    """Check an incoming envelope: signature (if a keyring is given), then schema (if schemas are given)."""
    verified = None
    if keyring is not None:
        try:
            verified = keyring.verify(envelope)
        except SignatureInvalid as exc:
            exc.source = source
            raise
    if schemas is not None:
        schemas.validate_incoming(registry, endpoint, envelope, part=part, source=source)
    return verified


def receive_notify(envelope: Any, *, keyring: Keyring, schemas: DCISchemas | None = None, registry: str = "crvs",
                   source: str | None = None) -> Notification:
    """(Notify receiver) verify, validate and parse a notify request; answer it with `build_ack(...)`."""
    open_envelope(envelope, keyring=keyring, schemas=schemas, registry=registry, endpoint=NOTIFY, part="request",
                  source=source)
    return parse_notify(envelope)


def receive_on_search(envelope: Any, *, keyring: Keyring | None, schemas: DCISchemas | None = None,
                      registry: str = "crvs", source: str | None = None, accept_unsigned: bool = False
                      ) -> SearchResponse:
    """(on-search receiver) verify (an unsigned one only if `accept_unsigned`), validate and parse an on-search."""
    signed = isinstance(envelope, Mapping) and bool(envelope.get("signature"))
    open_envelope(envelope, keyring=keyring if signed or not accept_unsigned else None, schemas=schemas,
                  registry=registry, endpoint=ON_SEARCH, part="request", source=source)
    return parse_search_response(envelope)


def receive_on_subscribe(envelope: Any, *, keyring: Keyring | None, schemas: DCISchemas | None = None,
                         registry: str = "crvs", source: str | None = None, accept_unsigned: bool = False
                         ) -> dict[str, str]:
    """(on-subscribe receiver) verify, validate and parse an on-subscribe: {reference_id: subscription code}."""
    signed = isinstance(envelope, Mapping) and bool(envelope.get("signature"))
    open_envelope(envelope, keyring=keyring if signed or not accept_unsigned else None, schemas=schemas,
                  registry=registry, endpoint=ON_SUBSCRIBE, part="request", source=source)
    return parse_on_subscribe(envelope)


# --------------------------------------------------------------------------------------------------------------
# Transport to a plain DCI server, and its bearer tokens
# --------------------------------------------------------------------------------------------------------------


class BearerToken:
    """A fixed bearer token, given by the registry's operator."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("a bearer token cannot be empty")
        self._token = token

    def token(self, http) -> str:
        return self._token

    def invalidate(self) -> None:
        """A fixed token cannot be renewed."""


class OAuth2ClientCredentials:
    """Bearer tokens from the registry's token endpoint (`POST /oauth2/client/token` of the DCI authz spec, RFC
    6749 client credentials, form-encoded), kept until shortly before they expire and renewed after a 401."""

    def __init__(self, token_url: str, client_id: str, client_secret: str, scope: str | None = None, *,
                 clock: Callable[[], float] = time.monotonic, timeout: float = 10.0) -> None:
        if not (token_url and client_id and client_secret):
            raise ValueError("OAuth2 client credentials need token_url, client_id and client_secret")
        self.token_url, self.client_id, self._secret, self.scope = token_url, client_id, client_secret, scope
        self._clock = clock
        self._timeout = timeout
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0

    def token(self, http) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._expires:
                self._token, lifetime = self._fetch(http)
                self._expires = self._clock() + max(lifetime - 30, lifetime / 2)
            return self._token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def _fetch(self, http) -> tuple[str, float]:
        form = {"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self._secret}
        if self.scope:
            form["scope"] = self.scope
        try:
            response = http.post(self.token_url, data=form, headers={"Accept": "application/json"},
                                 timeout=self._timeout)
        except Exception as exc:  # httpx errors: the token endpoint is down, as the registry would be
            raise SourceUnavailable(f"token endpoint {self.token_url}: {exc}", request_sent=False) from exc
        if response.status_code >= 500:
            raise SourceUnavailable(f"token endpoint answered HTTP {response.status_code}",
                                    status_code=response.status_code)
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        token = body.get("access_token") if isinstance(body, Mapping) else None
        if response.status_code != 200 or not isinstance(token, str) or not token:
            raise SourceRejected(f"token endpoint refused the client credentials (HTTP {response.status_code})",
                                 status_code=response.status_code)
        expires_in = body.get("expires_in")
        return token, float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else 300.0


def bearer_from_config(token: str | None = None, oauth2: Mapping[str, Any] | None = None):
    """The bearer token source a connector's section configures: `token`, or `oauth2` {token_url, client_id,
    client_secret, scope?}; None when neither is set."""
    if token and oauth2:
        raise ValueError("configure either a bearer token or OAuth2 client credentials, not both")
    if token:
        return BearerToken(token)
    if oauth2:
        return OAuth2ClientCredentials(oauth2.get("token_url", ""), oauth2.get("client_id", ""),
                                       oauth2.get("client_secret", ""), oauth2.get("scope"))
    return None


class DCITransport(XRoadClient):
    """`XRoadClient` for DCI: below the X-Road service path with X-Road headers (`xroad=True`, as a security
    server wants), or directly below `base_url` as a plain DCI server (`xroad=False`), with a bearer token when
    `auth` is given. Both go through the source's policy (retries, breaker, cache) alike."""

    def __init__(self, base_url: str, client_id: str, service: str, policy=None, http=None, *, xroad: bool = True,
                 auth: BearerToken | OAuth2ClientCredentials | None = None) -> None:
        super().__init__(base_url, client_id, service, policy, http)
        self.xroad = xroad
        self.auth = auth

    def url(self, path_suffix: str = "") -> str:
        full = super().url(path_suffix)  # checked and encoded there
        if self.xroad:
            return full
        return self.base_url + full[len(self.base_url) + len(self.service.path()):]

    def headers(self, request_id: str, user_id: str | None = None, issue: str | None = None) -> dict[str, str]:
        headers = super().headers(request_id, user_id, issue) if self.xroad else {"Accept": "application/json"}
        if self.auth is not None:
            try:
                headers["Authorization"] = f"Bearer {self.auth.token(self._http)}"
            except (SourceUnavailable, SourceRejected) as error:
                error.source, error.request_id = self.source, request_id
                raise
        return headers

    def _interpret(self, response, request_id: str, request_ids: tuple[str, ...]):
        if response.status_code == 401 and self.auth is not None:
            self.auth.invalidate()  # an expired or revoked token: the next call asks for a new one
        if not self.xroad and response.status_code >= 400:
            errors = _dci_errors(response)
            if errors:
                error = (SourceUnavailable if response.status_code >= 500 or response.status_code == 429
                         else SourceRejected)
                raise error(f"HTTP {response.status_code}: {errors}", source=self.source, request_id=request_id,
                            status_code=response.status_code)
        return super()._interpret(response, request_id, request_ids)


def _dci_errors(response) -> str | None:
    """The codes and messages of a DCI error body (`errors`, or an ERR ack's `error`), if it is one."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, Mapping):
        return None
    items = body.get("errors") if isinstance(body.get("errors"), list) else []
    if not items and isinstance(body.get("message"), Mapping) and isinstance(body["message"].get("error"), Mapping):
        items = [body["message"]["error"]]
    found = [f"{item.get('code')}: {item.get('message')}" for item in items if isinstance(item, Mapping)]
    return "; ".join(found)[:500] or None


class PendingSearches:
    """Async searches waiting for their on-search, by transaction id, in this process: the client waits, the
    on-search receiver delivers. A reply for a transaction nobody waits for is dropped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, tuple[threading.Event, list[Any]]] = {}

    def expect(self, transaction_id: str) -> None:
        with self._lock:
            self._waiting[transaction_id] = (threading.Event(), [])

    def deliver(self, transaction_id: str, envelope: Any) -> bool:
        with self._lock:
            waiting = self._waiting.get(transaction_id)
        if waiting is None:
            return False
        waiting[1].append(envelope)
        waiting[0].set()
        return True

    def wait(self, transaction_id: str, timeout: float) -> Any:
        """The on-search envelope, or None after `timeout` seconds; the transaction is forgotten either way."""
        with self._lock:
            waiting = self._waiting.get(transaction_id)
        try:
            if waiting is None or not waiting[0].wait(timeout):
                return None
            return waiting[1][0]
        finally:
            with self._lock:
                self._waiting.pop(transaction_id, None)

    def forget(self, transaction_id: str) -> None:
        with self._lock:
            self._waiting.pop(transaction_id, None)


PENDING_SEARCHES = PendingSearches()


class RedisPendingSearches:
    """The same hand-over through Redis, for an app served by several processes: the on-search may reach
    another worker than the one whose search waits. Keys expire after `ttl` seconds whatever happens."""

    def __init__(self, redis, *, prefix: str = "srsp:dci:on-search:", ttl: int = 600) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl = int(ttl)

    def _keys(self, transaction_id: str) -> tuple[str, str]:
        return f"{self.prefix}waiting:{transaction_id}", f"{self.prefix}reply:{transaction_id}"

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        from redis.exceptions import RedisError

        try:
            return fn()
        except RedisError as exc:
            raise SourceUnavailable(f"cannot {what} through Redis: {exc}", request_sent=False) from exc

    def expect(self, transaction_id: str) -> None:
        waiting, _reply = self._keys(transaction_id)
        self._call("wait for an on-search", lambda: self.redis.set(waiting, 1, ex=self.ttl))

    def deliver(self, transaction_id: str, envelope: Any) -> bool:
        waiting, reply = self._keys(transaction_id)

        def push() -> bool:
            if not self.redis.exists(waiting):
                return False
            pipe = self.redis.pipeline()
            pipe.rpush(reply, json.dumps(envelope, ensure_ascii=False))
            pipe.expire(reply, self.ttl)
            pipe.execute()
            return True

        return self._call("hand over an on-search", push)

    def wait(self, transaction_id: str, timeout: float) -> Any:
        _waiting, reply = self._keys(transaction_id)
        item = self._call("wait for an on-search", lambda: self.redis.blpop([reply], timeout=max(timeout, 0.01)))
        return json.loads(item[1]) if item else None

    def forget(self, transaction_id: str) -> None:
        self._call("forget an on-search", lambda: self.redis.delete(*self._keys(transaction_id)))


# --------------------------------------------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DCISearch:
    """A sync search's outcome: the parsed response, the queries (by reference_id), and the transport result."""

    response: SearchResponse
    queries: dict[str, IdQuery]
    transport: Any  # XRoadResult

    def records_for(self, query: IdQuery) -> list[dict[str, Any]]:
        result = self.response.for_reference(query.reference_id)
        return list(result.records) if result and result.status == "succ" else []


class DCIClient:
    """DCI search and subscribe over an `XRoadClient` or a `DCITransport` (below the X-Road service, or a plain
    DCI server).

    `accept_unsigned`: a reply without a signature is accepted (one that is signed must still verify) -- for a
    registry that does not sign, or whose transport signs for it. `async_search`: searches go to
    `/registry/search` with `sender_uri=callback_url` (our on-search receiver) and wait up to `async_timeout`
    seconds for the on-search, which the receiver hands over through `pending` (`PENDING_SEARCHES` in one
    process, `RedisPendingSearches` across processes)."""

    def __init__(self, transport, keyring: Keyring, receiver_id: str, *, registry: str = "crvs",
                 schemas: DCISchemas | None = None, reg_type: str | None = None,
                 reg_record_type: str | None = None, verify_signatures: bool = True, validate: bool = True,
                 accept_unsigned: bool = False, async_search: bool = False, callback_url: str | None = None,
                 async_timeout: float = 30.0, pending: PendingSearches | RedisPendingSearches | None = None
                 ) -> None:
        if async_search and not callback_url:
            raise ValueError("an async search needs the URL of our on-search receiver (callback_url)")
        self.transport = transport
        self.keyring = keyring
        self.receiver_id = receiver_id
        self.registry = registry
        self.schemas = (schemas or DCISchemas()) if validate else None
        self.reg_type = reg_type
        self.reg_record_type = reg_record_type
        self.verify_signatures = verify_signatures
        self.accept_unsigned = accept_unsigned
        self.async_search = async_search
        self.callback_url = callback_url
        self.async_timeout = float(async_timeout)
        self.pending = pending or PENDING_SEARCHES

    def prepare(self) -> None:
        """Read and compile the schemas of the searches it makes now rather than in its first search: a worker
        that forks a process per job builds its connectors once, so its jobs share them instead of each reading
        them again. A schema that cannot be read fails the first search, as it would without this."""
        if self.schemas is None:
            return
        endpoints = ((SEARCH, "request"), (SEARCH, "response")) if self.async_search else (
            (SYNC_SEARCH, "request"), (SYNC_SEARCH, "response"))
        try:
            for endpoint, part in endpoints:
                self.schemas.validator(self.registry, endpoint, part)
        except (OSError, KeyError, ValueError):
            pass

    def reply_keyring(self, envelope: Any) -> Keyring | None:
        """The keyring to verify a reply with; None when it is not to be verified (unsigned and accepted)."""
        if not self.verify_signatures:
            return None
        if self.accept_unsigned and not (isinstance(envelope, Mapping) and envelope.get("signature")):
            return None
        return self.keyring

    @property
    def source(self) -> str:
        return self.transport.source

    def search(self, queries: Iterable[IdQuery | tuple[str, str]], *, user_id: str | None = None,
               issue: str | None = None) -> DCISearch:
        queries = _as_queries(queries)
        if self.async_search:
            return self._search_async(queries, user_id=user_id, issue=issue)
        envelope = self.keyring.sign(build_search_request(
            self.keyring.sender_id, self.receiver_id, queries, reg_type=self.reg_type,
            reg_record_type=self.reg_record_type))
        if self.schemas is not None:
            self.schemas.validate_outgoing(self.registry, SYNC_SEARCH, envelope, part="request")
        transaction_id = envelope["message"]["transaction_id"]

        def check(body: Any) -> None:  # inside the attempt: a bad answer is that attempt's failure, never cached
            open_envelope(body, keyring=self.reply_keyring(body), schemas=self.schemas,
                          registry=self.registry, endpoint=SYNC_SEARCH, part="response", source=self.source)
            if parse_search_response(body).transaction_id != transaction_id:
                raise SourceMalformed("on-search transaction_id does not match the request")

        cache_key = (tuple((q.id_type, q.value) for q in queries), self.reg_type, self.reg_record_type)
        result = self.transport.post(SYNC_SEARCH, json=envelope, user_id=user_id, issue=issue, idempotent=True,
                                     cache_key=cache_key if len(queries) == 1 else None, check=check)
        response = parse_search_response(result.json)
        if result.cached and len(response.results) == 1:
            # Only single-query searches are cached: re-key the earlier identical query's answer to this one.
            response = replace(response, results=[replace(response.results[0],
                                                          reference_id=queries[0].reference_id)])
        by_ref = {q.reference_id: q for q in queries}
        return DCISearch(response, by_ref, result)

    def _search_async(self, queries: list[IdQuery], *, user_id: str | None, issue: str | None) -> DCISearch:
        """ACK now, on-search later (to our receiver): wait for it here, then check it as a sync answer."""
        envelope = self.keyring.sign(build_search_request(
            self.keyring.sender_id, self.receiver_id, queries, reg_type=self.reg_type,
            reg_record_type=self.reg_record_type, sender_uri=self.callback_url))
        if self.schemas is not None:
            self.schemas.validate_outgoing(self.registry, SEARCH, envelope, part="request")
        transaction_id = envelope["message"]["transaction_id"]
        self.pending.expect(transaction_id)
        try:
            result = self.transport.post(SEARCH, json=envelope, user_id=user_id, issue=issue,
                                         check=self._ack_check(SEARCH))
            ack = parse_ack(result.json)
            if ack.ack_status != "ACK":
                raise SourceRejected(f"search refused: {ack.ack_status} {ack.error_code or ''} "
                                     f"{ack.error_message or ''}".strip(), source=self.source,
                                     request_id=result.request_id)
            body = self.pending.wait(transaction_id, self.async_timeout)
        finally:
            self.pending.forget(transaction_id)
        if body is None:
            raise SourceTimeout(f"no on-search within {self.async_timeout:g} s", source=self.source,
                                request_id=result.request_id)
        response = parse_search_response(body)
        return DCISearch(response, {q.reference_id: q for q in queries}, result)

    def _ack_check(self, endpoint: str) -> Callable[[Any], None]:
        def check(body: Any) -> None:
            if self.schemas is not None:
                self.schemas.validate_incoming(self.registry, endpoint, body, part="response", source=self.source)
            parse_ack(body)
        return check

    def receive_on_search(self, envelope: Any) -> bool:
        """(Our on-search receiver) check an on-search and hand it to the search waiting for it; False when no
        search of this process waits for it. Raises `SignatureInvalid`, `SourceMalformed`."""
        response = receive_on_search(envelope, keyring=self.reply_keyring(envelope), schemas=self.schemas,
                                     registry=self.registry, source=self.source)
        if response.sender_id != self.receiver_id:
            raise SignatureInvalid(f"on-search from {response.sender_id!r}, not {self.receiver_id!r}",
                                   source=self.source)
        return self.pending.deliver(response.transaction_id, envelope)

    def search_one(self, id_type: str, value: str, *, user_id: str | None = None, issue: str | None = None
                   ) -> tuple[list[dict[str, Any]], Any]:
        """Records for one identifier, and the transport result; `SourceNotFound` when there are none."""
        query = IdQuery(id_type, value)
        outcome = self.search([query], user_id=user_id, issue=issue)
        (reference_id,) = outcome.queries
        result = outcome.response.for_reference(reference_id)
        if result is None:
            raise SourceMalformed("on-search has no item for the query", source=self.source,
                                  request_id=outcome.transport.request_id)
        if result.status == "rjct":
            raise SourceRejected(f"search rejected: {result.status_reason_code} {result.status_reason_message or ''}",
                                 source=self.source, request_id=outcome.transport.request_id)
        if not result.records:
            raise SourceNotFound(f"no {id_type} {value} in the registry", source=self.source,
                                 request_id=outcome.transport.request_id)
        return result.records, outcome.transport

    def subscribe(self, event_types: Iterable[str], *, sender_uri: str, notify_record_type: str | None = None,
                  user_id: str | None = None, filter: Any = None) -> tuple[Ack, dict[str, Any]]:
        """Send a subscribe request; returns the ack and the signed envelope we sent (to match on-subscribe)."""
        envelope = self.keyring.sign(build_subscribe_request(
            self.keyring.sender_id, self.receiver_id, event_types, sender_uri=sender_uri,
            notify_record_type=notify_record_type or self.reg_record_type or "spdci-extensions-dci:Person",
            reg_type=self.reg_type, filter=filter))
        if self.schemas is not None:
            self.schemas.validate_outgoing(self.registry, SUBSCRIBE, envelope, part="request")
        result = self.transport.post(SUBSCRIBE, json=envelope, user_id=user_id, check=self._ack_check(SUBSCRIBE))
        ack = parse_ack(result.json)
        if ack.ack_status == "ERR":
            raise SourceRejected(f"subscribe refused: {ack.error_code} {ack.error_message or ''}".strip(),
                                 source=self.source, request_id=result.request_id)
        return ack, envelope

    def unsubscribe(self, codes: Sequence[str], *, sender_uri: str | None = None, user_id: str | None = None
                    ) -> Ack:
        """Ask the registry to end the subscriptions with these codes (the on-unsubscribe goes to `sender_uri`)."""
        envelope = self.keyring.sign(build_unsubscribe_request(self.keyring.sender_id, self.receiver_id, codes,
                                                               sender_uri=sender_uri))
        if self.schemas is not None:
            self.schemas.validate_outgoing(self.registry, UNSUBSCRIBE, envelope, part="request")
        result = self.transport.post(UNSUBSCRIBE, json=envelope, user_id=user_id,
                                     check=self._ack_check(UNSUBSCRIBE))
        ack = parse_ack(result.json)
        if ack.ack_status == "ERR":
            raise SourceRejected(f"unsubscribe refused: {ack.error_code} {ack.error_message or ''}".strip(),
                                 source=self.source, request_id=result.request_id)
        return ack


__all__ = [
    "CALLBACKS",
    "EVENT_BIRTH",
    "EVENT_DEATH",
    "NOTIFY",
    "ON_SEARCH",
    "ON_SUBSCRIBE",
    "ON_UNSUBSCRIBE",
    "SEARCH",
    "SUBSCRIBE",
    "SYNC_SEARCH",
    "SYNC_TXN_STATUS",
    "TXN_ON_STATUS",
    "TXN_STATUS",
    "UNSUBSCRIBE",
    "PENDING_SEARCHES",
    "Ack",
    "BearerToken",
    "DCIClient",
    "DCITransport",
    "OAuth2ClientCredentials",
    "PendingSearches",
    "RedisPendingSearches",
    "DCISchemaError",
    "DCISchemas",
    "DCISearch",
    "IdQuery",
    "Keyring",
    "Notification",
    "NotifyEvent",
    "SearchResponse",
    "SearchResult",
    "VerifiedSignature",
    "VitalEvent",
    "body_digest",
    "build_ack",
    "build_header",
    "build_notify",
    "build_on_subscribe",
    "build_search_request",
    "build_search_response",
    "build_subscribe_request",
    "build_txn_on_status",
    "build_txn_status_request",
    "build_unsubscribe_request",
    "build_on_unsubscribe",
    "callback_url",
    "canonical_json",
    "error_body",
    "event_kind",
    "jwk_thumbprint",
    "open_envelope",
    "parse_ack",
    "parse_notify",
    "parse_on_subscribe",
    "parse_search_response",
    "parse_signature",
    "bearer_from_config",
    "receive_notify",
    "receive_on_search",
    "receive_on_subscribe",
    "signing_string",
]
