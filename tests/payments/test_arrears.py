"""Owed months (arrears): recorded once, paid once by the next payroll with their own periods, never again after
that, and refused by the database itself when a line would pay a paid month a second time."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from modules.enrolment.models import EnrolmentStatus
from modules.payments import arrears, checks, export, generation, status
from modules.payments.models import EnrolmentArrear, LineStatus, PaymentLedger, PayrollStatus
from modules.payments.status import PayrollError
from tests import factories
from tests.factories import assessed_family as _household
from tests.factories import enrol as _enrol
from tests.factories import finance_checker as _checker
from tests.factories import fund
from tests.factories import payroll_lines as _lines
from tests.factories import totp_code as _code
from tests.payments.conftest import signed_in_client as _client
from webapp.extensions import db
from webapp.models.audit import AuditEvent

AMOUNT = Decimal("250000.00")
REASON = "Appeal 2026/17 overturned the refusal of November 2025"


@pytest.fixture
def maker(app):
    return factories.make_user("finance_maker", national=True)


def _owed_enrolment(**kwargs):
    """A child-allowance enrolment in UZ-TK from December 2025 (the factories' start) never paid yet."""
    return _enrol(_household(), **kwargs)


def _generate(period: str, maker, programme: str = "child_allowance"):
    return generation.generate(programme, "UZ-TK", period, maker)


def _sent(payroll, maker):
    if payroll.status is PayrollStatus.draft:
        checks.run_checks(payroll, maker)
    checker = _checker()
    status.approve(payroll, checker, _code(checker))
    fund(payroll)
    return status.mark_sent(payroll)


def _periods(payroll, enrolment_id=None) -> list[tuple[str, Decimal]]:
    return sorted((line.period, line.amount) for line in _lines(payroll)
                  if enrolment_id is None or line.enrolment_id == enrolment_id)


# --- recording the owed months ------------------------------------------------------------------------------------

def test_every_unpaid_month_from_the_start_through_the_month_is_owed_once(maker):
    enrolment = _owed_enrolment()
    owed = arrears.owe_missed_months(enrolment, "2026-02", REASON, maker)
    assert [(a.period, a.amount, a.reason, a.created_by_id) for a in owed] == [
        (month, AMOUNT, REASON, maker.id) for month in ("2025-12", "2026-01", "2026-02")]
    assert arrears.owe_missed_months(enrolment, "2026-02", REASON, maker) == []  # idempotent
    assert [a.period for a in arrears.owe_missed_months(enrolment, "2026-03", REASON, maker)] == ["2026-03"]
    assert [(o.arrear.period, o.payroll_id, o.paid) for o in arrears.owed(enrolment.id)] == [
        ("2025-12", None, False), ("2026-01", None, False), ("2026-02", None, False), ("2026-03", None, False)]
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "enrolment.arrears_owed",
                                                         AuditEvent.object_id == str(enrolment.id))
                                .order_by(AuditEvent.id)).all()
    assert [e.details["periods"] for e in events] == [["2025-12", "2026-01", "2026-02"], ["2026-03"]]
    assert events[0].details["total"] == "750000.00" and events[0].details["reason"] == REASON


def test_months_already_in_a_payroll_are_not_owed_and_the_end_clips_them(maker):
    enrolment = _owed_enrolment(months=3)  # December 2025 to February 2026
    _generate("2026-01", maker)
    owed = arrears.owe_missed_months(enrolment, "2026-06", REASON)
    assert [a.period for a in owed] == ["2025-12", "2026-02"]
    assert owed[0].created_by_id is None
    assert arrears.owe_missed_months(enrolment, "2025-11", REASON) == []  # before the start


def test_a_lump_sum_owes_its_whole_amount_for_its_start_month_only(maker):
    family = _household()
    maternity = _enrol(family, family["spouse"], programme="maternity", amount="100000.00", months=3, lump_sum=True)
    owed = arrears.owe_missed_months(maternity, "2026-03", REASON)
    assert [(a.period, a.amount) for a in owed] == [("2025-12", Decimal("300000.00"))]


@pytest.mark.parametrize(("through", "reason"), [("2026-13", REASON), ("March", REASON), ("2026-02", " "),
                                                 ("2026-02", "x" * 301)])
def test_a_bad_month_or_reason_records_nothing(through, reason):
    enrolment = _owed_enrolment()
    with pytest.raises(PayrollError):
        arrears.owe_missed_months(enrolment, through, reason)
    assert db.session.scalars(select(EnrolmentArrear)).all() == []


# --- paying them --------------------------------------------------------------------------------------------------

def test_the_next_payroll_pays_each_owed_month_once_with_its_period(maker):
    enrolment = _owed_enrolment()
    arrears.owe_missed_months(enrolment, "2026-02", REASON)
    other = _owed_enrolment()  # nothing owed: only its own month

    payroll = _generate("2026-03", maker)

    assert _periods(payroll, enrolment.id) == [(month, AMOUNT) for month in ("2025-12", "2026-01", "2026-02",
                                                                              "2026-03")]
    assert _periods(payroll, other.id) == [("2026-03", AMOUNT)]
    lines = _lines(payroll)
    assert all(line.status is LineStatus.included and line.end_to_end_id and line.payee_account for line in lines)
    assert (payroll.line_count, payroll.total_amount) == (5, 5 * AMOUNT)
    assert [(o.arrear.period, o.payroll_id, o.paid) for o in arrears.owed(enrolment.id)] == [
        (month, payroll.id, True) for month in ("2025-12", "2026-01", "2026-02")]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "payroll.generated",
                                                       AuditEvent.object_id == str(payroll.id)))
    assert (event.details["added"], event.details["arrears"]) == (5, 3)

    assert _periods(_generate("2026-03", maker)) == _periods(payroll)  # a repeat adds nothing
    assert checks.run_checks(payroll, maker) == dict.fromkeys(checks.CHECKS, 0)  # arrears pass like any line

    _sent(payroll, maker)
    ledger = db.session.scalars(select(PaymentLedger.period).where(PaymentLedger.enrolment_id == enrolment.id)
                                .order_by(PaymentLedger.period)).all()
    assert ledger == ["2025-12", "2026-01", "2026-02", "2026-03"]
    assert all(o.sent for o in arrears.owed(enrolment.id))

    april = _generate("2026-04", maker)  # next month: its own month only
    assert _periods(april, enrolment.id) == [("2026-04", AMOUNT)]
    assert arrears.owe_missed_months(enrolment, "2026-03", REASON) == []  # paid months are owed no more


def test_a_payroll_of_owed_months_only_is_made_even_when_the_enrolment_has_ended_its_period(maker):
    enrolment = _owed_enrolment(months=3)  # December 2025 to February 2026
    arrears.owe_missed_months(enrolment, "2026-02", REASON)
    payroll = _generate("2026-05", maker)
    assert _periods(payroll) == [(month, AMOUNT) for month in ("2025-12", "2026-01", "2026-02")]
    # Checked against their own months: the enrolment covered them.
    assert sum(checks.run_checks(payroll, maker).values()) == 0


def test_only_active_enrolments_of_the_programme_and_region_get_their_owed_months(maker):
    suspended = _owed_enrolment()
    arrears.owe_missed_months(suspended, "2026-01", REASON)
    suspended.status = EnrolmentStatus.suspended
    elsewhere = _enrol(_household("UZ-SA"))
    arrears.owe_missed_months(elsewhere, "2026-01", REASON)
    family = _household()
    other_programme = _enrol(family, family["spouse"], programme="material_support", amount="400000.00")
    arrears.owe_missed_months(other_programme, "2026-01", REASON)
    later = _owed_enrolment()
    arrears.owe_missed_months(later, "2026-03", REASON)
    db.session.flush()

    payroll = _generate("2026-03", maker)

    assert {line.enrolment_id for line in _lines(payroll)} == {later.id}
    assert _periods(payroll) == [(month, AMOUNT) for month in ("2025-12", "2026-01", "2026-02", "2026-03")]


def test_a_cancelled_payroll_releases_the_owed_months_to_the_next_one(maker):
    enrolment = _owed_enrolment()
    arrears.owe_missed_months(enrolment, "2026-01", REASON)
    first = _generate("2026-03", maker)
    status.cancel(first, "wrong month prepared", maker)
    assert [o.paid for o in arrears.owed(enrolment.id)] == [False, False]
    again = _generate("2026-03", maker)
    assert _periods(again, enrolment.id) == [("2025-12", AMOUNT), ("2026-01", AMOUNT), ("2026-03", AMOUNT)]


def test_an_owed_month_whose_line_is_changed_is_excluded_by_the_checks(maker):
    enrolment = _owed_enrolment()
    arrears.owe_missed_months(enrolment, "2026-01", REASON)
    payroll = _generate("2026-03", maker)
    db.session.execute(text("UPDATE payroll_line SET amount = 1 WHERE enrolment_id = :e AND period = '2025-12'"),
                       {"e": enrolment.id})
    assert checks.run_checks(payroll, maker)["amount_mismatch"] == 1
    excluded = [line for line in _lines(payroll) if line.status is LineStatus.excluded]
    assert [(line.period, line.exclusion_reason) for line in excluded] == [("2025-12", "amount_mismatch")]
    assert payroll.total_amount == 2 * AMOUNT


def test_the_bank_file_says_which_month_an_arrears_payment_is_for(maker):
    enrolment = _owed_enrolment()
    arrears.owe_missed_months(enrolment, "2025-12", REASON)
    payroll = _generate("2026-01", maker)
    checks.run_checks(payroll, maker)
    checker = _checker()
    status.approve(payroll, checker, _code(checker))
    csv = export.render(payroll, "csv").decode()
    assert csv.count("child allowance 2026-01 ARREARS 2025-12") == 1 and csv.count("child allowance 2026-01") == 2
    assert b"ARREARS 2025-12" in export.render(payroll, "pain.001.001.03")


def test_the_payroll_page_shows_an_owed_months_line_as_arrears_for_that_month(app, maker):
    enrolment = _owed_enrolment()
    arrears.owe_missed_months(enrolment, "2025-12", REASON)
    payroll = _generate("2026-01", maker)
    checks.run_checks(payroll, maker)
    db.session.commit()
    page = _client(app, maker).get(f"/payrolls/{payroll.id}").get_data(as_text=True)
    assert page.count("Arrears for December 2025") == 1


# --- the database's own refusal -----------------------------------------------------------------------------------

def _refused(statement: str, match: str | None = None, **params) -> None:
    with pytest.raises(DBAPIError, match=match), db.session.begin_nested():
        db.session.execute(text(statement), params)


def test_the_database_refuses_a_second_line_for_a_paid_owed_month_even_by_plain_sql(maker):
    enrolment = _owed_enrolment()
    arrears.owe_missed_months(enrolment, "2026-01", REASON)
    _sent(_generate("2026-03", maker), maker)
    _enrol(_household(), programme="material_support", amount="400000.00")
    draft = _generate("2026-04", maker, programme="material_support")
    insert = ("INSERT INTO payroll_line (payroll_id, enrolment_id, period, amount, status, cancelled) "
              "VALUES (:p, :e, :period, 250000, 'included', :no)")
    _refused(insert, p=draft.id, e=enrolment.id, period="2025-12", no=False)
    _refused(insert, p=draft.id, e=enrolment.id, period="2026-01", no=False)
    # A second arrear for the month is refused too (and would not be paid again anyway).
    _refused("INSERT INTO enrolment_arrear (enrolment_id, period, amount, reason, created_at) "
             "VALUES (:e, '2025-12', 1, 'again', CURRENT_TIMESTAMP)", e=enrolment.id)
    _refused("INSERT INTO enrolment_arrear (enrolment_id, period, amount, reason, created_at) "
             "VALUES (:e, '2025-11', 0, 'nothing', CURRENT_TIMESTAMP)", e=enrolment.id)
    # Even if the owed months were recorded again past the code, the next payroll does not pay them.
    db.session.execute(text("DELETE FROM enrolment_arrear WHERE enrolment_id = :e"), {"e": enrolment.id})
    db.session.execute(text("INSERT INTO enrolment_arrear (enrolment_id, period, amount, reason, created_at) "
                            "VALUES (:e, '2025-12', 250000, 'again', CURRENT_TIMESTAMP)"), {"e": enrolment.id})
    may = _generate("2026-05", maker)
    assert _periods(may, enrolment.id) == [("2026-05", AMOUNT)]


def test_a_paid_owed_month_cannot_be_moved_onto_by_another_line(maker):
    enrolment = _owed_enrolment()
    arrears.owe_missed_months(enrolment, "2025-12", REASON)
    _sent(_generate("2026-01", maker), maker)
    draft = _generate("2026-02", maker)
    line = next(line for line in _lines(draft) if line.enrolment_id == enrolment.id)
    _refused("UPDATE payroll_line SET period = '2025-12' WHERE id = :id", id=line.id)
    assert draft.status is PayrollStatus.draft


def test_months_between():
    assert arrears.months_between("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert arrears.months_between("2026-02", "2026-01") == []
