"""Compact JWS signing and checking with joserfc, EdDSA (Ed25519) only: the one place that touches the JOSE library.

joserfc warns that RFC 9864 deprecates the "EdDSA" name in favour of "Ed25519"; the W3C VC-JOSE-COSE
specification and today's verifiers still use "EdDSA", so the warning is silenced here and nowhere else.
"""

from __future__ import annotations

import base64
import json
import warnings

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OKPKey

ALG = "EdDSA"
TYP = "vc+jwt"


class BadSignature(Exception):
    """A token that is not a compact JWS, names no known key, or whose signature does not verify."""


def sign(payload: dict, key: OKPKey, kid: str) -> str:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return jws.serialize_compact({"alg": ALG, "kid": kid, "typ": TYP, "cty": "vc"}, body, key, algorithms=[ALG])


def header(token: str) -> dict:
    """The protected header, unverified (to find the key); raises BadSignature for a token that is not a JWS."""
    try:
        part = token.split(".")[0]
        value = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, IndexError) as error:
        raise BadSignature("not a compact JWS") from error
    if not isinstance(value, dict):
        raise BadSignature("not a compact JWS")
    return value


def verified_payload(token: str, keys: KeySet) -> dict:
    """The payload of a token signed with EdDSA by a key of `keys`; raises BadSignature otherwise."""
    kid = header(token).get("kid")
    if not kid or not any(key.kid == kid for key in keys.keys):
        raise BadSignature("signed with a key the issuer has not published")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = jws.deserialize_compact(token, keys, algorithms=[ALG])
        payload = json.loads(result.payload)
    except (JoseError, ValueError) as error:
        raise BadSignature("the signature does not verify") from error
    if not isinstance(payload, dict):
        raise BadSignature("the payload is not a JSON object")
    return payload
