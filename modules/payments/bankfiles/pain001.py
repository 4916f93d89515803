"""ISO 20022 customer credit transfer initiation (pain.001.001.03 and .09) for one `Batch`.

The output is deterministic: the same batch gives the same bytes (fixed element order, payments in end-to-end
id order, the batch's own creation time as the only time, amounts always with 2 decimals, UTF-8 with an XML
declaration). Layout: one `PmtInf` for the whole batch (PmtInfId = MsgId), `PmtMtd` TRF, `ChrgBr` SLEV,
`NbOfTxs`/`CtrlSum` in the group header and in the payment information; accounts as `Othr/Id` (Uzbek
20-digit accounts are not IBANs), banks by MFO code as `ClrSysMmbId/MmbId` (plus the BIC when known), the
beneficiary's PINFL (when given) as `Cdtr/Id/PrvtId/Othr` with scheme code NIDN, remittance as `RmtInf/Ustrd`.
Every file is validated against its XSD before it is returned. `render` writes a `Batch`; `render_stream` writes
a `Header` and its transactions' text part by part, for a payroll too large to hold as `Payment` objects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal

from lxml import etree

from modules.payments.bankfiles.model import BankFileError, Batch, Header, Payment
from modules.payments.bankfiles.xsd import WORKERS, schema, submit, validate

DEFAULT_VERSION = "pain.001.001.03"


def render(batch: Batch, version: str = DEFAULT_VERSION) -> bytes:
    """Return the pain.001 file of `batch` in `version`; BankFileError for an unknown version or an invalid file."""
    if all(map(_plain, batch.payments)):
        # The transactions as text: the same bytes lxml writes for them (pretty-printed, nothing to escape), without
        # building and serialising a few million elements for a large payroll.
        texts = list(map(_transaction_text, batch.payments))
        size = -(-len(texts) // WORKERS)  # one part per thread
        parts = (("".join(texts[i:i + size]), len(texts[i:i + size]), sum(p.amount for p in batch.payments[i:i + size]))
                 for i in range(0, len(texts), size))
        return render_stream(_header(batch), parts, version)
    # Unreachable for a checked Batch (its texts are basic Latin); kept so that any text is written right.
    root, info = _document(_header(batch), version)
    for payment in batch.payments:
        _transaction(_sub(info, "CdtTrfTxInf"), payment, version)
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    validate(xml, version)
    return xml


def render_stream(header: Header, parts: Iterable[tuple[str, int, Decimal]], version: str = DEFAULT_VERSION) -> bytes:
    """Return the pain.001 file of `header` and its transactions, given as parts of text (`transaction_text`, in
    end-to-end id order) with how many payments and what sum each part holds; BankFileError if they do not add up to
    the header's number and sum, or if the file is not valid.

    Each part is checked against the XSD on the pool's threads as a document of the file's head, the part and the
    file's end, while the next part is written: the schema has no identity constraint and CdtTrfTxInf repeats
    without bound, so the file is valid exactly when every such document is. If one is not, the whole file is
    validated for the report."""
    before, after = _head_and_end(header, version)
    in_parts = header.number_of_payments >= WORKERS * _PART_MIN  # else one validation on this thread is as quick
    chunks, checks, count, total = [], [], 0, Decimal("0.00")
    for text, part_count, part_total in parts:
        chunk = text.encode("utf-8")
        chunks.append(chunk)
        count, total = count + part_count, total + part_total
        if in_parts:
            checks.append(submit(b"".join((before, chunk, after)), version))
    if count != header.number_of_payments or total != header.control_sum:
        raise BankFileError(f"payments: {count} payments of {total} in total, the header says "
                            f"{header.number_of_payments} of {header.control_sum}")
    xml = b"".join((before, *chunks, after))
    if not in_parts or not all(check.result() for check in checks):
        validate(xml, version)
    return xml


def transaction_text(end_to_end_id: str, amount: str, creditor_bank_code: str, creditor_name: str,
                     creditor_account: str, remittance: str, creditor_pin: str | None = None,
                     currency: str = "UZS") -> str:
    """One CdtTrfTxInf exactly as `_transaction` and lxml's pretty printer write it (inside PmtInf), for texts that
    need no escaping (basic Latin, as `text.latin` writes it); `amount` with 2 decimals."""
    creditor_id = (
        "          <Id>\n            <PrvtId>\n              <Othr>\n"
        f"                <Id>{creditor_pin}</Id>\n"
        "                <SchmeNm>\n                  <Cd>NIDN</Cd>\n                </SchmeNm>\n"
        "              </Othr>\n            </PrvtId>\n          </Id>\n"
    ) if creditor_pin else ""
    return (
        "      <CdtTrfTxInf>\n"
        f"        <PmtId>\n          <EndToEndId>{end_to_end_id}</EndToEndId>\n        </PmtId>\n"
        f'        <Amt>\n          <InstdAmt Ccy="{currency}">{amount}</InstdAmt>\n'
        "        </Amt>\n"
        "        <CdtrAgt>\n          <FinInstnId>\n            <ClrSysMmbId>\n"
        f"              <MmbId>{creditor_bank_code}</MmbId>\n"
        "            </ClrSysMmbId>\n          </FinInstnId>\n        </CdtrAgt>\n"
        f"        <Cdtr>\n          <Nm>{creditor_name}</Nm>\n{creditor_id}        </Cdtr>\n"
        f"        <CdtrAcct>\n          <Id>\n            <Othr>\n              <Id>{creditor_account}</Id>\n"
        "            </Othr>\n          </Id>\n        </CdtrAcct>\n"
        f"        <RmtInf>\n          <Ustrd>{remittance}</Ustrd>\n        </RmtInf>\n"
        "      </CdtTrfTxInf>\n"
    )


PART_SIZE = 10000  # transactions per part a stream is best given in: keeps the threads busy, little in memory
_PART_MIN = 5000  # transactions per part below which one validation on this thread is as quick


def _header(batch: Batch) -> Header:
    return Header(message_id=batch.message_id, created_at=batch.created_at,
                  requested_execution_date=batch.requested_execution_date, debtor=batch.debtor,
                  initiating_party=batch.initiating_party, number_of_payments=len(batch.payments),
                  control_sum=batch.control_sum, currency=batch.currency)


def _document(header: Header, version: str) -> tuple[etree._Element, etree._Element]:
    """The document without transactions, and its PmtInf for them."""
    namespace = f"urn:iso:std:iso:20022:tech:xsd:{version}"
    root = etree.Element(etree.QName(namespace, "Document"), nsmap={None: namespace})
    initiation = _sub(root, "CstmrCdtTrfInitn")
    _group_header(initiation, header)
    return root, _payment_information(initiation, header, version)


def _head_and_end(header: Header, version: str) -> tuple[bytes, bytes]:
    """The file's bytes before its first transaction and after its last."""
    schema(version)  # refuses an unknown version before anything is written
    root, _info = _document(header, version)
    head = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    split = head.rindex(_END_OF_PAYMENT_INFORMATION) + 1
    return head[:split], head[split:]


_END_OF_PAYMENT_INFORMATION = b"\n    </PmtInf>\n"
# Texts lxml writes as they are (no character to escape), non-empty so that each element has its text; one match
# for all the texts of a payment joined by line breaks, exactly as many texts as were joined (6, or 7 with the PIN).
_PLAIN_TEXT = r"[A-Za-z0-9/\-?:().,'+ ]+"
_PLAIN = {count: re.compile(rf"{_PLAIN_TEXT}(?:\n{_PLAIN_TEXT}){{{count - 1}}}") for count in (6, 7)}


def _plain(payment: Payment) -> bool:
    """True if every text of the payment is written unchanged by lxml (the Batch's checks make it so)."""
    texts = (payment.end_to_end_id, payment.currency, payment.creditor_bank_code, payment.creditor_name,
             payment.creditor_account, payment.remittance, *((payment.creditor_pin,) if payment.creditor_pin else ()))
    return all(type(t) is str for t in texts) and _PLAIN[len(texts)].fullmatch("\n".join(texts)) is not None


def _transaction_text(payment: Payment) -> str:
    return transaction_text(payment.end_to_end_id, _amount(payment.amount), payment.creditor_bank_code,
                            payment.creditor_name, payment.creditor_account, payment.remittance, payment.creditor_pin,
                            payment.currency)


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attributes: str) -> etree._Element:
    """Append a child in the parent's namespace, with optional text and attributes."""
    child = etree.SubElement(parent, etree.QName(parent, tag), attributes)
    if text is not None:
        child.text = text
    return child


def _amount(value: Decimal) -> str:
    """Write an amount with exactly 2 decimals and no exponent."""
    return f"{value:.2f}"


def _group_header(parent: etree._Element, batch: Header) -> None:
    """Write GrpHdr: ids, creation time (UTC, whole seconds), totals, initiating party."""
    header = _sub(parent, "GrpHdr")
    _sub(header, "MsgId", batch.message_id)
    _sub(header, "CreDtTm", batch.created_at.isoformat())
    _sub(header, "NbOfTxs", str(batch.number_of_payments))
    _sub(header, "CtrlSum", _amount(batch.control_sum))
    _sub(_sub(header, "InitgPty"), "Nm", batch.initiating_party)


def _payment_information(parent: etree._Element, batch: Header, version: str) -> etree._Element:
    """Write the one PmtInf: debtor side and charges; the caller adds the transactions."""
    info = _sub(parent, "PmtInf")
    _sub(info, "PmtInfId", batch.message_id)
    _sub(info, "PmtMtd", "TRF")
    _sub(info, "NbOfTxs", str(batch.number_of_payments))
    _sub(info, "CtrlSum", _amount(batch.control_sum))
    execution_date = batch.requested_execution_date.isoformat()
    if version == "pain.001.001.03":
        _sub(info, "ReqdExctnDt", execution_date)
    else:  # from .08 on, ReqdExctnDt is a choice of date or date-time
        _sub(_sub(info, "ReqdExctnDt"), "Dt", execution_date)
    _sub(_sub(info, "Dbtr"), "Nm", batch.debtor.name)
    _account(_sub(info, "DbtrAcct"), batch.debtor.account, batch.currency)
    _agent(_sub(info, "DbtrAgt"), batch.debtor.bank_code, batch.debtor.bic, version)
    _sub(info, "ChrgBr", "SLEV")
    return info


def _account(parent: etree._Element, number: str, currency: str | None = None) -> None:
    """Write an account as Id/Othr/Id (not IBAN), with its currency when given."""
    _sub(_sub(_sub(parent, "Id"), "Othr"), "Id", number)
    if currency:
        _sub(parent, "Ccy", currency)


def _agent(parent: etree._Element, bank_code: str, bic: str | None, version: str) -> None:
    """Write a bank: BIC when known (element BIC in .03, BICFI in .09), then the MFO code."""
    institution = _sub(parent, "FinInstnId")
    if bic:
        _sub(institution, "BIC" if version == "pain.001.001.03" else "BICFI", bic)
    _sub(_sub(institution, "ClrSysMmbId"), "MmbId", bank_code)


def _transaction(parent: etree._Element, payment: Payment, version: str) -> None:
    """Write one CdtTrfTxInf in schema order: PmtId, Amt, CdtrAgt, Cdtr, CdtrAcct, RmtInf."""
    _sub(_sub(parent, "PmtId"), "EndToEndId", payment.end_to_end_id)
    _sub(_sub(parent, "Amt"), "InstdAmt", _amount(payment.amount), Ccy=payment.currency)
    _agent(_sub(parent, "CdtrAgt"), payment.creditor_bank_code, None, version)
    creditor = _sub(parent, "Cdtr")
    _sub(creditor, "Nm", payment.creditor_name)
    if payment.creditor_pin:
        person = _sub(_sub(_sub(creditor, "Id"), "PrvtId"), "Othr")
        _sub(person, "Id", payment.creditor_pin)
        _sub(_sub(person, "SchmeNm"), "Cd", "NIDN")  # ISO external code: national identity number
    _account(_sub(parent, "CdtrAcct"), payment.creditor_account)
    _sub(_sub(parent, "RmtInf"), "Ustrd", payment.remittance)
