"""Columns encrypted at rest with a key the database never holds (config SECRETS_KEY, from the environment).

Fernet (AES-128-CBC with HMAC-SHA256) under a key derived from SECRETS_KEY with HKDF, so the same setting can key
other uses without reusing the key. The ORM sees the clear value; the table holds only the token, so a copy of the
database (a backup, a replica, a DBA's SELECT) does not give away what the column protects.
"""

from __future__ import annotations

import base64
import logging

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import String
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)
_INFO = b"srsp column encryption v1"
TOKEN_PREFIX = "gAAAAA"  # every Fernet token starts so (version byte 0x80 and the timestamp's high bytes)


def fernet(secrets_key: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secrets_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt(value: str, secrets_key: str) -> str:
    return fernet(secrets_key).encrypt(value.encode()).decode()


def decrypt(token: str, secrets_key: str) -> str:
    """The clear value; raises cryptography.fernet.InvalidToken under another key or for a value not a token."""
    return fernet(secrets_key).decrypt(token.encode()).decode()


def is_token(value: str | None) -> bool:
    return bool(value) and value.startswith(TOKEN_PREFIX)


class Encrypted(TypeDecorator):
    """A string column stored as a Fernet token under SECRETS_KEY. Not for WHERE clauses (tokens are random)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return encrypt(value, current_app.config["SECRETS_KEY"])

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        try:
            return decrypt(value, current_app.config["SECRETS_KEY"])
        except InvalidToken:
            # Another SECRETS_KEY, or a value written around the application: unreadable is treated as absent
            # (the authenticator must be set up again) rather than failing every page the account opens.
            log.error("an encrypted column could not be decrypted with SECRETS_KEY; treated as empty")
            return None
