"""`srsp reports monthly`: a month's frozen return, as JSON or exported to a file.

Exit codes: 0 done; 2 a bad period, a month with no data, or an export that cannot be made (message on stderr).
The return is frozen (a new version stored) only when the month has none yet, or with --refresh.
"""

from __future__ import annotations

import importlib
import json
import sys
from datetime import UTC

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _

from webapp.boundary import unit_of_work


class _NoData(Exception):
    pass


@click.group("reports", help="Reports: the frozen monthly return.")
def reports_group():
    pass


def totals(row) -> dict:
    """The return's figures by programme and region, with what identifies its version."""
    computed_at = row.computed_at.replace(tzinfo=row.computed_at.tzinfo or UTC)  # SQLite gives it back naive
    return {"period": row.period, "version": row.version, "code_version": row.code_version,
            "computed_at": computed_at.isoformat(), "reconciliation": row.reconciliation,
            "indicators": row.data["indicators"]}


def _fail(message: str):
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)


def _exports():
    try:
        return importlib.import_module("modules.reporting.exports")
    except ImportError:
        return None


@reports_group.command("monthly", help="The month's return: frozen once, printed as JSON or exported.")
@click.option("--period", required=True, help="The month, YYYY-MM.")
@click.option("--json", "as_json", is_flag=True, help="Print the totals by programme and region as one JSON object.")
@click.option("--refresh", is_flag=True, help="Freeze a new version even when the month has one.")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "pdf", "csv"]), help="Export to a file.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="The file to export to.")
@click.option("--language", type=click.Choice(["uz", "ru", "en"]), default="uz", show_default=True)
@click.option("--publication", is_flag=True, help="Suppress small figures, for publication.")
@with_appcontext
def monthly_command(period, as_json, refresh, fmt, output, language, publication):
    from modules.reporting import month, operations

    try:
        month.month_bounds(period)
    except month.BadPeriod:
        _fail(_("The period must be a month written YYYY-MM, e.g. 2026-01."))
    if fmt and not output:
        _fail(_("Give the file to export to with -o."))
    exports = _exports() if fmt else None
    if fmt and (exports is None or not hasattr(exports, "write")):
        _fail(_("Exports are not available yet."))
    try:
        with unit_of_work():
            row = None if refresh else operations.latest(period)
            if row is None:
                row = operations.freeze(period)
                if not operations.has_data(row.data):
                    raise _NoData
            result = totals(row)
            if fmt:
                exports.write(row, fmt, output, language, publication)
    except _NoData:
        _fail(_("There is no data for %(period)s.", period=period))
    if as_json:
        click.echo(json.dumps(result, sort_keys=True, ensure_ascii=False))
    elif not fmt:
        for code, figures in result["indicators"].items():
            click.echo(f"{code}\t{figures['total']}\t{figures['unit']}")
    if fmt:
        click.echo(_("Version %(version)s of %(period)s written to %(path)s",
                     version=result["version"], period=period, path=output), err=True)


def register_commands(app) -> None:
    app.cli.add_command(reports_group)
