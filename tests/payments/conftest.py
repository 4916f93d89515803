"""The simulated bank and treasury over real HTTP: a simulator with its own empty store, on a free port."""

from __future__ import annotations

import pytest

from connectors.simulator import finance, store
from connectors.simulator.app import create_simulator_app
from tests.connectors.transport import live_server

QUICK = {"timeout": 5, "retry": {"attempts": 2, "base_delay": 0.01, "max_delay": 0.02}, "cache": {"ttl": 0}}


@pytest.fixture(scope="session")
def finance_simulator(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('finance-sim') / 'simulator.db'}"
    store.create_schema(store.engine_for(url))
    sim = create_simulator_app(database_url=url)
    with live_server(sim) as base_url:
        yield sim, base_url


@pytest.fixture
def partners_at(app, finance_simulator, monkeypatch):
    """Point the bank and treasury connectors at the simulator; the treasury's limit is lifted after the test."""
    sim, base_url = finance_simulator
    # The app's ids restart when a test rolls back (SQLite), so the bank forgets what earlier tests sent it.
    with sim.extensions["simulator"].engine.begin() as conn:
        for table in (finance.bank_account, finance.payment_file, finance.fund_request):
            conn.execute(table.delete())
    monkeypatch.setitem(app.config, "PARTNERS", {"bank": {"base_url": base_url, **QUICK},
                                                 "treasury": {"base_url": base_url, **QUICK}})
    app.extensions.pop("srsp_partners", None)
    yield sim
    sim.extensions["simulator"].treasury_limit = None
    app.extensions.pop("srsp_partners", None)
