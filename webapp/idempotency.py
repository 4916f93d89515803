"""Idempotency-Key for API requests that create: a client that resends after a lost answer gets the first answer
again and creates nothing. The key is stored in the request's own transaction, with the answer, so a request
that failed or was refused leaves no key behind and can be corrected and sent again."""

from __future__ import annotations

import hashlib
from functools import wraps

from flask import Response, current_app, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp.boundary import Refusal
from webapp.extensions import db
from webapp.models import IdempotencyKey

HEADER = "Idempotency-Key"
MAX_KEY = 200


class KeyRefused(Refusal):
    pass


def idempotent(view):
    """View decorator: honour the Idempotency-Key header of a signed-in client."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None or not current_user.is_authenticated:
            return view(*args, **kwargs)
        key = _checked(key)
        fingerprint = _fingerprint()
        earlier = _stored(key)
        if earlier is None:
            earlier, record = _claim(key, fingerprint)
        if earlier is not None:
            return _replay(earlier, fingerprint)
        response = current_app.make_response(view(*args, **kwargs))
        if response.status_code < 400:  # a refused request keeps no key (its transaction is rolled back)
            record.status_code = response.status_code
            record.body = response.get_data(as_text=True)
            record.location = response.headers.get("Location")
        return response

    return wrapped


def _checked(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_KEY or not key.isprintable():
        raise KeyRefused(errors={HEADER: [_l("Give a key of 1 to %(n)d printable characters.", n=MAX_KEY)]})
    return key


def _fingerprint() -> str:
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _stored(key: str) -> IdempotencyKey | None:
    return db.session.scalar(select(IdempotencyKey).where(IdempotencyKey.user_id == current_user.id,
                                                          IdempotencyKey.key == key))


def _claim(key: str, fingerprint: str) -> tuple[IdempotencyKey | None, IdempotencyKey | None]:
    """(earlier answer, None) when another request holds the key, else (None, our new record)."""
    record = IdempotencyKey(user_id=current_user.id, key=key, fingerprint=fingerprint)
    try:
        with db.session.begin_nested():  # on PostgreSQL this waits for a concurrent holder of the key
            db.session.add(record)
    except IntegrityError:
        return _stored(key), None
    return None, record


def _replay(earlier: IdempotencyKey, fingerprint: str) -> Response:
    if earlier.fingerprint != fingerprint:
        raise KeyRefused(errors={HEADER: [_l("This key was already used for a different request.")]})
    if earlier.status_code is None:  # the first request with it has not answered yet
        raise KeyRefused(_l("A request with this key is still being processed; try again shortly."))
    response = Response(earlier.body, status=earlier.status_code, mimetype="application/json")
    if earlier.location:
        response.headers["Location"] = earlier.location
    response.headers["Idempotent-Replayed"] = "true"
    return response
