"""camt.053 (statement) and camt.054 (debit/credit notification) readers, versions .001.02 and .001.08."""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from . import _xml, limits
from .model import SetAsideLine, Statement, StatementEntry, StatementError, digest_of

# message -> (business root element, per-account report element); the namespace carries the version.
LAYOUT = {"camt.053": ("BkToCstmrStmt", "Stmt"), "camt.054": ("BkToCstmrDbtCdtNtfctn", "Ntfctn")}
VERSIONS = ("001.02", "001.08")
# Bank transaction sub-family codes that mean "your payment came back".
RETURN_SUBFAMILIES = {"RRTN", "RPCR"}


def read_camt(xml_bytes: bytes) -> Statement:
    """Read a camt.053 or camt.054 file into a Statement (lenient: not XSD-validated, see module notes)."""
    root = _xml.parse(xml_bytes)
    msg, version, ns = _xml.message_type(root)
    if msg not in LAYOUT or version not in VERSIONS:
        raise StatementError(
            f"expected camt.053 or camt.054 (versions {', '.join(VERSIONS)}), got {msg}.{version}"
        )
    doc = _xml.Doc(ns)
    body_name, report_name = LAYOUT[msg]
    body = doc.one(root, body_name)
    if body is None:
        raise StatementError(f"{msg}: missing <{body_name}> under <Document>")
    entries: list[StatementEntry] = []
    pending: list[SetAsideLine] = []
    other: list[SetAsideLine] = []
    for r, report in enumerate(doc.all(body, report_name), start=1):
        _read_report(doc, report, f"{report_name}[{r}]", entries, pending, other)
    return Statement(
        kind=msg,
        version=version,
        message_id=doc.text(body, "GrpHdr/MsgId"),
        created_at=_xml.to_datetime(doc.text(body, "GrpHdr/CreDtTm"), "GrpHdr/CreDtTm"),
        entries=tuple(entries),
        pending=tuple(pending),
        unclassified=tuple(other),
        digest=digest_of(xml_bytes),
    )


def _read_report(doc, report, where, entries, pending, other) -> None:
    """Sort each transaction of each `Ntry` of one account report into entries, pending or unclassified."""
    account_ccy = limits.currency(doc.text(report, "Acct/Ccy"), f"{where}/Acct/Ccy")
    for n, ntry in enumerate(doc.all(report, "Ntry"), start=1):
        status = _status(doc, ntry)
        for line in _transactions(doc, ntry, f"{where}/Ntry[{n}]", account_ccy):
            if status != "BOOK":
                pending.append(_set_aside(line, status or "(none)", f"entry status {status or '(none)'}: not booked"))
            elif line["outcome"] is None:
                other.append(_set_aside(line, line["direction"], "credit without return or reversal information"))
            else:
                entries.append(_entry(line))


def _status(doc, ntry) -> str:
    """Entry status: a bare code in .001.02, a `Cd`/`Prtry` choice in .001.08."""
    return (doc.text(ntry, "Sts/Cd") or doc.text(ntry, "Sts/Prtry") or doc.text(ntry, "Sts") or "").upper()


def _transactions(doc, ntry, where, account_ccy) -> list[dict]:
    """One line per `TxDtls` (batch bookings have several); one line for the entry itself when it has none."""
    ntry_amount, ntry_ccy = _xml.amount(_required(doc, ntry, "Amt", where), f"{where}/Amt")
    base = {
        "direction": (doc.text(ntry, "CdtDbtInd") or "").upper(),
        "reversal": (doc.text(ntry, "RvslInd") or "").lower() == "true",
        "booking_date": _booking_date(doc, ntry, where),
        "account_servicer_ref": doc.text(ntry, "AcctSvcrRef"),
        "sub_family": doc.text(ntry, "BkTxCd/Domn/Fmly/SubFmlyCd"),
        "currency": ntry_ccy or account_ccy,
    }
    details = doc.all(ntry, "NtryDtls/TxDtls")
    if not details:
        return [_classify({**base, "end_to_end_id": None, "amount": ntry_amount, "amount_known": True,
                           "reason_code": None, "reason_text": None, "source_line": where}, False)]
    single = ntry_amount if len(details) == 1 else None
    return [_tx_line(doc, tx, base, single, f"{where}/TxDtls[{t}]") for t, tx in enumerate(details, start=1)]


def _tx_line(doc, tx, base, fallback_amount, where) -> dict:
    """Merge one `TxDtls` over its entry's data and classify it."""
    value, ccy = _tx_amount(doc, tx, where)
    if value is None and fallback_amount is not None:
        value = fallback_amount
    code, text = _xml.reason(doc, tx, "RtrInf", where)
    line = {
        **base,
        "end_to_end_id": _xml.end_to_end_id(doc.text(tx, "Refs/EndToEndId"), f"{where}/Refs/EndToEndId"),
        "amount": value if value is not None else Decimal("0"),
        "amount_known": value is not None,
        "currency": ccy or base["currency"],
        "direction": (doc.text(tx, "CdtDbtInd") or base["direction"]).upper(),
        "account_servicer_ref": doc.text(tx, "Refs/AcctSvcrRef") or base["account_servicer_ref"],
        "sub_family": doc.text(tx, "BkTxCd/Domn/Fmly/SubFmlyCd") or base["sub_family"],
        "reason_code": code,
        "reason_text": text,
        "source_line": where,
    }
    return _classify(line, doc.one(tx, "RtrInf") is not None)


def _tx_amount(doc, tx, where):
    """The transaction's own amount: `Amt` (.001.08), else `AmtDtls/TxAmt`, else `AmtDtls/InstdAmt`."""
    for path in ("Amt", "AmtDtls/TxAmt/Amt", "AmtDtls/InstdAmt/Amt"):
        el = doc.one(tx, path)
        if el is not None:
            return _xml.amount(el, f"{where}/{path}")
    return None, None


def _classify(line: dict, has_return_info: bool) -> dict:
    """Set `outcome`: our debit = paid; a credit that reverses or returns it = returned; other credits = None."""
    if line["direction"] == "DBIT" and not line["reversal"]:
        line["outcome"] = "paid"
    elif line["direction"] == "CRDT" and (
        line["reversal"] or has_return_info or line["sub_family"] in RETURN_SUBFAMILIES
    ):
        line["outcome"] = "returned"
    else:
        # A reversed debit (DBIT + RvslInd) undoes a credit to us, so it is not about our payments either.
        line["outcome"] = None
    return line


def _booking_date(doc, ntry, where):
    """`BookgDt/Dt` or the day of `BookgDt/DtTm`."""
    raw = doc.text(ntry, "BookgDt/Dt") or doc.text(ntry, "BookgDt/DtTm")
    return _xml.to_date(raw, f"{where}/BookgDt")


def _required(doc, el, path, where) -> etree._Element:
    """The element at `path` or a StatementError naming where it is missing."""
    found = doc.one(el, path)
    if found is None:
        raise StatementError(f"{where}: missing <{path}>")
    return found


def _entry(line: dict) -> StatementEntry:
    """A final outcome from a classified line."""
    return StatementEntry(
        end_to_end_id=line["end_to_end_id"],
        amount=line["amount"],
        currency=line["currency"],
        outcome=line["outcome"],
        booking_date=line["booking_date"],
        reason_code=line["reason_code"],
        reason_text=line["reason_text"],
        account_servicer_ref=line["account_servicer_ref"],
        source_line=line["source_line"],
        amount_known=line["amount_known"],
    )


def _set_aside(line: dict, status: str, note: str) -> SetAsideLine:
    """A line kept aside (pending or unclassified) with why."""
    return SetAsideLine(
        end_to_end_id=line["end_to_end_id"],
        amount=line["amount"],
        currency=line["currency"],
        status=status,
        note=note,
        source_line=line["source_line"],
        account_servicer_ref=line["account_servicer_ref"],
        amount_known=line["amount_known"],
    )
