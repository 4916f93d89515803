"""SRSP's own commands on the app's Flask CLI group (`srsp`, see webapp/main.py)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from webapp.boundary import command_boundary


def register_commands(app) -> None:
    """The app's own commands. The demo's, the synthetic population's and the simulator's come from the
    `flask.commands` entry points (setup.cfg), which FlaskGroup loads: the web application never imports them."""
    from modules.enrolment.cli import register_commands as register_bank_commands
    from modules.means_test.cli import register_commands as register_means_test_commands
    from modules.payments.cli import register_commands as register_payroll_commands
    from modules.registration.civil_events import register_commands as register_source_commands
    from webapp.audit_cli import audit
    from webapp.auth.cli import users

    for command in (areas, programmes, audit, worker, users):
        app.cli.add_command(command)
    register_source_commands(app)
    register_means_test_commands(app)
    register_payroll_commands(app)
    register_bank_commands(app)


@click.group(help="Administrative areas.")
def areas():
    pass


@areas.command("load", help="Load the regions and districts of Uzbekistan and synthetic mahallas (idempotent).")
@click.option("--mahallas", default=3, show_default=True, help="Synthetic mahallas per district.")
@with_appcontext
@command_boundary
def areas_load(mahallas):
    from webapp.areas import load_areas

    added = load_areas(mahallas)
    click.echo("Areas loaded: " + ", ".join(f"{count} {level}s added" for level, count in added.items()))


@click.group(help="Programmes.")
def programmes():
    pass


@programmes.command("load", help="Load the programmes of every rule pack, names updated (idempotent).")
@with_appcontext
@command_boundary
def programmes_load():
    from webapp.programmes import load_programmes

    click.echo(f"Programmes loaded: {load_programmes()} added")


@click.command(help="Run an rq worker on the SRSP queues (needs REDIS_URL), with the periodic schedule.")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty (no schedule unless --schedule).")
@click.option("--schedule/--no-schedule", default=None, help="Run the periodic jobs' schedule beside the worker "
              "(default: on, off with --burst).")
@click.option("--fork/--no-fork", default=True, help="Run each job in a fork of the worker (default), or in the "
              "worker itself, keeping registry connections and caches from one job to the next (for the collection "
              "queue).")
@click.argument("queues", nargs=-1)
@with_appcontext
def worker(burst, schedule, fork, queues):
    from webapp.jobs import QUEUES
    from webapp.worker import run_worker

    if not current_app.config["REDIS_URL"]:
        raise click.UsageError("REDIS_URL is not set: without Redis, jobs run inline and no worker is needed.")
    names = queues or QUEUES
    unknown = set(names) - set(QUEUES)
    if unknown:
        raise click.UsageError(f"unknown queue(s): {', '.join(sorted(unknown))}; known: {', '.join(QUEUES)}")
    run_worker(current_app._get_current_object(), list(names), burst=burst,
               schedule=not burst if schedule is None else schedule, fork=fork)
