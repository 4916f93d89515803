"""The simulator's bank and treasury: the other side of `connectors.bank` and `connectors.treasury`.

The bank opens an account for each payee request at once (a 20-digit number derived from the request id), reports
it as `opened` on the first status query and `card_issued` from the second on, accepts each pain.001 file once (by
MsgId; the same file again gets the same receipt, a different file under the same MsgId is refused), and answers a
file's camt.054.001.08 notification: a booked debit per payment to an account it holds open, a return (`AC01`
unknown account, `AC04` closed account) for the others. The notification is derived from the stored file only, so
fetching it twice gives the same bytes. The treasury confirms a fund request unless its total exceeds the limit
set through `PUT /_control/treasury` (none by default). State lives in the simulator database, so a restarted
simulator still knows the accounts it opened and the files it was sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from xml.sax.saxutils import escape

from flask import Response, request
from lxml import etree
from sqlalchemy import insert, select, update

from connectors import bank, treasury
from connectors.simulator import store
from connectors.simulator.store import bank_account, fund_request, payment_file

BANK_SERVICE = bank.SERVICE_ID
TREASURY_SERVICE = treasury.SERVICE_ID
SERVICES = (BANK_SERVICE, TREASURY_SERVICE)
CAMT054 = "camt.054.001.08"
OPEN = ("opened", "card_issued")
BANK_ACCOUNT = "20210000900100001001"  # the payer's account the notifications are about (demo)

def create_tables(engine) -> None:
    """The bank's and the treasury's tables, in any simulator database (also one made before they existed)."""
    store.metadata.create_all(engine, tables=[bank_account, payment_file, fund_request])


class Refused(Exception):
    """A request the simulated partner refuses: (HTTP status, message)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def serve(state, service: str, path: str, reply) -> Response:
    """Dispatch one call below the bank's or the treasury's service; `reply(body, status)` builds the response."""
    route = _ROUTES.get((service, request.method, _shape(path)))
    if route is None:
        return Response(f"no {request.method} {path} below {service}", status=404, content_type="text/plain")
    try:
        with state.engine.begin() as conn:
            body, status = route(state, conn, path)
    except Refused as refusal:
        return reply({"error": "refused", "message": refusal.message}, refusal.status)
    return reply(body, status)


def _shape(path: str) -> str:
    parts = path.strip("/").split("/")
    if len(parts) == 3 and parts[0] == "payment-files" and parts[2] == "statement":
        return "payment-files/*/statement"
    if len(parts) == 2 and parts[0] == "fund-requests":
        return "fund-requests/*"
    return "/".join(parts)


# -- bank: accounts --------------------------------------------------------------------------------------------


def _account_number(request_id: str, salt: int = 0) -> str:
    digits = int(hashlib.sha256(f"{request_id}:{salt}".encode()).hexdigest(), 16) % 10**12
    return f"22618000{digits:012d}"  # balance account 22618 (cards), currency 000 (UZS)


def _request_accounts(state, conn, _path):
    body = request.get_json(silent=True)
    items = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise Refused(400, "the body must be {\"requests\": [...]} with at least one request")
    now = datetime.now(UTC)
    accepted = 0
    for item in items:
        if not isinstance(item, dict) or not all(item.get(k) for k in ("request_id", "pin", "bank_code")):
            raise Refused(400, f"a request needs request_id, pin and bank_code: {item!r}")
        if conn.scalar(select(bank_account.c.request_id).where(bank_account.c.request_id == item["request_id"])):
            accepted += 1  # already have it: a repeat is harmless
            continue
        salt = 0
        while conn.scalar(select(bank_account.c.request_id)
                          .where(bank_account.c.account_number == _account_number(item["request_id"], salt))):
            salt += 1
        conn.execute(insert(bank_account).values(
            request_id=item["request_id"], pin=item["pin"], bank_code=item["bank_code"],
            name=f"{item.get('last_name', '')} {item.get('first_name', '')}".strip(),
            account_number=_account_number(item["request_id"], salt), status="opened", status_queries=0,
            requested_at=now))
        accepted += 1
    return {"accepted": accepted}, 200


def _account_statuses(state, conn, _path):
    ids = request.args.getlist("request_id")
    if not ids:
        raise Refused(400, "ask for at least one request_id")
    rows = {row.request_id: row for row in conn.execute(select(bank_account)
                                                        .where(bank_account.c.request_id.in_(ids)))}
    results = []
    for rid in ids:
        row = rows.get(rid)
        if row is None:
            results.append({"request_id": rid, "status": "unknown"})
            continue
        status = row.status
        if status == "opened" and row.status_queries >= 1:
            status = "card_issued"  # the card is ready by the time the bank is asked a second time
        conn.execute(update(bank_account).where(bank_account.c.request_id == rid)
                     .values(status=status, status_queries=row.status_queries + 1))
        results.append({"request_id": rid, "status": status if status != "closed" else "rejected",
                        "account_number": row.account_number})
    return {"results": results}, 200


def close_account(engine, account_number: str) -> bool:
    """Close an account at the simulated bank (tests, demos): payments to it come back as AC04."""
    with engine.begin() as conn:
        return conn.execute(update(bank_account).where(bank_account.c.account_number == account_number)
                            .values(status="closed")).rowcount == 1


# -- bank: payment files and notifications ----------------------------------------------------------------------


def _receive_file(state, conn, _path):
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not body.get("message_id") or not body.get("content"):
        raise Refused(400, "the body must carry message_id, format, sha256 and content (base64)")
    try:
        content = base64.b64decode(body["content"], validate=True)
    except ValueError as exc:
        raise Refused(400, "content is not base64") from exc
    digest = hashlib.sha256(content).hexdigest()
    if body.get("sha256") and body["sha256"] != digest:
        raise Refused(400, "the content does not match its sha256")
    message_id, transactions, control_sum = _read_pain001(content)
    if message_id != body["message_id"]:
        raise Refused(400, f"message_id {body['message_id']!r} is not the file's MsgId {message_id!r}")
    existing = conn.execute(select(payment_file).where(payment_file.c.message_id == message_id)).first()
    if existing is not None:
        if existing.sha256 != digest:
            raise Refused(409, f"a different file with MsgId {message_id} was received already")
        return _receipt(existing), 200
    file_id = "F" + digest[:20].upper()
    conn.execute(insert(payment_file).values(
        file_id=file_id, message_id=message_id, format=str(body.get("format") or ""), sha256=digest,
        received_at=datetime.now(UTC).replace(microsecond=0), transactions=json.dumps(transactions),
        control_sum=control_sum))
    return _receipt(conn.execute(select(payment_file).where(payment_file.c.file_id == file_id)).one()), 201


def _receipt(row) -> dict:
    received = row.received_at if row.received_at.tzinfo else row.received_at.replace(tzinfo=UTC)
    return {"file_id": row.file_id, "message_id": row.message_id, "transactions": len(json.loads(row.transactions)),
            "control_sum": row.control_sum, "received_at": received.isoformat()}


def _read_pain001(content: bytes) -> tuple[str, list, str]:
    """(MsgId, [[EndToEndId, amount, creditor account]], control sum) of a pain.001 file; Refused if unreadable."""
    try:
        root = etree.fromstring(content, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise Refused(400, f"the file is not well-formed XML: {exc}") from exc
    ns = etree.QName(root).namespace or ""
    if not ns.startswith("urn:iso:std:iso:20022:tech:xsd:pain.001."):
        raise Refused(400, f"expected a pain.001 file, got namespace {ns!r}")
    q = {"p": ns}
    message_id = root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:MsgId", namespaces=q)
    transactions, total = [], Decimal("0")
    for tx in root.iterfind(".//p:CdtTrfTxInf", namespaces=q):
        try:
            amount = Decimal(tx.findtext("p:Amt/p:InstdAmt", namespaces=q))
        except (InvalidOperation, TypeError) as exc:
            raise Refused(400, "a transaction has no readable InstdAmt") from exc
        account = (tx.findtext("p:CdtrAcct/p:Id/p:Othr/p:Id", namespaces=q)
                   or tx.findtext("p:CdtrAcct/p:Id/p:IBAN", namespaces=q) or "")
        transactions.append([tx.findtext("p:PmtId/p:EndToEndId", namespaces=q), str(amount), account])
        total += amount
    if not message_id or not transactions:
        raise Refused(400, "the file has no MsgId or no transaction")
    return message_id, transactions, str(total)


def _statement(state, conn, path):
    file_id = path.strip("/").split("/")[1]
    row = conn.execute(select(payment_file).where(payment_file.c.file_id == file_id)).first()
    if row is None:
        raise Refused(404, f"no payment file {file_id}")
    accounts = {r.account_number: r.status for r in conn.execute(
        select(bank_account.c.account_number, bank_account.c.status)
        .where(bank_account.c.account_number.in_({tx[2] for tx in json.loads(row.transactions)})))}
    content = camt054(row, accounts)
    return {"format": CAMT054, "sha256": hashlib.sha256(content).hexdigest(),
            "content": base64.b64encode(content).decode("ascii")}, 200


def camt054(row, accounts: dict[str, str]) -> bytes:
    """The bank's camt.054.001.08 notification for one payment file, from what is stored only (stable bytes)."""
    received = row.received_at if row.received_at.tzinfo else row.received_at.replace(tzinfo=UTC)
    day = received.date().isoformat()
    entries = []
    for e2e, amount, account in json.loads(row.transactions):
        status = accounts.get(account)
        if status in OPEN:
            entries.append(_entry(e2e, amount, "DBIT", "DMCT", day, None))
        else:
            reason = ("AC04", "Closed account number") if status == "closed" else ("AC01", "Incorrect account number")
            entries.append(_entry(e2e, amount, "CRDT", "RRTN", day, reason))
    stamp = received.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:{CAMT054}"><BkToCstmrDbtCdtNtfctn>'
        f'<GrpHdr><MsgId>NTF-{row.file_id}</MsgId><CreDtTm>{stamp}</CreDtTm></GrpHdr>'
        f'<Ntfctn><Id>N-{row.file_id}</Id><CreDtTm>{stamp}</CreDtTm>'
        f'<Acct><Id><Othr><Id>{BANK_ACCOUNT}</Id></Othr></Id><Ccy>UZS</Ccy></Acct>'
        f'{"".join(entries)}</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>\n').encode()


def _entry(e2e: str, amount: str, direction: str, sub_family: str, day: str, reason) -> str:
    returned = (f'<RtrInf><Rsn><Cd>{reason[0]}</Cd></Rsn><AddtlInf>{reason[1]}</AddtlInf></RtrInf>'
                if reason else "")
    return (f'<Ntry><Amt Ccy="UZS">{amount}</Amt><CdtDbtInd>{direction}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>'
            f'<BookgDt><Dt>{day}</Dt></BookgDt>'
            f'<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>{sub_family}</SubFmlyCd></Fmly></Domn>'
            f'</BkTxCd><NtryDtls><TxDtls><Refs><EndToEndId>{escape(e2e)}</EndToEndId></Refs>{returned}</TxDtls>'
            '</NtryDtls></Ntry>')


# -- treasury ---------------------------------------------------------------------------------------------------


def _fund_request(state, conn, _path):
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not body.get("reference") or not isinstance(body.get("lines"), list):
        raise Refused(400, "the body must carry reference, period, total and lines")
    try:
        total = Decimal(str(body["total"]))
        lines_total = sum((Decimal(str(line["amount"])) for line in body["lines"]), Decimal("0"))
    except (KeyError, InvalidOperation, TypeError) as exc:
        raise Refused(400, "total and every line's amount must be decimal strings") from exc
    if total != lines_total:
        raise Refused(400, f"total {total} is not the sum of the lines ({lines_total})")
    existing = conn.execute(select(fund_request).where(fund_request.c.reference == body["reference"])).first()
    if existing is not None:
        return _fund_answer(existing), 200
    limit = state.treasury_limit
    refused = limit is not None and total > limit
    conn.execute(insert(fund_request).values(
        reference=body["reference"], period=str(body.get("period") or ""), total=str(total),
        status="refused" if refused else "confirmed",
        treasury_reference=None if refused else "GFMIS-" + hashlib.sha256(body["reference"].encode()).hexdigest()[:12]
        .upper(), reason=f"the budget line has {limit} UZS left" if refused else None,
        received_at=datetime.now(UTC)))
    row = conn.execute(select(fund_request).where(fund_request.c.reference == body["reference"])).one()
    return _fund_answer(row), 201


def _fund_status(state, conn, path):
    reference = path.strip("/").split("/")[1]
    row = conn.execute(select(fund_request).where(fund_request.c.reference == reference)).first()
    if row is None:
        raise Refused(404, f"no fund request {reference}")
    return _fund_answer(row), 200


def _fund_answer(row) -> dict:
    return {"reference": row.reference, "status": row.status, "treasury_reference": row.treasury_reference,
            "reason": row.reason}


_ROUTES = {
    (BANK_SERVICE, "POST", "accounts/requests"): _request_accounts,
    (BANK_SERVICE, "GET", "accounts/requests"): _account_statuses,
    (BANK_SERVICE, "POST", "payment-files"): _receive_file,
    (BANK_SERVICE, "GET", "payment-files/*/statement"): _statement,
    (TREASURY_SERVICE, "POST", "fund-requests"): _fund_request,
    (TREASURY_SERVICE, "GET", "fund-requests/*"): _fund_status,
}
