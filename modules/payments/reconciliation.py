"""Reconciliation: apply a bank statement to the payroll lines it reports on, keep the rest as exceptions.

A file is imported once: its sha256 digest is unique, so importing the same bytes again returns the earlier import
and changes nothing. Entries are matched by EndToEndId to lines of approved, sent or reconciled payrolls; a line
moves from included to paid, failed or returned, or from paid to returned (the beneficiary's bank sent the money
back after booking it: it must go back to the budget), only when the amount agrees. Everything else (unknown ids,
amounts that disagree, any other second outcome for a settled line, bookings that are not our outcomes, entries not
final yet) goes on the exceptions list for a finance officer: nothing in a file is dropped. Nothing here commits.
"""

from __future__ import annotations

from calendar import monthrange
from collections import defaultdict
from datetime import date
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from modules.payments import status as machine
from modules.payments.models import (
    FROZEN,
    BudgetReturn,
    ExceptionKind,
    LineStatus,
    Payroll,
    PayrollLine,
    PayrollStatus,
    StatementException,
    StatementImport,
)
from modules.payments.statements import Statement, StatementError, read_statement
from webapp import audit, signals
from webapp.boundary import Refusal
from webapp.extensions import db
from webapp.models import Area, Programme
from webapp.timeutil import local_today

CURRENCY = "UZS"
SETTLED = (LineStatus.paid, LineStatus.failed, LineStatus.returned)
# The moves a bank's report may make: any outcome for a line still open, and a return of a payment it had booked.
MOVES = {(LineStatus.included, LineStatus.paid), (LineStatus.included, LineStatus.failed),
         (LineStatus.included, LineStatus.returned), (LineStatus.paid, LineStatus.returned)}
NO_ID = {"", "NOTPROVIDED"}  # what banks write when they lost our reference
_CHUNK = 500  # ids per IN (...) list: well under SQLite's parameter limit


class ReconciliationError(Refusal):
    """A file that cannot be imported, or a request about one that cannot be carried out; nothing was stored."""


def import_statement(data: bytes, filename: str | None = None, actor=None) -> StatementImport:
    """Import a bank file once; a repeat returns the earlier import with `repeat` set and changes nothing."""
    try:
        statement = read_statement(data, filename)
    except StatementError as exc:
        raise ReconciliationError(_l("The file was not imported: %(why)s", why=str(exc))) from exc
    existing = _existing(statement.digest)
    if existing is not None:
        return existing
    try:
        with db.session.begin_nested():
            record = _apply(statement, filename, actor)
    except IntegrityError:
        # Someone imported the same file at the same moment: their import stands, ours is the repeat.
        existing = _existing(statement.digest)
        if existing is None:
            raise
        return existing
    return record


def _existing(digest: str) -> StatementImport | None:
    record = db.session.scalar(select(StatementImport).where(StatementImport.digest == digest))
    if record is not None:
        record.repeat = True
    return record


def _apply(statement: Statement, filename: str | None, actor) -> StatementImport:
    record = StatementImport(digest=statement.digest, kind=statement.kind, filename=(filename or "")[:255] or None,
                             message_id=(statement.message_id or "")[:140] or None,
                             imported_by_id=actor.id if actor is not None else None)
    db.session.add(record)
    db.session.flush()  # the unique digest refuses a concurrent import of the same file here
    lines = _lines_for({entry.end_to_end_id for entry in statement.entries})
    current = {e2e: status for e2e, (_, _, status, _) in lines.items()}
    changes: dict[str, tuple[LineStatus, LineStatus]] = {}  # e2e -> (status in the database, new status)
    exceptions: list[dict] = []
    counts = defaultdict(int)
    for entry in statement.entries:
        line = lines.get(entry.end_to_end_id or "")
        if line is None or (entry.end_to_end_id or "") in NO_ID:
            exceptions.append(_exception(record.id, entry, ExceptionKind.unmatched))
            continue
        line_id, amount, _, _ = line
        if (entry.amount_known and entry.amount != amount) or (entry.currency not in (None, CURRENCY)):
            exceptions.append(_exception(record.id, entry, ExceptionKind.amount_mismatch, line_id))
            continue
        outcome = LineStatus(entry.outcome)
        now = current[entry.end_to_end_id]
        if (now, outcome) in MOVES:
            start = changes.get(entry.end_to_end_id, (now, now))[0]
            changes[entry.end_to_end_id] = (start, outcome)
            current[entry.end_to_end_id] = outcome
            counts["matched"] += 1
            counts[outcome.value] += 1
        elif now is outcome:
            counts["matched"] += 1  # the bank confirms what we already know
        else:
            exceptions.append(_exception(record.id, entry, ExceptionKind.already_settled, line_id,
                                         note=f"the line is already {now.value}"))
    for kind, set_aside in ((ExceptionKind.unclassified, statement.unclassified),
                            (ExceptionKind.pending, statement.pending)):
        exceptions.extend(_set_aside(record.id, item, kind) for item in set_aside)
    _write_changes(lines, changes)
    if exceptions:
        db.session.execute(insert(StatementException), exceptions)
    record.matched, record.paid, record.failed, record.returned = (
        counts["matched"], counts["paid"], counts["failed"], counts["returned"])
    record.pending = sum(1 for row in exceptions if row["kind"] is ExceptionKind.pending)
    record.unmatched = len(exceptions) - record.pending
    db.session.flush()
    settled = sorted({lines[e2e][3] for e2e in changes})  # the payrolls whose lines this file moved
    for outcome in (LineStatus.failed, LineStatus.returned):  # alerts (modules/grievances): verify the account
        moved = sorted(lines[e2e][0] for e2e, (_, after) in changes.items() if after is outcome)
        if moved:
            signals.payment_lines_failed.send(None, line_ids=moved, status=outcome.value, actor=actor)
    if settled:
        signals.payment_lines_settled.send(None, payroll_ids=settled, actor=actor)
    audit.record("statement.import", "statement_import", record.id,
                 {"kind": record.kind, "filename": record.filename, "message_id": record.message_id,
                  "digest": record.digest, "payrolls": settled, **record.counts()}, actor=actor)
    _reconcile_payrolls(set(settled), actor, record)
    return record


def _lines_for(e2e_ids: set[str | None]) -> dict[str, tuple[int, Decimal, LineStatus, int]]:
    """EndToEndId → (line id, amount, status, payroll id) for lines of approved, sent or reconciled payrolls."""
    wanted = sorted(e2e for e2e in e2e_ids if e2e and e2e not in NO_ID)
    found = {}
    for start in range(0, len(wanted), _CHUNK):
        rows = db.session.execute(
            select(PayrollLine.end_to_end_id, PayrollLine.id, PayrollLine.amount, PayrollLine.status,
                   PayrollLine.payroll_id)
            .join(Payroll, Payroll.id == PayrollLine.payroll_id)
            .where(PayrollLine.end_to_end_id.in_(wanted[start:start + _CHUNK]), Payroll.status.in_(FROZEN)))
        found.update({e2e: (line_id, amount, status, payroll_id) for e2e, line_id, amount, status, payroll_id in rows})
    return found


def _write_changes(lines: dict, changes: dict[str, tuple[LineStatus, LineStatus]]) -> None:
    """One conditional UPDATE per move: only lines still in the status we read move, so a concurrent import cannot
    double up."""
    by_move: dict[tuple[LineStatus, LineStatus], list[int]] = defaultdict(list)
    for e2e, move in changes.items():  # MOVES has no cycle, so a line's first and last status always differ
        by_move[move].append(lines[e2e][0])
    for (before, after), ids in by_move.items():
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            result = db.session.execute(
                update(PayrollLine).where(PayrollLine.id.in_(chunk), PayrollLine.status == before)
                .values(status=after).execution_options(synchronize_session=False))
            if result.rowcount != len(chunk):
                raise ReconciliationError(_l("Some payroll lines were settled by another import at the same "
                                             "time; nothing was imported, try again."))
    if changes:
        db.session.expire_all()


def _reconcile_payrolls(payroll_ids: set[int], actor, record: StatementImport) -> None:
    """A sent payroll with no line left included is reconciled."""
    for payroll_id in sorted(payroll_ids):
        payroll = db.session.get(Payroll, payroll_id)
        if payroll is None or payroll.status is not PayrollStatus.sent:
            continue
        open_lines = db.session.scalar(select(func.count()).select_from(PayrollLine).where(
            PayrollLine.payroll_id == payroll_id, PayrollLine.status == LineStatus.included))
        if open_lines == 0:
            machine.mark_reconciled(payroll, actor, {"statement_import": record.id})


def _exception(import_id: int, entry, kind: ExceptionKind, line_id: int | None = None, note: str | None = None):
    reason_text = "; ".join(part for part in (entry.reason_text, note) if part) or None
    return {"import_id": import_id, "end_to_end_id": (entry.end_to_end_id or None) and entry.end_to_end_id[:35],
            "amount": entry.amount if entry.amount_known else None, "currency": entry.currency,
            "outcome": entry.outcome, "reason_code": entry.reason_code,
            "reason_text": reason_text and reason_text[:500], "source_line": (entry.source_line or "")[:200],
            "kind": kind, "payroll_line_id": line_id}


def _set_aside(import_id: int, item, kind: ExceptionKind) -> dict:
    return {"import_id": import_id, "end_to_end_id": (item.end_to_end_id or None) and item.end_to_end_id[:35],
            "amount": item.amount if item.amount_known else None, "currency": item.currency,
            "outcome": (item.status or "")[:16], "reason_code": None, "reason_text": (item.note or "")[:500] or None,
            "source_line": (item.source_line or "")[:200], "kind": kind, "payroll_line_id": None}


def open_exceptions(import_id: int | None = None) -> list[StatementException]:
    """Unresolved exceptions, oldest first (of one import when given)."""
    query = select(StatementException).where(StatementException.resolved_at.is_(None))
    if import_id is not None:
        query = query.where(StatementException.import_id == import_id)
    return list(db.session.scalars(query.order_by(StatementException.id)))


def resolve_exception(exception: StatementException, note: str, actor) -> StatementException:
    """A finance officer records what was done about an exception (the payroll lines are not touched here)."""
    note = (note or "").strip()
    if not note:
        raise ReconciliationError(_l("Nothing changed: a resolution note is required."))
    if exception.resolved_at is not None:
        raise ReconciliationError(_l("Nothing changed: this exception is already resolved."))
    from webapp.timeutil import utcnow

    exception.resolved_at, exception.resolved_by_id, exception.resolution = utcnow(), actor.id, note[:500]
    db.session.flush()
    audit.record("statement.exception_resolved", "statement_exception", exception.id,
                 {"kind": exception.kind.value, "end_to_end_id": exception.end_to_end_id, "note": note[:500]},
                 actor=actor)
    return exception


# --- returns to the budget ----------------------------------------------------------------------------------------

def budget_deadline(period: str) -> date:
    """The 25th of the month after `period` (YYYY-MM): money not paid out by then goes back to the budget."""
    try:
        year, month = (int(part) for part in period.split("-"))
        date(year, month, 1)
    except ValueError as exc:
        raise ReconciliationError(_l("%(period)s is not a month: give it as YYYY-MM, for example 2026-01.",
                                     period=period)) from exc
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return date(year, month, min(25, monthrange(year, month)[1]))


def returns_to_budget(period: str, today: date | None = None) -> dict:
    """Failed and returned lines of the month's sent/reconciled payrolls, plus included ones past the deadline."""
    deadline = budget_deadline(period)
    today = today or local_today()
    statuses = [LineStatus.failed, LineStatus.returned]
    if today > deadline:
        statuses.append(LineStatus.included)
    rows = db.session.execute(
        select(Programme.code, Area.code, PayrollLine.status, func.count(), func.sum(PayrollLine.amount))
        .select_from(PayrollLine).join(Payroll, Payroll.id == PayrollLine.payroll_id)
        .join(Programme, Programme.id == Payroll.programme_id).join(Area, Area.id == Payroll.area_id)
        .where(Payroll.period == period, Payroll.status.in_([PayrollStatus.sent, PayrollStatus.reconciled]),
               PayrollLine.status.in_(statuses))
        .group_by(Programme.code, Area.code, PayrollLine.status)
        .order_by(Programme.code, Area.code, PayrollLine.status))
    groups: dict[tuple[str, str], dict] = {}
    for programme, region, line_status, lines, amount in rows:
        group = groups.setdefault((programme, region), {"programme": programme, "region": region, "lines": 0,
                                                        "amount": Decimal("0.00"), "by_status": {}})
        amount = Decimal(amount).quantize(Decimal("0.01"))
        unpaid = "unpaid" if LineStatus(line_status) is LineStatus.included else LineStatus(line_status).value
        group["lines"] += lines
        group["amount"] += amount
        group["by_status"][unpaid] = {"lines": lines, "amount": amount}
    totals = list(groups.values())
    return {"period": period, "deadline": deadline, "as_of": today, "groups": totals,
            "lines": sum(group["lines"] for group in totals),
            "amount": sum((group["amount"] for group in totals), Decimal("0.00"))}


def recorded_returns(period: str) -> list[BudgetReturn]:
    return list(db.session.scalars(select(BudgetReturn).where(BudgetReturn.period == period)
                                   .order_by(BudgetReturn.programme_id, BudgetReturn.area_id)))


def record_returns_to_budget(period: str, actor=None, today: date | None = None) -> list[BudgetReturn]:
    """Record the month's returns to the budget, once per programme and region, after the deadline (when the unpaid
    lines are final). Recording again adds only programmes and regions not recorded yet. Returns the new records."""
    result = returns_to_budget(period, today)
    if result["as_of"] <= result["deadline"]:
        raise ReconciliationError(_l("Nothing was recorded: returns for %(period)s are recorded after %(deadline)s, "
                                     "when unpaid payments are final.", period=period,
                                     deadline=f"{result['deadline']:%d.%m.%Y}"))
    programmes = dict(db.session.execute(select(Programme.code, Programme.id)).all())
    regions = dict(db.session.execute(select(Area.code, Area.id).where(
        Area.code.in_([group["region"] for group in result["groups"]]))).all())
    done = {(r.programme_id, r.area_id) for r in recorded_returns(period)}
    records = []
    for group in result["groups"]:
        key = (programmes[group["programme"]], regions[group["region"]])
        if key in done:
            continue
        by_status = {status: {"lines": part["lines"], "amount": str(part["amount"])}
                     for status, part in group["by_status"].items()}
        records.append(BudgetReturn(period=period, programme_id=key[0], area_id=key[1], lines=group["lines"],
                                    amount=group["amount"], by_status=by_status,
                                    recorded_by_id=getattr(actor, "id", None)))
    db.session.add_all(records)
    db.session.flush()  # the unique (period, programme, region) refuses a concurrent second record
    for record in records:
        audit.record("budget_return.recorded", "budget_return", record.id,
                     {"period": period, "lines": record.lines, "amount": str(record.amount),
                      "by_status": record.by_status}, actor=actor)
    return records
