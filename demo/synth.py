"""`srsp synth`: the synthetic population, generated into the registry simulator's database.

A `flask.commands` entry point (setup.cfg) adds it to `srsp`.
"""

from __future__ import annotations

from datetime import date

import click
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from connectors import synthetic
from connectors.simulator import store
from demo.population import copy_simulated_population
from webapp.areas import load_areas
from webapp.boundary import command_boundary
from webapp.extensions import db
from webapp.models import Area, AreaLevel

MAX_HOUSEHOLDS = 5_000_000
REGISTRY_BATCH = 5_000


@click.command(help="Generate a synthetic population into the registry simulator's database (deterministic: the same "
               "households, seed, as-of date and areas give the same people). Mahallas come from the registry's area "
               "table, loaded first when it is empty (as `srsp areas load` does).")
@click.option("--households", required=True, type=click.IntRange(1, MAX_HOUSEHOLDS),
              help="Number of households (1.2 million for a national-scale population).")
@click.option("--seed", default=1, show_default=True, type=click.IntRange(0, 2**63 - 1), help="Random seed.")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), help="Reference date, YYYY-MM-DD (default: "
              "today): ages, the 12 months of income before it, recent births and deaths.")
@click.option("--database-url", help="Simulator database (default: SIMULATOR_DATABASE_URL, else "
              "sqlite:///<instance>/simulator.db).")
@click.option("--replace", is_flag=True, help="Replace the population already in the simulator database.")
@click.option("--registry-persons", is_flag=True, help="Also copy the persons and households into the registry's "
              "person and household tables (for the demo; PINs already there are skipped with their household).")
@with_appcontext
@command_boundary
def synth(households, seed, as_of, database_url, replace, registry_persons):
    as_of = as_of.date() if as_of else date.today()
    if not date(1990, 1, 1) <= as_of <= date(2100, 1, 1):
        raise click.BadParameter(f"{as_of} is outside 1990-01-01 … 2100-01-01", param_hint="'--as-of'")
    areas = _mahallas()
    if not areas:  # a fresh registry: the same areas `srsp areas load` loads (it changes nothing when run again)
        added = load_areas()
        click.echo("Areas loaded into the registry: " + ", ".join(f"{level} {count}" for level, count in added.items()))
        areas = _mahallas()
    if not areas:
        raise click.UsageError("the registry has no mahallas to place households in: see `srsp areas load`")
    try:
        engine = store.engine_for(database_url)
    except (ValueError, SQLAlchemyError, ImportError, OSError) as error:
        raise click.BadParameter(str(error), param_hint="'--database-url'") from None
    safe_url = engine.url.render_as_string(hide_password=True)
    try:
        existing = synthetic.existing_persons(engine)
    except synthetic.NotASimulatorDatabase as error:
        raise click.BadParameter(f"{safe_url}: {error}", param_hint="'--database-url'") from None
    except SQLAlchemyError as error:
        reason = getattr(error, "orig", None) or error
        raise click.ClickException(f"cannot open the simulator database {safe_url}: {reason}") from None
    if existing and not replace:
        raise click.UsageError(f"the simulator database {safe_url} already holds a population ({existing} persons): "
                               "pass --replace to regenerate it")
    click.echo(f"Generating {households} households over {len(areas)} mahallas (seed {seed}, as of {as_of}) "
               f"into {safe_url} …")
    try:
        with _Progress() as progress:
            result = synthetic.synthesize(engine, households, seed, areas, as_of, replace=replace,
                                          progress=progress.advance, on_generated=progress.open)
    except synthetic.PopulationExists as error:
        raise click.UsageError(str(error)) from None
    finally:
        engine.dispose()
    counts = result.counts
    click.echo(f"Generated in {result.generate_seconds:.1f} s, written in {result.write_seconds:.1f} s "
               f"({result.population.rows} rows, {result.population.rows / max(result.seconds, 1e-9):,.0f} rows/s):")
    for table, rows in counts.items():
        click.echo(f"  {table:<17} {rows:>12,}")
    if registry_persons:
        added, skipped = copy_simulated_population(engine, joined=min(result.population.as_of, date.today()))
        click.echo(f"Registry: {added['household']} households and {added['person']} persons added; "
                   f"{skipped} households skipped (a member's PIN was already registered).")


def _mahallas() -> list[str]:
    return list(db.session.scalars(select(Area.code).where(Area.level == AreaLevel.mahalla).order_by(Area.code)))


class _Progress:
    """A click progress bar sized once the population is generated, advanced as rows are written."""

    def __init__(self):
        self.bar = None

    def open(self, population) -> None:
        self.bar = click.progressbar(length=population.rows, label="Writing rows", show_percent=True,
                                     show_pos=True)
        self.bar.__enter__()

    def advance(self, rows: int) -> None:
        if self.bar is not None and rows:
            self.bar.update(rows)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        if self.bar is not None:
            self.bar.__exit__(*exc_info)


