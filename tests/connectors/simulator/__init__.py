"""The registry simulator over real HTTP, against a synthetic population in a temporary SQLite database."""

from collections.abc import Iterator
from contextlib import contextmanager

from connectors.simulator import store
from connectors.simulator.app import create_simulator_app
from tests.connectors.transport import live_server


@contextmanager
def serving_simulator(database_url: str) -> Iterator[tuple]:
    """The simulator on its own store (created if new) on a free port: yields (the simulator app, its base URL)."""
    store.create_schema(store.engine_for(database_url))
    simulator = create_simulator_app(database_url=database_url)
    with live_server(simulator) as base_url:
        yield simulator, base_url
