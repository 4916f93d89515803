"""Pre-payroll checks: set-based UPDATEs that exclude the lines they catch, keeping the reason.

Checks run in the order of `CHECKS` and only look at lines still included, so a line excluded by one check keeps
that first reason. The checks that look only at a line's own enrolment run first, together, as one UPDATE (one pass
over the payroll's lines instead of five); the checks that compare a line with the month's other lines (the same
person in two households, incompatible programmes) run after them, together as a second UPDATE, so they count only
lines still to be paid.
`run_checks` moves the payroll from draft to checked and returns {reason: lines excluded}.

A line paying an owed month (arrears: its period is before the payroll's) is checked like any other, against its
own month: the enrolment covered that month, the child had not aged out by then, the household had no line that
month through another household or an incompatible programme; its amount is the one owed. The months of a
payroll's arrears are few, so each gets its own branch of the conditions (guarded by the line's period); a payroll
without arrears gets exactly the conditions of its own month.
"""

from __future__ import annotations

from datetime import date
from functools import cache

from flask import current_app
from sqlalchemy import case, exists, func, or_, select, text, update
from sqlalchemy.orm import aliased

from modules.enrolment.models import BankAccount, Enrolment, EnrolmentStatus
from modules.payments import payees
from modules.payments import status as machine
from modules.payments.generation import month_bounds, refresh_totals
from modules.payments.models import EnrolmentArrear, LineStatus, Payroll, PayrollLine, PayrollStatus
from modules.registration.models import Person
from rules.pack import get_pack
from webapp.extensions import db
from webapp.models import Programme
from webapp.timeutil import month_of

L, E = PayrollLine, Enrolment


def _pack(first: date):
    """The country's rule pack and its parameters in force on the month's first day."""
    pack = get_pack(current_app.config["COUNTRY"])
    return pack, pack.version_for(first).parameters


def incompatible_codes(code: str, first: date) -> list[str]:
    """Programmes the pack says a household cannot be paid together with `code` (declared on either side)."""
    pack, _parameters = _pack(first)
    others = set()
    for programme in pack.programmes:
        if programme.code == code:
            others.update(programme.incompatible_with)
        elif code in programme.incompatible_with:
            others.add(programme.code)
    return sorted(others)


# The own-enrolment checks are conditions on one row of: the line L, its enrolment E, the beneficiary (`_b()`) and
# the enrolment's bank account A (outer-joined: there may be none).
A = BankAccount


@cache
def _b():
    """The beneficiary's alias of Person (made on first use: aliasing at import would configure the mappers before
    every model is imported)."""
    return aliased(Person, name="beneficiary")


def _deceased(payroll: Payroll, first: date, last: date):
    return _b().death_date.is_not(None)


def _two_households(payroll: Payroll, first: date, last: date):
    """The beneficiary also appears, as beneficiary or payee, on a line not excluded for the same month through an
    enrolment of another household (in any programme): one person registered in two households.

    Within one programme a person has at most one live enrolment (a unique index), so the duplicate shows up across
    programmes: e.g. a child paid the child allowance in one household and material support as the head of another.
    """
    other_line, other_enrolment = aliased(PayrollLine), aliased(Enrolment)
    return exists().where(
        other_line.period == month_of(first), other_line.id != L.id,
        other_line.status != LineStatus.excluded, other_enrolment.id == other_line.enrolment_id,
        other_enrolment.household_id != E.household_id,
        (other_enrolment.beneficiary_person_id == E.beneficiary_person_id)
        | (other_enrolment.payee_person_id == E.beneficiary_person_id))


def _incompatible(payroll: Payroll, first: date, last: date):
    """The household already has a line not excluded for the same month in an incompatible programme."""
    code = db.session.scalar(select(Programme.code).where(Programme.id == payroll.programme_id))
    others = incompatible_codes(code, first)
    if not others:
        return None
    month = month_of(first)
    other_ids = select(Programme.id).where(Programme.code.in_(others))
    # Asked once for the whole month first: a line pays its programme's enrolment in a payroll of that programme,
    # of its month or later (arrears); when there is no such payroll (the usual case while the incompatible
    # programme's payrolls are not made yet) no line can be caught, and no line's household is looked up.
    if not db.session.scalar(select(exists().where(
            Payroll.programme_id.in_(other_ids), Payroll.period >= month, Payroll.status != PayrollStatus.cancelled))):
        return None
    other_line, other_enrolment = aliased(PayrollLine), aliased(Enrolment)
    return exists().where(
        other_line.period == month, other_line.status != LineStatus.excluded,
        other_enrolment.id == other_line.enrolment_id, other_enrolment.household_id == E.household_id,
        other_enrolment.programme_id.in_(other_ids))


def _not_active(payroll: Payroll, first: date, last: date):
    """Suspended or ended since generation, or the period cut short (a newer decision superseded it)."""
    return (E.status != EnrolmentStatus.active) | (E.period_start > last) | (E.period_end < first)


def _no_bank_account(payroll: Payroll, first: date, last: date):
    return ~payees.usable_account(E, A)


def _amount_mismatch(payroll: Payroll, first: date, last: date):
    """Defensive: the line's amount is not what the enrolment gives (a lump sum: the monthly amount × months)."""
    return (((E.lump_sum.is_(True)) & (L.amount != E.monthly_amount * E.months))
            | ((E.lump_sum.is_(False)) & (L.amount != E.monthly_amount)))


def _arrear_amount_mismatch(payroll: Payroll, first: date, last: date):
    """An owed month's line: its amount is not the one owed for the month (or nothing is owed for it)."""
    r = EnrolmentArrear
    owed = select(r.amount).where(r.enrolment_id == L.enrolment_id, r.period == L.period).scalar_subquery()
    return L.amount != func.coalesce(owed, 0)


def _child_aged_out(payroll: Payroll, first: date, last: date):
    """Benefits paid per child stop at the pack's `child_age_limit` (reached by the month's first day)."""
    code = db.session.scalar(select(Programme.code).where(Programme.id == payroll.programme_id))
    pack, parameters = _pack(first)
    paid_for = next((p.paid_for for p in pack.programmes if p.code == code), None)
    if paid_for is None or paid_for.each != "child" or "child_age_limit" not in parameters:
        return None  # not paid per child (the pack's `child`: a child under its child_age_limit)
    limit = int(parameters["child_age_limit"])
    born_by = date(first.year - limit, first.month, 1)  # at the age limit or older on the month's first day
    return _b().birth_date <= born_by


# The line's own enrolment only: run together, the first that holds giving the reason.
OWN_CHECKS = {
    "deceased": _deceased,
    "enrolment_not_active": _not_active,
    "no_bank_account": _no_bank_account,
    "amount_mismatch": _amount_mismatch,
    "child_aged_out": _child_aged_out,
}
# Against the month's other lines still to be paid, after the own checks: together, the first that holds giving the
# reason. (The other lines an incompatible programme has are in that programme's payrolls, never in this one, so a
# line excluded here as paid in two households changes nothing the incompatible check reads.)
CROSS_CHECKS = {
    "two_households": _two_households,
    "incompatible_programmes": _incompatible,
}
CHECKS = {**OWN_CHECKS, **CROSS_CHECKS}
# What an own check is instead for a line of an owed month.
ARREARS_CHECKS = {"amount_mismatch": _arrear_amount_mismatch}


def arrears_months(payroll: Payroll) -> list[str]:
    """The owed months the payroll has lines for (found from the owed months, a small table, through the lines'
    unique (enrolment, period) index, rather than by reading every line of the payroll)."""
    r = EnrolmentArrear
    return list(db.session.scalars(
        select(r.period).distinct().join(L, (L.enrolment_id == r.enrolment_id) & (L.period == r.period))
        .where(L.payroll_id == payroll.id, r.period != payroll.period).order_by(r.period)))


def _months(payroll: Payroll, arrears: list[str]) -> list[tuple[str, date, date]]:
    """(month, first day, last day) of the payroll's own month and of each owed month it pays."""
    return [(month, *month_bounds(month)) for month in (payroll.period, *arrears)]


def _by_month(payroll: Payroll, arrears: list[str], check, arrears_check=None):
    """The check's condition for each line against the line's own month: the payroll's month's condition alone
    when there are no arrears, otherwise one branch per month, guarded by the line's period."""
    if not arrears:
        return check(payroll, *month_bounds(payroll.period))
    branches = []
    for month, first, last in _months(payroll, arrears):
        chosen = arrears_check if (arrears_check is not None and month != payroll.period) else check
        condition = chosen(payroll, first, last)
        if condition is not None:
            branches.append((L.period == month) & condition)
    return or_(*branches) if branches else None


def apply_checks(payroll: Payroll) -> dict[str, int]:
    """Run every check on the payroll's included lines; {reason: lines excluded}. Does not change its status."""
    arrears = arrears_months(payroll)
    before = _excluded_by_reason(payroll.id)
    _exclude_first_that_holds(payroll, arrears, OWN_CHECKS, ARREARS_CHECKS)
    _exclude_first_that_holds(payroll, arrears, CROSS_CHECKS)
    after = _excluded_by_reason(payroll.id)
    refresh_totals(payroll)
    return {reason: after.get(reason, 0) - before.get(reason, 0) for reason in CHECKS}


def _exclude_first_that_holds(payroll: Payroll, arrears: list[str], kinds: dict, arrears_kinds=None) -> None:
    """Find, in one pass over the payroll's included lines joined with their enrolment (and for the own checks their
    beneficiary and account), the lines one of the checks `kinds` catches, with the first that holds as the reason;
    then exclude just those lines. One pass for all the checks instead of one each, the enrolment read once per
    line; and a read-only pass, which PostgreSQL can share between processes (an UPDATE it runs alone), where the
    lines to change are a handful."""
    arrears_kinds = arrears_kinds or {}
    whens = [(condition, reason) for reason, check in kinds.items()
             if (condition := _by_month(payroll, arrears, check, arrears_kinds.get(reason))) is not None]
    if not whens:
        return
    judged = select(L.id.label("line_id"), case(*whens).label("reason")).select_from(L).join(E, E.id == L.enrolment_id)
    if kinds is OWN_CHECKS:  # the cross checks read only the line and its enrolment
        judged = judged.join(_b(), _b().id == E.beneficiary_person_id).outerjoin(A, A.id == E.bank_account_id)
    judged = judged.where(L.payroll_id == payroll.id, L.status == LineStatus.included).subquery()
    caught: dict[str, list[int]] = {}
    for line_id, reason in db.session.execute(select(judged).where(judged.c.reason.is_not(None))):
        caught.setdefault(reason, []).append(line_id)
    for reason, line_ids in caught.items():
        for start in range(0, len(line_ids), _IDS_PER_STATEMENT):
            db.session.execute(
                update(L).where(L.id.in_(line_ids[start:start + _IDS_PER_STATEMENT]), L.status == LineStatus.included)
                .values(status=LineStatus.excluded, exclusion_reason=reason)
                .execution_options(synchronize_session=False))


_IDS_PER_STATEMENT = 10000  # well within the parameters a statement may have (SQLite: 32766)


def _excluded_by_reason(payroll_id: int) -> dict[str, int]:
    return dict(db.session.execute(
        select(L.exclusion_reason, func.count()).where(L.payroll_id == payroll_id, L.status == LineStatus.excluded)
        .group_by(L.exclusion_reason)).all())


def take_the_months_turn(period: str) -> None:
    """PostgreSQL: wait for the month's turn to check, held until the caller's transaction ends.

    The checks that compare a line with the month's other lines (one person in two households, incompatible
    programmes) see only what other transactions have committed: two regions checked at the same moment could
    each miss the other's line and pay one person twice. Taking turns, a region checked later sees every line of
    the regions checked before."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext('payroll_checks:' || :period))"),
                           {"period": period})


def run_checks(payroll: Payroll, actor=None) -> dict[str, int]:
    """Check a draft payroll and move it to checked; returns {reason: lines excluded}."""
    if payroll.status is not PayrollStatus.draft:
        raise machine.IllegalTransition(payroll.status, PayrollStatus.checked)
    take_the_months_turn(payroll.period)
    with db.session.begin_nested():
        summary = apply_checks(payroll)
        machine.transition(payroll, PayrollStatus.checked, actor,
                           {"excluded": summary, "lines": payroll.line_count, "total": str(payroll.total_amount)})
    db.session.expire_all()
    return summary
