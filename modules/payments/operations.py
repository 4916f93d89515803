"""What the finance pages ask of the payments module beyond one domain step: the payroll list and its filters, the
months waiting for funds, preparing a payroll in the user's regions, requesting (or asking again about) funds, and
the read-outs of a payroll and a statement import (exclusions, lines with their people, timeline).

The domain steps themselves live in `generation`, `checks`, `status`, `funding`, `sending` and `reconciliation`.
Nothing here commits.
"""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from modules.enrolment.models import Enrolment
from modules.payments import funding
from modules.payments.checks import run_checks
from modules.payments.generation import generate, month_bounds
from modules.payments.models import (
    FundRequest,
    FundRequestStatus,
    LineStatus,
    Payroll,
    PayrollLine,
    PayrollStatus,
    StatementException,
    StatementImport,
    live_fund_request,
)
from modules.payments.status import PayrollError
from modules.registration.models import Person
from webapp.auth.scope import area_clause
from webapp.extensions import db
from webapp.models import Area, Programme
from webapp.models.audit import AuditEvent

# Reads of a payroll that are audited but are not steps of its life.
_NOT_TIMELINE = ("payroll.viewed", "payroll.file_downloaded")


# --- payrolls --------------------------------------------------------------------------------------------------


def payroll_in_scope(user, payroll_id: int) -> Payroll | None:
    """The payroll if it lies in the user's regions (out of scope looks exactly like missing)."""
    return db.session.scalar(select(Payroll).where(Payroll.id == payroll_id, area_clause(user, Payroll.area_id)))


def active_programmes() -> list[Programme]:
    return list(db.session.scalars(select(Programme).where(Programme.active).order_by(Programme.id)))


def payrolls_query(user, filters: dict):
    """SELECT of the payrolls in the user's regions matching the list's filters, newest month first."""
    query = (select(Payroll).join(Programme, Programme.id == Payroll.programme_id)
             .join(Area, Area.id == Payroll.area_id).where(area_clause(user, Payroll.area_id)))
    if filters.get("programme"):
        query = query.where(Programme.code == filters["programme"])
    if filters.get("region"):
        query = query.where(Area.code == filters["region"])
    if filters.get("period"):
        query = query.where(Payroll.period == filters["period"])
    if filters.get("status"):
        query = query.where(Payroll.status == PayrollStatus(filters["status"]))
    return query.order_by(Payroll.period.desc(), Payroll.id.desc())


def unfunded_approved(user):
    """SELECT of the approved payrolls in the user's regions that no live fund request covers."""
    return funding.unfunded_approved(area_clause(user, Payroll.area_id))


def awaiting_funds(user) -> list[tuple[str, int]]:
    """[(month, payrolls)] approved in the user's regions and waiting for a fund request, oldest month first."""
    waiting = unfunded_approved(user).subquery()
    return [tuple(row) for row in db.session.execute(
        select(waiting.c.period, func.count()).group_by(waiting.c.period).order_by(waiting.c.period))]


def prepare_payroll(user, programme_code: str, region_code: str, period: str) -> tuple[Payroll, dict[str, int]]:
    """Generate the month's payroll of a programme in one of the user's regions and run the checks on it;
    returns the payroll and {reason: lines excluded}."""
    region_code = (region_code or "").strip()
    in_scope = db.session.scalar(select(Area.id).where(Area.code == region_code, area_clause(user, Area.id)))
    if in_scope is None:
        raise PayrollError(_l("Choose a region you work in."))
    payroll = generate((programme_code or "").strip(), region_code, (period or "").strip(), user)
    return payroll, run_checks(payroll, user)


def request_month_funds(user, period: str) -> tuple[FundRequest, list[Payroll]]:
    """One fund request for every approved, not yet covered payroll of the month in the user's regions."""
    period = (period or "").strip()
    month_bounds(period)  # refuses anything that is not a month
    payrolls = list(db.session.scalars(unfunded_approved(user).where(Payroll.period == period).order_by(Payroll.id)))
    return funding.request_funds(payrolls, user), payrolls


def request_or_refresh_funds(payroll: Payroll, actor) -> FundRequest:
    """Ask the treasury again about the payroll's pending request, or make a new request when there is none."""
    pending = live_fund_request(payroll.id)
    if pending is not None and pending.status is FundRequestStatus.pending:
        return funding.refresh(pending, actor)
    return funding.request_funds([payroll], actor)


def exclusions(payroll_id: int) -> list[tuple[str, int, object]]:
    """[(reason, lines, amount)] of the excluded lines, largest first."""
    rows = db.session.execute(
        select(PayrollLine.exclusion_reason, func.count(), func.sum(PayrollLine.amount))
        .where(PayrollLine.payroll_id == payroll_id, PayrollLine.status == LineStatus.excluded)
        .group_by(PayrollLine.exclusion_reason)).all()
    return sorted(((reason or "", n, amount) for reason, n, amount in rows), key=lambda row: (-row[1], row[0]))


def lines_query(payroll_id: int, excluded: bool):
    """SELECT of the payroll's excluded lines, or of the others, in order."""
    condition = (PayrollLine.status == LineStatus.excluded) if excluded else (PayrollLine.status != LineStatus.excluded)
    return select(PayrollLine).where(PayrollLine.payroll_id == payroll_id, condition).order_by(PayrollLine.id)


def with_beneficiaries(lines) -> list[tuple[PayrollLine, Person]]:
    """[(line, beneficiary)] with one query for the people of the lines."""
    people = dict(db.session.execute(
        select(Enrolment.id, Person).join(Person, Person.id == Enrolment.beneficiary_person_id)
        .where(Enrolment.id.in_([line.enrolment_id for line in lines]))).all()) if lines else {}
    return [(line, people[line.enrolment_id]) for line in lines]


def timeline(payroll_id: int) -> list[AuditEvent]:
    """The audited steps of the payroll's life, oldest first (reads of it left out)."""
    return list(db.session.scalars(select(AuditEvent).where(
        AuditEvent.object_type == "payroll", AuditEvent.object_id == str(payroll_id),
        AuditEvent.action.not_in(_NOT_TIMELINE)).order_by(AuditEvent.id)))


# --- statements ------------------------------------------------------------------------------------------------


def payrolls_touched(record: StatementImport) -> list[Payroll]:
    """Payrolls whose lines this import settled (its audit event names them) or that its exceptions point at."""
    details = db.session.scalar(select(AuditEvent.details).where(
        AuditEvent.action == "statement.import", AuditEvent.object_type == "statement_import",
        AuditEvent.object_id == str(record.id)).order_by(AuditEvent.id).limit(1)) or {}
    ids = {int(payroll_id) for payroll_id in details.get("payrolls", [])}
    ids |= set(db.session.scalars(
        select(PayrollLine.payroll_id).join(StatementException, StatementException.payroll_line_id == PayrollLine.id)
        .where(StatementException.import_id == record.id).distinct()))
    if not ids:
        return []
    return list(db.session.scalars(select(Payroll).where(Payroll.id.in_(sorted(ids))).order_by(Payroll.id)))


def lines_of(exceptions) -> dict[int, PayrollLine]:
    """The payroll lines the exceptions point at (amount mismatches, second outcomes), in one query."""
    ids = sorted({e.payroll_line_id for e in exceptions if e.payroll_line_id is not None})
    if not ids:
        return {}
    return {line.id: line for line in db.session.scalars(select(PayrollLine).where(PayrollLine.id.in_(ids)))}


def open_exception_count() -> int:
    return db.session.scalar(select(func.count()).select_from(StatementException)
                             .where(StatementException.resolved_at.is_(None))) or 0


def exceptions_query(import_id: int | None = None, kind=None, open_only: bool = False):
    """SELECT of statement exceptions (of one import, of one kind, unresolved only), oldest first."""
    query = select(StatementException)
    if import_id is not None:
        query = query.where(StatementException.import_id == import_id)
    if kind:
        query = query.where(StatementException.kind == kind)
    if open_only:
        query = query.where(StatementException.resolved_at.is_(None))
    return query.order_by(StatementException.id)


def totals_by_status(groups: list[dict]) -> dict[str, dict]:
    """The failed, returned and unpaid columns of the returns to the budget summed over programmes and regions."""
    totals: dict[str, dict] = {}
    for group in groups:
        for key, part in group["by_status"].items():
            total = totals.setdefault(key, {"lines": 0, "amount": Decimal("0.00")})
            total["lines"] += part["lines"]
            total["amount"] += part["amount"]
    return totals
