"""`srsp rules …` and `srsp means-test …`: the rule packs and the means test from the command line.

Contracts (used by external checks): `srsp rules params --pack uz --as-of DATE` prints the parameters in force as one
flat JSON object; `srsp means-test evaluate --pack uz --as-of DATE FILE` prints the decision (a calculator: it
stores nothing). Bad input exits with status 2 and a message naming the field, never a traceback.
`srsp means-test recertify` re-assesses the households due; `srsp rules simulate` runs a policy draft.
"""

from __future__ import annotations

import json
import sys

import click
from flask.cli import with_appcontext

from modules.means_test.simulation import parse_assignments, simulate
from rules.cases import load_cases, mismatches
from rules.engines import ENGINES, evaluate, public
from rules.evaluation import EngineInputError
from rules.facts import FactsError, load_facts_text
from rules.pack import PackError, get_pack, pack_ids


def _number(value: float):
    return int(value) if float(value).is_integer() else value


def _pack(pack_id: str):
    try:
        return get_pack(pack_id)
    except PackError as error:
        _fail(str(error))


@click.group("rules", help="Rule packs: parameters, golden cases, policy simulation.")
def rules_group():
    pass


@rules_group.command("params", help="Print the parameters in force on a date as one flat JSON object.")
@click.option("--pack", "pack_id", default="uz", show_default=True)
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), required=True, help="YYYY-MM-DD")
def params(pack_id, as_of):
    try:
        version = _pack(pack_id).version_for(as_of.date())
    except PackError as error:
        _fail(str(error))
    click.echo(json.dumps({name: _number(value) for name, value in version.parameters.items()}))


@rules_group.command("test", help="Run a pack's golden cases through both engines.")
@click.option("--pack", "packs", multiple=True, help="Pack id (default: every pack).")
def test_cases(packs):
    failures = total = 0
    for pack_id in packs or pack_ids():
        for case in load_cases(pack_id):
            for engine in ENGINES:
                total += 1
                problems = mismatches(case, evaluate(case.facts, pack_id, case.as_of, engine))
                if problems:
                    failures += 1
                    click.echo(f"FAIL {pack_id} [{engine}] {case.name}: " + "; ".join(problems))
    click.echo(f"{total - failures} of {total} golden case runs passed")
    sys.exit(1 if failures else 0)


@rules_group.command("simulate", help="Policy simulation: run a draft over the latest facts of every assessed "
                                        "household and report who becomes (in)eligible and what it costs.")
@click.option("--pack", "pack_id", default="uz", show_default=True)
@click.option("--set", "settings", multiple=True, metavar="NAME=NUMBER",
              help="A parameter of the draft (repeatable), e.g. --set income_threshold=700000.")
@click.option("--pack-file", "pack_file", type=click.Path(dir_okay=False),
              help="A whole draft pack (YAML); its version in force on each application date is the draft.")
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Date that picks the pack version for every household (default: each application date).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Write the changed households to a CSV.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_appcontext
def simulate_command(pack_id, settings, pack_file, as_of, csv_path, as_json):
    pack = _pack(pack_id)
    pack_text = None
    if pack_file:
        try:
            with open(pack_file, encoding="utf-8") as handle:
                pack_text = handle.read()
        except (OSError, UnicodeDecodeError) as error:
            _fail(f"cannot read {pack_file}: {error}")
    try:
        report = simulate(pack.id, parse_assignments(settings, pack), pack_text, as_of.date() if as_of else None)
    except PackError as error:
        _fail(str(error))
    if csv_path:
        try:
            with open(csv_path, "w", newline="", encoding="utf-8") as handle:
                report.write_csv(handle)
        except OSError as error:
            _fail(f"cannot write {csv_path}: {error}")
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        _print_report(report, csv_path)


def _money(value: float) -> str:
    return f"{value:+,.2f}".replace(",", " ") if value else "0"


def _print_report(report, csv_path) -> None:
    changes = ", ".join(f"{name}={_number(value)}" for name, value in report.changes.items()) or "none"
    click.echo(f"Pack {report.pack_id}; draft: {report.draft}; parameters changed: {changes}")
    click.echo(f"Households simulated: {report.households} ({report.people} people)"
               + (f"; {report.skipped} skipped (facts without members or date)" if report.skipped else ""))
    click.echo(f"Newly eligible: {report.newly_eligible_households} households, "
               f"{report.newly_eligible_people} people")
    click.echo(f"Newly ineligible: {report.newly_ineligible_households} households, "
               f"{report.newly_ineligible_people} people")
    click.echo(f"Monthly cost: {report.cost_before:,.2f} -> {report.cost_after:,.2f} "
               f"(change {_money(report.cost_change)})".replace(",", " "))
    for title, rows in (("By programme", report.programmes), ("By region", report.regions)):
        click.echo(f"{title}:")
        width = max([len(row.code) for row in rows] + [4])
        for row in rows:
            click.echo(f"  {row.code:<{width}}  {row.before:>16,.2f}  {row.after:>16,.2f}  "
                       f"{_money(row.change):>16}".replace(",", " "))
    click.echo(f"Households changed: {len(report.changed)}" + (f" (written to {csv_path})" if csv_path else ""))


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
    from webapp.boundary import unit_of_work

    try:
        with unit_of_work():
            total = len(due(as_of.date()))
            with click.progressbar(length=total, label="Recertifying", file=sys.stderr) as bar:
                done = [0]

                def progress(count: int, _total: int) -> None:
                    bar.update(count - done[0])
                    done[0] = count

                counts = recertify(as_of.date(), chunk, progress)
    except PackError as error:
        _fail(str(error))
    click.echo(json.dumps(counts))


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)


def register_commands(app) -> None:
    app.cli.add_command(rules_group)
    app.cli.add_command(means_test_group)
