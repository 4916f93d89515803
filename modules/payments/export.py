"""A payroll's bank file: the `bankfiles.Batch` of its included lines, rendered as pain.001 or CSV.

Only approved (or later) payrolls are exported. Everything in the file is derived from stored values (MsgId from
the payroll id, EndToEndIds stored on the lines, the creation time = the approval time), and whom it pays is the
lines' payee snapshot taken at approval (`payees`) and frozen by the database, never the live person or bank
account: the same payroll always gives the same bytes, whatever changed in the registry since.
"""

from __future__ import annotations

from datetime import UTC

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from modules.payments.bankfiles import BankFileError, Batch, Debtor, Payment, csvfile, ids, pain001
from modules.payments.bankfiles.xsd import VERSIONS
from modules.payments.models import FROZEN, LineStatus, Payroll, PayrollLine
from modules.payments.status import PayrollError
from webapp.extensions import db
from webapp.models import Programme
from webapp.pin import is_ascii_digits
from webapp.timeutil import local_time

FORMATS = (*VERSIONS, "csv")
VERSION_TAG = "V1"  # a deliberately corrected re-issue of a file would get a new tag


def debtor() -> Debtor:
    config = current_app.config
    return Debtor(name=config["PAYER_NAME"], account=config["PAYER_ACCOUNT"], bank_code=config["PAYER_BANK_CODE"])


def build_batch(payroll: Payroll) -> Batch:
    """The batch of the payroll's included lines; PayrollError if the payroll is not approved or has no line."""
    if payroll.status not in FROZEN:
        raise PayrollError(_l("Payroll %(id)d has the status %(status)s: only an approved payroll has a bank file.",
                               id=payroll.id, status=_l(payroll.status.value)))
    programme = db.session.get(Programme, payroll.programme_id)
    line = PayrollLine
    rows = db.session.execute(
        select(line.end_to_end_id, line.amount, line.payee_name, line.payee_pin, line.payee_account,
               line.payee_bank_code, line.period)
        .where(line.payroll_id == payroll.id, line.status != LineStatus.excluded)
        .order_by(line.end_to_end_id)).all()
    if not rows:
        raise PayrollError(_l("Payroll %(id)d has no line to pay.", id=payroll.id))
    remittance = f"{programme.code} {payroll.period}"
    payments = [Payment(end_to_end_id=end_to_end_id, amount=amount, creditor_name=name, creditor_account=account,
                        creditor_bank_code=bank_code,
                        remittance=remittance if period == payroll.period else arrears_remittance(remittance, period),
                        creditor_pin=pin if pin and len(pin) == 14 and is_ascii_digits(pin) else None)
               for end_to_end_id, amount, name, pin, account, bank_code, period in rows]
    created = payroll.approved_at or payroll.created_at
    if created.tzinfo is None:  # SQLite gives back naive datetimes; they are stored in UTC
        created = created.replace(tzinfo=UTC)
    return Batch(message_id=ids.message_id(payroll.id, VERSION_TAG), created_at=created,
                 requested_execution_date=local_time(created).date(), debtor=debtor(), payments=tuple(payments),
                 initiating_party=current_app.config["PAYER_NAME"])


def arrears_remittance(remittance: str, period: str) -> str:
    """The payment details of a line paying an owed month: the payroll's, and the month it is owed for (the bank's
    text stays in Latin letters and digits, the same in every language)."""
    return f"{remittance} ARREARS {period}"


def render(payroll: Payroll, file_format: str) -> bytes:
    """The file in `file_format` (a pain.001 version or csv); pain.001 is validated against its XSD."""
    if file_format not in FORMATS:
        raise PayrollError(_l("The file format must be one of %(formats)s, not %(format)s.",
                               formats=", ".join(FORMATS), format=file_format))
    try:
        batch = build_batch(payroll)
        return csvfile.render(batch) if file_format == "csv" else pain001.render(batch, file_format)
    except BankFileError as exc:  # the data of some line cannot go into a bank file: say which, in the bank's terms
        raise PayrollError(_l("The bank file could not be made: %(why)s", why=str(exc))) from exc
