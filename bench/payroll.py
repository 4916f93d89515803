"""Benchmark: the monthly payroll of one programme for the whole country (target: generation + checks + approval +
pain.001 for 1.2 million beneficiaries in < 20 s on 2 cores), beside a baseline measured in the same run: a bare
PostgreSQL COPY of as many rows of the payroll_line shape (on SQLite: an executemany insert of them).

    .venv/bin/python -m bench.payroll                                   # PostgreSQL bench database on 127.0.0.1
    .venv/bin/python -m bench.payroll --enrolments 100000
    .venv/bin/python -m bench.payroll --database-url postgresql://user@host/scratch   # or BENCH_DATABASE_URL
    .venv/bin/python -m bench.payroll --sqlite --enrolments 20000      # an SQLite file in a temporary folder
    .venv/bin/python -m bench.payroll --no-workers                     # without the month split over workers

On PostgreSQL the run ends with the month's generation and checks split by region over 1 and then 2 real
`srsp worker` processes (bench/payroll_workers.py, in its own scratch database filled the same way), under
`workers` in the output.

The database is emptied and migrated (the app's Alembic migrations), then filled set-based (INSERT … SELECT over
a series, no per-row ORM) with N active child-allowance enrolments spread over the mahallas of the 14 regions:
households of a mother (the payee, with a bank account) and two children (the beneficiaries), with the
applications and assessments the enrolments point to. Small fractions trip the pre-payroll checks: deceased
children, accounts requested but not opened yet, children aged 18, one person registered in two households, and
enrolments suspended after the payroll was prepared (others were suspended before and are never generated).

Timed, per phase, with a commit after each payroll as the pages do: `generation.generate` for every region,
`checks.run_checks` on each, approval through the status machine (a finance checker per region with a TOTP
code), and `export.render(payroll, "pain.001.001.03")` for each (validated against the XSD before it returns).

Prints one JSON object; `ratio` = total seconds / baseline seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlsplit, urlunsplit

import pyotp
from flask_migrate import upgrade
from sqlalchemy import create_engine, select, text

from modules.payments import checks, export, generation, status
from modules.payments.models import Payroll
from webapp import create_app
from webapp.areas import load_areas
from webapp.auth import totp
from webapp.extensions import db
from webapp.models import Area, AreaLevel, Role
from webapp.programmes import load_programmes

TARGET_SECONDS = 20
PROGRAMME = "child_allowance"
PERIOD = "2026-12"
FORMAT = "pain.001.001.03"
DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1/srsp_bench_payroll"
MAHALLAS_PER_DISTRICT = 3  # as `srsp areas load`
PASSWORD = "bench-password-2026-payroll"  # noqa: S105 - a throw-away account in a scratch database

# Names as the population register holds them: Uzbek Latin with its apostrophes, a few still in Cyrillic.
MOTHERS = ("Karimova Dilnoza", "Gʻulomova Oʻgʻiloy", "Yusupova Malika", "Rahimova Nodira", "Toshmatova Zuhra",
           "Qodirova Shahnoza", "Ergasheva Feruza", "Шарипова Гулнора", "Abdullayeva Madina", "Xoʻjayeva Sevara",
           "Ismoilova Dilfuza", "Ерғашева Мунира", "Nazarova Barno", "Saidova Kamola", "Mirzayeva Oydin",
           "Oʻrinova Lola")
# Small fractions that trip the pre-payroll checks (per enrolment k or household h, by modulo).
DEAD_CHILD = (500, 3)  # 0.2 %: the child died (death_date set) -> deceased
AGED_OUT = (1000, 11)  # 0.1 %: the child is 18 on the month's first day -> child_aged_out
SUSPENDED_BEFORE = (200, 7)  # 0.5 %: suspended before the run, never generated
SUSPENDED_AFTER = (1000, 500)  # 0.1 %: suspended between generation and checks -> enrolment_not_active
ACCOUNT_NOT_OPEN = (333, 17)  # 0.3 % of households: account requested, no number yet -> no_bank_account
TWO_HOUSEHOLDS = (2000, 1)  # 0.05 %: the first child is the mother of the next household -> two_households


def database_url(args, default: str = DEFAULT_DATABASE) -> str:
    if args.sqlite:
        return f"sqlite:///{args.folder}/bench.db"
    return args.database_url or os.environ.get("BENCH_DATABASE_URL") or default


def recreate_postgres(url: str) -> None:
    """Drop and create the bench database (through the server's `postgres` database)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = create_engine(urlunsplit(parts._replace(scheme="postgresql+psycopg", path="/postgres")),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()


def make_app(args, default_database: str = DEFAULT_DATABASE, programmes: bool = True):
    """The bench's app on an emptied, migrated database with the areas (and the programmes) loaded; its own
    database (`default_database`, when none is given) is dropped and made again first."""
    url = database_url(args, default_database)
    if url.startswith("postgresql") and not (args.database_url or os.environ.get("BENCH_DATABASE_URL")):
        recreate_postgres(url)
    app = create_app({"INSTANCE_DIR": args.folder, "SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None,
                      "JOBS_INLINE": True, "COLLECT_ON_SUBMIT": False})
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        load_areas(mahallas_per_district=MAHALLAS_PER_DISTRICT)
        if programmes:
            load_programmes()
        db.session.commit()
    return app


# --- set-up: set-based inserts -------------------------------------------------------------------------------------


def _date_plus(dialect: str, base: str, days: str) -> str:
    """SQL for the date `base` plus `days` (an SQL integer expression)."""
    if dialect == "postgresql":
        return f"(DATE '{base}' + ({days}))"
    return f"date('{base}', '+' || ({days}) || ' days')"


def _hit(column: str, rule: tuple[int, int]) -> str:
    return f"({column} % {rule[0]} = {rule[1]})"


def populate(enrolments: int) -> dict:
    """Fill the registry set-based: households of a mother and two children, one enrolment per child."""
    dialect = db.engine.dialect.name
    households = (enrolments + 1) // 2
    people = households + enrolments
    programme_id = db.session.scalar(text("SELECT id FROM programme WHERE code = :code"), {"code": PROGRAMME})
    now = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
    params = {"now": now, "yes": True, "no": False, "h": households, "n": enrolments, "programme": programme_id}
    s = db.session
    s.execute(text("CREATE TEMPORARY TABLE bench_series (i INTEGER PRIMARY KEY)"))
    if dialect == "postgresql":
        s.execute(text("INSERT INTO bench_series SELECT generate_series(1, :n)"), {"n": people})
    else:
        s.execute(text("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < :n) "
                       "INSERT INTO bench_series SELECT i FROM c"), {"n": people})
    s.execute(text("CREATE TEMPORARY TABLE bench_mahalla (r INTEGER PRIMARY KEY, area_id INTEGER NOT NULL)"))
    mahallas = s.scalars(select(Area.id).where(Area.level == AreaLevel.mahalla).order_by(Area.code)).all()
    s.execute(text("INSERT INTO bench_mahalla VALUES (:r, :a)"), [{"r": r, "a": a} for r, a in enumerate(mahallas)])
    s.execute(text("CREATE TEMPORARY TABLE bench_name (r INTEGER PRIMARY KEY, last_name VARCHAR(80), "
                   "first_name VARCHAR(80))"))
    s.execute(text("INSERT INTO bench_name VALUES (:r, :l, :f)"),
              [{"r": r, "l": m.split()[0], "f": m.split()[1]} for r, m in enumerate(MOTHERS)])
    m, names = len(mahallas), len(MOTHERS)
    # Household of person i: mothers are 1..H, child k (1..N) is person H + k, in household (k + 1) / 2.
    household_of = f"(CASE WHEN i <= {households} THEN i ELSE (i - {households} + 1) / 2 END)"
    child = f"(i - {households})"
    birth = (f"CASE WHEN i <= {households} THEN {_date_plus(dialect, '1980-01-01', 'i % 5000')} "
             f"WHEN {_hit(child, AGED_OUT)} THEN {_date_plus(dialect, '2007-06-01', 'i % 150')} "
             f"ELSE {_date_plus(dialect, '2009-01-01', 'i % 6000')} END")
    first_name = (f"CASE WHEN i <= {households} THEN n.first_name WHEN i % 2 = 0 THEN 'Bobur' "
                  f"ELSE 'Oʻgʻiloy' END")
    death = (f"CASE WHEN i > {households} AND {_hit(child, DEAD_CHILD)} "
             f"THEN {_date_plus(dialect, '2026-10-01', '0')} END")
    timings = {}

    def step(name: str, sql: str) -> None:
        started = time.perf_counter()
        s.execute(text(sql), params)
        timings[name] = round(time.perf_counter() - started, 1)

    step("person", f"""
        INSERT INTO person (id, pin, last_name, first_name, patronymic, birth_date, sex, phone, death_date, area_id,
                            updated_at)
        SELECT i, CAST(30000000000000 + i AS TEXT), n.last_name, {first_name}, NULL, {birth},
               CASE WHEN i <= {households} OR i % 2 = 1 THEN 'F' ELSE 'M' END, '+998901234567', {death},
               mh.area_id, :now
        FROM bench_series JOIN bench_mahalla mh ON mh.r = {household_of} % {m}
        JOIN bench_name n ON n.r = {household_of} % {names}
        WHERE i <= {people}""")
    step("household", f"""
        INSERT INTO household (id, area_id, address, created_at)
        SELECT i, mh.area_id, 'Navoiy koʻchasi, ' || CAST(i AS TEXT) || '-uy', :now
        FROM bench_series JOIN bench_mahalla mh ON mh.r = i % {m} WHERE i <= :h""")
    step("application", f"""
        INSERT INTO application (id, household_id, applicant_id, area_id, phone, channel, status, is_open, period,
                                 created_at, submitted_at, language)
        SELECT i, i, i, mh.area_id, '+998901234567', 'office', 'decided', :no, '2026-01', :now, :now, 'uz'
        FROM bench_series JOIN bench_mahalla mh ON mh.r = i % {m} WHERE i <= :h""")
    step("assessment", """
        INSERT INTO assessment (id, application_id, household_id, kind, pack_id, pack_version, engine, as_of, decision,
                                per_capita_income, monthly_total, reasons, programmes, facts, trace, created_at)
        SELECT i, i, i, 'initial', 'uz', 'bench', 'pandas', '2026-01-10', 'eligible', 300000.00, 500000.00,
               '[]', '[]', '{}', '{}', :now
        FROM bench_series WHERE i <= :h""")
    not_open = _hit("i", ACCOUNT_NOT_OPEN)
    step("bank_account", f"""
        INSERT INTO bank_account (id, person_id, bank_code, account_number, status, request_id, requested_at,
                                  opened_at, card_issued_at)
        SELECT i, i, CASE i % 5 WHEN 0 THEN '00014' WHEN 1 THEN '00444' WHEN 2 THEN '00873' WHEN 3 THEN '01037'
                                ELSE '00401' END,
               CASE WHEN {not_open} THEN NULL ELSE '20208000' || CAST(100000000000 + i AS TEXT) END,
               CASE WHEN {not_open} THEN 'requested' WHEN i % 3 = 0 THEN 'opened' ELSE 'card_issued' END,
               'bench-' || CAST(i AS TEXT), :now, CASE WHEN {not_open} THEN NULL ELSE :now END,
               CASE WHEN {not_open} OR i % 3 = 0 THEN NULL ELSE :now END
        FROM bench_series WHERE i <= :h""")
    # Beneficiary: the child, except that now and then the first child "is" the mother of the next household.
    beneficiary = (f"CASE WHEN {_hit('i', TWO_HOUSEHOLDS)} AND (i + 1) / 2 < {households} THEN (i + 1) / 2 + 1 "
                   f"ELSE {households} + i END")
    step("enrolment", f"""
        INSERT INTO enrolment (id, application_id, assessment_id, household_id, programme_id, beneficiary_person_id,
                               payee_person_id, monthly_amount, months, lump_sum, period_start, period_end, status,
                               bank_account_id, created_at, updated_at)
        SELECT i, (i + 1) / 2, (i + 1) / 2, (i + 1) / 2, :programme, {beneficiary}, (i + 1) / 2,
               CASE WHEN i % 10 = 0 THEN 375000.00 ELSE 250000.00 END, 12, :no,
               {_date_plus(dialect, '2026-01-01', '(i % 6) * 31')},
               {_date_plus(dialect, '2026-12-31', '(i % 6) * 31')},
               CASE WHEN {_hit('i', SUSPENDED_BEFORE)} THEN 'suspended' ELSE 'active' END, (i + 1) / 2, :now, :now
        FROM bench_series WHERE i <= :n""")
    for name in ("bench_series", "bench_mahalla", "bench_name"):
        s.execute(text(f"DROP TABLE {name}"))
    if dialect == "postgresql":
        for table in ("person", "household", "application", "assessment", "bank_account", "enrolment"):
            s.execute(text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))"))
    s.commit()
    started = time.perf_counter()
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("VACUUM ANALYZE" if dialect == "postgresql" else "ANALYZE")
    timings["analyze"] = round(time.perf_counter() - started, 1)
    return {"people": people, "households": households, "enrolments": enrolments, "seconds_by_table": timings}


def staff() -> tuple:
    """A finance maker who prepares, and one finance checker per region (TOTP codes are single use per 30 s)."""
    from webapp.auth.operations import create_user

    maker = create_user("bench.maker", PASSWORD, Role.finance_maker, "Bench maker", national_scope=True)
    regions = db.session.scalars(select(Area).where(Area.level == AreaLevel.region).order_by(Area.code)).all()
    checkers = {}
    for region in regions:
        checker = create_user(f"bench.checker.{region.code.lower()}", PASSWORD, Role.finance_checker,
                              f"Bench checker {region.code}", [region.code])
        db.session.flush()
        totp.enable(checker)
        checkers[region.code] = checker
    db.session.commit()
    return maker, [r.code for r in regions], checkers


def suspend_after_generation() -> int:
    """Enrolments suspended after the payroll was prepared (the checks must catch them)."""
    result = db.session.execute(text(
        f"UPDATE enrolment SET status = 'suspended', status_reason = 'bench' "  # noqa: S608 - constants
        f"WHERE status = 'active' AND {_hit('id', SUSPENDED_AFTER)}"))
    db.session.commit()
    return result.rowcount


# --- the timed run --------------------------------------------------------------------------------------------------


class Clock:
    """Wall seconds per phase, with the CPU seconds of this process (all threads) and of the database server's
    backends for this database when they run on this machine (/proc): on a shared machine the wall time alone
    says little."""

    def __init__(self):
        self.phases: dict[str, dict] = {}

    @staticmethod
    def _client_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    @staticmethod
    def _server_cpu() -> float | None:
        if db.engine.dialect.name != "postgresql":
            return None
        pids = db.session.scalars(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).all()
        total = 0.0
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                return None  # not on this machine
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def start(self) -> tuple:
        return time.perf_counter(), self._client_cpu(), self._server_cpu()

    def add(self, phase: str, mark: tuple) -> None:
        wall, client, server = self.start()
        entry = self.phases.setdefault(phase, {"s": 0.0, "client_cpu_s": 0.0, "server_cpu_s": 0.0})
        entry["s"] += wall - mark[0]
        entry["client_cpu_s"] += client - mark[1]
        entry["server_cpu_s"] = None if server is None or mark[2] is None else entry["server_cpu_s"] + server - mark[2]


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(maker, regions: list[str], checkers: dict) -> dict:
    clock = Clock()
    payrolls = {}
    for code in regions:
        mark = clock.start()
        payroll = generation.generate(PROGRAMME, code, PERIOD, actor=maker)
        db.session.commit()
        clock.add("generate", mark)
        payrolls[code] = payroll.id
        _progress(f"generated {code}: {payroll.line_count} lines, {time.perf_counter() - mark[0]:.1f} s")
    generated = db.session.scalar(text("SELECT count(*) FROM payroll_line WHERE period = :p"), {"p": PERIOD})

    suspended = suspend_after_generation()  # not timed: it stands for what happens between two clicks

    excluded: dict[str, int] = {}
    for code in regions:
        mark = clock.start()
        summary = checks.run_checks(db.session.get(Payroll, payrolls[code]), actor=maker)
        db.session.commit()
        clock.add("checks", mark)
        for reason, lines in summary.items():
            excluded[reason] = excluded.get(reason, 0) + lines
        _progress(f"checked {code}: {time.perf_counter() - mark[0]:.1f} s")

    for code in regions:
        checker = checkers[code]
        mark = clock.start()
        status.approve(db.session.get(Payroll, payrolls[code]), checker, pyotp.TOTP(checker.totp_secret).now())
        db.session.commit()
        clock.add("approve", mark)

    files = {}
    for code in regions:
        payroll = db.session.get(Payroll, payrolls[code])
        mark = clock.start()
        xml = export.render(payroll, FORMAT)
        clock.add("export", mark)
        files[code] = {"lines": payroll.line_count, "bytes": len(xml), "sha256": hashlib.sha256(xml).hexdigest()}
        _progress(f"exported {code}: {len(xml)} bytes, {time.perf_counter() - mark[0]:.1f} s")
        db.session.rollback()  # read-only; frees the session's identity map
        del xml
    return {"phases": clock.phases, "total": sum(p["s"] for p in clock.phases.values()), "generated": generated,
            "suspended_after_generation": suspended, "excluded": excluded, "files": files}


# --- baseline --------------------------------------------------------------------------------------------------------


def baseline(rows: int) -> float:
    """Seconds to load `rows` rows of the payroll_line shape into a fresh table without indexes: COPY on PostgreSQL,
    executemany on SQLite."""
    data = [(i, 1 + i % 14, i, PERIOD, Decimal("250000.00"), "included", None, f"SRSP-P{1 + i % 14:06d}-L{i:07d}",
             False) for i in range(1, rows + 1)]
    columns = ("id INTEGER, payroll_id INTEGER, enrolment_id INTEGER, period VARCHAR(7), amount NUMERIC(16, 2), "
               "status VARCHAR(16), exclusion_reason VARCHAR(40), end_to_end_id VARCHAR(35), cancelled BOOLEAN")
    raw = db.engine.raw_connection()
    try:
        connection = raw.driver_connection
        cursor = connection.cursor()
        cursor.execute(f"CREATE TEMPORARY TABLE bench_copy ({columns})")
        connection.commit()
        started = time.perf_counter()
        if db.engine.dialect.name == "postgresql":
            with cursor.copy("COPY bench_copy FROM STDIN") as copy:
                for row in data:
                    copy.write_row(row)
        else:
            cursor.executemany("INSERT INTO bench_copy VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               [(*row[:4], str(row[4]), *row[5:]) for row in data])
        connection.commit()
        return time.perf_counter() - started
    finally:
        raw.close()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enrolments", type=int, default=int(os.environ.get("BENCH_ENROLMENTS", "1200000")))
    parser.add_argument("--database-url", help="an existing scratch database (emptied!); or BENCH_DATABASE_URL")
    parser.add_argument("--sqlite", action="store_true", help="an SQLite file in a temporary folder instead")
    parser.add_argument("--profile", help="write a cProfile of the timed run to this file")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9",
                        help="PostgreSQL only: the Redis database of the month split over 1 and then 2 workers")
    parser.add_argument("--no-workers", action="store_true", help="skip the month split over 1 and 2 workers")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        args.folder = folder
        started = time.perf_counter()
        app = make_app(args)
        migrated = time.perf_counter() - started
        with app.test_request_context():
            dialect = db.engine.dialect.name
            mark = time.perf_counter()
            population = populate(args.enrolments)
            maker, regions, checkers = staff()
            populated = time.perf_counter() - mark
            load = [round(x, 2) for x in os.getloadavg()]
            if args.profile:
                import cProfile

                profiler = cProfile.Profile()
                result = profiler.runcall(run, maker, regions, checkers)
                profiler.dump_stats(args.profile)
            else:
                result = run(maker, regions, checkers)
            base = baseline(result["generated"])
    total = result["total"]
    paid = sum(f["lines"] for f in result["files"].values())
    sizes = [f["bytes"] for f in result["files"].values()]
    output = {
        "benchmark": "payroll", "database": dialect, "programme": PROGRAMME, "period": PERIOD, "regions": len(regions),
        "setup": {"migrate_s": round(migrated, 1), "populate_s": round(populated, 1), **population},
        "lines_generated": result["generated"], "lines_paid": paid,
        "suspended_after_generation": result["suspended_after_generation"], "excluded": result["excluded"],
        **{f"{phase}_s": round(p["s"], 2) for phase, p in result["phases"].items()}, "total_s": round(total, 2),
        "cpu_s": {phase: {k: None if v is None else round(v, 2) for k, v in p.items() if k != "s"}
                  for phase, p in result["phases"].items()},
        "load_average_before": load, "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "lines_per_s": round(result["generated"] / total), "file_bytes_total": sum(sizes),
        "file_bytes_max": max(sizes), "files": result["files"],
        "baseline": "COPY FROM STDIN" if dialect == "postgresql" else "executemany INSERT",
        "baseline_s": round(base, 2), "ratio": round(total / base, 1),
        "target_seconds": TARGET_SECONDS, "target_met": total < TARGET_SECONDS,
        "workers": None if args.no_workers or dialect != "postgresql" else split_over_workers(args),
    }
    json.dump(output, sys.stdout)
    print()


def split_over_workers(args) -> dict:
    """The month's generation and checks as one job per region on 1 and then 2 `srsp worker` processes
    (bench/payroll_workers.py, in its own process and scratch database: its set-up is this one's)."""
    command = [sys.executable, "-m", "bench.payroll_workers", "--enrolments", str(args.enrolments),
               "--redis", args.redis]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:] or [f"exit code {done.returncode}"]}
    found = json.loads(done.stdout)
    return {key: found[key] for key in ("lines", "one_worker_s", "two_workers_s", "speedup", "same_counts")} | {
        "load_average": {count: [run["load_average_before"], run["load_average_after"]]
                         for count, run in found["runs"].items()}}


if __name__ == "__main__":
    main()
