"""`srsp audit`: commands over the audit trail."""

import sys

import click
from flask.cli import with_appcontext


@click.group(help="The audit trail.")
def audit():
    pass


@audit.command("verify", help="Check the keyed hash chain and compare it with the last signed checkpoint; exit "
                              "status 1 says what was altered, removed or emptied.")
@with_appcontext
def audit_verify():
    from webapp.audit import verify_chain

    report = verify_chain()
    if report.ok:
        click.echo(f"OK: {report.rows} audit events, chain intact" + (
            f", matches the checkpoint of {report.checkpoint.at_text} ({report.checkpoint.rows} rows)"
            if report.checkpoint else ""))
        for note in report.notes:
            click.echo(f"Note: {note}", err=True)
        return
    click.echo(f"BROKEN: {report.problem} (after {report.rows} intact rows)", err=True)
    sys.exit(1)


@audit.command("checkpoint", help="Check the rows since the last checkpoint and write a signed checkpoint of the "
                                  "chain's head now (the schedule does it every few minutes).")
@with_appcontext
def audit_checkpoint():
    from webapp.audit_checkpoints import CheckpointRefused, directory, write_checkpoint

    try:
        point = write_checkpoint()
    except CheckpointRefused as refused:
        click.echo(f"BROKEN: {refused}", err=True)
        sys.exit(1)
    click.echo(f"Checkpoint written to {directory()}: {point.rows} rows up to row {point.last_id}")
