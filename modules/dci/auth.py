"""Who may ask: OAuth2 client credentials, bearer tokens, message signatures and rate limits per sender.

A sender is a registered `DciClient` (`srsp dci clients create`). It exchanges its client id and secret at the
token endpoint for a bearer token valid `TOKEN_TTL`; every registry request carries that token. Its message
signature is then checked as its policy says (required / optional / none) against its own key set only, and its
requests are counted against its rate limit (Flask-Limiter's storage, so every worker shares the counters).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from datetime import timedelta
from typing import Any

import httpx
from flask import request
from limits import parse as parse_limit
from sqlalchemy import delete, select

from connectors.transport.dci import Keyring
from connectors.transport.errors import SignatureInvalid
from modules.dci.messages import DciError
from modules.dci.models import DciClient, DciToken
from webapp.auth.limits import limiter
from webapp.auth.passwords import hash_password, verify_password
from webapp.extensions import db
from webapp.timeutil import utcnow

TOKEN_TTL = timedelta(hours=1)
SIGNATURE_POLICIES = ("required", "optional", "none")
JWKS_CACHE_SECONDS = 300
_jwks_cache: dict[str, tuple[float, dict]] = {}
_jwks_lock = threading.Lock()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_client(name: str, **policy: Any) -> tuple[DciClient, str]:
    """A registered sender and its secret (shown once; only the argon2 hash is kept)."""
    secret = secrets.token_urlsafe(32)
    client = DciClient(name=name, client_id=f"dci-{secrets.token_hex(8)}", secret_hash=hash_password(secret),
                       **policy)
    db.session.add(client)
    db.session.flush()
    return client, secret


def issue_token(client_id: str, client_secret: str) -> tuple[str, DciClient]:
    """A new bearer token for valid client credentials; `DciError` otherwise (same answer for an unknown id).
    The client's expired tokens are dropped on the way (they can never be used again)."""
    client = db.session.scalar(select(DciClient).where(DciClient.client_id == client_id[:64]))
    if not verify_password(client.secret_hash if client else None, client_secret) or not client.active:
        raise DciError("err.request.unauthorized", "invalid client credentials")
    db.session.execute(delete(DciToken).where(DciToken.client_id == client.id, DciToken.expires_at <= utcnow()))
    token = secrets.token_urlsafe(32)
    db.session.add(DciToken(client_id=client.id, token_hash=_digest(token), expires_at=utcnow() + TOKEN_TTL))
    db.session.flush()
    return token, client


def authenticated_client() -> DciClient:
    """The sender whose unexpired bearer token the request carries; `DciError` (401) otherwise."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise DciError("err.request.unauthorized", "a bearer token is required (POST /dci/oauth2/client/token)")
    row = db.session.scalar(select(DciToken).where(DciToken.token_hash == _digest(token.strip())))
    expires = row.expires_at if row else None
    if expires is not None and expires.tzinfo is None:  # SQLite gives it back naive
        expires = expires.replace(tzinfo=utcnow().tzinfo)
    if row is None or expires <= utcnow() or not row.client.active:
        raise DciError("err.request.unauthorized", "the bearer token is unknown or expired")
    return row.client


def check_rate(client: DciClient) -> None:
    """Count the request against the sender's limit; `DciError` (429) past it."""
    try:
        limit = parse_limit(client.rate_limit)
    except ValueError:
        limit = parse_limit("60 per minute")
    if not limiter.limiter.hit(limit, "dci", client.client_id):
        raise DciError("err.request.too_many_requests", f"rate limit {client.rate_limit} exceeded")


def client_keys(client: DciClient) -> dict:
    """The sender's key set: as registered, else fetched from its URL (cached a few minutes)."""
    if client.jwks:
        return client.jwks
    if not client.jwks_url:
        return {"keys": []}
    with _jwks_lock:
        cached = _jwks_cache.get(client.jwks_url)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    try:
        response = httpx.get(client.jwks_url, timeout=5, follow_redirects=False)
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise DciError("err.service.unavailable", f"cannot load the sender's key set: {exc}") from exc
    with _jwks_lock:
        _jwks_cache[client.jwks_url] = (time.monotonic() + JWKS_CACHE_SECONDS, document)
    return document


def check_signature(client: DciClient, envelope: dict) -> bool:
    """Apply the sender's signature policy; True when a signature was verified. Raises `DciError` (401)."""
    if client.signatures == "none":
        return False
    signature = envelope.get("signature")
    if signature in (None, ""):
        if client.signatures == "optional":
            return False
        raise DciError("err.signature.missing", "this sender's messages must be signed")
    ring = Keyring(f"dci-client-{client.id}")
    try:
        ring.trust_jwks(client_keys(client))
    except ValueError as exc:
        raise DciError("err.signature.invalid", f"the sender's key set cannot be read: {exc}") from exc
    try:
        ring.verify(envelope)
    except SignatureInvalid as exc:
        raise DciError("err.signature.invalid", str(exc)) from exc
    return True
