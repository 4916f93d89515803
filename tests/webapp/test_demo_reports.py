"""The demo analyst's frozen return: `srsp demo run` freezes the month of the approved payrolls once, as the
analyst, and its amounts are those payrolls' lines; a payroll still waiting for approval counts nowhere."""

from __future__ import annotations

import io
from decimal import Decimal

import openpyxl
from sqlalchemy import func, select

from demo.reports import banner_line, freeze_demo_returns
from demo.setup import create_demo_users, demo_password
from modules.payments import checks, generation
from modules.payments.models import LineStatus, PayrollLine
from modules.reporting.models import MonthlyReturn
from tests import factories
from tests.conftest import sign_in
from webapp.extensions import db
from webapp.models import AuditEvent, User

PERIOD = factories.PAYROLL_PERIOD


def test_the_demo_month_is_frozen_once_as_the_analyst_with_the_payrolls_totals(app, client):
    create_demo_users()
    waiting = _checked_payroll("UZ-SA")  # as the demo's child-allowance payroll, left for finance.checker
    assert freeze_demo_returns() == []  # a month whose payrolls await approval has no return to show
    payroll, lines = factories.sent_payroll(children=2)  # as the demo's material support, taken through sending

    (frozen,) = freeze_demo_returns()
    assert freeze_demo_returns() == []  # once: a later run leaves the month as it is
    assert db.session.scalar(select(func.count(MonthlyReturn.id))) == 1
    assert (frozen.period, frozen.version, frozen.computed_by.username) == (PERIOD, 1, "analyst")
    assert frozen.reconciliation["ok"], frozen.reconciliation
    approved = frozen.data["indicators"]["amount_approved"]
    paid = sum(line.amount for line in lines if line.status is not LineStatus.excluded)
    assert Decimal(str(approved["total"])) == paid == payroll.total_amount
    assert [(row["programme"], row["region"]) for row in approved["rows"]] == [("child_allowance", "UZ-TK")]
    assert waiting.total_amount > 0 and Decimal(str(approved["total"])) != paid + waiting.total_amount
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "report.frozen")) == 1
    assert banner_line(PERIOD) == (f"  Reports: sign in as analyst, open Reports — the return of {PERIOD} is "
                                   "frozen (XLSX, PDF, CSV in uz/ru/en)")

    # The analyst finds it on Reports and downloads it: the workbook's approved total is the payroll's lines'.
    analyst = sign_in(client, db.session.scalar(select(User).where(User.username == "analyst")),
                      demo_password("analyst"))
    assert PERIOD in factories.page_text(analyst.get("/reports"))
    assert analyst.get(f"/reports/{PERIOD}").status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(analyst.get(f"/reports/{PERIOD}/return.xlsx?language=en").data))
    sheet = book["Amount approved"]
    total = [row for row in sheet.iter_rows(values_only=True) if row[0] == "Total"][-1][-1]
    assert Decimal(str(total)) == db.session.scalar(
        select(func.sum(PayrollLine.amount)).where(PayrollLine.payroll_id == payroll.id,
                                                   PayrollLine.status != LineStatus.excluded))


def _checked_payroll(region: str):
    family = factories.assessed_family(region, children=1)
    factories.enrol(family, family["children"][0])
    maker = factories.make_user("finance_maker", national=True)
    payroll = generation.generate("child_allowance", region, PERIOD, maker)
    checks.run_checks(payroll, maker)
    return payroll
