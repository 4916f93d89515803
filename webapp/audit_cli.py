"""`srsp audit`: commands over the audit trail."""

import sys

import click
from flask.cli import with_appcontext


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
