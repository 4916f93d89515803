"""A payroll's bank file: the `bankfiles.Batch` of its included lines, rendered as pain.001 or CSV.

Only approved (or later) payrolls are exported. Everything in the file is derived from stored values (MsgId from
the payroll id, EndToEndIds stored on the lines, the creation time = the approval time), so the same payroll
always gives the same bytes.
"""

from __future__ import annotations

from datetime import UTC

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from modules.enrolment.models import BankAccount, Enrolment
from modules.payments.bankfiles import BankFileError, Batch, Debtor, Payment, csvfile, ids, pain001
from modules.payments.bankfiles.xsd import VERSIONS
from modules.payments.models import FROZEN, LineStatus, Payroll, PayrollLine
from modules.payments.status import PayrollError
from modules.registration.models import Person
from webapp.extensions import db
from webapp.models import Programme
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
    rows = db.session.execute(
        select(PayrollLine.end_to_end_id, PayrollLine.amount, Person.last_name, Person.first_name, Person.pin,
               BankAccount.account_number, BankAccount.bank_code)
        .join(Enrolment, Enrolment.id == PayrollLine.enrolment_id)
        .join(Person, Person.id == Enrolment.payee_person_id)
        .outerjoin(BankAccount, BankAccount.id == Enrolment.bank_account_id)
        .where(PayrollLine.payroll_id == payroll.id, PayrollLine.status != LineStatus.excluded)
        .order_by(PayrollLine.end_to_end_id)).all()
    if not rows:
        raise PayrollError(_l("Payroll %(id)d has no line to pay.", id=payroll.id))
    remittance = f"{programme.code} {payroll.period}"
    payments = [Payment(end_to_end_id=end_to_end_id, amount=amount, creditor_name=f"{last_name} {first_name}",
                        creditor_account=account_number, creditor_bank_code=bank_code, remittance=remittance,
                        creditor_pin=pin if len(pin) == 14 and pin.isdigit() else None)
               for end_to_end_id, amount, last_name, first_name, pin, account_number, bank_code in rows]
    created = payroll.approved_at or payroll.created_at
    if created.tzinfo is None:  # SQLite gives back naive datetimes; they are stored in UTC
        created = created.replace(tzinfo=UTC)
    return Batch(message_id=ids.message_id(payroll.id, VERSION_TAG), created_at=created,
                 requested_execution_date=local_time(created).date(), debtor=debtor(), payments=tuple(payments),
                 initiating_party=current_app.config["PAYER_NAME"])


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
