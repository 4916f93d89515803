"""The synthetic population: deterministic, valid PINs, plausible distributions, consistent families; `srsp synth`."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from connectors import synthetic
from connectors.simulator import store
from demo.synth import synth
from webapp.pin import parse_uz

AS_OF = date(2026, 11, 1)
# Three regions, as many mahallas as `srsp areas load` makes per district in tests.
AREAS = [f"UZ-{region}-{district:02d}-M{m:02d}" for region, districts in (("TK", 12), ("SA", 16), ("SI", 11))
         for district in range(1, districts + 1) for m in (1, 2)]
HOUSEHOLDS = 5_000


def _load(tmp_path_factory, name: str, households: int, seed: int, **write_options) -> tuple:
    path = tmp_path_factory.mktemp(name) / "sim.db"
    engine = store.engine_for(f"sqlite:///{path}")
    population = synthetic.generate(households, seed, AREAS, AS_OF)
    synthetic.write(engine, population, **write_options)
    return engine, population


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    engine, population = _load(tmp_path_factory, "sim", HOUSEHOLDS, 7)
    yield engine, population
    engine.dispose()


def _all(engine, sql: str, **params) -> list:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def _one(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def _database_digest(engine) -> str:
    """SHA-256 over every row of every population table, in a canonical order."""
    sha = hashlib.sha256()
    with engine.connect() as conn:
        for table in store.POPULATION_TABLES:
            columns = [column.name for column in table.columns if column.name != "id"]
            rows = conn.execute(select(*(table.c[name] for name in columns)).order_by(
                *(table.c[name] for name in columns))).all()
            sha.update(f"{table.name}:{len(rows)}:{rows!r}".encode())
    return sha.hexdigest()


# --- determinism -----------------------------------------------------------------------------------------------------

def test_same_inputs_give_identical_rows_and_another_seed_does_not(tmp_path_factory):
    first, population = _load(tmp_path_factory, "a", 1_500, 11)
    again, same = _load(tmp_path_factory, "b", 1_500, 11)
    other, different = _load(tmp_path_factory, "c", 1_500, 12)
    assert population.digest() == same.digest() != different.digest()
    assert _database_digest(first) == _database_digest(again) != _database_digest(other)
    later = synthetic.generate(1_500, 11, AREAS, date(2026, 12, 1))
    assert later.digest() != population.digest()


def test_the_two_process_load_writes_the_same_rows_as_the_single_process_one(tmp_path_factory):
    sequential, _population = _load(tmp_path_factory, "seq", 1_000, 5, parallel=False)
    parallel, _population = _load(tmp_path_factory, "par", 1_000, 5, parallel=True, batch_rows=997)
    assert _database_digest(sequential) == _database_digest(parallel)
    folder = Path(parallel.url.database).parent
    assert [f.name for f in folder.iterdir()] == ["sim.db"], "the helper's side file is removed"


def test_counts_match_the_database(sim):
    engine, population = sim
    for table in store.POPULATION_TABLES:
        assert _one(engine, f"SELECT count(*) FROM {table.name}") == population.counts()[table.name]
    assert population.counts()["household"] == HOUSEHOLDS
    generation = _all(engine, "SELECT seed, households, persons, as_of FROM generation")
    assert generation == [(7, HOUSEHOLDS, population.persons, AS_OF.isoformat())]


def test_write_refuses_to_overwrite_a_population_unless_asked(sim, tmp_path):
    engine, population = sim
    before = _database_digest(engine)
    with pytest.raises(synthetic.PopulationExists):
        synthetic.write(engine, synthetic.generate(10, 1, AREAS, AS_OF))
    assert _database_digest(engine) == before


@pytest.mark.parametrize("parallel", [False, True], ids=["one process", "with the helper process"])
def test_a_failed_load_leaves_the_previous_population_untouched(tmp_path_factory, parallel):
    engine, _population = _load(tmp_path_factory, "fail", 300, 1)
    before = _database_digest(engine)
    broken = synthetic.generate(400, 2, AREAS, AS_OF)

    def boom(start, stop):
        raise RuntimeError("disk on fire")

    name, _convert = broken.tables["income"].columns[-1]
    broken.tables["income"].columns[-1] = (name, boom)
    with pytest.raises(RuntimeError):
        synthetic.write(engine, broken, replace=True, parallel=parallel)
    assert _database_digest(engine) == before
    assert [f.name for f in Path(engine.url.database).parent.iterdir()] == ["sim.db"]
    engine.dispose()


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="at least 1"):
        synthetic.generate(0, 1, AREAS, AS_OF)
    with pytest.raises(ValueError, match="no mahallas"):
        synthetic.generate(10, 1, [], AS_OF)
    with pytest.raises(ValueError, match="seed"):
        synthetic.generate(10, -1, AREAS, AS_OF)


# --- identities ------------------------------------------------------------------------------------------------------

def test_every_pin_is_valid_unique_and_agrees_with_birth_date_and_sex(sim):
    engine, population = sim
    people = _all(engine, "SELECT pin, birth_date, sex FROM person")
    assert len(people) == population.persons
    assert len({pin for pin, _birth, _sex in people}) == len(people)
    for pin, birth, sex in people:
        info = parse_uz(pin)
        assert (info.birth_date.isoformat(), info.sex) == (birth, sex), pin
    pins = {pin for pin, _birth, _sex in people}
    for table, column in (("income", "pin"), ("family_link", "related_pin"), ("vehicle", "owner_pin"),
                          ("vital_event", "related_pin"), ("person", "mother_pin"), ("status", "pin")):
        referenced = {row[0] for row in _all(engine, f"SELECT DISTINCT {column} FROM {table}")} - {None}
        assert referenced and referenced <= pins, f"{table}.{column} names unknown PINs"


def test_names_phones_and_areas_look_uzbek(sim):
    engine, _population = sim
    people = _all(engine, "SELECT last_name, patronymic, sex, phone, mahalla FROM person")
    for last_name, patronymic, sex, phone, mahalla in people:
        assert last_name.endswith(("ov", "ev")) if sex == "M" else last_name.endswith(("ova", "eva"))
        assert patronymic.endswith(" oʻgʻli" if sex == "M" else " qizi")
        assert phone is None or (len(phone) == 13 and phone[:6] in {"+99890", "+99891", "+99893", "+99894",
                                                                     "+99897", "+99899"})
        assert mahalla in AREAS
    assert sum(phone is not None for *_rest, phone, _m in people) > len(people) / 2


def test_households_are_spread_by_regional_population(sim):
    engine, _population = sim
    by_region = dict(_all(engine, "SELECT substr(mahalla, 1, 5), count(*) FROM household GROUP BY 1"))
    # Samarqand has ~4.5 times Sirdaryo's population (and larger rural households).
    assert 3.0 < by_region["UZ-SA"] / by_region["UZ-SI"] < 5.5


# --- households ------------------------------------------------------------------------------------------------------

def test_household_sizes_are_between_1_and_12_with_a_plausible_mean(sim):
    engine, _population = sim
    sizes = [size for (size,) in _all(engine, "SELECT count(*) FROM family_link GROUP BY household_id")]
    assert len(sizes) == HOUSEHOLDS
    assert min(sizes) >= 1 and max(sizes) <= 12
    assert 4.4 <= sum(sizes) / len(sizes) <= 5.2  # ~4.8 in Uzbekistan
    assert {1, 12} <= set(sizes) or max(sizes) >= 10


def test_every_household_has_exactly_one_head_and_members_point_at_it(sim):
    engine, _population = sim
    heads = _all(engine, "SELECT household_id, count(*) FROM family_link WHERE relation = 'head' GROUP BY 1")
    assert len(heads) == HOUSEHOLDS and {count for _id, count in heads} == {1}
    strays = _one(engine, "SELECT count(*) FROM family_link m JOIN family_link h ON h.pin = m.related_pin "
                          "WHERE h.relation <> 'head' OR h.household_id <> m.household_id")
    assert strays == 0
    assert _one(engine, "SELECT count(*) FROM family_link WHERE relation = 'head' AND related_pin <> pin") == 0


def test_children_are_younger_than_their_parents(sim):
    engine, _population = sim
    gap = 15 * 365
    for column in ("father_pin", "mother_pin"):
        pairs = _all(engine, f"SELECT c.birth_date, p.birth_date FROM person c JOIN person p ON p.pin = c.{column}")
        assert pairs
        assert all(date.fromisoformat(child) - date.fromisoformat(parent) > _days(gap) for child, parent in pairs)
    # Through the household: the head's children are younger than the head, the head's parents older.
    rows = _all(engine, "SELECT m.relation, pm.birth_date, ph.birth_date FROM family_link m "
                        "JOIN person pm ON pm.pin = m.pin JOIN person ph ON ph.pin = m.related_pin "
                        "WHERE m.relation IN ('child', 'parent')")
    for relation, member, head in rows:
        younger, older = (member, head) if relation == "child" else (head, member)
        assert date.fromisoformat(younger) - date.fromisoformat(older) > _days(gap), (relation, member, head)


def _days(days: int):
    from datetime import timedelta

    return timedelta(days=days)


def test_the_age_pyramid_is_young(sim):
    engine, _population = sim
    ages = [(AS_OF - date.fromisoformat(birth)).days / 365.25
            for (birth,) in _all(engine, "SELECT birth_date FROM person WHERE death_date IS NULL")]
    under_15 = sum(age < 15 for age in ages) / len(ages)
    over_65 = sum(age >= 65 for age in ages) / len(ages)
    assert 0.25 <= under_15 <= 0.35 and 0.03 <= over_65 <= 0.08
    sexes = dict(_all(engine, "SELECT sex, count(*) FROM person GROUP BY sex"))
    assert 0.46 < sexes["M"] / (sexes["M"] + sexes["F"]) < 0.54


# --- incomes ---------------------------------------------------------------------------------------------------------

def test_a_realistic_share_of_households_has_no_formal_income(sim):
    engine, _population = sim
    with_income = _one(engine, "SELECT count(DISTINCT f.household_id) FROM family_link f "
                               "WHERE f.pin IN (SELECT pin FROM income)")
    assert 0.30 <= 1 - with_income / HOUSEHOLDS <= 0.45


def test_incomes_cover_the_12_months_before_as_of_by_source(sim):
    engine, _population = sim
    months = [month for (month,) in _all(engine, "SELECT DISTINCT month FROM income ORDER BY month")]
    assert months == [f"{2025 + (10 + i) // 12}-{(10 + i) % 12 + 1:02d}" for i in range(12)]
    sources = dict(_all(engine, "SELECT source, count(*) FROM income GROUP BY source"))
    assert set(sources) <= set(store.INCOME_SOURCES)
    expected = {"salary", "pension", "benefit", "entrepreneurial", "unemployment_benefit", "alimony_received"}
    assert expected <= set(sources)
    assert sources["salary"] > sources["pension"] > sources["benefit"]
    assert _one(engine, "SELECT min(amount) FROM income") > 0
    median_wage = _all(engine, "SELECT amount FROM income WHERE source = 'salary' ORDER BY amount")
    assert 2_000_000 < median_wage[len(median_wage) // 2][0] < 8_000_000  # UZS a month


def test_pensions_are_paid_only_from_retirement_age(sim):
    engine, _population = sim
    rows = _all(engine, "SELECT p.birth_date, p.sex, i.month FROM income i JOIN person p ON p.pin = i.pin "
                        "WHERE i.source = 'pension'")
    assert rows
    for birth, sex, month in rows:
        born, first_day = date.fromisoformat(birth), date.fromisoformat(month + "-01")
        age = first_day.year - born.year - ((first_day.month, first_day.day) < (born.month, born.day))
        assert age >= {"M": 60, "F": 55}[sex], (birth, sex, month)
    # Nearly everyone above retirement age (alive through the window) draws one.
    elderly = _one(engine, "SELECT count(*) FROM person WHERE death_date IS NULL AND "
                           "((sex = 'M' AND birth_date < '1965-10-01') OR (sex = 'F' AND birth_date < '1970-10-01'))")
    pensioners = _one(engine, "SELECT count(DISTINCT pin) FROM income WHERE source = 'pension'")
    assert pensioners >= 0.95 * elderly


def test_no_income_after_death(sim):
    engine, _population = sim
    late = _one(engine, "SELECT count(*) FROM income i JOIN person p ON p.pin = i.pin "
                        "WHERE p.death_date IS NOT NULL AND i.month > substr(p.death_date, 1, 7)")
    assert late == 0


# --- statuses, disability, assets, civil events ----------------------------------------------------------------------

def test_statuses_respect_age_and_sex(sim):
    engine, _population = sim
    rows = _all(engine, "SELECT s.status, p.birth_date, p.sex FROM status s JOIN person p ON p.pin = s.pin")
    kinds = {status for status, _birth, _sex in rows}
    assert {"student", "military_service", "iron_notebook", "employment_registered", "registered_unemployed"} <= kinds
    for status, birth, sex in rows:
        age = (AS_OF - date.fromisoformat(birth)).days // 365.25
        if status == "student":
            assert 17 <= age <= 24
        if status == "military_service":
            assert sex == "M" and 18 <= age <= 27
    low_income_heads = _one(engine, "SELECT count(*) FROM status WHERE status = 'iron_notebook'")
    assert 0.01 * HOUSEHOLDS < low_income_heads < 0.08 * HOUSEHOLDS


def test_children_with_disabilities_exist_in_realistic_numbers(sim):
    engine, _population = sim
    children = _one(engine, "SELECT count(*) FROM person WHERE birth_date > '2008-11-01' AND death_date IS NULL")
    disabled = _all(engine, "SELECT p.birth_date, d.end_date FROM disability d JOIN person p ON p.pin = d.pin "
                            "WHERE d.disability_group = 'child'")
    assert 0.005 * children < len(disabled) < 0.03 * children
    for birth, end in disabled:
        born = date.fromisoformat(birth)
        assert date.fromisoformat(end) <= date(born.year + 18, born.month, 28 if born.month == 2 else born.day) + \
            _days(3)
    groups = dict(_all(engine, "SELECT disability_group, count(*) FROM disability GROUP BY 1"))
    assert {"1", "2", "3", "child"} <= set(groups) and groups["2"] > groups["1"]
    carers = _one(engine, "SELECT count(DISTINCT f.household_id) FROM disability d JOIN family_link f ON f.pin = d.pin "
                          "WHERE d.disability_group = 'child'")
    assert carers > 0


def test_assets_are_plausible(sim):
    engine, _population = sim
    cars = _one(engine, "SELECT count(DISTINCT owner_pin) FROM vehicle WHERE kind = 'passenger'")
    assert 0.2 * HOUSEHOLDS < cars < 0.6 * HOUSEHOLDS
    years = _all(engine, "SELECT min(year), max(year) FROM vehicle")[0]
    assert 1985 <= years[0] and years[1] <= AS_OF.year
    estates = dict(_all(engine, "SELECT kind, count(*) FROM real_estate GROUP BY kind"))
    assert estates["residential"] > 0.8 * HOUSEHOLDS and 0 < estates["non_residential"] < 0.1 * HOUSEHOLDS
    securities = _all(engine, "SELECT market_value, nominal_value FROM security_holding")
    assert 0 < len(securities) < 0.01 * HOUSEHOLDS * 4.8
    assert any(market is None for market, _nominal in securities)
    assert any(market is not None for market, _nominal in securities)


def test_deaths_have_a_death_date_and_a_death_event(sim):
    engine, _population = sim
    dead = dict(_all(engine, "SELECT pin, death_date FROM person WHERE death_date IS NOT NULL"))
    events = dict(_all(engine, "SELECT pin, event_date FROM vital_event WHERE kind = 'death'"))
    assert dead and dead == events
    born = dict(_all(engine, "SELECT pin, birth_date FROM person WHERE death_date IS NOT NULL"))
    assert all(born[pin] <= died < AS_OF.isoformat() for pin, died in dead.items())
    assert _one(engine, "SELECT count(*) FROM family_link f JOIN person p ON p.pin = f.pin "
                        "WHERE f.relation = 'head' AND p.death_date IS NOT NULL") == 0


def test_births_and_marriages_are_recorded(sim):
    engine, _population = sim
    births = _all(engine, "SELECT v.event_date, p.birth_date, v.related_pin, m.sex FROM vital_event v "
                          "JOIN person p ON p.pin = v.pin LEFT JOIN person m ON m.pin = v.related_pin "
                          "WHERE v.kind = 'birth'")
    assert births and all(event == birth for event, birth, _mother, _sex in births)
    assert all(sex == "F" for _e, _b, mother, sex in births if mother)
    recent = _one(engine, "SELECT count(*) FROM person WHERE birth_date >= '2023-11-02'")
    assert len(births) == recent
    marriages = _all(engine, "SELECT pin, related_pin FROM vital_event WHERE kind = 'marriage'")
    assert marriages and {(b, a) for a, b in marriages} == set(marriages)
    ages = _all(engine, "SELECT v.event_date, p.birth_date FROM vital_event v JOIN person p ON p.pin = v.pin "
                        "WHERE v.kind = 'marriage'")
    assert all(date.fromisoformat(wed) >= date.fromisoformat(born) + _days(18 * 365) for wed, born in ages)
    divorces = _one(engine, "SELECT count(*) FROM vital_event WHERE kind = 'divorce'")
    assert 0 < divorces < len(marriages)


# --- the command -----------------------------------------------------------------------------------------------------

def _invoke(app, *args):
    return app.test_cli_runner().invoke(synth, list(args))


def test_synth_command_generates_into_the_simulator_database(app, tmp_path):
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    result = _invoke(app, "--households", "300", "--seed", "3", "--as-of", "2026-11-01", "--database-url", url)
    assert result.exit_code == 0, result.output
    assert "person" in result.output and "Generated in" in result.output
    engine = store.engine_for(url)
    persons = synthetic.existing_persons(engine)
    assert persons and f"{persons:,}" in result.output
    mahallas = {m for (m,) in _all(engine, "SELECT DISTINCT mahalla FROM household")}
    assert all(m.count("-") == 3 and "-M" in m for m in mahallas)
    before = _database_digest(engine)

    again = _invoke(app, "--households", "300", "--seed", "4", "--as-of", "2026-11-01", "--database-url", url)
    assert again.exit_code != 0 and "--replace" in again.output
    assert _database_digest(engine) == before

    replaced = _invoke(app, "--households", "300", "--seed", "3", "--as-of", "2026-11-01", "--database-url", url,
                       "--replace")
    assert replaced.exit_code == 0, replaced.output
    assert _database_digest(engine) == before  # same inputs, same population
    engine.dispose()


@pytest.mark.parametrize("args, message", [
    (["--households", "0"], "0 is not in the range"),
    (["--households", "-5"], "not in the range"),
    (["--households", "ten"], "is not a valid integer"),
    (["--households", "10", "--as-of", "2026-13-01"], "does not match the format"),
    (["--households", "10", "--as-of", "1.11.2026"], "does not match the format"),
    (["--households", "10", "--as-of", "1850-01-01"], "outside"),
    (["--households", "10", "--database-url", "mysql://x@y/z"], "unsupported simulator database"),
    ([], "Missing option '--households'"),
])
def test_synth_command_refuses_bad_input_and_writes_nothing(app, tmp_path, args, message):
    path = tmp_path / "sim.db"
    if "--database-url" not in args:
        args = [*args, "--database-url", f"sqlite:///{path}"]
    result = _invoke(app, *args)
    assert result.exit_code != 0
    assert message in result.output
    assert not path.exists() or synthetic.existing_persons(store.engine_for(f"sqlite:///{path}")) is None


def test_synth_command_never_touches_the_registry_database(app, database_url):
    from modules.registration.models import Person
    from webapp.extensions import db

    if not database_url.startswith("sqlite:///"):
        pytest.skip("the registry database is shared with other tests only through SQLite files here")
    persons = db.session.scalar(select(func.count()).select_from(Person))
    result = _invoke(app, "--households", "10", "--database-url", database_url, "--replace")
    assert result.exit_code != 0 and "not a simulator database" in result.output
    assert db.session.scalar(select(func.count()).select_from(Person)) == persons


def test_synth_command_loads_the_areas_when_the_registry_has_none(app, tmp_path):
    from webapp.extensions import db
    from webapp.models import Area, AreaLevel

    mahallas = lambda: db.session.scalar(  # noqa: E731
        select(func.count()).select_from(Area).where(Area.level == AreaLevel.mahalla))
    db.session.execute(Area.__table__.delete().where(Area.level == AreaLevel.mahalla))  # rolled back after the test
    assert mahallas() == 0
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    result = _invoke(app, "--households", "10", "--as-of", "2026-11-01", "--database-url", url)
    assert result.exit_code == 0, result.output
    loaded = mahallas()
    assert loaded > 0
    assert f"Areas loaded into the registry: region 0, district 0, mahalla {loaded}" in result.output
    assert f"over {loaded} mahallas" in result.output
    assert synthetic.existing_persons(store.engine_for(url))

    again = _invoke(app, "--households", "10", "--as-of", "2026-11-01", "--database-url", url, "--replace")
    assert again.exit_code == 0, again.output
    assert "Areas loaded" not in again.output and mahallas() == loaded  # loaded once: nothing twice


def test_synth_command_copies_persons_into_the_registry(app, tmp_path):
    from modules.registration.models import Household, HouseholdMember, Person
    from webapp.extensions import db

    count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
    before = count(Person), count(Household), count(HouseholdMember)
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    result = _invoke(app, "--households", "40", "--as-of", "2026-11-01", "--database-url", url, "--registry-persons")
    assert result.exit_code == 0, result.output
    engine = store.engine_for(url)
    persons = synthetic.existing_persons(engine)
    assert count(Person) - before[0] == persons
    assert count(Household) - before[1] == 40
    assert count(HouseholdMember) - before[2] == persons
    head = db.session.scalar(select(Person).join(HouseholdMember).where(HouseholdMember.relation == "head"
                                                                        ).order_by(Person.id.desc()).limit(1))
    assert head.area.code.startswith("UZ-") and head.birth_date
    again = _invoke(app, "--households", "40", "--as-of", "2026-11-01", "--database-url", url, "--replace",
                    "--registry-persons")
    assert again.exit_code == 0, again.output
    assert "40 households skipped" in again.output and count(Person) - before[0] == persons
    engine.dispose()
