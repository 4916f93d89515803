"""Sending an approved, funded payroll's pain.001 file to the bank, and fetching what the bank booked.

`send_to_bank` records the transfer (unique per payroll and per MsgId), moves the payroll to sent (the status
machine refuses it unless the treasury confirmed the funds) and only then calls the bank, all in one transaction:
if the bank refuses or cannot be reached, nothing is stored and the payroll stays approved; two people sending at
once, the second fails on the unique payroll before calling the bank. The bank accepts a MsgId once, so repeating a
send whose answer was lost cannot pay anyone twice. Moving the payroll to sent also writes its lines to the payment
ledger (a database trigger, migration 0016): from then on no enrolment of it can be paid again for that month, even
if a line were deleted; a send that fails rolls the ledger rows back with everything else. Nothing here commits.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from connectors.partners import bank_connector
from connectors.transport.errors import SourceError
from connectors.transport.xroad import user_id_of
from modules.payments import export
from modules.payments import status as machine
from modules.payments.bankfiles import ids
from modules.payments.models import BankTransfer, Payroll, PayrollStatus, StatementImport
from modules.payments.reconciliation import ReconciliationError, import_statement
from webapp.extensions import db
from webapp.formatting import money

DEFAULT_FORMAT = "pain.001.001.03"
BANK_FORMATS = ("pain.001.001.03", "pain.001.001.09")


def transfer_of(payroll_id: int) -> BankTransfer | None:
    return db.session.scalar(select(BankTransfer).where(BankTransfer.payroll_id == payroll_id))


def send_to_bank(payroll: Payroll, actor=None, file_format: str = DEFAULT_FORMAT) -> BankTransfer:
    """Send the payroll's file to the bank and mark it sent; see the module doc."""
    if file_format not in BANK_FORMATS:
        raise machine.PayrollError(_l("The bank takes %(formats)s, not %(format)s.",
                                      formats=" / ".join(BANK_FORMATS), format=file_format))
    if payroll.status is not PayrollStatus.approved:
        raise machine.IllegalTransition(payroll.status, PayrollStatus.sent)
    content = export.render(payroll, file_format)  # validated against the XSD before it leaves
    transfer = BankTransfer(payroll_id=payroll.id, message_id=ids.message_id(payroll.id, export.VERSION_TAG),
                            file_format=file_format, sha256=hashlib.sha256(content).hexdigest(),
                            transactions=payroll.line_count, control_sum=payroll.total_amount,
                            sent_by_id=getattr(actor, "id", None))
    try:
        with db.session.begin_nested():
            db.session.add(transfer)
            db.session.flush()
    except IntegrityError as exc:
        raise machine.PayrollConflict(_l("Nothing changed: payroll %(id)d was sent to the bank by someone else.",
                                         id=payroll.id)) from exc
    machine.mark_sent(payroll, actor, {"message_id": transfer.message_id, "format": file_format,
                                       "sha256": transfer.sha256})
    try:
        receipt = bank_connector().submit_payment_file(content, transfer.message_id, file_format,
                                                       user_id=user_id_of(actor))
    except SourceError as exc:
        raise machine.PayrollError(_l("The bank did not take the file; the payroll stays approved. (%(why)s)",
                                      why=str(exc))) from exc
    if receipt.transactions != transfer.transactions or Decimal(receipt.control_sum) != transfer.control_sum:
        raise machine.PayrollError(_l(
            "The bank read %(read)d payments for %(read_amount)s, but the payroll has %(sent)d for %(sent_amount)s: "
            "the payroll stays approved; call the bank.", read=receipt.transactions,
            read_amount=money(Decimal(receipt.control_sum)), sent=transfer.transactions,
            sent_amount=money(transfer.control_sum)))
    transfer.bank_file_id = receipt.file_id
    db.session.flush()
    return transfer


def fetch_statement(payroll: Payroll, actor=None) -> StatementImport:
    """Fetch the bank's notification for the payroll's file and reconcile it (a repeat changes nothing)."""
    transfer = transfer_of(payroll.id)
    if transfer is None or transfer.bank_file_id is None:
        raise machine.PayrollError(_l("Payroll %(id)d was not sent through the bank connector: upload the bank's "
                                      "statement on the statements page instead.", id=payroll.id))
    try:
        file_format, content = bank_connector().statement(transfer.bank_file_id, user_id=user_id_of(actor))
    except SourceError as exc:
        raise machine.PayrollError(_l("The bank's statement could not be fetched. Try again later. (%(why)s)",
                                      why=str(exc))) from exc
    try:
        record = import_statement(content, f"{transfer.bank_file_id}.{file_format}.xml", actor)
    except ReconciliationError as exc:
        raise machine.PayrollError(exc.message) from exc
    transfer.statement_import_id = record.id
    db.session.flush()
    return record
