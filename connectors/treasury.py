"""The treasury's budget system (GFMIS), over X-Road REST: fund requests for payrolls.

Before a payroll's file goes to the bank, the treasury must confirm that the money is there: the registry sends a
fund request with the totals by programme and region, and the treasury confirms it (with its own reference) or
refuses it (with a reason, e.g. the programme's budget line is exhausted).

    POST {service}/fund-requests   {"reference", "period", "currency", "total", "lines": [{"programme", "region",
                                     "beneficiaries", "amount"}]}
                                   -> {"reference", "status": "confirmed"|"refused"|"pending", "treasury_reference"?,
                                       "reason"?}   (idempotent on our reference: the same answer again)
    GET  {service}/fund-requests/{reference}  -> the same answer, for a request that was pending

Amounts are decimal strings in UZS, never floats.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.transport.errors import SourceMalformed
from connectors.transport.xroad import XRoadClient

SERVICE_ID = "UZ/GOV/MOF/gfmis/fundRequests"
STATUSES = ("pending", "confirmed", "refused")


@dataclass(frozen=True)
class FundAnswer:
    reference: str
    status: str
    treasury_reference: str | None = None
    reason: str | None = None


class TreasuryConnector:
    name = "treasury"

    def __init__(self, transport: XRoadClient) -> None:
        self.transport = transport

    def request_funds(self, request: dict, user_id: str | None = None) -> FundAnswer:
        answer = self.transport.post("fund-requests", json=request, user_id=user_id, idempotent=True).json
        return _answer(answer, request["reference"])

    def status(self, reference: str, user_id: str | None = None) -> FundAnswer:
        answer = self.transport.get(f"fund-requests/{reference}", user_id=user_id, use_cache=False).json
        return _answer(answer, reference)


def _answer(body, reference: str) -> FundAnswer:
    if not isinstance(body, dict) or body.get("status") not in STATUSES:
        raise SourceMalformed(f"treasury: answer {body!r} has no status among {', '.join(STATUSES)}",
                              source="treasury")
    if body.get("reference") != reference:
        raise SourceMalformed(f"treasury: answer is about {body.get('reference')!r}, not {reference!r}",
                              source="treasury")
    return FundAnswer(reference=reference, status=body["status"],
                      treasury_reference=body.get("treasury_reference") or None, reason=body.get("reason") or None)
