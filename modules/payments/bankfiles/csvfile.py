"""CSV payment file for banks that do not take ISO 20022.

Layout (one file per `Batch`, deterministic: the same batch gives the same bytes):

- UTF-8 without a byte-order mark, lines end with CRLF (``\\r\\n``), the last line too;
- a header row, then one row per payment in end-to-end id order;
- comma-separated, quoted only where needed (a field containing a comma, quote or line break; quotes doubled);
- columns, in this order:

  ==================  ==============================================================
  end_to_end_id       the payment's stable id (see ids.py); reconciliation matches it
  creditor_name       beneficiary name, basic Latin (see text.latin)
  creditor_account    20-digit account number
  creditor_bank_code  5-digit MFO code of the beneficiary's bank
  amount              2 decimals, dot as separator, no thousands separator (1234.50)
  currency            ISO 4217 code (UZS)
  remittance          payment details, basic Latin, at most 140 characters
  ==================  ==============================================================

The debtor account and execution date are not in the file: banks take them from the upload form or the
accompanying letter.
"""

from __future__ import annotations

import csv
import io

from modules.payments.bankfiles.model import Batch

COLUMNS = (
    "end_to_end_id", "creditor_name", "creditor_account", "creditor_bank_code", "amount", "currency", "remittance",
)  # fmt: skip


def render(batch: Batch) -> bytes:
    """Return the CSV file of `batch` (layout in the module docstring)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    for p in batch.payments:
        amount = f"{p.amount:.2f}"
        writer.writerow((p.end_to_end_id, p.creditor_name, p.creditor_account, p.creditor_bank_code, amount,
                         p.currency, p.remittance))  # fmt: skip
    return buffer.getvalue().encode("utf-8")
