"""`srsp simulator serve`: run the registry simulator (connectors/simulator/app.py) with werkzeug, threaded."""

from __future__ import annotations

import json

import click

DEFAULT_PORT = 5001  # webapp.config SOURCES_URL defaults to http://127.0.0.1:5001


def register_commands(app) -> None:
    app.cli.add_command(simulator)


@click.group(help="The registry simulator: the 13 government sources over X-Road REST and DCI.")
def simulator():
    pass


@simulator.command("serve", help="Serve the simulated sources from the simulator database (see `srsp synth`).")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--database-url", default=None,
              help="The simulator database; default SIMULATOR_DATABASE_URL, else instance/simulator.db.")
def serve(port, host, database_url):
    from werkzeug.serving import make_server

    from connectors.simulator import store
    from connectors.simulator.app import create_simulator_app, population_size
    from connectors.simulator.faults import FaultConfigError

    url = database_url or store.default_url()
    try:
        persons = population_size(url)
    except Exception as exc:  # noqa: BLE001 - any failure to open the database is reported the same way
        raise click.ClickException(f"cannot open the simulator database {_safe(url)}: {exc}") from exc
    if not persons:
        raise click.ClickException(f"the simulator database {_safe(url)} holds no population: "
                                   "run `srsp synth --households N` first")
    try:
        app = create_simulator_app(url)
    except (FaultConfigError, ValueError) as exc:
        raise click.ClickException(f"simulator configuration: {exc}") from exc
    state = app.extensions["simulator"]
    server = make_server(host, port, app, threaded=True)
    base = f"http://{host}:{server.server_port}"
    faults = state.faults.config()
    click.echo(f"Registry simulator on {base}: {persons} persons in {_safe(url)}\n"
               f"  faults: {json.dumps(faults) if faults else 'none'} (GET/PUT {base}/_control/faults)\n"
               f"  DCI sender {state.keyring.sender_id}, key {state.keyring.kid} ({base}/.well-known/jwks.json)\n"
               f"  plain DCI server {base}/dci/crvs/registry/...: {len(state.tokens)} bearer token(s) "
               f"(SIMULATOR_DCI_TOKENS), signatures {state.signatures} (SIMULATOR_DCI_SIGNATURES)\n"
               f"  health: {base}/_control/health")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        state.shutdown()
        server.server_close()


def _safe(url: str) -> str:
    """The URL without a password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return url
