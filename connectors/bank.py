"""The paying bank, over X-Road REST: account opening for payees, payment files, statements.

One agent bank pays the benefits. The registry sends it the payee list (who needs an account), asks how those
requests stand, sends each approved payroll's pain.001 file and fetches the camt.054 notification of what was
booked. Files travel inside JSON as base64, with their SHA-256, as interagency REST services do.

Service (the simulator plays the bank; a deployment sets `base_url` and the member code in `SRSP_PARTNERS`):

    POST {service}/accounts/requests      {"requests": [{"request_id", "pin", "last_name", "first_name",
                                            "birth_date", "bank_code"}]}  -> {"accepted": N}   (idempotent)
    GET  {service}/accounts/requests?request_id=…&request_id=…
                                          -> {"results": [{"request_id", "status", "account_number"?}]}
    POST {service}/payment-files          {"message_id", "format", "sha256", "content"}  -> receipt (idempotent on
                                            the message id: the bank accepts a file once and answers the same)
    GET  {service}/payment-files/{file_id}/statement  -> {"format": "camt.054.001.08", "content"} (base64)

Every call is retried only where repeating it is harmless; every request named above is (the bank dedupes by our
request ids and by the file's MsgId), so a lost answer never opens two accounts or pays a file twice.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import asdict, dataclass

from connectors.transport.errors import SourceMalformed
from connectors.transport.xroad import XRoadClient

SERVICE_ID = "UZ/COM/XALQBANK/social-payments/payments"
ACCOUNT_STATUSES = ("requested", "opened", "card_issued", "rejected", "unknown")
MAX_BATCH = 500  # account requests or status queries per call


@dataclass(frozen=True)
class Payee:
    request_id: str
    pin: str
    last_name: str
    first_name: str
    birth_date: str  # YYYY-MM-DD
    bank_code: str


@dataclass(frozen=True)
class AccountStatus:
    request_id: str
    status: str
    account_number: str | None = None


@dataclass(frozen=True)
class FileReceipt:
    file_id: str
    message_id: str
    transactions: int
    control_sum: str
    received_at: str


def encode_file(content: bytes) -> tuple[str, str]:
    """(base64 text, sha256 hex) of a file to send."""
    return base64.b64encode(content).decode("ascii"), hashlib.sha256(content).hexdigest()


def decode_file(body: dict, what: str) -> bytes:
    """The bytes of a base64 `content`, checked against its `sha256` when the sender gave one."""
    try:
        content = base64.b64decode(body["content"], validate=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise SourceMalformed(f"{what}: `content` is not base64") from exc
    digest = body.get("sha256")
    if digest and hashlib.sha256(content).hexdigest() != digest:
        raise SourceMalformed(f"{what}: the content does not match its sha256")
    return content


class BankConnector:
    """Calls the bank's service through our X-Road security server."""

    name = "bank"

    def __init__(self, transport: XRoadClient) -> None:
        self.transport = transport

    def request_accounts(self, payees: list[Payee], user_id: str | None = None) -> int:
        """Send the payee list for account opening; returns how many requests the bank accepted."""
        accepted = 0
        for start in range(0, len(payees), MAX_BATCH):
            chunk = payees[start:start + MAX_BATCH]
            body = {"requests": [asdict(payee) for payee in chunk]}
            answer = self.transport.post("accounts/requests", json=body, user_id=user_id, idempotent=True).json
            if not isinstance(answer, dict) or not isinstance(answer.get("accepted"), int):
                raise SourceMalformed("bank: account requests answer has no `accepted` count", source=self.name)
            accepted += answer["accepted"]
        return accepted

    def account_statuses(self, request_ids: list[str], user_id: str | None = None) -> list[AccountStatus]:
        """How the bank stands on each of our account requests."""
        found: list[AccountStatus] = []
        for start in range(0, len(request_ids), MAX_BATCH):
            chunk = request_ids[start:start + MAX_BATCH]
            answer = self.transport.get("accounts/requests", params=[("request_id", rid) for rid in chunk],
                                        user_id=user_id, use_cache=False).json
            found += [_account_status(item) for item in _results(answer)]
        return found

    def submit_payment_file(self, content: bytes, message_id: str, file_format: str,
                            user_id: str | None = None) -> FileReceipt:
        """Send a payment file; the bank's receipt (the same receipt again for a file it already has)."""
        encoded, digest = encode_file(content)
        answer = self.transport.post("payment-files", json={"message_id": message_id, "format": file_format,
                                                            "sha256": digest, "content": encoded},
                                     user_id=user_id, idempotent=True).json
        try:
            return FileReceipt(file_id=str(answer["file_id"]), message_id=str(answer["message_id"]),
                               transactions=int(answer["transactions"]), control_sum=str(answer["control_sum"]),
                               received_at=str(answer["received_at"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise SourceMalformed(f"bank: payment file receipt is incomplete ({exc})", source=self.name) from exc

    def statement(self, file_id: str, user_id: str | None = None) -> tuple[str, bytes]:
        """(format, bytes) of the bank's notification of what it booked for a payment file."""
        answer = self.transport.get(f"payment-files/{file_id}/statement", user_id=user_id, use_cache=False).json
        if not isinstance(answer, dict) or "format" not in answer:
            raise SourceMalformed("bank: statement answer has no `format`", source=self.name)
        return str(answer["format"]), decode_file(answer, "bank statement")


def _results(answer) -> list[dict]:
    if not isinstance(answer, dict) or not isinstance(answer.get("results"), list):
        raise SourceMalformed("bank: answer has no `results` list", source="bank")
    return answer["results"]


def _account_status(item: dict) -> AccountStatus:
    status = item.get("status") if isinstance(item, dict) else None
    if status not in ACCOUNT_STATUSES or not item.get("request_id"):
        raise SourceMalformed(f"bank: account status {item!r} is not one of {', '.join(ACCOUNT_STATUSES)}",
                              source="bank")
    return AccountStatus(request_id=str(item["request_id"]), status=status,
                         account_number=item.get("account_number") or None)
