"""Fund requests to the treasury (GFMIS): the money for approved payrolls, confirmed before any file is sent.

A request covers one or more approved payrolls of one month and carries their totals by programme and region. Its
reference is derived from the payrolls it covers and how many requests for them were refused before, so repeating a
request whose answer was lost (a timeout, a failed commit) asks the treasury the same question again, which it
answers the same way, instead of asking for the money twice. Nothing here commits.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from connectors.partners import treasury_connector
from connectors.transport.errors import SourceError
from connectors.transport.xroad import user_id_of
from modules.payments.models import FundRequest, FundRequestPayroll, FundRequestStatus, Payroll, PayrollStatus
from modules.payments.status import PayrollConflict, PayrollError
from webapp import audit
from webapp.extensions import db
from webapp.models import Area, Programme
from webapp.timeutil import utcnow

CURRENCY = "UZS"


def request_funds(payrolls: list[Payroll], actor=None) -> FundRequest:
    """Ask the treasury for the money of `payrolls` (approved, one month, not yet covered) and record its answer."""
    period = _check(payrolls)
    lines = _lines(payrolls)
    total = sum((Decimal(line["amount"]) for line in lines), Decimal("0.00"))
    fund_request = FundRequest(reference=_reference(payrolls, period), period=period, total_amount=total,
                               beneficiaries=sum(line["beneficiaries"] for line in lines), lines=lines,
                               status=FundRequestStatus.pending, requested_by_id=getattr(actor, "id", None))
    try:
        with db.session.begin_nested():
            db.session.add(fund_request)
            db.session.flush()
            db.session.add_all(FundRequestPayroll(fund_request_id=fund_request.id, payroll_id=p.id,
                                                  amount=p.total_amount, live=True) for p in payrolls)
            db.session.flush()
    except IntegrityError as exc:  # someone requested the same payrolls at the same moment
        raise PayrollConflict(_l("Nothing changed: funds for this payroll were requested by someone else just now.")) \
            from exc
    body = {"reference": fund_request.reference, "period": period, "currency": CURRENCY, "total": str(total),
            "lines": lines}
    try:
        answer = treasury_connector().request_funds(body, user_id=user_id_of(actor))
    except SourceError as exc:
        raise PayrollError(_l("The treasury could not be reached; nothing was requested. Try again later. (%(why)s)",
                              why=str(exc))) from exc
    _record_answer(fund_request, answer, actor)
    return fund_request


def refresh(fund_request: FundRequest, actor=None) -> FundRequest:
    """Ask the treasury again about a pending request."""
    if fund_request.status is not FundRequestStatus.pending:
        return fund_request
    try:
        answer = treasury_connector().status(fund_request.reference, user_id=user_id_of(actor))
    except SourceError as exc:
        raise PayrollError(_l("The treasury could not be reached. Try again later. (%(why)s)", why=str(exc))) from exc
    _record_answer(fund_request, answer, actor)
    return fund_request


def unfunded_approved(*conditions):
    """SELECT of the approved payrolls (meeting `conditions`) that no live fund request covers."""
    covered = select(FundRequestPayroll.payroll_id).where(FundRequestPayroll.live.is_(True))
    return select(Payroll).where(Payroll.status == PayrollStatus.approved, Payroll.id.not_in(covered), *conditions)


def requests_of(payroll_id: int) -> list[FundRequest]:
    return list(db.session.scalars(select(FundRequest).join(FundRequestPayroll)
                                   .where(FundRequestPayroll.payroll_id == payroll_id).order_by(FundRequest.id)))


def _check(payrolls: list[Payroll]) -> str:
    if not payrolls:
        raise PayrollError(_l("No approved payroll to request funds for."))
    not_approved = [p.id for p in payrolls if p.status is not PayrollStatus.approved]
    if not_approved:
        raise PayrollError(_l("Funds are requested for approved payrolls only (payroll %(id)d is not).",
                               id=not_approved[0]))
    periods = {p.period for p in payrolls}
    if len(periods) != 1:
        raise PayrollError(_l("One fund request covers one month; these payrolls are of %(months)s.",
                               months=", ".join(sorted(periods))))
    covered = db.session.scalar(select(func.min(FundRequestPayroll.payroll_id)).where(
        FundRequestPayroll.payroll_id.in_([p.id for p in payrolls]), FundRequestPayroll.live.is_(True)))
    if covered is not None:
        raise PayrollError(_l("Funds for payroll %(id)d were already requested.", id=covered))
    return periods.pop()


def _lines(payrolls: list[Payroll]) -> list[dict]:
    """Totals by programme and region, as the treasury's budget lines are kept."""
    rows = db.session.execute(
        select(Programme.code, Area.code, func.sum(Payroll.line_count), func.sum(Payroll.total_amount))
        .join(Programme, Programme.id == Payroll.programme_id).join(Area, Area.id == Payroll.area_id)
        .where(Payroll.id.in_([p.id for p in payrolls])).group_by(Programme.code, Area.code)
        .order_by(Programme.code, Area.code))
    return [{"programme": programme, "region": region, "beneficiaries": int(count),
             "amount": str(Decimal(amount).quantize(Decimal("0.01")))} for programme, region, count, amount in rows]


def _reference(payrolls: list[Payroll], period: str) -> str:
    ids = sorted(p.id for p in payrolls)
    refused_before = db.session.scalar(select(func.count(FundRequestPayroll.id)).where(
        FundRequestPayroll.payroll_id == ids[0], FundRequestPayroll.live.is_(False)))
    digest = hashlib.sha256(f"{ids}:{refused_before}".encode()).hexdigest()[:10].upper()
    return f"SRSP-FR-{period}-{digest}"


def _record_answer(fund_request: FundRequest, answer, actor) -> None:
    fund_request.status = FundRequestStatus(answer.status)
    if answer.status != "pending":
        fund_request.answered_at = utcnow()
    fund_request.treasury_reference = (answer.treasury_reference or "")[:35] or None
    fund_request.refusal_reason = (answer.reason or "")[:200] or None
    if fund_request.status is FundRequestStatus.refused:  # the payrolls may be requested again later
        db.session.execute(update(FundRequestPayroll).where(FundRequestPayroll.fund_request_id == fund_request.id)
                           .values(live=False).execution_options(synchronize_session=False))
    db.session.flush()
    for payroll_id in sorted(link.payroll_id for link in fund_request.payrolls):
        audit.record(f"payroll.funds_{fund_request.status.value}", "payroll", payroll_id,
                     {"fund_request": fund_request.reference, "total": str(fund_request.total_amount),
                      "treasury_reference": fund_request.treasury_reference,
                      "reason": fund_request.refusal_reason}, actor=actor)
