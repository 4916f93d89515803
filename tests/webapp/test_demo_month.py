"""`make run`'s month ready to approve, made the way `srsp demo run` makes it: its own database and simulator, real
commits (collection and the means test run after them), the bank connector opening the accounts."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from connectors.simulator.app import create_simulator_app
from demo.payroll import FAMILIES, prepare_demo_month
from modules.enrolment.models import BankAccount, BankAccountStatus
from modules.payments.models import LineStatus, Payroll, PayrollLine, PayrollStatus
from tests.conftest import demo_instance
from tests.connectors.transport import live_server
from webapp.extensions import db
from webapp.timeutil import month_of

TODAY = date.today()


@pytest.mark.committed
def test_the_demo_month_is_a_checked_payroll_of_banked_eligible_families(tmp_path):
    demo, sim_url, sim_engine = demo_instance(tmp_path, households=60, BANK_ACCOUNTS_ON_ENROLMENT=True)
    with demo.app_context():
        with live_server(create_simulator_app(database_url=sim_url)) as base_url:
            demo.config["SOURCES_URL"] = base_url
            month = prepare_demo_month(sim_engine, TODAY)
            assert prepare_demo_month(sim_engine, TODAY) is None  # once only
        payroll = db.session.get(Payroll, month["payroll"])
        assert payroll.status is PayrollStatus.checked and payroll.prepared_by.username == "finance.maker"
        assert month["registered"] == FAMILIES and payroll.line_count >= FAMILIES
        assert payroll.period == month_of(TODAY, 1)
        statuses = dict(db.session.execute(select(PayrollLine.status, func.count()).where(
            PayrollLine.payroll_id == payroll.id).group_by(PayrollLine.status)).all())
        assert statuses == {LineStatus.included: payroll.line_count}
        assert set(db.session.scalars(select(BankAccount.status))) == {BankAccountStatus.card_issued}
        db.session.remove()
