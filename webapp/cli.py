"""The `srsp` command: the Flask CLI group of the app plus SRSP's own commands."""

from __future__ import annotations

import sys
import time

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select
from werkzeug.serving import run_simple

from webapp.extensions import db
from webapp.models import Role


def main() -> None:
    from webapp import ConfigError, create_app

    try:
        app = create_app()
    except ConfigError as error:
        click.echo(f"Configuration error: {error}", err=True)
        sys.exit(2)
    FlaskGroup(create_app=lambda: app, add_default_commands=True, help="SRSP: Single Registry for Social "
               "Protection.")(prog_name="srsp")


def register_commands(app) -> None:
    from connectors.civil_events import register_commands as register_source_commands
    from connectors.cli import register_commands as register_synth_commands
    from connectors.simulator.cli import register_commands as register_simulator_commands
    from modules.enrolment.cli import register_commands as register_bank_commands
    from modules.means_test.cli import register_commands as register_means_test_commands
    from modules.payments.cli import register_commands as register_payroll_commands
    from rules.cli import register_commands as register_rules_commands

    for command in (areas, programmes, audit, worker, users, demo):
        app.cli.add_command(command)
    register_simulator_commands(app)
    register_source_commands(app)
    register_synth_commands(app)
    register_rules_commands(app)
    register_means_test_commands(app)
    register_payroll_commands(app)
    register_bank_commands(app)


@click.group(help="Administrative areas.")
def areas():
    pass


@areas.command("load", help="Load the regions and districts of Uzbekistan and synthetic mahallas (idempotent).")
@click.option("--mahallas", default=3, show_default=True, help="Synthetic mahallas per district.")
@with_appcontext
def areas_load(mahallas):
    from webapp.areas import load_areas

    added = load_areas(mahallas)
    db.session.commit()
    click.echo("Areas loaded: " + ", ".join(f"{count} {level}s added" for level, count in added.items()))


@click.group(help="Programmes.")
def programmes():
    pass


@programmes.command("load", help="Load the programmes of the uz rule pack (idempotent).")
@with_appcontext
def programmes_load():
    from webapp.programmes import load_programmes

    click.echo(f"Programmes loaded: {load_programmes()} added")
    db.session.commit()


@click.group(help="The audit trail.")
def audit():
    pass


@audit.command("verify", help="Check the hash chain; exit status 1 names the first altered or removed row.")
@with_appcontext
def audit_verify():
    from webapp.audit import verify_chain

    report = verify_chain()
    if report.ok:
        click.echo(f"OK: {report.rows} audit events, chain intact")
        return
    click.echo(f"BROKEN: {report.problem} (after {report.rows} intact rows)", err=True)
    sys.exit(1)


@click.command(help="Run an rq worker on the SRSP queues (needs REDIS_URL).")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.argument("queues", nargs=-1)
@with_appcontext
def worker(burst, queues):
    from redis import Redis
    from rq import Queue, Worker

    from webapp.jobs import QUEUES

    url = current_app.config["REDIS_URL"]
    if not url:
        raise click.UsageError("REDIS_URL is not set: without Redis, jobs run inline and no worker is needed.")
    connection = Redis.from_url(url)
    names = queues or QUEUES
    unknown = set(names) - set(QUEUES)
    if unknown:
        raise click.UsageError(f"unknown queue(s): {', '.join(sorted(unknown))}; known: {', '.join(QUEUES)}")
    # with_scheduler: jobs queued with a delay (SMS retries with backoff) are moved to their queue when due.
    Worker([Queue(name, connection=connection) for name in names], connection=connection).work(
        burst=burst, with_scheduler=True)


@click.group(help="Staff accounts.")
def users():
    pass


@users.command("create", help="Create a staff account.")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--name", "full_name", required=True)
@click.option("--area", "areas_", multiple=True, help="Area code in scope (repeatable), e.g. UZ-TK.")
@click.option("--national", is_flag=True, help="National scope: every area.")
@click.password_option()
@with_appcontext
def users_create(username, role, full_name, areas_, national, password):
    from webapp.auth.operations import create_user

    try:
        create_user(username, password, role, full_name, areas_, national_scope=national)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    db.session.commit()
    click.echo(f"Created {username} ({role}).")


@users.command("token", help="Issue an API token for a user (machine client); printed once.")
@click.argument("username")
@click.option("--name", default="api", show_default=True)
@with_appcontext
def users_token(username, name):
    from webapp.auth.operations import issue_token
    from webapp.models import User

    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.UsageError(f"no user {username!r}")
    token = issue_token(user, name)
    db.session.commit()
    click.echo(token)


@click.group(help="The demo: `make run` uses it.")
def demo():
    pass


DEMO_HOUSEHOLDS = 3000
DEMO_SIMULATOR_PORT = 5001


def _setup_demo() -> dict:
    from datetime import date

    from flask_migrate import upgrade

    from connectors.population_copy import copy_population, registry_persons
    from connectors.simulator import store
    from connectors.synthetic import existing_persons, synthesize
    from webapp.areas import load_areas
    from webapp.demo import create_demo_users, sample_families
    from webapp.models import Area, AreaLevel
    from webapp.programmes import load_programmes

    upgrade()
    load_areas()
    load_programmes()
    db.session.commit()
    users_ = create_demo_users()
    sim_engine = store.engine_for()
    store.create_schema(sim_engine)
    generated = 0
    if not existing_persons(sim_engine):
        mahallas = db.session.scalars(select(Area.code).where(Area.level == AreaLevel.mahalla)
                                      .order_by(Area.code)).all()
        generated = synthesize(sim_engine, DEMO_HOUSEHOLDS, seed=2026, areas=mahallas, as_of=date.today()
                               ).population.persons
    copied = copy_population(sim_engine)[0]["person"] if not registry_persons() else 0
    db.session.commit()
    info = {"users": users_, "persons": copied, "generated": generated, "families": sample_families("UZ-TK"),
            "simulator_url": str(sim_engine.url)}
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
@with_appcontext
def demo_run(host, port):
    started = time.monotonic()
    info = _setup_demo()
    simulator_url = _start_simulator(host, DEMO_SIMULATOR_PORT)
    _print_banner(info, f"http://{host}:{port}", time.monotonic() - started)
    click.echo(f"  Registry simulator (13 sources) at {simulator_url}; faults: GET/PUT {simulator_url}/_control/faults")
    _decide_history_in_background(current_app._get_current_object())
    # Werkzeug directly: Flask refuses app.run() inside a CLI command.
    run_simple(host, port, current_app._get_current_object(), threaded=True, use_reloader=False)


def _decide_history_in_background(app) -> None:
    """Past decisions for the analysts' pages, made through the real path while the server starts."""
    import threading

    from connectors.simulator import store
    from webapp.demo import decide_demo_history
    from webapp.demo_payroll import prepare_demo_month

    def run():
        with app.app_context():
            count = decide_demo_history()
            db.session.remove()
            month = prepare_demo_month(store.engine_for())
            db.session.remove()
        if count:
            click.echo(f"  Demo history: {count} applications collected and decided (see Policy simulation)")
        if month:
            click.echo(f"  Demo month: payroll {month['payroll']} for {month['period']} ({month['lines']} lines, "
                       f"{month['total']} UZS) prepared by finance.maker, ready for finance.checker to approve "
                       "(set up the authenticator first)")

    threading.Thread(target=run, daemon=True, name="demo-history").start()


def _start_simulator(host: str, port: int) -> str:
    """The demo's registries: the simulator in a thread of this process, where the sources' URL points."""
    import threading

    from werkzeug.serving import make_server

    from connectors.simulator.app import create_simulator_app

    server = make_server(host, port, create_simulator_app(), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True, name="simulator").start()
    current_app.config["SOURCES_URL"] = f"http://{host}:{port}"
    return current_app.config["SOURCES_URL"]


def _print_banner(info: dict, url: str | None, seconds: float | None = None) -> None:
    lines = ["", "SRSP demo is ready" + (f" ({seconds:.1f} s set-up)" if seconds is not None else "")]
    if url:
        lines.append(f"  Open {url}")
    if info["generated"]:
        lines.append(f"  Synthetic population: {info['generated']} persons in the registry simulator")
    if info["persons"]:
        lines.append(f"  Population register copy: {info['persons']} persons")
    lines.append("  Demo sign-ins (username / password / role):")
    lines += [f"    {username:<16} {password:<28} {role}" for username, password, role in info["users"]]
    lines.append("  Demo families in Tashkent city (for the 'registrar' user): PIN, relation, name")
    for family in info["families"]:
        lines += [f"    {pin}  {relation:<7} {name}" for pin, relation, name in family]
        lines.append("")
    click.echo("\n".join(lines))
