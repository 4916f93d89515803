"""One payment batch as the bank files see it, independent of the ORM: `Debtor`, `Payment`, `Batch` (and
`Header`, a batch's totals without its payments).

Everything is checked when an object is built, so a file renderer never meets a bad value: an invalid field
raises `BankFileError` naming the field (and the payment's end-to-end id). Free text (names, remittance) is
converted with `latin()` on the way in, so the objects hold exactly what will be written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from modules.payments.bankfiles.text import latin
from webapp.boundary import Refusal

ID_PATTERN = re.compile(r"[A-Za-z0-9-]{1,35}")
ACCOUNT_PATTERN = re.compile(r"\d{20}")  # Uzbek bank accounts: 20 digits, not IBANs (written as Othr/Id)
BANK_CODE_PATTERN = re.compile(r"\d{5}")  # MFO, the Central Bank's code of a bank branch
BIC_PATTERN = re.compile(r"[A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?")  # pain.001.001.03's BICIdentifier
PIN_PATTERN = re.compile(r"\d{14}")  # PINFL
CURRENCY_PATTERN = re.compile(r"[A-Z]{3}")
MAX_TEXT = 140  # ISO 20022 Max140Text (names, remittance)
MAX_TOTAL_DIGITS = 18  # ISO 20022 amounts and CtrlSum: totalDigits 18
CENT = Decimal("0.01")
MAX_AMOUNT = Decimal(10) ** (MAX_TOTAL_DIGITS - 2)  # 16 digits before the point, 2 after


class BankFileError(Refusal):
    """A batch or file that must not be sent to a bank; the message names the field.

    The message is a technical diagnosis of the file (field, payment, XSD line) for the people who fix the data,
    kept as the bank's schema words rather than translated."""


def _fail(field_name: str, problem: str, context: str = "") -> None:
    """Raise `BankFileError` for `field_name`, with the payment it belongs to when known."""
    where = f" (payment {context})" if context else ""
    raise BankFileError(f"{field_name}{where}: {problem}")


def _check_pattern(value: object, pattern: re.Pattern, field_name: str, expected: str, context: str = "") -> None:
    """Refuse a value that is not a string matching `pattern`."""
    if not isinstance(value, str) or not pattern.fullmatch(value):
        _fail(field_name, f"must be {expected}, got {value!r}", context)


def _clean_text(obj: object, field_name: str, required: bool = True, context: str = "") -> None:
    """Replace a text field by its Latin form; refuse it if empty (when required) or longer than 140."""
    value = getattr(obj, field_name)
    if value is None and not required:
        return
    if not isinstance(value, str):
        _fail(field_name, f"must be text, got {value!r}", context)
    converted = latin(value)
    if not converted and required:
        _fail(field_name, f"must not be empty (after transliteration), got {value!r}", context)
    if len(converted) > MAX_TEXT:
        _fail(field_name, f"is {len(converted)} characters after transliteration, at most {MAX_TEXT}", context)
    object.__setattr__(obj, field_name, converted or None)


def _check_amount(value: object, context: str) -> Decimal:
    """Return the amount with exactly 2 decimals; refuse floats, non-finite, non-positive or finer amounts."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        _fail("amount", f"must be a Decimal (floats are inexact), got {value!r}", context)
    amount = Decimal(value)
    if not amount.is_finite():
        _fail("amount", f"must be a finite number, got {value!r}", context)
    if amount <= 0:
        _fail("amount", f"must be positive, got {amount}", context)
    if amount >= MAX_AMOUNT:
        _fail("amount", f"is too large for ISO 20022 (at most {MAX_TOTAL_DIGITS} digits): {amount}", context)
    if amount != amount.quantize(CENT):
        _fail("amount", f"has more than 2 decimals: {amount}", context)
    return amount.quantize(CENT)


@dataclass(frozen=True)
class Debtor:
    """The paying account: the programme's account at its bank."""

    name: str
    account: str
    bank_code: str
    bic: str | None = None

    def __post_init__(self) -> None:
        _clean_text(self, "name")
        _check_pattern(self.account, ACCOUNT_PATTERN, "debtor.account", "20 digits")
        _check_pattern(self.bank_code, BANK_CODE_PATTERN, "debtor.bank_code", "a 5-digit MFO code")
        if self.bic is not None:
            _check_pattern(self.bic, BIC_PATTERN, "debtor.bic", "a BIC (8 or 11 capitals/digits)")


@dataclass(frozen=True)
class Payment:
    """One credit transfer to one beneficiary."""

    end_to_end_id: str
    amount: Decimal
    creditor_name: str
    creditor_account: str
    creditor_bank_code: str
    remittance: str
    currency: str = "UZS"
    creditor_pin: str | None = None

    def __post_init__(self) -> None:
        if self._usual():
            return
        _check_pattern(self.end_to_end_id, ID_PATTERN, "end_to_end_id", "1-35 characters A-Z a-z 0-9 -")
        ctx = self.end_to_end_id
        object.__setattr__(self, "amount", _check_amount(self.amount, ctx))
        _check_pattern(self.currency, CURRENCY_PATTERN, "currency", "a 3-letter ISO 4217 code", ctx)
        _clean_text(self, "creditor_name", context=ctx)
        _check_pattern(self.creditor_account, ACCOUNT_PATTERN, "creditor_account", "20 digits", ctx)
        _check_pattern(self.creditor_bank_code, BANK_CODE_PATTERN, "creditor_bank_code", "a 5-digit MFO code", ctx)
        _clean_text(self, "remittance", context=ctx)
        if self.creditor_pin is not None:
            _check_pattern(self.creditor_pin, PIN_PATTERN, "creditor_pin", "a 14-digit PINFL", ctx)

    def _usual(self) -> bool:
        """The checks above in one go for the usual payment (every field valid, the amount a Decimal with 2 decimals,
        as the database gives it), setting the converted texts; False, changing nothing, for anything else, which
        then goes through the checks one by one (and their messages). Payrolls build 100,000s of payments."""
        amount, name, remittance = self.amount, self.creditor_name, self.remittance
        if not (type(amount) is Decimal and amount.is_finite() and 0 < amount < MAX_AMOUNT
                and amount.as_tuple().exponent == -2  # then quantize(CENT) would give it back unchanged
                and type(self.end_to_end_id) is str and ID_PATTERN.fullmatch(self.end_to_end_id)
                and type(self.currency) is str and CURRENCY_PATTERN.fullmatch(self.currency)
                and type(name) is str and type(remittance) is str
                and type(self.creditor_account) is str and ACCOUNT_PATTERN.fullmatch(self.creditor_account)
                and type(self.creditor_bank_code) is str and BANK_CODE_PATTERN.fullmatch(self.creditor_bank_code)
                and (self.creditor_pin is None
                     or (type(self.creditor_pin) is str and PIN_PATTERN.fullmatch(self.creditor_pin)))):
            return False
        name, remittance = latin(name), latin(remittance)
        if not (0 < len(name) <= MAX_TEXT and 0 < len(remittance) <= MAX_TEXT):
            return False
        object.__setattr__(self, "creditor_name", name)
        object.__setattr__(self, "remittance", remittance)
        return True


def _check_file_header(batch) -> None:
    """The fields a `Batch` and a `Header` share: what a file says about its whole batch."""
    _check_pattern(batch.message_id, ID_PATTERN, "message_id", "1-35 characters A-Z a-z 0-9 -")
    object.__setattr__(batch, "created_at", _utc_second(batch.created_at))
    if isinstance(batch.requested_execution_date, datetime) or not isinstance(batch.requested_execution_date, date):
        _fail("requested_execution_date", f"must be a date, got {batch.requested_execution_date!r}")
    if not isinstance(batch.debtor, Debtor):
        _fail("debtor", f"must be a Debtor, got {batch.debtor!r}")
    _clean_text(batch, "initiating_party")


@dataclass(frozen=True)
class Batch:
    """One payment batch (one file, one debtor account, one currency); payments kept in end-to-end id order."""

    message_id: str
    created_at: datetime
    requested_execution_date: date
    debtor: Debtor
    payments: tuple[Payment, ...]
    initiating_party: str
    control_sum: Decimal = field(init=False)

    def __post_init__(self) -> None:
        _check_file_header(self)
        object.__setattr__(self, "payments", _checked_payments(self.payments))
        object.__setattr__(self, "control_sum", sum((p.amount for p in self.payments), Decimal("0.00")))
        if self.control_sum >= MAX_AMOUNT:
            _fail("payments", f"total {self.control_sum} has more than {MAX_TOTAL_DIGITS} digits")

    @property
    def currency(self) -> str:
        """The one currency of every payment (and of the debtor account)."""
        return self.payments[0].currency


@dataclass(frozen=True)
class Header:
    """What a file says about its whole batch, without the payments themselves: for a batch too large to hold as
    `Payment` objects, whose payments are written as they are read (`pain001.render_stream`). Checked as `Batch`
    checks the same fields; the number and sum of the payments are given, and the writer holds the payments to them.
    """

    message_id: str
    created_at: datetime
    requested_execution_date: date
    debtor: Debtor
    initiating_party: str
    number_of_payments: int
    control_sum: Decimal
    currency: str = "UZS"

    def __post_init__(self) -> None:
        _check_file_header(self)
        if isinstance(self.number_of_payments, bool) or not isinstance(self.number_of_payments, int) \
                or self.number_of_payments < 1:
            _fail("payments", "a batch needs at least one payment")
        _check_pattern(self.currency, CURRENCY_PATTERN, "currency", "a 3-letter ISO 4217 code")
        total = self.control_sum
        if not isinstance(total, Decimal) or not total.is_finite() or total <= 0 or total != total.quantize(CENT):
            _fail("control_sum", f"must be a positive Decimal with at most 2 decimals, got {total!r}")
        if total >= MAX_AMOUNT:
            _fail("payments", f"total {total} has more than {MAX_TOTAL_DIGITS} digits")
        object.__setattr__(self, "control_sum", total.quantize(CENT))


def _utc_second(value: object) -> datetime:
    """Return an aware datetime in UTC without microseconds, so the written time is stable."""
    if not isinstance(value, datetime) or value.utcoffset() is None:
        _fail("created_at", f"must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC).replace(microsecond=0)


def _checked_payments(payments: object) -> tuple[Payment, ...]:
    """Return the payments sorted by end-to-end id, refusing none, non-payments, duplicates, mixed currencies."""
    payments = tuple(payments) if isinstance(payments, list | tuple) else payments
    if not isinstance(payments, tuple) or not payments:
        _fail("payments", "a batch needs at least one payment")
    for index, payment in enumerate(payments):
        if not isinstance(payment, Payment):
            _fail(f"payments[{index}]", f"must be a Payment, got {payment!r}")
    seen: set[str] = set()
    for payment in payments:
        if payment.end_to_end_id in seen:
            _fail("end_to_end_id", "is used twice in the batch (it must be unique)", payment.end_to_end_id)
        seen.add(payment.end_to_end_id)
    currencies = sorted({p.currency for p in payments})
    if len(currencies) > 1:
        _fail("currency", f"one batch pays in one currency, got {', '.join(currencies)}")
    # Sorted so that the file does not depend on the order the payroll lines were read in.
    return tuple(sorted(payments, key=lambda p: p.end_to_end_id))
