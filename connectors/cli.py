"""`srsp synth`: the synthetic population, generated into the registry simulator's database (DESIGN §6)."""

from __future__ import annotations

from datetime import date

import click
from flask.cli import with_appcontext
from sqlalchemy import insert, select
from sqlalchemy.exc import SQLAlchemyError

from webapp.extensions import db

MAX_HOUSEHOLDS = 5_000_000
REGISTRY_BATCH = 5_000


def register_commands(app) -> None:
    app.cli.add_command(synth)


@click.command(help="Generate a synthetic population into the registry simulator's database (deterministic: the same "
               "households, seed, as-of date and areas give the same people). Mahallas come from the registry's area "
               "table: run `srsp areas load` first.")
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
def synth(households, seed, as_of, database_url, replace, registry_persons):
    from connectors import synthetic
    from connectors.simulator import store
    from webapp.models import Area, AreaLevel

    as_of = as_of.date() if as_of else date.today()
    if not date(1990, 1, 1) <= as_of <= date(2100, 1, 1):
        raise click.BadParameter(f"{as_of} is outside 1990-01-01 … 2100-01-01", param_hint="'--as-of'")
    areas = db.session.scalars(select(Area.code).where(Area.level == AreaLevel.mahalla).order_by(Area.code)).all()
    if not areas:
        raise click.UsageError("the registry has no mahallas to place households in: run `srsp areas load` first")
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
        added, skipped = copy_to_registry(result.population)
        db.session.commit()
        click.echo(f"Registry: {added['household']} households and {added['person']} persons added; "
                   f"{skipped} households skipped (a member's PIN was already registered).")


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


def copy_to_registry(population) -> tuple[dict[str, int], int]:
    """Insert the population's persons and households into the registry's tables (bulk, within the session's
    transaction). A household with any member whose PIN is already registered is skipped whole, so nobody ends up
    in two households. The dead are copied with their death date and as former members (left_at = death date)."""
    from modules.registration.models import Household, HouseholdMember, Person
    from webapp.models import Area, AreaLevel

    area_ids = dict(db.session.execute(select(Area.code, Area.id).where(Area.level == AreaLevel.mahalla)).all())
    known = set(db.session.scalars(select(Person.pin)))
    households = _rows(population, "household")
    people = {row["pin"]: row for row in _rows(population, "person")}
    members: dict[int, list[dict]] = {}
    for link in _rows(population, "family_link"):
        members.setdefault(link["household_id"], []).append(link)
    joined = min(population.as_of, date.today())
    added, skipped = {"household": 0, "person": 0}, 0
    for start in range(0, len(households), REGISTRY_BATCH):
        batch = []
        for household in households[start:start + REGISTRY_BATCH]:
            links = members.get(household["id"], [])
            if any(link["pin"] in known for link in links):
                skipped += 1
            else:
                batch.append((household, links))
        if not batch:
            continue
        household_ids = db.session.scalars(
            insert(Household).returning(Household.id, sort_by_parameter_order=True),
            [{"area_id": area_ids[h["mahalla"]], "address": h["address"]} for h, _links in batch]).all()
        person_rows, member_rows = [], []
        for household_id, (household, links) in zip(household_ids, batch, strict=True):
            for link in sorted(links, key=lambda link: link["relation"] != "head"):
                person = people[link["pin"]]
                person_rows.append({
                    "pin": person["pin"], "last_name": person["last_name"], "first_name": person["first_name"],
                    "patronymic": person["patronymic"], "birth_date": date.fromisoformat(person["birth_date"]),
                    "sex": person["sex"], "phone": person["phone"], "area_id": area_ids[household["mahalla"]],
                    "death_date": date.fromisoformat(person["death_date"]) if person["death_date"] else None})
                member_rows.append({"household_id": household_id, "relation": link["relation"], "joined_at": joined,
                                    "left_at": date.fromisoformat(person["death_date"]) if person["death_date"]
                                    else None})
        person_ids = db.session.scalars(insert(Person).returning(Person.id, sort_by_parameter_order=True),
                                        person_rows).all()
        for member, person_id in zip(member_rows, person_ids, strict=True):
            member["person_id"] = person_id
        db.session.execute(insert(HouseholdMember), member_rows)
        known.update(row["pin"] for row in person_rows)
        added["household"] += len(household_ids)
        added["person"] += len(person_ids)
    db.session.flush()
    return added, skipped


def _rows(population, table: str) -> list[dict]:
    data = population.tables[table]
    names = [name for name, _convert in data.columns]
    return [dict(zip(names, row, strict=True)) for _count, rows in data.batches(100_000) for row in rows]
