"""`srsp bank …`: payees' accounts through the bank connector."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from webapp.boundary import command_boundary


@click.group("bank", help="Payees' bank accounts at the paying bank.")
def bank_group():
    pass


@bank_group.command("open-accounts", help="Request accounts for enrolled payees without one, then sync statuses.")
@with_appcontext
def open_accounts_command():
    from modules.enrolment.banking import open_accounts

    _run(open_accounts)


@bank_group.command("sync-accounts", help="Ask the bank how open account requests stand (opened, card issued).")
@with_appcontext
def sync_accounts_command():
    from modules.enrolment.banking import sync_accounts

    _run(sync_accounts)


@command_boundary
def _run(operation) -> None:
    """Keep what the bank answered (one unit of work) and print the counts; a bank that cannot be reached changes
    nothing."""
    from connectors.transport.errors import SourceError

    try:
        counts = operation()
    except SourceError as error:
        raise click.ClickException(f"the bank could not be reached; nothing changed ({error})") from None
    click.echo(json.dumps(counts))


def register_commands(app) -> None:
    app.cli.add_command(bank_group)
