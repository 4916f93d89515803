"""pain.002 customer payment status report reader, versions .001.03 and .001.10."""

from __future__ import annotations

from decimal import Decimal

from . import _xml
from .model import SetAsideLine, Statement, StatementEntry, StatementError, digest_of

VERSIONS = ("001.03", "001.10")
PAID = {"ACSC", "ACCC"}  # settled on our account / credited to the beneficiary: final and successful
FAILED = {"RJCT"}
# Everything else (ACCP, ACSP, ACTC, ACWC, ACWP, PDNG, RCVD, PART, unknown codes) is not final yet.


def read_pain002(xml_bytes: bytes) -> Statement:
    """Read a pain.002 status report into a Statement; a whole-file rejection with no transactions raises."""
    root = _xml.parse(xml_bytes)
    msg, version, ns = _xml.message_type(root)
    if msg != "pain.002" or version not in VERSIONS:
        raise StatementError(f"expected pain.002 (versions {', '.join(VERSIONS)}), got {msg}.{version}")
    doc = _xml.Doc(ns)
    body = doc.one(root, "CstmrPmtStsRpt")
    if body is None:
        raise StatementError("pain.002: missing <CstmrPmtStsRpt> under <Document>")
    group = doc.one(body, "OrgnlGrpInfAndSts")
    if group is None:
        raise StatementError("pain.002: missing <OrgnlGrpInfAndSts>")
    group_status = (doc.text(group, "GrpSts") or "").upper() or None
    group_reason = _xml.reason(doc, group, "StsRsnInf", "OrgnlGrpInfAndSts")
    entries: list[StatementEntry] = []
    pending: list[SetAsideLine] = []
    for b, batch in enumerate(doc.all(body, "OrgnlPmtInfAndSts"), start=1):
        _read_batch(doc, batch, f"OrgnlPmtInfAndSts[{b}]", (group_status, group_reason), entries, pending)
    if group_status == "RJCT" and not entries:
        raise StatementError(_whole_file_rejected(doc, group, group_reason))
    return Statement(
        kind="pain.002",
        version=version,
        message_id=doc.text(body, "GrpHdr/MsgId"),
        created_at=_xml.to_datetime(doc.text(body, "GrpHdr/CreDtTm"), "GrpHdr/CreDtTm"),
        entries=tuple(entries),
        pending=tuple(pending),
        digest=digest_of(xml_bytes),
    )


def _whole_file_rejected(doc, group, group_reason) -> str:
    """The message for a rejected file that lists no transactions."""
    code, text = group_reason
    original = doc.text(group, "OrgnlMsgId") or "(unknown)"
    why = " ".join(part for part in (code, text) if part) or "no reason given"
    return f"pain.002: the bank rejected the whole file {original} (GrpSts RJCT): {why}"


def _read_batch(doc, batch, where, group, entries, pending) -> None:
    """Sort one payment-information block: its transactions, or the block itself when rejected without them."""
    batch_status = (doc.text(batch, "PmtInfSts") or "").upper() or None
    batch_reason = _xml.reason(doc, batch, "StsRsnInf", where)
    # A group rejection overrides everything; otherwise a transaction inherits its block's status when it has none.
    inherited = group if group[0] == "RJCT" else (batch_status or group[0], batch_reason)
    txs = doc.all(batch, "TxInfAndSts")
    if not txs and batch_status == "RJCT" and group[0] != "RJCT":
        entries.append(_rejected_block(doc, batch, where, batch_reason))
    for t, tx in enumerate(txs, start=1):
        _read_tx(doc, tx, f"{where}/TxInfAndSts[{t}]", inherited, group[0] == "RJCT", entries, pending)


def _read_tx(doc, tx, where, inherited, group_rejected, entries, pending) -> None:
    """One `TxInfAndSts` becomes an entry (ACSC/ACCC paid, RJCT failed) or a pending line."""
    own_status = (doc.text(tx, "TxSts") or "").upper() or None
    status = "RJCT" if group_rejected else (own_status or inherited[0] or "")
    code, text = _xml.reason(doc, tx, "StsRsnInf", where)
    if code is None and text is None:
        code, text = inherited[1]
    value, ccy = _original_amount(doc, tx, where)
    common = {
        "end_to_end_id": _xml.end_to_end_id(doc.text(tx, "OrgnlEndToEndId"), f"{where}/OrgnlEndToEndId"),
        "amount": value if value is not None else Decimal("0"),
        "amount_known": value is not None,
        "currency": ccy,
        "account_servicer_ref": doc.text(tx, "AcctSvcrRef"),
        "source_line": where,
    }
    if status in PAID or status in FAILED:
        outcome = "paid" if status in PAID else "failed"
        entries.append(StatementEntry(outcome=outcome, reason_code=code, reason_text=text, **common))
    else:
        pending.append(SetAsideLine(status=status or "(none)", note="transaction status is not final", **common))


def _original_amount(doc, tx, where):
    """`OrgnlTxRef/Amt/InstdAmt` when the bank repeats it, else (None, None)."""
    el = doc.one(tx, "OrgnlTxRef/Amt/InstdAmt")
    return _xml.amount(el, f"{where}/OrgnlTxRef/Amt/InstdAmt") if el is not None else (None, None)


def _rejected_block(doc, batch, where, batch_reason) -> StatementEntry:
    """A whole payment-information block rejected without listing its transactions: one failed line, no id."""
    code, text = batch_reason
    block = doc.text(batch, "OrgnlPmtInfId") or "(unknown)"
    count = doc.text(batch, "OrgnlNbOfTxs") or "?"
    note = f"whole payment block {block} rejected ({count} transactions)"
    return StatementEntry(
        end_to_end_id=None,
        amount=Decimal("0"),
        amount_known=False,
        currency=None,
        outcome="failed",
        reason_code=code,
        reason_text=f"{note}: {text}" if text else note,
        source_line=where,
    )
