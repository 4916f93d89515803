"""The simulated bank and treasury over real HTTP: a simulator with its own empty store, on a free port."""

from __future__ import annotations

import flask_babel
import pytest

from connectors.simulator import finance
from tests.conftest import sign_in
from tests.connectors.simulator import serving_simulator

QUICK = {"timeout": 5, "retry": {"attempts": 2, "base_delay": 0.01, "max_delay": 0.02}, "cache": {"ttl": 0}}


def partners_config(base_url: str) -> dict:
    """SRSP_PARTNERS pointing the bank and the treasury at the simulator, with quick timeouts and no cache."""
    return {"bank": {"base_url": base_url, **QUICK}, "treasury": {"base_url": base_url, **QUICK}}


@pytest.fixture(scope="session")
def finance_simulator(tmp_path_factory):
    with serving_simulator(f"sqlite:///{tmp_path_factory.mktemp('finance-sim') / 'simulator.db'}") as served:
        yield served


@pytest.fixture
def partners_at(app, finance_simulator, monkeypatch):
    """Point the bank and treasury connectors at the simulator; the treasury's limit is lifted after the test."""
    sim, base_url = finance_simulator
    # The app's ids restart when a test rolls back (SQLite), so the bank forgets what earlier tests sent it.
    with sim.extensions["simulator"].engine.begin() as conn:
        for table in (finance.bank_account, finance.payment_file, finance.fund_request):
            conn.execute(table.delete())
    monkeypatch.setitem(app.config, "PARTNERS", partners_config(base_url))
    app.extensions.pop("srsp_partners", None)
    yield sim
    sim.extensions["simulator"].treasury_limit = None
    app.extensions.pop("srsp_partners", None)


@pytest.fixture(autouse=True)
def _english_outside_requests(app, _transaction, monkeypatch):
    """Refusals raised outside a request speak the default language; these tests read them in English."""
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "en")
    flask_babel.refresh()


def signed_in_client(app, user):
    """A test client signed in as `user`, reading English pages."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return sign_in(client, user)
