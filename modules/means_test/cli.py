"""`srsp means-test …`: evaluate a facts document (a calculator: it stores nothing) and batch recertification."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import with_appcontext

from rules.engines import ENGINES, evaluate, public
from rules.evaluation import EngineInputError
from rules.facts import FactsError, load_facts_text
from rules.pack import PackError, get_pack


@click.group("means-test", help="The means test: evaluate facts, recertify households.")
def means_test_group():
    pass


@means_test_group.command("evaluate", help="Evaluate a facts document (FILE, or - for stdin) and print the "
                                           "decision as JSON.")
@click.option("--pack", "pack_id", default="uz", show_default=True)
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Date that picks the pack version (default: the application date).")
@click.option("--engine", type=click.Choice(ENGINES), default="durable_rules", show_default=True)
@click.option("--lang", "language", default="en", show_default=True, help="Language of the reason messages.")
@click.option("--trace", "with_trace", is_flag=True, help="Include the trace (each rule and the values it saw).")
@click.argument("source", type=click.File("r", encoding="utf-8"))
def evaluate_command(pack_id, as_of, engine, language, with_trace, source):
    try:
        get_pack(pack_id)
        facts = load_facts_text(source.read())
        result = evaluate(facts, pack_id, as_of.date() if as_of else None, engine, language)
    except FactsError as error:
        _fail(f"invalid facts: {error}")
    except (PackError, EngineInputError) as error:
        _fail(str(error))
    click.echo(json.dumps(result if with_trace else public(result), ensure_ascii=False))


@means_test_group.command("recertify", help="Re-assess every household whose entitlement period ends by DATE "
                                            "(pandas engine, in chunks).")
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), required=True, help="YYYY-MM-DD")
@click.option("--chunk", type=click.IntRange(1, 1_000_000), default=5000, show_default=True)
@with_appcontext
def recertify_command(as_of, chunk):
    from modules.means_test.recertification import due, recertify
    from webapp.extensions import db

    try:
        total = len(due(as_of.date()))
        with click.progressbar(length=total, label="Recertifying", file=sys.stderr) as bar:
            done = [0]

            def progress(count: int, _total: int) -> None:
                bar.update(count - done[0])
                done[0] = count

            counts = recertify(as_of.date(), chunk, progress)
    except PackError as error:
        _fail(str(error))
    db.session.commit()
    click.echo(json.dumps(counts))


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)


def register_commands(app) -> None:
    app.cli.add_command(means_test_group)
