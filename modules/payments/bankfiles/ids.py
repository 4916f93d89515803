"""Stable identifiers for bank files: `message_id()` for a file, `end_to_end_id()` for one payroll line.

Why they are derived, never random or time-based:

- The same payroll must give a byte-identical file. Then a file can be re-rendered at any time (for audit, or
  after a crash between "rendered" and "sent") and compared with what was sent, and a second submission of the
  same payroll carries the same MsgId, which the bank's duplicate check refuses instead of paying twice.
- Reconciliation matches the bank's status reports and statements (pain.002, camt.053/054) to payroll lines by
  the EndToEndId, which the banks carry through unchanged; it must lead back to exactly one line.

Format: `SRSP-P000123-L0000456` (payroll 123, line 456) and `SRSP-P000123-V1` (payroll 123, file version
tag "V1"; a deliberately corrected re-issue gets a new tag). Only [A-Za-z0-9-], at most 35 characters
(ISO 20022 Max35Text; many banks refuse other characters in ids). Numbers are zero-padded so that the ids sort
in number order; larger numbers simply take more digits.
"""

from __future__ import annotations

import re

from modules.payments.bankfiles.model import BankFileError

PREFIX = "SRSP"
MAX_ID = 35
_TAG = re.compile(r"[A-Za-z0-9]{1,12}")


def message_id(payroll_id: int, version_tag: str) -> str:
    """Return the MsgId of the file for `payroll_id`, e.g. `SRSP-P000123-V1`."""
    tag = version_tag if isinstance(version_tag, str) and _TAG.fullmatch(version_tag) else None
    if tag is None:
        raise BankFileError(f"version_tag: must be 1-12 letters or digits, got {version_tag!r}")
    return _bounded(f"{PREFIX}-P{_number(payroll_id, 'payroll_id'):06d}-{tag}")


def end_to_end_id(payroll_id: int, line_id: int) -> str:
    """Return the EndToEndId of payroll line `line_id`, e.g. `SRSP-P000123-L0000456`."""
    return _bounded(f"{PREFIX}-P{_number(payroll_id, 'payroll_id'):06d}-L{_number(line_id, 'line_id'):07d}")


def _number(value: object, name: str) -> int:
    """Return a positive database id; refuse anything else (a bool is not an id)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise BankFileError(f"{name}: must be a positive integer, got {value!r}")
    return value


def _bounded(identifier: str) -> str:
    """Refuse an id longer than ISO 20022 allows (only reachable with absurdly large numbers)."""
    if len(identifier) > MAX_ID:
        raise BankFileError(f"id {identifier!r} is longer than {MAX_ID} characters")
    return identifier
