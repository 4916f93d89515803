"""W3C Bitstring Status List (v1.0): the revocation list a verifier fetches once and caches.

Each certificate has a global `status_index`; list N (from 1) holds indexes (N-1)·LIST_SIZE … N·LIST_SIZE-1, one bit
each, set when the certificate is revoked. The list is published as a BitstringStatusListCredential secured as a
compact JWS (vc+jwt) with the issuer's key, at /credentials/status/<N>; its `encodedList` is the GZIP-compressed
bitstring, base64url without padding, with the multibase prefix "u". Bit 0 is the left-most bit of the first byte.
The spec's minimum size is 16 KB of bits (131 072 entries), so a list says little about how many were revoked.
"""

from __future__ import annotations

import base64
import gzip
from datetime import timedelta

from sqlalchemy import func, select

from modules.enrolment.certificates import jose, keys
from modules.enrolment.certificates.models import Certificate
from webapp.extensions import db
from webapp.timeutil import utcnow

LIST_SIZE = 131_072
CONTEXT = "https://www.w3.org/ns/credentials/v2"
# How long a verifier may cache a list (seconds): the Cache-Control max-age and the credential's `ttl` (ms).
TTL_SECONDS = 300


def location(status_index: int) -> tuple[int, int]:
    """(list number, index within that list) of a certificate's global status index."""
    return status_index // LIST_SIZE + 1, status_index % LIST_SIZE


def list_url(base_url: str, list_id: int) -> str:
    return f"{base_url.rstrip('/')}/credentials/status/{list_id}"


def lists_in_use() -> int:
    """How many lists exist: at least one, so a verifier can fetch list 1 before the first certificate."""
    highest = db.session.scalar(select(func.max(Certificate.status_index)))
    return 1 if highest is None else location(highest)[0]


def bitstring(list_id: int) -> bytes:
    bits = bytearray(LIST_SIZE // 8)
    low = (list_id - 1) * LIST_SIZE
    revoked = db.session.scalars(select(Certificate.status_index).where(
        Certificate.status_index >= low, Certificate.status_index < low + LIST_SIZE,
        Certificate.revoked_at.is_not(None)))
    for index in revoked:
        position = index - low
        bits[position // 8] |= 0x80 >> (position % 8)
    return bytes(bits)


def encode(bits: bytes) -> str:
    return "u" + base64.urlsafe_b64encode(gzip.compress(bits, mtime=0)).rstrip(b"=").decode()


def decode(encoded: str) -> bytes:
    """The bitstring of an `encodedList` (with or without the multibase prefix); raises ValueError if unreadable."""
    text = encoded[1:] if encoded.startswith("u") else encoded
    try:
        return gzip.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (OSError, EOFError) as error:
        raise ValueError("the encoded list is not a GZIP-compressed bitstring") from error


def bit(bits: bytes, index: int) -> bool:
    if index < 0 or index // 8 >= len(bits):
        raise ValueError("the status index is outside the list")
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def credential(list_id: int, base_url: str, issuer: dict) -> str:
    """The signed BitstringStatusListCredential of list `list_id`, as it stands now."""
    url = list_url(base_url, list_id)
    now = utcnow().replace(microsecond=0)
    payload = {
        "@context": [CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "validUntil": (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encode(bitstring(list_id)),
            "ttl": TTL_SECONDS * 1000,
        },
    }
    row = keys.signing_key()
    return jose.sign(payload, keys.private_jwk(row), row.kid)
