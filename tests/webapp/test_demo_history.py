"""The demo's year of payments (demo/history.py): twelve months ending last month, outside Tashkent city, whose
payrolls keep the payments module's invariants, whose returns the demo analyst freezes reconciled, and which a
second run leaves as it is."""

from __future__ import annotations

import io
from collections import Counter
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import func, select

from connectors.simulator import store
from connectors.synthetic import synthesize
from demo.history import MONTHS, SKIP_REGION, create_demo_history, window
from demo.population import copy_simulated_population
from demo.reports import banner_lines, freeze_demo_returns
from demo.setup import create_demo_users, demo_password
from modules.enrolment.models import BankAccount, Enrolment
from modules.means_test.models import Assessment, Decision
from modules.payments.models import LineStatus, PaymentLedger, Payroll, PayrollLine, PayrollStatus
from modules.registration.models import Application, Household
from rules.facts import validate_facts
from tests.conftest import sign_in
from webapp.extensions import db
from webapp.models import Area, AreaLevel, Programme, User

TODAY = date(2026, 12, 5)
MONTH_LIST = [f"2025-{12:02d}", *(f"2026-{m:02d}" for m in range(1, 12))]


@pytest.fixture
def population(tmp_path):
    """The demo users and a synthetic population over every region's mahallas, as `srsp demo setup` makes them."""
    create_demo_users()
    mahallas = db.session.scalars(select(Area.code).where(Area.level == AreaLevel.mahalla).order_by(Area.code)).all()
    engine = store.engine_for(f"sqlite:///{tmp_path / 'simulator.db'}")
    store.create_schema(engine)
    synthesize(engine, households=420, seed=2026, areas=mahallas, as_of=TODAY)
    copy_simulated_population(engine)
    db.session.flush()


def _in_region(query, code: str, inside: bool = True):
    region = db.session.scalar(select(Area).where(Area.code == code))
    condition = Area.path.startswith(region.path)
    return query.join(Area, Area.id == Household.area_id).where(condition if inside else ~condition)


def test_a_year_of_payments_ending_last_month_outside_tashkent(population):
    tashkent = db.session.scalars(_in_region(select(Household.id), SKIP_REGION)).all()
    assert tashkent  # the population has Tashkent households, which the history must leave alone

    history = create_demo_history(TODAY)

    assert window(TODAY) == MONTH_LIST and len(MONTH_LIST) == MONTHS
    assert (history["first"], history["last"]) == ("2025-12", "2026-11")
    assert history["families"] > 50 and history["regions"] == 13 and history["lines"] > history["beneficiaries"]
    payrolls = db.session.scalars(select(Payroll)).all()
    assert sorted({p.period for p in payrolls}) == MONTH_LIST  # 12 consecutive months, the last one last month
    assert {p.status for p in payrolls} == {PayrollStatus.reconciled}
    assert all(p.prepared_by.username == "finance.maker" and p.approved_by.username == "finance.checker"
               for p in payrolls)
    regions = {p.area.code for p in payrolls}
    assert SKIP_REGION not in regions and len(regions) == 13

    # Nothing of Tashkent's households: no application, assessment, enrolment or account.
    assert not db.session.scalar(select(func.count(Application.id)).where(Application.household_id.in_(tashkent)))
    assert not db.session.scalar(select(func.count(Assessment.id)).where(Assessment.household_id.in_(tashkent)))
    assert not db.session.scalar(select(func.count(Enrolment.id)).where(Enrolment.household_id.in_(tashkent)))
    applicants = select(Application.applicant_id)  # none of them in Tashkent
    assert db.session.scalar(select(func.count(BankAccount.id)).where(BankAccount.person_id.not_in(applicants))) == 0

    # The payments module's invariants: totals are the lines', one ledger row per line sent with its amount.
    for payroll in payrolls:
        count, total = db.session.execute(select(func.count(PayrollLine.id), func.sum(PayrollLine.amount))
                                          .where(PayrollLine.payroll_id == payroll.id)).one()
        assert (payroll.line_count, payroll.total_amount) == (count, total) and count > 0
    ledger = db.session.execute(select(func.count(), func.sum(PaymentLedger.amount))).one()
    lines = db.session.execute(select(func.count(), func.sum(PayrollLine.amount))).one()
    assert ledger == lines and lines[0] == history["lines"]
    assert not db.session.scalar(select(func.count()).select_from(PayrollLine).join(
        PaymentLedger, PaymentLedger.payroll_line_id == PayrollLine.id).where(
        (PaymentLedger.amount != PayrollLine.amount) | (PaymentLedger.enrolment_id != PayrollLine.enrolment_id)
        | (PaymentLedger.period != PayrollLine.period)))
    statuses = Counter(dict(db.session.execute(select(PayrollLine.status, func.count()).group_by(PayrollLine.status))
                            .all()))
    assert set(statuses) == {LineStatus.paid, LineStatus.failed, LineStatus.returned}
    assert statuses[LineStatus.paid] > 0.95 * lines[0]

    # The pack's programmes and amounts; decisions of the pack, refusals with its reasons; facts a re-run can use.
    amounts = dict(db.session.execute(select(Programme.code, func.min(Enrolment.monthly_amount))
                                      .join(Programme, Programme.id == Enrolment.programme_id)
                                      .group_by(Programme.code)).all())
    assert amounts["child_allowance"] == Decimal("270000") and amounts["material_support"] == Decimal("450000")
    assessments = db.session.scalars(select(Assessment)).all()
    refused = [a for a in assessments if a.decision is Decision.ineligible]
    assert refused and all(a.reasons and {"rule", "message"} <= set(a.reasons[0]) for a in refused)
    assert all(validate_facts(a.facts) == a.facts for a in assessments[:50])

    # Growing, with new entrants each month and some exits, mostly still paid last month.
    per_month = dict(db.session.execute(select(Payroll.period, func.sum(Payroll.line_count))
                                        .group_by(Payroll.period)).all())
    assert per_month["2026-11"] > per_month["2025-12"]
    starts = {e.period_start.strftime("%Y-%m") for e in db.session.scalars(select(Enrolment))}
    assert set(MONTH_LIST) <= starts
    ends = db.session.scalars(select(Enrolment.period_end)).all()
    assert any(end < date(2026, 11, 30) for end in ends) and sum(end >= date(2026, 12, 1) for end in ends) > len(
        ends) / 2

    # Once: a second run writes nothing.
    before = db.session.scalar(select(func.count(PayrollLine.id)))
    assert create_demo_history(TODAY) is None
    assert db.session.scalar(select(func.count(PayrollLine.id))) == before


def test_each_month_is_frozen_reconciled_and_last_months_return_downloads(population, client):
    create_demo_history(TODAY)

    frozen = freeze_demo_returns()

    assert [row.period for row in frozen] == MONTH_LIST
    for row in frozen:
        assert row.reconciliation["ok"], row.reconciliation
        indicators = row.data["indicators"]
        for code, statuses in (("amount_approved", None), ("amount_paid", [LineStatus.paid])):
            query = select(func.sum(PayrollLine.amount)).where(PayrollLine.period == row.period)
            if statuses:
                query = query.where(PayrollLine.status.in_(statuses))
            assert Decimal(str(indicators[code]["total"])) == db.session.scalar(query)
    assert freeze_demo_returns() == []
    assert banner_lines(MONTH_LIST, TODAY) == [
        "  Reports: sign in as analyst, open Reports — 12 monthly returns are frozen (2025-12 … 2026-11); 2026-11 "
        "shows the year's trends (XLSX, PDF, CSV in uz/ru/en)"]

    analyst = sign_in(client, db.session.scalar(select(User).where(User.username == "analyst")),
                      demo_password("analyst"))
    assert analyst.get("/reports/2026-11").status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(analyst.get("/reports/2026-11/return.xlsx?language=en").data))
    total = [row for row in book["Amount approved"].iter_rows(values_only=True) if row[0] == "Total"][-1][-1]
    assert Decimal(str(total)) == db.session.scalar(select(func.sum(PayrollLine.amount))
                                                    .where(PayrollLine.period == "2026-11"))
