"""What every statement reader returns: the bank's word on each payment, independent of the file format."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from webapp.boundary import Refusal

Outcome = Literal["paid", "failed", "returned"]
Kind = Literal["camt.053", "camt.054", "pain.002", "csv"]
OUTCOMES: tuple[str, ...] = ("paid", "failed", "returned")


class StatementError(Refusal):
    """A file that cannot be read as a statement; the message says what is wrong and where (in the file's own
    terms: elements, columns, lines), and is shown inside a translated sentence (`reconciliation.import_statement`)."""


@dataclass(frozen=True, kw_only=True)
class StatementEntry:
    """One final outcome of one payment as reported by the bank."""

    end_to_end_id: str | None
    amount: Decimal
    currency: str | None
    outcome: Outcome
    booking_date: date | None = None
    reason_code: str | None = None
    reason_text: str | None = None
    account_servicer_ref: str | None = None
    source_line: str = ""
    # pain.002 often omits the original amount; 0 with amount_known=False keeps the type simple for callers.
    amount_known: bool = True


@dataclass(frozen=True, kw_only=True)
class SetAsideLine:
    """A line that is not (yet) an outcome of our payments, kept so that nothing in a file is silently dropped."""

    end_to_end_id: str | None
    amount: Decimal
    currency: str | None
    status: str
    note: str
    source_line: str
    account_servicer_ref: str | None = None
    amount_known: bool = True


@dataclass(frozen=True, kw_only=True)
class Statement:
    """A parsed bank file: final entries, lines set aside, and the digest of the raw bytes."""

    kind: Kind
    message_id: str | None
    created_at: datetime | None
    entries: tuple[StatementEntry, ...]
    digest: str
    version: str | None = None
    # Not final yet (camt PDNG/INFO, pain.002 ACSP/ACCP/PDNG...): reconciliation must wait for a later file.
    pending: tuple[SetAsideLine, ...] = field(default=())
    # Final bookings that are not outcomes of our outgoing payments (e.g. an incoming credit with no return data).
    unclassified: tuple[SetAsideLine, ...] = field(default=())


def digest_of(data: bytes) -> str:
    """Hex sha256 of the raw file bytes, used to recognise a re-import of the same file."""
    return hashlib.sha256(data).hexdigest()
