"""Sign-in with a PIN, the phone number on file and a one-time code sent by SMS.

Step one takes a PIN and a phone number and always gives the same answer: a ticket for the code page, whether the
PIN exists, the phone matches or neither. Only when both match is a code sent (to the number on file). Step two
takes the code under that ticket. So nobody learns from the portal whether a PIN is registered or which phone it
has, and the PIN never travels further than the first form's body.

Limits, counted over the table (every request leaves a row, matched or not, so the counts say nothing either):
so many codes per PIN, per phone and per client address an hour; so many wrong tries per code, then it dies.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta

from flask import current_app, request
from flask_babel import get_locale, lazy_ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from modules.notifications.operations import queue_sms
from modules.portal.models import CitizenSignInCode
from modules.portal.session import sign_in_citizen
from modules.registration.models import Person
from modules.registration.schemas import normalize_phone
from webapp import audit
from webapp.boundary import Refusal
from webapp.extensions import db
from webapp.pin import is_ascii_digits
from webapp.timeutil import utcnow

NAME = "sms_code"
CODE_MINUTES = 5
CODE_DIGITS = 6
WRONG_CODES = 5          # wrong tries per code, then it is dead
CODES_PER_PIN = 5        # codes asked for one PIN in an hour, whoever asks
CODES_PER_PHONE = 5      # codes asked for one phone number in an hour
CODES_PER_ADDRESS = 20   # codes asked from one client address in an hour (a family or an office shares one)
WINDOW = timedelta(hours=1)
SMS_TEMPLATE = "portal_sign_in_code"
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")


class SmsCodeProvider:
    """The identity provider that is always there: it starts on the portal's own sign-in form."""

    name = NAME
    start_endpoint = "portal.sign_in"

    def label(self) -> str:
        return _("PIN, phone number and a code by SMS")


def _digest(kind: str, value: str) -> str:
    """HMAC-SHA256 under SECRETS_KEY: the same value always gives the same digest (rows can be counted by it),
    but without the key nobody can test a PIN, phone or code against a copy of the table."""
    key = current_app.config["SECRETS_KEY"].encode()
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def pin_digest(pin: str) -> str:
    return _digest("pin", pin)


def _code_digest(ticket: str, code: str) -> str:
    # Keyed by the ticket as well, so one code's digest says nothing about another row's.
    return _digest(f"code:{ticket}", code)


def _ticket_digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def client_address() -> str:
    return (request.remote_addr or "unknown")[:64]


# --- step one: PIN and phone ------------------------------------------------------------------------------------


def read_details(pin: str | None, phone: str | None) -> tuple[str, str]:
    """The PIN and the phone number (normalised), or a refusal naming what to fix. Says nothing about records."""
    pin = (pin or "").strip()
    errors = {}
    if not (len(pin) == 14 and is_ascii_digits(pin)):
        errors["pin"] = [_l("A PIN has exactly 14 digits.")]
    normalized = normalize_phone(phone or "") if len(phone or "") <= 40 else ""
    if not _PHONE.match(normalized):
        errors["phone"] = [_l("Enter a mobile number as +998 XX XXX XX XX.")]
    if errors:
        raise Refusal(_l("Check the details you entered."), errors=errors)
    return pin, normalized


def request_code(pin: str, phone: str) -> str:
    """Record the request and, when the PIN and the phone on file match, send a code; returns the ticket.

    Refuses (keeping the audit of the refusal) when a limit is reached; otherwise the outcome is never told.
    """
    now = utcnow()
    pin_key, phone_key, address = pin_digest(pin), _digest("phone", phone), client_address()
    _check_limits(pin_key, phone_key, address, now)
    person = db.session.scalar(select(Person).where(Person.pin == pin))
    matched = person is not None and bool(person.phone) and normalize_phone(person.phone) == phone
    ticket = secrets.token_urlsafe(32)
    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    row = CitizenSignInCode(ticket_digest=_ticket_digest(ticket), person_id=person.id if matched else None,
                            pin_digest=pin_key, phone_digest=phone_key, code_digest=_code_digest(ticket, code),
                            ip=address, created_at=now, expires_at=now + timedelta(minutes=CODE_MINUTES),
                            attempts=0)
    db.session.add(row)
    db.session.flush()
    if matched:
        body = _("Your sign-in code for social assistance: %(code)s. It is valid for %(minutes)d minutes. "
                 "Do not tell it to anyone, not even to staff.", code=code, minutes=CODE_MINUTES)
        queue_sms(f"portal-sign-in:{row.id}", phone, body, str(get_locale()), SMS_TEMPLATE)
    audit.record("citizen.code_requested", "citizen_sign_in_code", row.id,
                 {"pin_digest": pin_key[:16], "outcome": "sent" if matched else "no_match"})
    return ticket


def _check_limits(pin_key: str, phone_key: str, address: str, now: datetime) -> None:
    since = now - WINDOW
    for column, value, limit, reason in (
            (CitizenSignInCode.pin_digest, pin_key, CODES_PER_PIN, "pin_limit"),
            (CitizenSignInCode.phone_digest, phone_key, CODES_PER_PHONE, "phone_limit"),
            (CitizenSignInCode.ip, address, CODES_PER_ADDRESS, "address_limit")):
        count = db.session.scalar(select(func.count()).select_from(CitizenSignInCode)
                                  .where(column == value, CitizenSignInCode.created_at > since))
        if count >= limit:
            audit.record("citizen.code_refused", "citizen_sign_in_code", 0,
                         {"pin_digest": pin_key[:16], "reason": reason})
            raise Refusal(_l("Too many codes were asked for in the last hour. Wait an hour and try again, or ask "
                             "your mahalla or the single window office for help."), keep=True)


# --- step two: the code -----------------------------------------------------------------------------------------


def ticket_row(ticket: str | None) -> CitizenSignInCode | None:
    if not ticket or not isinstance(ticket, str):
        return None
    return db.session.scalar(select(CitizenSignInCode).where(CitizenSignInCode.ticket_digest == _ticket_digest(ticket)))


def is_live(row: CitizenSignInCode | None, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return row is not None and row.used_at is None and row.attempts < WRONG_CODES and _aware(row.expires_at) > now


def read_code(code: str | None) -> str:
    code = re.sub(r"[\s-]", "", code or "")
    if not (len(code) == CODE_DIGITS and is_ascii_digits(code)):
        raise Refusal(_l("Enter the %(digits)d digits of the code from the SMS.", digits=CODE_DIGITS),
                      errors={"code": [_l("The code has %(digits)d digits.", digits=CODE_DIGITS)]})
    return code


def redeem(ticket: str, code: str) -> Person:
    """Sign the citizen in with the code sent under `ticket`; a wrong code counts (and is kept), a dead one refuses.

    A ticket whose details matched nobody never had a code sent, so every code is wrong for it, alike.
    """
    now = utcnow()
    row = ticket_row(ticket)
    if not is_live(row, now):
        if row is not None:
            audit.record("citizen.sign_in_failed", "citizen_sign_in_code", row.id,
                         {"provider": NAME, "reason": "code_dead"})
        raise Refusal(_l("This code can no longer be used. Ask for a new code."), keep=True)
    right = hmac.compare_digest(row.code_digest, _code_digest(ticket, code))
    if not right or row.person_id is None:
        row.attempts += 1
        audit.record("citizen.sign_in_failed", "citizen_sign_in_code", row.id,
                     {"provider": NAME, "reason": "wrong_code", "failures": row.attempts})
        left = WRONG_CODES - row.attempts
        if left <= 0:
            raise Refusal(_l("The code is not right, and it has been tried too many times. Ask for a new code."),
                          keep=True)
        raise Refusal(lazy_ngettext("The code is not right. You can try %(num)d more time.",
                                    "The code is not right. You can try %(num)d more times.", left),
                      errors={"code": [_l("The code is not right.")]}, keep=True)
    row.used_at = now
    person = db.session.get(Person, row.person_id)
    sign_in_citizen(person, NAME)
    return person
