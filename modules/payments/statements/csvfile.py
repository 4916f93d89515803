"""The bank's CSV outcome file: one payment outcome per row."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l

from . import limits
from .model import OUTCOMES, Statement, StatementEntry, StatementError, digest_of

COLUMNS = ("end_to_end_id", "amount", "currency", "status", "booking_date", "reason_code", "reason_text")
REASON_TEXT_MAX = 500  # longer explanations are cut where they are kept; the file is not refused for them


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
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank lines carry nothing; spreadsheets love to add them at the end
            entries.append(_row(dict(zip(header, row, strict=False)), len(row), len(header), reader.line_num))
    except csv.Error as exc:  # a cell over the csv module's size limit, an unclosed quote at the end…
        raise StatementError(f"CSV row {reader.line_num}: {exc}") from None
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
    values = {k: limits.no_control_characters(v.strip(), _cell(row_no, k)) for k, v in cells.items()}
    status = values["status"].lower()
    if status not in OUTCOMES:
        raise StatementError(f"{where}, column status: {values['status']!r} is not one of {', '.join(OUTCOMES)}")
    return StatementEntry(
        end_to_end_id=limits.reference(values["end_to_end_id"] or None, _cell(row_no, "end_to_end_id")),
        amount=limits.amount(_amount(values["amount"], where), values["amount"], _cell(row_no, "amount")),
        currency=limits.currency(values["currency"], _cell(row_no, "currency")),
        outcome=status,
        booking_date=_date(values["booking_date"], where),
        reason_code=limits.reason_code(values["reason_code"].upper() or None, _cell(row_no, "reason_code")),
        reason_text=values["reason_text"][:REASON_TEXT_MAX] or None,
        source_line=f"row {row_no}",
    )


def _cell(row_no: int, column: str):
    """Where a value is, in the reader's language and the file's own column name."""
    return _l("CSV row %(row)d, column %(column)s", row=row_no, column=column)


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



def _date(raw: str, where: str) -> date | None:
    """An ISO date (YYYY-MM-DD) or nothing."""
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise StatementError(f"{where}, column booking_date: {raw!r} is not a date (YYYY-MM-DD)") from None
