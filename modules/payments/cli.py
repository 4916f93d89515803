"""`srsp payroll …`: generate a payroll or the whole month's, list payrolls, export a payroll's bank file."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from webapp.boundary import command_boundary
from webapp.extensions import db


@click.group("payroll", help="Monthly payrolls: generate, list, export bank files, reconcile statements.")
def payroll_group():
    pass


# Commands run in one unit of work (`command_boundary`): committed when they finish, rolled back on any error; a
# refusal is printed as "Error: …" with exit status 1.


def _payroll_or_fail(payroll_id: int):
    from modules.payments.models import Payroll

    payroll = db.session.get(Payroll, payroll_id)
    if payroll is None:
        raise click.ClickException(f"no payroll {payroll_id}")
    return payroll


def _actor_or_fail(username: str | None):
    from webapp.models import User

    if not username:
        return None
    actor = db.session.scalar(select(User).where(User.username == username))
    if actor is None:
        raise click.ClickException(f"no user {username!r}")
    return actor


@payroll_group.command("generate", help="Generate (or top up) the draft payroll of a programme, region and month.")
@click.option("--programme", "programme_code", required=True, help="Programme code, e.g. child_allowance.")
@click.option("--region", "region_code", required=True, help="Region code, e.g. UZ-TK.")
@click.option("--period", required=True, help="Month as YYYY-MM.")
@click.option("--user", "username", help="The preparer (a finance maker); default: the system.")
@with_appcontext
@command_boundary
def generate_command(programme_code, region_code, period, username):
    from modules.payments.generation import generate

    payroll = generate(programme_code, region_code, period, _actor_or_fail(username))
    click.echo(f"Payroll {payroll.id}: {payroll.line_count} lines, {payroll.total_amount} UZS ({payroll.status})")


@payroll_group.command("generate-month", help="Prepare the month's payrolls of every programme and region, one job "
                       "per region (workers share them). Prints the job's id; without Redis it runs here and prints "
                       "the month's result too.")
@click.option("--period", required=True, help="Month as YYYY-MM.")
@click.option("--user", "username", help="The preparer (a finance maker with national scope); default: the system.")
@with_appcontext
def generate_month_command(period, username):
    from flask import current_app

    from modules.payments.tasks import start_month
    from webapp.boundary import Refusal, unit_of_work
    from webapp.models import Job

    try:
        with unit_of_work():  # without Redis the job runs when this commits
            job_id = start_month(_actor_or_fail(username), period)
    except Refusal as refusal:
        raise click.ClickException(str(refusal)) from None
    click.echo(f"Job {job_id}")
    if current_app.config["JOBS_INLINE"]:
        job = db.session.get(Job, job_id, populate_existing=True)
        click.echo(json.dumps({"status": job.status.value, "error": job.error, **(job.result or {})},
                              ensure_ascii=False))
        if job.status.value != "finished":
            raise SystemExit(2)


def _rows() -> list[dict]:
    from modules.payments.models import Payroll
    from webapp.models import Area, Programme

    result = db.session.execute(select(Payroll, Programme.code, Area.code).join(Programme).join(Area)
                                .order_by(Payroll.id))
    return [{"id": p.id, "programme": programme, "region": region, "period": p.period, "status": p.status.value,
             "lines": p.line_count, "total": str(p.total_amount)} for p, programme, region in result]


@payroll_group.command("list", help="List payrolls.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array (totals as decimal strings).")
@with_appcontext
def list_command(as_json):
    rows = _rows()
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for row in rows:
        click.echo(f"{row['id']:>6}  {row['programme']:<22} {row['region']:<6} {row['period']}  {row['status']:<10} "
                   f"{row['lines']:>8} {row['total']:>18}")


@payroll_group.command("export", help="Write an approved payroll's bank file (validated before it is written).")
@click.argument("payroll_id", type=int)
@click.option("--format", "file_format", required=True,
              type=click.Choice(["pain.001.001.03", "pain.001.001.09", "csv"]))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True))
@with_appcontext
@command_boundary
def export_command(payroll_id, file_format, output):
    from modules.payments import export

    payroll = _payroll_or_fail(payroll_id)
    content = export.render(payroll, file_format)  # reads only
    with open(output, "wb") as handle:
        handle.write(content)
    click.echo(f"Payroll {payroll.id}: {file_format} written to {output} ({len(content)} bytes)")


@payroll_group.command("reconcile", help="Import a bank statement (camt.053/054, pain.002, CSV) and print the counts.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--user", "username", help="The finance officer importing the file; default: the system.")
@with_appcontext
def reconcile_command(file, username):
    from pathlib import Path

    from modules.payments.reconciliation import ReconciliationError, import_statement
    from webapp.boundary import unit_of_work

    path = Path(file)
    try:
        with unit_of_work():
            record = import_statement(path.read_bytes(), path.name, _actor_or_fail(username))
    except ReconciliationError as error:  # a file that cannot be imported exits with 2 (1: a wrong argument)
        click.echo(f"Error: {error}", err=True)
        raise SystemExit(2) from None
    click.echo(json.dumps({"import": record.id, "kind": record.kind, "repeat": record.repeat, **record.counts()}))


@payroll_group.command("request-funds", help="Ask the treasury (GFMIS) for the funds of approved payrolls.")
@click.argument("payroll_ids", type=int, nargs=-1, required=True)
@click.option("--user", "username", help="The finance officer asking; default: the system.")
@with_appcontext
@command_boundary
def request_funds_command(payroll_ids, username):
    from modules.payments import funding

    actor = _actor_or_fail(username)
    request = funding.request_funds([_payroll_or_fail(payroll_id) for payroll_id in payroll_ids], actor)
    click.echo(json.dumps({"reference": request.reference, "status": request.status.value,
                           "treasury_reference": request.treasury_reference, "reason": request.refusal_reason,
                           "total": str(request.total_amount), "lines": request.lines}, ensure_ascii=False))


@payroll_group.command("send", help="Send an approved, funded payroll's file to the bank.")
@click.argument("payroll_id", type=int)
@click.option("--format", "file_format", default="pain.001.001.03", show_default=True,
              type=click.Choice(["pain.001.001.03", "pain.001.001.09"]))
@click.option("--user", "username", help="The finance officer sending; default: the system.")
@with_appcontext
@command_boundary
def send_command(payroll_id, file_format, username):
    from modules.payments import sending

    actor = _actor_or_fail(username)
    payroll = _payroll_or_fail(payroll_id)
    transfer = sending.send_to_bank(payroll, actor, file_format)
    click.echo(f"Payroll {payroll.id}: {transfer.message_id} received by the bank as {transfer.bank_file_id} "
               f"({transfer.transactions} payments, {transfer.control_sum} UZS)")


@payroll_group.command("fetch-statement", help="Fetch the bank's statement for a sent payroll and reconcile it.")
@click.argument("payroll_id", type=int)
@click.option("--user", "username", help="The finance officer; default: the system.")
@with_appcontext
@command_boundary
def fetch_statement_command(payroll_id, username):
    from modules.payments import sending

    actor = _actor_or_fail(username)
    payroll = _payroll_or_fail(payroll_id)
    record = sending.fetch_statement(payroll, actor)
    click.echo(json.dumps({"import": record.id, "kind": record.kind, "repeat": record.repeat,
                           "payroll_status": payroll.status.value, **record.counts()}))


def register_commands(app) -> None:
    app.cli.add_command(payroll_group)
