"""The bank's CSV outcome file: one payment outcome per row."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal, InvalidOperation

from .model import OUTCOMES, Statement, StatementEntry, StatementError, digest_of

COLUMNS = ("end_to_end_id", "amount", "currency", "status", "booking_date", "reason_code", "reason_text")
CURRENCY = re.compile(r"^[A-Z]{3}$")


def read_csv(data: bytes) -> Statement:
    """Read the bank CSV (UTF-8 with or without BOM, `,` or `;`, decimal point or comma) into a Statement."""
    text = _decode(data)
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise StatementError("CSV: the file is empty or has no header row")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_separator(lines[0]))
    header = [name.strip().lower() for name in next(reader)]
    _check_header(header)
    entries = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue  # blank lines carry nothing; spreadsheets love to add them at the end
        entries.append(_row(dict(zip(header, row, strict=False)), len(row), len(header), reader.line_num))
    return Statement(kind="csv", message_id=None, created_at=None, entries=tuple(entries), digest=digest_of(data))


def _decode(data: bytes) -> str:
    """UTF-8 text without the BOM some spreadsheet programs write."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StatementError(f"CSV: not UTF-8 (byte {exc.start})") from None


def _separator(header_line: str) -> str:
    """`;` when the header uses it (locales with a decimal comma), else `,`."""
    return ";" if header_line.count(";") > header_line.count(",") else ","


def _check_header(header: list[str]) -> None:
    """Exactly the agreed columns, in any order."""
    missing = [c for c in COLUMNS if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    if missing or unknown or len(set(header)) != len(header):
        raise StatementError(
            f"CSV row 1 (header): expected columns {','.join(COLUMNS)}; "
            f"missing {missing or 'none'}, unknown {unknown or 'none'}"
        )


def _row(cells: dict[str, str], width: int, expected: int, row_no: int) -> StatementEntry:
    """One data row to an entry; any bad cell raises naming the row and column."""
    where = f"CSV row {row_no}"
    if width != expected:
        raise StatementError(f"{where}: {width} columns, expected {expected}")
    values = {k: v.strip() for k, v in cells.items()}
    status = values["status"].lower()
    if status not in OUTCOMES:
        raise StatementError(f"{where}, column status: {values['status']!r} is not one of {', '.join(OUTCOMES)}")
    return StatementEntry(
        end_to_end_id=values["end_to_end_id"] or None,
        amount=_amount(values["amount"], where),
        currency=_currency(values["currency"], where),
        outcome=status,
        booking_date=_date(values["booking_date"], where),
        reason_code=values["reason_code"].upper() or None,
        reason_text=values["reason_text"] or None,
        source_line=f"row {row_no}",
    )


def _amount(raw: str, where: str) -> Decimal:
    """A non-negative amount with a decimal point or a decimal comma (spaces as digit groups are allowed)."""
    cleaned = raw.replace(" ", "").replace("\u00a0", "")
    if "," in cleaned and "." in cleaned:
        # "1.234,56" vs "1,234.56": guessing wrong would pay out a thousand times too much or too little.
        raise StatementError(f"{where}, column amount: {raw!r} mixes '.' and ','")
    try:
        value = Decimal(cleaned.replace(",", "."))
    except InvalidOperation:
        raise StatementError(f"{where}, column amount: {raw!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise StatementError(f"{where}, column amount: {raw!r} must be a non-negative number")
    return value


def _currency(raw: str, where: str) -> str:
    """An ISO 4217 alphabetic code."""
    code = raw.upper()
    if not CURRENCY.match(code):
        raise StatementError(f"{where}, column currency: {raw!r} is not a 3-letter ISO currency code")
    return code


def _date(raw: str, where: str) -> date | None:
    """An ISO date (YYYY-MM-DD) or nothing."""
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise StatementError(f"{where}, column booking_date: {raw!r} is not a date (YYYY-MM-DD)") from None
