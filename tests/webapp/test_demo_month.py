"""`make run`'s month ready to approve, made the way `srsp demo run` makes it: its own database and simulator, real
commits (collection and the means test run after them), the bank connector opening the accounts."""

from __future__ import annotations

from datetime import date

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from connectors.simulator import store
from connectors.simulator.app import create_simulator_app
from connectors.synthetic import synthesize
from demo.payroll import FAMILIES, prepare_demo_month
from demo.population import copy_simulated_population
from demo.setup import create_demo_users
from modules.enrolment.models import BankAccount, BankAccountStatus
from modules.payments.models import LineStatus, Payroll, PayrollLine, PayrollStatus
from tests.conftest import base_config
from tests.connectors.transport import live_server
from webapp import create_app
from webapp.areas import load_areas
from webapp.extensions import db
from webapp.models import Area, AreaLevel
from webapp.programmes import load_programmes
from webapp.timeutil import month_of

TODAY = date.today()


@pytest.mark.committed
def test_the_demo_month_is_a_checked_payroll_of_banked_eligible_families(tmp_path):
    demo = create_app({**base_config(tmp_path, f"sqlite:///{tmp_path / 'demo.db'}"),
                       "BANK_ACCOUNTS_ON_ENROLMENT": True, "COLLECT_ON_SUBMIT": True})
    sim_url = f"sqlite:///{tmp_path / 'simulator.db'}"
    sim_engine = store.engine_for(sim_url)
    store.create_schema(sim_engine)
    with demo.app_context():
        upgrade()
        load_areas(mahallas_per_district=1)
        load_programmes()
        db.session.commit()
        create_demo_users()
        mahallas = db.session.scalars(select(Area.code).where(Area.level == AreaLevel.mahalla,
                                                              Area.code.startswith("UZ-TK"))).all()
        synthesize(sim_engine, households=60, seed=5, areas=mahallas, as_of=TODAY)
        copy_simulated_population(sim_engine)
        db.session.commit()
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
