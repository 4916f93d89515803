"""Benchmark: a what-if policy simulation over every assessed household (target: 1.2 million households in
< 60 s on 2 cores), beside a baseline measured in the same run: the pandas engine evaluating the same households
under the version in force and under the draft, on facts already in columns (no loading, no report).

    .venv/bin/python -m bench.simulation                                # PostgreSQL bench database on 127.0.0.1
    .venv/bin/python -m bench.simulation --households 100000
    .venv/bin/python -m bench.simulation --database-url postgresql://user@host/scratch   # or BENCH_DATABASE_URL
    .venv/bin/python -m bench.simulation --sqlite --households 5000    # an SQLite file in a temporary folder

Set-up, not timed: the database is emptied and migrated, then filled set-based (INSERT … SELECT over a series)
with N households spread over the mahallas, each with a decided application and an assessment of pack `uz`
whose stored facts are built in SQL: a head earning so that the income per person spreads around the threshold,
a spouse registered with the employment service or earning, 0 to 4 children, now and then a parent on a pension,
a disability, a car, a second dwelling, securities or alimony paid. Most applications are of 2026-11-10, some of
2023 and 2022 (other pack versions); every tenth household also has an older assessment that must not count.

Timed: `simulate("uz", {"income_threshold": 700000})` as the page and the CLI run it, by phase (the latest
assessments' facts loaded into columns, evaluated twice, summarised), with client and server CPU seconds (the
server's: the session's own backend; the parallel workers it starts end with their query and are not counted).

Prints one JSON object; `ratio` = simulation seconds / baseline seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime

from sqlalchemy import select, text

from bench import payroll as payroll_bench
from bench.payroll import Clock
from modules.means_test import bulk_facts, simulation
from rules.pack import get_pack
from rules.vectorised import evaluate_frames
from webapp.extensions import db
from webapp.models import Area, AreaLevel

TARGET_SECONDS = 60
DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1/srsp_bench_simulation"
CHANGES = {"income_threshold": 700000}
# Application dates and their share (per household i, by i % 20): most under the version in force, some older.
DATES = (("2026-11-10", 16), ("2023-01-15", 2), ("2022-05-10", 2))
OLDER_EVERY = 10  # every tenth household has an older assessment besides its latest


def make_app(args):
    return payroll_bench.make_app(args, DEFAULT_DATABASE, programmes=False)


# --- set-up: set-based inserts -------------------------------------------------------------------------------------


def _months(day: str, window: int) -> list[str]:
    year, month = int(day[:4]), int(day[5:7])
    current = year * 12 + month - 1
    return [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in range(current - window, current)]


def _facts_sql(dialect: str, window: int) -> str:
    """The facts document of household i (an SQL expression over the series column i)."""
    obj, arr, agg = (("json_build_object", "json_build_array", "json_agg") if dialect == "postgresql"
                     else ("json_object", "json_array", "json_group_array"))
    text_of = "CAST({} AS TEXT)"
    day = "CASE " + " ".join(f"WHEN i % 20 < {sum(s for _, s in DATES[:k + 1])} THEN '{d}'"
                             for k, (d, _) in enumerate(DATES)) + " END"
    # Pseudo-random but fixed per household: sizes, ages and incomes from i by multiplication modulo primes.
    children = "(i * 7 % 5)"
    spouse = "(i % 9 <> 0)"
    parent = "(i % 13 = 0)"
    per_capita = "(250000 + (i % 100003) * 7919 % 1000 * 1000)"  # within 32-bit integers
    size = f"(1 + CASE WHEN {spouse} THEN 1 ELSE 0 END + {children} + CASE WHEN {parent} THEN 1 ELSE 0 END)"
    salary_lines = {d: arr + "(" + ", ".join(
        f"{obj}('source', 'salary', 'month', '{m}', 'amount', {per_capita} * {size})"
        for m in _months(d, window)) + ")" for d, _ in DATES}
    pension_lines = {d: arr + "(" + ", ".join(
        f"{obj}('source', 'pension', 'month', '{m}', 'amount', 900000)" for m in _months(d, window)) + ")"
        for d, _ in DATES}
    alimony_lines = {d: arr + "(" + ", ".join(
        f"{obj}('month', '{m}', 'amount', 150000.5)" for m in _months(d, window)) + ")" for d, _ in DATES}

    def by_date(lines: dict) -> str:
        return "CASE " + " ".join(f"WHEN {day} = '{d}' THEN {sql}" for d, sql in lines.items()) + " END"

    def pin(k: str) -> str:
        return f"{text_of.format(f'30000000000000 + i * 8 + {k}')}"

    empty = f"{arr}()"
    head = (f"{obj}('pin', {pin('0')}, 'relation', 'head', 'birth_date', '1980-03-15', 'sex', "
            f"CASE WHEN i % 4 = 0 THEN 'F' ELSE 'M' END, 'income', {by_date(salary_lines)}, "
            f"'alimony_paid', CASE WHEN i % 50 = 0 THEN {by_date(alimony_lines)} ELSE {empty} END, "
            f"'statuses', {empty}, 'disability_group', CASE WHEN i % 40 = 0 THEN '2' END)")
    spouse_member = (f"{obj}('pin', {pin('1')}, 'relation', 'spouse', 'birth_date', '1984-11-02', 'sex', "
                     f"CASE WHEN i % 4 = 0 THEN 'M' ELSE 'F' END, 'income', {empty}, "
                     f"'statuses', CASE WHEN i % 11 = 0 THEN {empty} ELSE {arr}('employment_registered') END, "
                     f"'employment_sector', CASE WHEN i % 3 = 0 THEN 'non_state' END)")
    child = (f"{obj}('pin', {pin('2 + k')}, 'relation', 'child', 'birth_date', "
             f"CASE k WHEN 0 THEN '2012-06-01' WHEN 1 THEN '2015-01-20' WHEN 2 THEN '2019-09-09' "
             f"ELSE '2026-09-30' END, 'sex', CASE WHEN (i + k) % 2 = 0 THEN 'M' ELSE 'F' END, "
             f"'statuses', CASE WHEN k = 0 AND i % 17 = 0 THEN {arr}('student') ELSE {empty} END, "
             f"'disability_group', CASE WHEN i % 31 = 0 AND k = 0 THEN 'child' END)")
    parent_member = (f"{obj}('pin', {pin('7')}, 'relation', 'parent', 'birth_date', '1950-01-01', 'sex', 'F', "
                     f"'income', {by_date(pension_lines)})")
    series = ("generate_series(0, 3) AS k" if dialect == "postgresql"
              else "(SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3)")
    if dialect == "postgresql":
        members = (f"(SELECT json_agg(m ORDER BY o) FROM (SELECT 0 AS o, {head} AS m "
                   f"UNION ALL SELECT 1, {spouse_member} WHERE {spouse} "
                   f"UNION ALL SELECT 2 + k, {child} FROM {series} WHERE k < {children} "
                   f"UNION ALL SELECT 9, {parent_member} WHERE {parent}) AS ms)")
    else:
        members = (f"(SELECT json_group_array(json(m)) FROM (SELECT 0 AS o, {head} AS m "
                   f"UNION ALL SELECT 1, {spouse_member} WHERE {spouse} "
                   f"UNION ALL SELECT 2 + k, {child} FROM {series} WHERE k < {children} "
                   f"UNION ALL SELECT 9, {parent_member} WHERE {parent} ORDER BY o))")
    vehicles = (f"CASE WHEN i % 8 = 0 THEN {arr}({obj}('owner_pin', {pin('0')}, 'year', 2010 + i % 16, "
                f"'kind', CASE WHEN i % 3 = 0 THEN 'truck' ELSE 'passenger' END)) ELSE {empty} END")
    estate = (f"CASE WHEN i % 12 = 0 THEN {arr}({obj}('owner_pin', {pin('0')}, 'kind', 'residential'), "
              f"{obj}('owner_pin', {pin('0')}, 'kind', 'residential')) "
              f"ELSE {arr}({obj}('owner_pin', {pin('0')}, 'kind', 'residential')) END")
    return (f"{obj}('household_id', i, 'application_date', {day}, 'members', {members}, 'vehicles', {vehicles}, "
            f"'real_estate', {estate}, 'securities_value', CASE WHEN i % 97 = 0 THEN 6000000 ELSE 0 END)")


def populate(households: int) -> dict:
    """Households, their heads, decided applications and assessments with facts, all set-based."""
    dialect = db.engine.dialect.name
    window = int(get_pack("uz").versions[-1].parameters["income_window_months"])
    now = datetime(2026, 11, 12, 8, 0, tzinfo=UTC)
    older = households // OLDER_EVERY
    params = {"now": now, "h": households, "older": older}
    s = db.session
    s.execute(text("CREATE TEMPORARY TABLE bench_series (i INTEGER PRIMARY KEY)"))
    if dialect == "postgresql":
        s.execute(text("INSERT INTO bench_series SELECT generate_series(1, :n)"), {"n": households})
    else:
        s.execute(text("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < :n) "
                       "INSERT INTO bench_series SELECT i FROM c"), {"n": households})
    s.execute(text("CREATE TEMPORARY TABLE bench_mahalla (r INTEGER PRIMARY KEY, area_id INTEGER NOT NULL)"))
    mahallas = s.scalars(select(Area.id).where(Area.level == AreaLevel.mahalla).order_by(Area.code)).all()
    s.execute(text("INSERT INTO bench_mahalla VALUES (:r, :a)"), [{"r": r, "a": a} for r, a in enumerate(mahallas)])
    m = len(mahallas)
    timings = {}

    def step(name: str, sql: str) -> None:
        started = time.perf_counter()
        s.execute(text(sql), params)
        timings[name] = round(time.perf_counter() - started, 1)

    step("person", f"""
        INSERT INTO person (id, pin, last_name, first_name, patronymic, birth_date, sex, phone, area_id, updated_at)
        SELECT i, CAST(30000000000000 + i * 8 AS TEXT), 'Karimov', 'Bobur', NULL, '1980-03-15', 'M',
               '+998901234567', mh.area_id, :now
        FROM bench_series JOIN bench_mahalla mh ON mh.r = i % {m}""")
    step("household", f"""
        INSERT INTO household (id, area_id, address, created_at)
        SELECT i, mh.area_id, 'Navoiy koʻchasi, ' || CAST(i AS TEXT) || '-uy', :now
        FROM bench_series JOIN bench_mahalla mh ON mh.r = i % {m}""")
    step("application", f"""
        INSERT INTO application (id, household_id, applicant_id, area_id, phone, channel, status, is_open, period,
                                 created_at, submitted_at, language)
        SELECT i, i, i, mh.area_id, '+998901234567', 'office', 'decided', false, '2026-11', :now, :now, 'uz'
        FROM bench_series JOIN bench_mahalla mh ON mh.r = i % {m}""")
    columns = ("id, application_id, household_id, kind, pack_id, pack_version, engine, as_of, decision, "
               "per_capita_income, monthly_total, reasons, programmes, facts, trace, created_at")
    step("older_assessment", f"""
        INSERT INTO assessment ({columns})
        SELECT i / {OLDER_EVERY}, i, i, 'initial', 'uz', 'bench', 'pandas', '2026-05-10', 'eligible', 100000.00,
               450000.00, '[]', '[]', '{{"application_date": "2026-05-10", "members": []}}', '{{}}', :now
        FROM bench_series WHERE i % {OLDER_EVERY} = 0""")
    step("assessment", f"""
        INSERT INTO assessment ({columns})
        SELECT :older + i, i, i, 'initial', 'uz', 'bench', 'pandas', '2026-11-10', 'ineligible', 0, 0, '[]', '[]',
               {_facts_sql(dialect, window)}, '{{}}', :now
        FROM bench_series""")
    if dialect == "postgresql":
        for table in ("person", "household", "application", "assessment"):
            s.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
        s.execute(text("ANALYZE"))
    s.commit()
    size = s.scalar(text("SELECT sum(length(CAST(facts AS TEXT))) FROM assessment"))
    return {"households": households, "older_assessments": older, "facts_mb": round((size or 0) / 1e6), **timings}


# --- timed ---------------------------------------------------------------------------------------------------------


def _timed(clock: Clock, module, name: str, phase: str):
    """Wrap `module.name` so that its calls add to `phase` (the simulation's own functions, unchanged)."""
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        mark = clock.start()
        try:
            return original(*args, **kwargs)
        finally:
            clock.add(phase, mark)

    setattr(module, name, wrapper)
    return original


def run() -> tuple[simulation.SimulationReport, dict, float]:
    clock = Clock()
    originals = {name: _timed(clock, simulation, name, phase)
                 for name, phase in (("_load", "load"), ("_evaluate", "evaluate"), ("_summarise", "summarise"))}
    try:
        mark = clock.start()
        report = simulation.simulate("uz", CHANGES)
        clock.add("total", mark)
    finally:
        for name, original in originals.items():
            setattr(simulation, name, original)
    db.session.rollback()
    return report, clock.phases, clock.phases["total"]["s"]


def baseline() -> float:
    """Seconds for the pandas engine alone: the same households (facts already in columns, loaded and grouped by
    version beforehand, not timed) evaluated under the version in force on each household's date and under the
    draft."""
    facts = bulk_facts.latest_facts("uz")
    groups = simulation._versions(facts.application_days(), get_pack("uz").version_for)
    frames = {key: facts.frames_of(where) for key, (_, where) in groups.items()}
    started = time.perf_counter()
    for key, (version, _) in groups.items():
        evaluate_frames(frames[key], version)
        evaluate_frames(frames[key], version.with_parameters(CHANGES))
    return time.perf_counter() - started


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=int(os.environ.get("BENCH_HOUSEHOLDS", "1200000")))
    parser.add_argument("--database-url", help="an existing scratch database (emptied!); or BENCH_DATABASE_URL")
    parser.add_argument("--sqlite", action="store_true", help="an SQLite file in a temporary folder instead")
    parser.add_argument("--profile", help="write a cProfile of the timed run to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        args.folder = folder
        started = time.perf_counter()
        app = make_app(args)
        migrated = time.perf_counter() - started
        with app.app_context():
            dialect = db.engine.dialect.name
            mark = time.perf_counter()
            population = populate(args.households)
            populated = time.perf_counter() - mark
            load = [round(x, 2) for x in os.getloadavg()]
            if args.profile:
                import cProfile

                profiler = cProfile.Profile()
                report, phases, total = profiler.runcall(run)
                profiler.dump_stats(args.profile)
            else:
                report, phases, total = run()
            load_after = [round(x, 2) for x in os.getloadavg()]
            base = baseline()
    output = {
        "benchmark": "simulation", "database": dialect, "changes": CHANGES,
        "setup": {"migrate_s": round(migrated, 1), "populate_s": round(populated, 1), **population},
        "households": report.households, "people": report.people, "skipped": report.skipped,
        "eligible_before": report.eligible_before, "eligible_after": report.eligible_after,
        "changed": len(report.changed), "monthly_cost_change": report.cost_change,
        **{f"{phase}_s": round(p["s"], 2) for phase, p in phases.items()},
        "cpu_s": {phase: {k: None if v is None else round(v, 2) for k, v in p.items() if k != "s"}
                  for phase, p in phases.items()},
        "load_average_before": load, "load_average_after": load_after,
        "households_per_s": round(report.households / total),
        "baseline": "evaluate_frames, in force and draft, facts already in columns",
        "baseline_s": round(base, 2), "ratio": round(total / base, 1),
        "target_seconds": TARGET_SECONDS, "target_met": total < TARGET_SECONDS,
    }
    json.dump(output, sys.stdout)
    print()


if __name__ == "__main__":
    main()
