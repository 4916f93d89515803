"""The certificate's credential: a W3C Verifiable Credential (Data Model 2.0) secured as a compact JWS with EdDSA
(Ed25519), as "Securing Verifiable Credentials using JOSE and COSE" defines it (header typ "vc+jwt", cty "vc"; the
payload is the credential itself).

It carries the minimum an organisation needs: the head's masked name, the programmes (codes and names), the
validity (validFrom/validUntil), the serial and a BitstringStatusListEntry (status list URL and index). No PIN,
no amount. `verify` checks a credential offline against a saved key set and, when given, a saved status list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from modules.enrolment.certificates import jose, keys, status_list
from webapp.timeutil import local_day_start, local_time, utcnow

CONTEXT = status_list.CONTEXT
CREDENTIAL_TYPE = "LowIncomeCertificate"
_TOKEN = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_stamp(value) -> datetime:
    if not isinstance(value, str):
        raise ValueError("not a date-time")
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def issuer(base_url: str) -> dict:
    return {"id": base_url.rstrip("/") + "/", "name": "SRSP"}


def claims(*, serial: str, masked_name: str, programmes: list[dict], valid_from: date, valid_until: date,
           status_index: int, base_url: str) -> dict:
    """The credential of one certificate; valid from the start of `valid_from` to the end of `valid_until`, in
    the country's time zone."""
    list_id, index = status_list.location(status_index)
    list_url = status_list.list_url(base_url, list_id)
    return {
        "@context": [CONTEXT],
        "id": f"urn:srsp:certificate:{serial}",
        "type": ["VerifiableCredential", CREDENTIAL_TYPE],
        "issuer": issuer(base_url),
        "validFrom": _stamp(local_day_start(valid_from)),
        "validUntil": _stamp(local_day_start(valid_until + timedelta(days=1)) - timedelta(seconds=1)),
        "credentialSubject": {
            "type": "LowIncomeHousehold",
            "serial": serial,
            "name": masked_name,
            "programmes": programmes,
        },
        "credentialStatus": {
            "id": f"{list_url}#{index}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": str(index),
            "statusListCredential": list_url,
        },
    }


def sign(payload: dict) -> tuple[str, str]:
    """(compact JWS, kid) under the issuer's current key."""
    row = keys.signing_key()
    return jose.sign(payload, keys.private_jwk(row), row.kid), row.kid


def extract(text: str) -> str | None:
    """The compact JWS in what a scanner or a person pasted (surrounding text and line breaks tolerated)."""
    match = _TOKEN.search("".join((text or "").split()))
    return match.group(0) if match else None


@dataclass
class Verification:
    valid: bool
    status: str  # valid | expired | revoked | invalid
    serial: str | None = None
    valid_until: str | None = None  # the last valid day, in the country's calendar (YYYY-MM-DD)
    valid_from: str | None = None
    name: str | None = None
    programmes: list[dict] = field(default_factory=list)
    status_checked: bool = False  # whether a status list was consulted
    problem: str | None = None  # why invalid: malformed, signature, status_list

    def contract(self) -> dict:
        return {"valid": self.valid, "status": self.status, "serial": self.serial, "valid_until": self.valid_until}


def _invalid(problem: str, **known) -> Verification:
    return Verification(valid=False, status="invalid", problem=problem, **known)


def verify(text: str, jwks: dict, status_lists: dict[str, str] | None = None,
           now: datetime | None = None) -> Verification:
    """Check a credential offline: its signature against `jwks`, its dates against `now`, and its revocation bit in
    the matching status list credential of `status_lists` ({list URL or "*": compact JWS}; "*" is used whatever the
    URL) when one is given."""
    token = extract(text)
    if token is None:
        return _invalid("malformed")
    key_set = keys.key_set(jwks)
    if key_set is None:
        return _invalid("signature")
    try:
        payload = jose.verified_payload(token, key_set)
    except jose.BadSignature:
        return _invalid("signature")
    try:
        subject, entry = payload["credentialSubject"], payload["credentialStatus"]
        if CREDENTIAL_TYPE not in payload["type"] or entry["type"] != "BitstringStatusListEntry":
            return _invalid("malformed")
        starts, ends = _parse_stamp(payload["validFrom"]), _parse_stamp(payload["validUntil"])
        known = {"serial": str(subject["serial"]), "valid_until": local_time(ends).date().isoformat(),
                 "valid_from": local_time(starts).date().isoformat(), "name": str(subject["name"]),
                 "programmes": list(subject.get("programmes") or [])}
        index, list_url = int(entry["statusListIndex"]), str(entry["statusListCredential"])
    except (KeyError, TypeError, ValueError):
        return _invalid("malformed")
    revoked, checked = False, False
    if status_lists:
        listed = status_lists.get(list_url) or status_lists.get("*")
        if listed is None:
            return _invalid("status_list", **known)
        try:
            revoked, checked = _revoked(listed, list_url, index, key_set), True
        except (jose.BadSignature, KeyError, TypeError, ValueError):
            return _invalid("status_list", **known)
    now = now or utcnow()
    if revoked:
        return Verification(False, "revoked", status_checked=checked, **known)
    if now > ends or now < starts:
        return Verification(False, "expired", status_checked=checked, **known)
    return Verification(True, "valid", status_checked=checked, **known)


def _revoked(token: str, list_url: str, index: int, key_set) -> bool:
    """The credential's bit in a status list credential signed by the same issuer, for the same URL."""
    payload = jose.verified_payload(extract(token) or "", key_set)
    subject = payload["credentialSubject"]
    if payload.get("id") != list_url or "BitstringStatusListCredential" not in payload["type"] \
            or subject.get("statusPurpose") != "revocation":
        raise ValueError("not the status list the credential names")
    return status_list.bit(status_list.decode(subject["encodedList"]), index)
