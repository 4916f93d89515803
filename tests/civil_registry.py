"""A live SRSP server subscribed to the simulated civil registry, and signed notifications of deaths: shared by the
tests of civil events and of the alerts they raise."""

from __future__ import annotations

from datetime import date

import pytest
from flask_migrate import upgrade

from connectors.transport.dci import EVENT_DEATH, Keyring, VitalEvent, build_notify
from demo.population import copy_simulated_population
from modules.registration import civil_events
from tests.conftest import base_config
from tests.connectors.transport import live_server
from webapp import create_app
from webapp.areas import load_areas
from webapp.extensions import db


@pytest.fixture(scope="module")
def srsp(tmp_path_factory, simulator):
    """(app, notify URL, simulator state): a migrated SRSP app that knows the simulated population, served live,
    pointed at the simulator and subscribed there through `srsp sources subscribe`."""
    sim, sim_url = simulator
    tmp = tmp_path_factory.mktemp("civil_events")
    app = create_app({**base_config(tmp, f"sqlite:///{tmp / 'app.db'}"), "SOURCES_URL": sim_url,
                      "SOURCES": {"*": {"timeout": 2, "retry": {"attempts": 1}, "cache": {"ttl": 0}}}})
    sim_engine = sim.extensions["simulator"].engine
    with app.app_context():
        upgrade()
        load_areas(mahallas_per_district=2)  # the simulated population lives in the test mahallas (2 per district)
        # everyone: whoever the simulator lets die is known here
        assert copy_simulated_population(sim_engine)[0]["person"] > 100
        db.session.commit()
        db.session.remove()
    with live_server(app) as base_url:
        notify_url = base_url + civil_events.NOTIFY_PATH
        result = app.test_cli_runner().invoke(args=["sources", "subscribe", "--callback-url", notify_url])
        assert result.exit_code == 0, result.output
        assert "ack_status=ACK" in result.output
        yield app, notify_url, sim.extensions["simulator"]


@pytest.fixture
def ctx(srsp):
    app = srsp[0]
    with app.app_context():
        yield
        db.session.remove()



def death_notify(keyring: Keyring, pin: str, when: date, receiver: str = "srsp") -> dict:
    record = {"event": "death", "date": when.isoformat(), "pin": pin, "related_pin": None}
    return keyring.sign(build_notify(keyring.sender_id, receiver, [VitalEvent(EVENT_DEATH, record)]))
