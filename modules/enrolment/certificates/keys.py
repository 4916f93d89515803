"""The issuer's Ed25519 signing keys, kept in the `certificate_key` table.

The first certificate (or the first request for the key set) generates a key; its private half is stored as a
Fernet token under SECRETS_KEY (webapp.models.encrypted), so a copy of the database cannot sign. `rotate` retires
the signing key and makes a new one: every key ever used stays in the published JSON Web Key Set
(/.well-known/jwks.json), each named by its `kid`, so certificates signed before a rotation keep verifying.
Losing SECRETS_KEY means the stored private keys cannot be read: `rotate` then starts a new key.
"""

from __future__ import annotations

import secrets

from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OKPKey
from sqlalchemy import select

from modules.enrolment.certificates.models import CertificateKey
from webapp import audit
from webapp.extensions import db
from webapp.timeutil import utcnow


def _new_key() -> CertificateKey:
    kid = f"srsp-{utcnow():%Y%m%d}-{secrets.token_hex(4)}"
    key = OKPKey.generate_key("Ed25519", parameters={"kid": kid})
    public = {**key.as_dict(private=False), "use": "sig", "alg": "EdDSA"}
    row = CertificateKey(kid=kid, public_jwk=public, private_key=key.as_pem(private=True).decode())
    db.session.add(row)
    db.session.flush()
    audit.record("certificate.key_created", "certificate_key", row.id, {"kid": kid})
    return row


def signing_key() -> CertificateKey:
    """The key new certificates are signed with, made on first use."""
    row = db.session.scalar(select(CertificateKey).where(CertificateKey.retired_at.is_(None))
                            .order_by(CertificateKey.id.desc()).limit(1))
    return row if row is not None and row.private_key else _new_key()


def private_jwk(row: CertificateKey) -> OKPKey:
    return OKPKey.import_key(row.private_key, parameters={"kid": row.kid})


def rotate(actor=None) -> CertificateKey:
    """Retire the signing key and make a new one; the old public key stays published."""
    for row in db.session.scalars(select(CertificateKey).where(CertificateKey.retired_at.is_(None))):
        row.retired_at = utcnow()
        audit.record("certificate.key_retired", "certificate_key", row.id, {"kid": row.kid}, actor=actor)
    db.session.flush()
    return _new_key()


def jwks() -> dict:
    """The public JSON Web Key Set: every key, retired ones too (what they signed must still verify)."""
    if db.session.scalar(select(CertificateKey.id).limit(1)) is None:
        signing_key()
    rows = db.session.scalars(select(CertificateKey).order_by(CertificateKey.id))
    return {"keys": [dict(row.public_jwk) for row in rows]}


def key_set(document) -> KeySet | None:
    """A JWKS document (ours or one a verifier saved) as joserfc keys, Ed25519 public keys only; None when it holds
    none that can be read."""
    listed = document.get("keys") if isinstance(document, dict) else None
    keys = [key for key in listed or [] if isinstance(key, dict) and key.get("kty") == "OKP"
            and key.get("crv") == "Ed25519" and "d" not in key and key.get("kid")]
    if not keys:
        return None
    try:
        return KeySet.import_key_set({"keys": keys})
    except (JoseError, ValueError, TypeError):
        return None
