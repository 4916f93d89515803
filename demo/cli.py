"""`srsp demo setup|run`: the demo `make run` serves, with the registry simulator in the same process.

A `flask.commands` entry point (setup.cfg) adds the group to `srsp`, so the web application never imports it.
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import date

import click
from click.core import ParameterSource
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade
from sqlalchemy import select
from werkzeug.serving import make_server, run_simple

from connectors.simulator import store
from connectors.simulator.app import create_simulator_app
from connectors.synthetic import existing_persons, synthesize
from demo import events
from demo.cases import create_demo_cases, queue, queue_line
from demo.citizens import banner_lines, create_demo_citizens
from demo.history import banner_line as history_line
from demo.history import create_demo_history
from demo.payroll import prepare_demo_month
from demo.population import copy_simulated_population
from demo.reports import banner_lines as report_lines
from demo.reports import freeze_demo_returns
from demo.setup import create_demo_users, decide_demo_history, sample_families
from modules.registration.civil_events import NOTIFY_PATH
from modules.registration.population_copy import registry_persons
from webapp.areas import load_areas
from webapp.boundary import unit_of_work
from webapp.extensions import db
from webapp.models import Area, AreaLevel
from webapp.programmes import load_programmes
from webapp.worker import start_schedule

DEMO_HOUSEHOLDS = 3000
DEMO_SIMULATOR_PORT = 5001  # webapp.config's SOURCES_URL points there unless SRSP_SIMULATOR_PORT says otherwise
SIMULATOR_PORT_VARIABLE = "SRSP_SIMULATOR_PORT"
SIMULATOR_EXTENSION = "demo.simulator"
SERVER_EXTENSION = "demo.server_url"


@click.group(help="The demo: `make run` uses it.")
def demo():
    pass


def _setup_demo() -> dict:
    upgrade()
    with unit_of_work():
        load_areas()
        load_programmes()
    with unit_of_work():
        users_ = create_demo_users()
        sim_engine = store.engine_for()
        store.create_schema(sim_engine)
        generated = 0
        if not existing_persons(sim_engine):
            mahallas = db.session.scalars(select(Area.code).where(Area.level == AreaLevel.mahalla)
                                          .order_by(Area.code)).all()
            generated = synthesize(sim_engine, DEMO_HOUSEHOLDS, seed=2026, areas=mahallas, as_of=date.today()
                                   ).population.persons
        copied = copy_simulated_population(sim_engine)[0]["person"] if not registry_persons() else 0
    with unit_of_work():
        create_demo_cases()  # a grievance (its SMS in the outbox) and an enquiry; the events' cases come later
    with unit_of_work():
        citizens = create_demo_citizens(sim_engine)  # for the portal: one will be eligible, one refused
    info = {"users": users_, "persons": copied, "generated": generated, "families": sample_families("UZ-TK"),
            "simulator_url": str(sim_engine.url), "queue": queue(), "newborn": events.newborn_pin(sim_engine),
            "citizens": citizens}
    # End the CLI's transaction: on SQLite an open one would hold the write lock the server's requests need.
    db.session.remove()
    return info


@demo.command("setup", help="Migrate, load areas and programmes, create demo users and population.")
@with_appcontext
def demo_setup():
    _print_banner(_setup_demo(), None)


@demo.command("run", help="Set up the demo and serve it.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--simulator-port", type=click.IntRange(0, 65535), default=DEMO_SIMULATOR_PORT, show_default=True,
              envvar=SIMULATOR_PORT_VARIABLE, show_envvar=True,
              help="Port of the registry simulator. When the default is taken, a free one is chosen and printed; "
                   "a port asked for explicitly must be free (0 lets the system choose).")
@with_appcontext
def demo_run(host, port, simulator_port):
    started = time.monotonic()
    chosen = click.get_current_context().get_parameter_source("simulator_port") is not ParameterSource.DEFAULT
    info = _setup_demo()
    simulator_url = _start_simulator(host, simulator_port, fall_back=not chosen)
    _print_banner(info, f"http://{host}:{port}", time.monotonic() - started)
    click.echo(f"  Registry simulator (13 sources) at {simulator_url}; faults: GET/PUT {simulator_url}/_control/faults")
    current_app.extensions[SERVER_EXTENSION] = f"http://{host}:{port}"  # where the civil registry notifies
    _decide_history_in_background(current_app._get_current_object())  # then the periodic jobs
    click.echo("  Periodic jobs (webapp/schedule.py) run in this process once the demo's background work is done; "
               "see Jobs for their runs")
    # Werkzeug directly: Flask refuses app.run() inside a CLI command.
    run_simple(host, port, current_app._get_current_object(), threaded=True, use_reloader=False)


def _decide_history_in_background(app) -> None:
    """Past decisions for the analysts' pages, made through the real path while the server starts; then the demo
    month, the social worker's cases that events raise (demo/events.py), the year of payment history and the
    frozen returns. The periodic jobs start afterwards, whatever happened, as on a worker (sweepers that resume work
    a restart interrupted, recertification): started earlier, the monthly-return job would freeze last month before
    its payments are in."""
    base_url = app.extensions.get(SERVER_EXTENSION)

    def work():
        try:
            click.echo("\n".join(demo_history(app, base_url)))
        finally:
            start_schedule(app)

    threading.Thread(target=work, daemon=True, name="demo-history").start()


def demo_history(app, base_url: str | None, sim_engine=None) -> list[str]:
    """The background work of `srsp demo run` (the server at `base_url` answering); returns the lines to print."""
    with app.app_context():
        count = decide_demo_history()
        db.session.remove()
        sim_engine = sim_engine or store.engine_for()
        outcomes = {}

        def death():  # before the month's payroll, which then leaves the deceased child out
            outcomes["death"] = _step(lambda: _report_death(app, base_url))

        month = prepare_demo_month(sim_engine, before_payroll=death)
        db.session.remove()
        if "death" not in outcomes:
            death()
        outcomes["failed payment"] = _step(lambda: events.fail_a_payment(sim_engine))
        outcomes["appeal"] = _step(events.open_appeal, commit=True)
        outcomes["birth"] = _step(lambda: events.report_birth(sim_engine), commit=True)
        # Last, as the other steps choose households that never applied: a year of payments outside Tashkent.
        payments = _step(create_demo_history, commit=True)
        # After the payrolls (the material-support one is reconciled by now): the analyst's frozen returns.
        reports = _step(lambda: report_lines([row.period for row in freeze_demo_returns()]), commit=True)
        summary, newborn = queue(), events.newborn_pin(sim_engine)
        db.session.remove()
    lines = []
    if count:
        lines.append(f"  Demo history: {count} applications collected and decided (see Policy simulation)")
    if month:
        lines.append(f"  Demo month: payroll {month['payroll']} for {month['period']} ({month['lines']} lines, "
                     f"{month['total']} UZS) prepared by finance.maker, ready for finance.checker to approve "
                     "(set up the authenticator first)")
    lines += [f"  Demo case ({name}): {outcome}" for name, outcome in outcomes.items() if outcome != "exists"]
    if isinstance(payments, dict):
        lines.append(history_line(payments))
    elif payments is not None:
        lines.append(f"  Demo payment history: {payments}")
    lines += reports if isinstance(reports, list) else [f"  Reports: {reports}"]  # a list unless skipped
    lines.append(queue_line(summary, newborn))
    return lines


def _report_death(app, base_url: str | None) -> str:
    simulator = app.extensions.get(SIMULATOR_EXTENSION)
    if simulator is None or base_url is None:
        return "skipped: the registry simulator does not run in this process"
    if not events.wait_for_server(base_url):
        return f"skipped: the server did not answer at {base_url}"
    return events.report_death(simulator.extensions["simulator"], base_url + NOTIFY_PATH)


def _step(work, commit: bool = False) -> str | list[str]:
    """One demo step: its outcome (in words, or the lines to print); a failure is reported, never fatal to the demo."""
    try:
        if commit:
            with unit_of_work():
                return work()
        return work()
    except Exception as error:  # noqa: BLE001 - the demo serves on whatever a step could not do
        db.session.remove()
        return f"skipped: {type(error).__name__}: {error}"


def _start_simulator(host: str, port: int, fall_back: bool = True) -> str:
    """The demo's registries: the simulator in a thread of this process, where the sources' URL points."""
    simulator = create_simulator_app()
    current_app.extensions[SIMULATOR_EXTENSION] = simulator  # the demo's civil registry notifies from it
    server = simulator_server(simulator, host, port, fall_back)
    threading.Thread(target=server.serve_forever, daemon=True, name="simulator").start()
    current_app.config["SOURCES_URL"] = f"http://{host}:{server.server_port}"
    return current_app.config["SOURCES_URL"]


def simulator_server(simulator, host: str, port: int, fall_back: bool = True):
    """A server for the simulator app on host:port (not yet serving). A port another program holds is replaced by
    a free one when `fall_back` (the default port of `make run`), and refused otherwise; port 0 is any free one."""
    taken = bool(port) and not port_is_free(host, port)
    if taken and not fall_back:
        raise click.ClickException(f"port {port} on {host} is in use: choose another with --simulator-port or "
                                   f"{SIMULATOR_PORT_VARIABLE} (0 picks a free one)")
    server = make_server(host, 0 if taken else port, simulator, threaded=True)  # port 0: the system picks one
    if taken:
        click.echo(f"  Port {port} is in use: the registry simulator listens on port {server.server_port} instead")
    return server


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on host:port now (werkzeug's make_server exits the process when not)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will: TIME_WAIT is free
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _print_banner(info: dict, url: str | None, seconds: float | None = None) -> None:
    lines = ["", "SRSP demo is ready" + (f" ({seconds:.1f} s set-up)" if seconds is not None else "")]
    if url:
        lines.append(f"  Open {url}")
    if info["generated"]:
        lines.append(f"  Synthetic population: {info['generated']} persons in the registry simulator")
    if info["persons"]:
        lines.append(f"  Population register copy: {info['persons']} persons")
    if "queue" in info:
        lines.append(queue_line(info["queue"], info.get("newborn")))
    lines.append("  Demo sign-ins (username / password / role):")
    lines += [f"    {username:<16} {password:<28} {role}" for username, password, role in info["users"]]
    lines.append("  Demo families in Tashkent city (for the 'registrar' user): PIN, relation, name")
    for family in info["families"]:
        lines += [f"    {pin}  {relation:<7} {name}" for pin, relation, name in family]
        lines.append("")
    lines += banner_lines(info.get("citizens", []), url)
    click.echo("\n".join(lines))
