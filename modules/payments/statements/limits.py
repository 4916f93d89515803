"""What a statement value may be so that it fits where it is kept: a file with a value that does not fit is refused
with the place (row or element) and the field named, before anything is stored."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

from flask_babel import lazy_gettext as _l

from modules.payments.models import StatementException

from .model import StatementError

_COLUMNS = StatementException.__table__.c
# The exceptions list keeps the bank's amount, currency, reference and reason code as they came.
AMOUNT_PLACES: int = _COLUMNS.amount.type.scale
AMOUNT_DIGITS: int = _COLUMNS.amount.type.precision - AMOUNT_PLACES  # digits before the decimal point
REFERENCE_MAX: int = _COLUMNS.end_to_end_id.type.length
REASON_CODE_MAX: int = _COLUMNS.reason_code.type.length
CURRENCY = re.compile(r"^[A-Z]{3}$")
_ECHO = 40  # characters of a bad value repeated in the message: enough to find it, not a wall of text


def echo(raw: str) -> str:
    """A bad value as the message repeats it: shortened, control characters shown as `?`."""
    shown = "".join("?" if unicodedata.category(ch) == "Cc" else ch for ch in raw)
    return shown if len(shown) <= _ECHO else shown[:_ECHO] + "…"


def amount(value: Decimal, raw: str, where) -> Decimal:
    """`value` when it fits the amount column (digits before and after the point), else StatementError."""
    too_large = value >= Decimal(10) ** AMOUNT_DIGITS
    if too_large or value != value.quantize(Decimal(1).scaleb(-AMOUNT_PLACES)):
        raise StatementError(_l("%(where)s: the amount %(value)s does not fit: at most %(digits)d digits before "
                                "the decimal point and %(places)d after it.", where=where, value=echo(raw),
                                digits=AMOUNT_DIGITS, places=AMOUNT_PLACES))
    return value


def currency(raw: str | None, where) -> str | None:
    """An ISO 4217 alphabetic code (exactly 3 letters) in capitals, None when absent, else StatementError."""
    if raw is None:
        return None
    code = raw.strip().upper()
    if not CURRENCY.match(code):
        raise StatementError(_l("%(where)s: %(value)s is not a currency code (3 letters, for example UZS).",
                                where=where, value=echo(raw)))
    return code


def reference(raw: str | None, where) -> str | None:
    """A payment reference no longer than the column that keeps it, else StatementError."""
    if raw is not None and len(raw) > REFERENCE_MAX:
        raise StatementError(_l("%(where)s: the reference %(value)s is longer than %(max)d characters.",
                                where=where, value=echo(raw), max=REFERENCE_MAX))
    return raw


def reason_code(raw: str | None, where) -> str | None:
    """A reason code no longer than the column that keeps it, else StatementError."""
    if raw is not None and len(raw) > REASON_CODE_MAX:
        raise StatementError(_l("%(where)s: the reason code %(value)s is longer than %(max)d characters.",
                                where=where, value=echo(raw), max=REASON_CODE_MAX))
    return raw


def no_control_characters(raw: str, where) -> str:
    """`raw` unless it holds a control character other than tab and line breaks (NUL, escape…)."""
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\r\n" for ch in raw):
        raise StatementError(_l("%(where)s: the value %(value)s contains a control character; such characters "
                                "are not allowed in a bank file.", where=where, value=echo(raw)))
    return raw
