"""A payroll's bank file: the `bankfiles.Batch` of its included lines, rendered as pain.001 or CSV.

Only approved (or later) payrolls are exported. Everything in the file is derived from stored values (MsgId from
the payroll id, EndToEndIds stored on the lines, the creation time = the approval time), and whom it pays is the
lines' payee snapshot taken at approval (`payees`) and frozen by the database, never the live person or bank
account: the same payroll always gives the same bytes, whatever changed in the registry since.
"""

from __future__ import annotations

import re
from datetime import UTC
from decimal import Decimal

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, text

from modules.payments.bankfiles import BankFileError, Batch, Debtor, Payment, csvfile, ids, pain001
from modules.payments.bankfiles.model import MAX_TEXT, Header
from modules.payments.bankfiles.text import latin
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
    _must_be_frozen(payroll)
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
    created = _created_at(payroll)
    return Batch(message_id=ids.message_id(payroll.id, VERSION_TAG), created_at=created,
                 requested_execution_date=local_time(created).date(), debtor=debtor(), payments=tuple(payments),
                 initiating_party=current_app.config["PAYER_NAME"])


def _must_be_frozen(payroll: Payroll) -> None:
    if payroll.status not in FROZEN:
        raise PayrollError(_l("Payroll %(id)d has the status %(status)s: only an approved payroll has a bank file.",
                               id=payroll.id, status=_l(payroll.status.value)))


def _created_at(payroll: Payroll):
    """The file's creation time: the approval's (in UTC)."""
    created = payroll.approved_at or payroll.created_at
    if created.tzinfo is None:  # SQLite gives back naive datetimes; they are stored in UTC
        created = created.replace(tzinfo=UTC)
    return created


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
        if file_format != "csv":
            xml = _stream_pain001(payroll, file_format)
            if xml is not None:
                return xml
        batch = build_batch(payroll)
        return csvfile.render(batch) if file_format == "csv" else pain001.render(batch, file_format)
    except BankFileError as exc:  # the data of some line cannot go into a bank file: say which, in the bank's terms
        raise PayrollError(_l("The bank file could not be made: %(why)s", why=str(exc))) from exc


# The fields of a line as `Payment` accepts them without change (its usual case): an amount with exactly 2 decimals,
# positive and within ISO 20022's 18 digits, a 20-digit account and a 5-digit bank code; checked as one text.
_USUAL_LINE = re.compile(r"[A-Za-z0-9-]{1,35} (?!0+\.00 )\d{1,16}\.\d\d \d{20} \d{5}")


def _stream_pain001(payroll: Payroll, version: str) -> bytes | None:
    """The pain.001 file of the payroll written from its lines as they are read, part by part, with no `Payment`
    object per line (a national payroll has a million lines); the same bytes as `pain001.render(build_batch(...))`.

    None when some line is not the usual kind (a text `latin` must shorten or empties, a malformed amount, account
    or bank code, end-to-end ids out of order): then the caller builds the `Batch`, whose checks name the line."""
    _must_be_frozen(payroll)
    line = PayrollLine
    paid = (line.payroll_id == payroll.id, line.status != LineStatus.excluded.value)
    if db.session.get_bind().dialect.name == "postgresql":
        # Kept equal to the count and sum of its lines to pay by the database, and checked by it on approval; the
        # stream is held to them line by line all the same.
        count, total = payroll.line_count, payroll.total_amount
    else:
        count, total = db.session.execute(select(func.count(), func.sum(line.amount)).where(*paid)).one()
    if not count:
        raise PayrollError(_l("Payroll %(id)d has no line to pay.", id=payroll.id))
    created = _created_at(payroll)
    header = Header(message_id=ids.message_id(payroll.id, VERSION_TAG), created_at=created,
                    requested_execution_date=local_time(created).date(), debtor=debtor(),
                    initiating_party=current_app.config["PAYER_NAME"], number_of_payments=count, control_sum=total)
    rows = select(line.end_to_end_id, line.amount, line.payee_name, line.payee_pin, line.payee_account,
                  line.payee_bank_code, line.period).where(*paid)
    partitions = _partitions(rows)
    try:
        return pain001.render_stream(header, _parts(partitions, _remittances(payroll)), version)
    except _Unusual:
        return None
    finally:
        partitions.close()  # its cursor closed and its setting undone now, not whenever it is collected


def _partitions(rows):
    """The lines of `rows` in lists of `PART_SIZE` tuples, in end-to-end id order.

    PostgreSQL: from a server-side cursor of the driver itself, whose tuples are as wanted (amounts as Decimal),
    without SQLAlchemy's handling of each row; ordered in the "C" collation, the order of Python's str that `Batch`
    sorts by. SQLite: through SQLAlchemy, whose types make its amounts Decimal."""
    line = PayrollLine
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        yield from connection.execute(rows.order_by(line.end_to_end_id)
                                      .execution_options(yield_per=pain001.PART_SIZE)).partitions()
        return
    query = rows.order_by(line.end_to_end_id.collate("C")).compile(dialect=connection.dialect)
    # A region's lines sorted in memory rather than in temporary files (about 150 bytes a line), for this query only.
    before = connection.scalar(text("SELECT current_setting('work_mem')"))
    connection.execute(text("SELECT set_config('work_mem', :size, true)"), {"size": SORT_MEMORY})
    try:
        with connection.connection.driver_connection.cursor(name="payroll_bank_file") as cursor:
            cursor.execute(str(query), query.params)
            while part := cursor.fetchmany(pain001.PART_SIZE):
                yield part
    finally:
        connection.execute(text("SELECT set_config('work_mem', :size, true)"), {"size": before})


SORT_MEMORY = "128MB"


class _Unusual(Exception):
    """A line `_parts` does not write: the Batch path takes the payroll over."""


def _parts(partitions, remittance_of):
    """(text, number, sum) of each partition of lines, written by `pain001.transaction_text`; `_Unusual` at the
    first line that is not the usual kind. (A million lines go through here: the texts each line repeats, its
    payee's name and its remittance, are converted once.)"""
    names: dict[str, str | None] = {}
    remittances: dict[str, str | None] = {}
    previous = ""
    write = pain001.transaction_text
    for rows in partitions:
        texts, total = [], Decimal("0.00")
        for end_to_end_id, amount, name, pin, account, bank_code, period in rows:
            written = str(amount)
            # The ids strictly increasing: in the order `Batch` sorts by, none twice. The account and bank code are
            # checked by the pattern (None is written "None" and fails it).
            if not (type(end_to_end_id) is str and end_to_end_id > previous and type(amount) is Decimal
                    and _USUAL_LINE.fullmatch(f"{end_to_end_id} {written} {account} {bank_code}")):
                raise _Unusual
            latin_name = names.get(name, _UNSEEN)
            if latin_name is _UNSEEN:
                latin_name = names[name] = _usual_text(name)
            remittance = remittances.get(period, _UNSEEN)
            if remittance is _UNSEEN:
                remittance = remittances[period] = remittance_of(period)
            if latin_name is None or remittance is None:
                raise _Unusual
            if pin is not None and not (len(pin) == 14 and pin.isascii() and pin.isdigit()):
                pin = None  # as `build_batch`: a PINFL that is not one is left out of the file
            texts.append(write(end_to_end_id, written, bank_code, latin_name, account, remittance, pin))
            total += amount
            previous = end_to_end_id
        yield "".join(texts), len(texts), total


_UNSEEN = object()


def _usual_text(value) -> str | None:
    """The text as a bank file writes it (`latin`), or None if it is not text or `Payment` would refuse it."""
    if type(value) is not str:
        return None
    written = latin(value)
    return written if 0 < len(written) <= MAX_TEXT else None


def _remittances(payroll: Payroll):
    """The payment details of a line by its period, as a bank file writes them (None if `Payment` would refuse)."""
    programme = db.session.get(Programme, payroll.programme_id)
    remittance = f"{programme.code} {payroll.period}"

    def of(period: str) -> str | None:
        return _usual_text(remittance if period == payroll.period else arrears_remittance(remittance, period))
    return of
