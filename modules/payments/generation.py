"""Monthly payroll generation: one set-based `INSERT … SELECT` from the active enrolments (no per-row loop).

A payroll covers one programme in one region for one month. Lines come from the enrolments of the programme
that are active, whose household lives in the region (the area's materialised path), whose period covers the
month (a lump sum only in its first month, for all its months at once) and that have no line for that month yet
in any payroll (NOT EXISTS; the unique (enrolment, period) constraint backs it up). Generating again for the same
month adds only enrolments that were not there before, so a repeat with nothing new adds nothing.

The payroll also pays the months owed to those enrolments (`arrears`) before its own month that have no line yet
and were never paid: one line per owed month, with the owed month as its period and the owed amount. They are few,
so a second small INSERT … SELECT starting from the owed months adds them; once a month's line is in a payroll that
is not cancelled (or in the payment ledger) no later payroll pays it again.

All of it runs in one SAVEPOINT: an error half-way leaves neither the payroll nor any of its lines.
"""

from __future__ import annotations

import calendar
import re
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, exists, func, insert, literal, literal_column, or_, select, text, update

from modules.enrolment.models import Enrolment, EnrolmentStatus
from modules.payments import payees
from modules.payments.models import EnrolmentArrear, LineStatus, PaymentLedger, Payroll, PayrollLine, PayrollStatus
from modules.payments.status import PayrollError
from modules.registration.models import Household
from webapp import audit
from webapp.extensions import db
from webapp.models import Area, AreaLevel, Programme

PERIOD = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


def month_bounds(period: str) -> tuple[date, date]:
    """First and last day of a "YYYY-MM" period; PayrollError for anything else."""
    match = PERIOD.fullmatch(period or "")
    if not match:
        raise PayrollError(_l("%(period)s is not a month: give it as YYYY-MM, for example 2026-01.",
                              period=period or ""))
    year, month = int(match[1]), int(match[2])
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def generate(programme_code: str, region_code: str, period: str, actor=None) -> Payroll:
    """The draft payroll of the programme, region and month, with a line per enrolment due; see the module doc."""
    first, last = month_bounds(period)
    programme = db.session.scalar(select(Programme).where(Programme.code == programme_code))
    if programme is None:
        raise PayrollError(_l("There is no programme with the code %(code)s.", code=programme_code))
    region = db.session.scalar(select(Area).where(Area.code == region_code))
    if region is None or region.level is not AreaLevel.region:
        raise PayrollError(_l("%(code)s is not a region code (for example UZ-TK).", code=region_code))
    with db.session.begin_nested():
        payroll = _live_payroll(programme.id, region.id, period)
        new = payroll is None
        if new:
            payroll = Payroll(programme_id=programme.id, area_id=region.id, period=period, status=PayrollStatus.draft,
                              prepared_by_id=actor.id if actor else None)
            db.session.add(payroll)
            db.session.flush()
        elif payroll.status is not PayrollStatus.draft:
            raise PayrollError(_l("Payroll %(id)d of %(programme)s, %(region)s, %(period)s already has the status "
                                  "%(status)s; cancel it to prepare the month again.", id=payroll.id,
                                  programme=programme.name, region=region.name, period=period,
                                  status=_l(payroll.status.value)))
        added = _insert_lines(payroll, programme.id, region.path, period, first, last)
        arrears = _insert_arrears(payroll, programme.id, region.path, period)
        added += arrears
        if new and not added:  # an empty payroll would only wait for an approval of nothing
            raise NothingDue(_l("Nothing is due for %(programme)s in %(region)s for %(period)s: no payroll was "
                                "prepared.", programme=programme.name, region=region.name, period=period))
        set_end_to_end_ids(payroll.id)
        refresh_totals(payroll)
        details = {"programme": programme_code, "region": region_code, "period": period, "added": added,
                   "lines": payroll.line_count, "total": str(payroll.total_amount)}
        if arrears:  # how many of the added lines pay owed months, said only when some do
            details["arrears"] = arrears
        audit.record("payroll.generated", "payroll", payroll.id, details, actor=actor)
    return payroll


class NothingDue(PayrollError):
    """No enrolment is due for the programme, region and month: no payroll is made."""


def _live_payroll(programme_id: int, area_id: int, period: str) -> Payroll | None:
    return db.session.scalar(select(Payroll).where(
        Payroll.programme_id == programme_id, Payroll.area_id == area_id, Payroll.period == period,
        Payroll.status != PayrollStatus.cancelled))


def _insert_lines(payroll: Payroll, programme_id: int, region_path: str, period: str, first: date, last: date) -> int:
    """INSERT … SELECT the lines due; returns how many were added."""
    e, h, a, line = Enrolment, Household, Area, PayrollLine
    # A lump sum (maternity) is paid once, for all its months, in the month its period starts.
    amount = case((e.lump_sum.is_(True), e.monthly_amount * e.months), else_=e.monthly_amount)
    due = (
        select(literal(payroll.id).label("payroll_id"), e.id.label("enrolment_id"), literal(period).label("period"),
               amount.label("amount"), literal(LineStatus.included.value).label("status"),
               literal(False).label("cancelled"))
        .select_from(e).join(h, h.id == e.household_id).join(a, a.id == h.area_id)
        .where(e.programme_id == programme_id, e.status == EnrolmentStatus.active,
               a.path.startswith(region_path, autoescape=True),
               e.period_start <= last, e.period_end >= first,
               or_(e.lump_sum.is_(False), e.period_start >= first),
               ~exists().where(and_(line.enrolment_id == e.id, line.period == period)))
    )
    columns = ["payroll_id", "enrolment_id", "period", "amount", "status", "cancelled", *payees.COLUMNS]
    if db.session.get_bind().dialect.name == "postgresql":
        due, columns = _due_first(due, payroll, period, amount), ["id", *columns, "end_to_end_id"]
        # The INSERT counts its own rows (psycopg reports none for SQLAlchemy's INSERT … SELECT), rather than two
        # counts of the payroll's lines around it, each reading every new line.
        inserted = insert(line.__table__).from_select(columns, due).returning(line.id).cte("inserted")
        return db.session.scalar(select(func.count()).select_from(inserted))
    due = payees.joined(due.add_columns(*payees.columns(e)), e)
    before = _line_count(payroll.id)
    result = db.session.execute(insert(line.__table__).from_select(columns, due))
    return result.rowcount if result.rowcount >= 0 else _line_count(payroll.id) - before


def _insert_arrears(payroll: Payroll, programme_id: int, region_path: str, period: str) -> int:
    """INSERT … SELECT a line for each month owed before `period` to an active enrolment of the programme in the
    region, not in any payroll yet and never paid; returns how many were added."""
    e, h, a, r, line, ledger = Enrolment, Household, Area, EnrolmentArrear, PayrollLine, PaymentLedger
    owed = payees.joined(
        select(literal(payroll.id).label("payroll_id"), e.id.label("enrolment_id"), r.period.label("period"),
               r.amount.label("amount"), literal(LineStatus.included.value).label("status"),
               literal(False).label("cancelled"), *payees.columns(e))
        .select_from(r).join(e, e.id == r.enrolment_id).join(h, h.id == e.household_id).join(a, a.id == h.area_id)
        .where(r.period < period, e.programme_id == programme_id, e.status == EnrolmentStatus.active,
               a.path.startswith(region_path, autoescape=True),
               ~exists().where(and_(line.enrolment_id == r.enrolment_id, line.period == r.period)),
               ~exists().where(and_(ledger.enrolment_id == r.enrolment_id, ledger.period == r.period))), e)
    columns = ["payroll_id", "enrolment_id", "period", "amount", "status", "cancelled", *payees.COLUMNS]
    return len(db.session.execute(insert(line.__table__).from_select(columns, owed).returning(line.id)).all())


def _line_count(payroll_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(PayrollLine).where(PayrollLine.payroll_id == payroll_id))


_LINE_ID_SEQUENCE = "payroll_line_id_seq"  # the sequence behind payroll_line.id (a serial column)


def _due_first(due, payroll: Payroll, period: str, amount):
    """PostgreSQL: the rows to insert, with the enrolments due chosen in full before the first line is inserted, and
    the line ids and end-to-end ids written by the INSERT itself.

    In a plain INSERT … SELECT the NOT EXISTS on payroll_line can be planned as a nested loop that scans payroll_line
    again for every enrolment (it is chosen when the table looks empty, e.g. the first month of a new database), and
    each scan then also reads every line the statement itself has inserted so far: quadratic, minutes for a region.
    Here the ids due are one array (an InitPlan, evaluated once before the scan starts) joined back to enrolment.
    The line ids come from the column's sequence in the SELECT, so the end-to-end ids (derived from them) need no
    UPDATE of every new line afterwards, which would cost as much as the INSERT again (its triggers).
    """
    e = Enrolment
    ids_due = due.with_only_columns(func.array_agg(e.id), maintain_column_froms=True).scalar_subquery()
    chosen = func.unnest(ids_due).table_valued("enrolment_id").render_derived(name="due")
    numbered = payees.joined(
        select(func.nextval(_LINE_ID_SEQUENCE).label("id"), literal(payroll.id).label("payroll_id"),
               e.id.label("enrolment_id"), literal(period).label("period"), amount.label("amount"),
               literal(LineStatus.included.value).label("status"), literal(False).label("cancelled"),
               *payees.columns(e))
        .select_from(chosen).join(e, e.id == chosen.c.enrolment_id), e
    ).subquery("numbered")
    return select(*numbered.c, literal_column(_END_TO_END_SQL["postgresql"]))


# The format of `bankfiles.ids.end_to_end_id` (SRSP-P000123-L0000456), written in each dialect's SQL: numbers
# zero-padded to 6 and 7 digits, never cut (lpad alone would truncate longer numbers).
_END_TO_END_SQL = {
    "sqlite": "printf('SRSP-P%06d-L%07d', payroll_id, id)",
    "postgresql": "'SRSP-P' || lpad(payroll_id::text, greatest(6, length(payroll_id::text)), '0') "
                  "|| '-L' || lpad(id::text, greatest(7, length(id::text)), '0')",
}


def set_end_to_end_ids(payroll_id: int) -> None:
    """One UPDATE giving every new line of the payroll its end-to-end id, derived from the payroll and line ids."""
    expression = _END_TO_END_SQL[db.session.get_bind().dialect.name]
    db.session.execute(text(f"UPDATE payroll_line SET end_to_end_id = {expression} "  # noqa: S608 - constant SQL
                            "WHERE payroll_id = :payroll AND end_to_end_id IS NULL"), {"payroll": payroll_id})


def refresh_totals(payroll: Payroll) -> None:
    """The number and the sum of the lines not excluded, on the payroll. PostgreSQL's triggers keep them as the lines
    change (and refuse any other writer), so there they are only read again; SQLite's are written here."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.expire(payroll, ["line_count", "total_amount"])
        return
    line = PayrollLine
    included = and_(line.payroll_id == payroll.id, line.status != LineStatus.excluded)
    db.session.execute(update(Payroll).where(Payroll.id == payroll.id).values(
        line_count=select(func.count()).where(included).scalar_subquery(),
        total_amount=select(func.coalesce(func.sum(line.amount), 0)).where(included).scalar_subquery(),
    ).execution_options(synchronize_session=False))
    db.session.expire(payroll, ["line_count", "total_amount"])
