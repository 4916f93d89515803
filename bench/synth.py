"""Benchmark: the synthetic population (target: 1.2 million households generated and written in < 2 minutes on 2
cores), beside a baseline measured in the same run on the same kind of database: a plain executemany of as many
person rows as the population has, all with constant values (nothing generated, no indexes, one transaction).

    .venv/bin/python -m bench.synth                          # SQLite in a temporary folder
    BENCH_HOUSEHOLDS=100000 .venv/bin/python -m bench.synth
    SIMULATOR_DATABASE_URL=postgresql://… .venv/bin/python -m bench.synth   # an empty scratch database
    BENCH_REPLACE=1 …                                        # allow replacing a population already there

Prints one JSON object; `ratio` = generator seconds / baseline seconds.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import sys
import tempfile
import time
from datetime import date

from connectors import synthetic
from connectors.simulator import store
from webapp.areas import DATA_FILE

HOUSEHOLDS = int(os.environ.get("BENCH_HOUSEHOLDS", "1200000"))
SEED = int(os.environ.get("BENCH_SEED", "2026"))
AS_OF = date.fromisoformat(os.environ.get("BENCH_AS_OF", "2026-11-01"))
MAHALLAS_PER_DISTRICT = 3  # as `srsp areas load`
TARGET_SECONDS = 120


def mahallas() -> list[str]:
    """The mahalla codes `srsp areas load` creates, in code order, without needing the registry database."""
    with open(DATA_FILE, encoding="utf-8") as handle:
        districts = [row["code"] for row in csv.DictReader(handle) if row["level"] == "district"]
    return sorted(f"{code}-M{number:02d}" for code in districts for number in range(1, MAHALLAS_PER_DISTRICT + 1))


def baseline(engine, rows: int) -> float:
    """Seconds to executemany `rows` constant person rows into a fresh table without indexes, in one transaction."""
    columns = [column.name for column in store.person.columns]
    row = ("31505850010017", "Karimov", "Alisher", "Bobur oʻgʻli", "1985-05-15", "M", None, "+998901234567",
           "UZ-TK-01-M01", "Navoiy koʻchasi, 1-uy", None, None)
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        sqlite = engine.dialect.name == "sqlite"
        cursor = raw.cursor()
        if sqlite:
            for pragma in ("synchronous = OFF", "journal_mode = MEMORY"):
                raw.execute(f"PRAGMA {pragma}")
        with conn.begin():
            conn.exec_driver_sql("DROP TABLE IF EXISTS bench_baseline")
            conn.exec_driver_sql(f"CREATE TABLE bench_baseline ({', '.join(f'{c} VARCHAR(80)' for c in columns)})")
        placeholders = ", ".join(("?" if sqlite else "%s") for _ in columns)
        sql = f"INSERT INTO bench_baseline ({', '.join(columns)}) VALUES ({placeholders})"
        started = time.perf_counter()
        with conn.begin():
            for start in range(0, rows, synthetic.BATCH_ROWS):
                cursor.executemany(sql, [row] * min(synthetic.BATCH_ROWS, rows - start))
        seconds = time.perf_counter() - started
        with conn.begin():
            conn.exec_driver_sql("DROP TABLE bench_baseline")
    return seconds


def main() -> None:
    url = os.environ.get("SIMULATOR_DATABASE_URL")
    with tempfile.TemporaryDirectory() as folder:
        engine = store.engine_for(url or f"sqlite:///{folder}/simulator.db")
        replace = os.environ.get("BENCH_REPLACE") == "1"
        existing = synthetic.existing_persons(engine)
        if existing and not replace:
            sys.exit(f"{engine.url.render_as_string(hide_password=True)} already holds {existing} persons: "
                     "use an empty database or set BENCH_REPLACE=1")
        result = synthetic.synthesize(engine, HOUSEHOLDS, SEED, mahallas(), AS_OF, replace=True)
        population = result.population
        base = baseline(store.engine_for(url or f"sqlite:///{folder}/baseline.db"), population.persons)
        engine.dispose()
    rows = population.rows
    print(json.dumps({
        "benchmark": "synthetic population",
        "database": engine.dialect.name,
        "cpus": os.cpu_count(),
        "households": population.households,
        "persons": population.persons,
        "rows": rows,
        "tables": population.counts(),
        "generate_seconds": round(result.generate_seconds, 2),
        "write_seconds": round(result.write_seconds, 2),
        "seconds": round(result.seconds, 2),
        "rows_per_second": round(rows / result.seconds),
        "baseline": {"what": "executemany of as many constant person rows, no indexes, one transaction",
                     "rows": population.persons, "seconds": round(base, 2),
                     "rows_per_second": round(population.persons / base)},
        "ratio": round(result.seconds / base, 2),
        "target_seconds": TARGET_SECONDS,
        "within_target": result.seconds < TARGET_SECONDS,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }, indent=2))


if __name__ == "__main__":
    main()
