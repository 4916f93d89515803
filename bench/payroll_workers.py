"""Benchmark: the month's payrolls fanned out one job per region over `srsp worker` processes, with 1 worker and then
2 workers in the same run (the baseline: 1 worker), on PostgreSQL and Redis.

    .venv/bin/python -m bench.payroll_workers                         # 1.2 M enrolments, scratch database below
    .venv/bin/python -m bench.payroll_workers --enrolments 100000
    .venv/bin/python -m bench.payroll_workers --database-url postgresql://user@host/scratch --redis redis://host/14

The registry is filled as bench/payroll.py fills it (its set-up functions: N child-allowance enrolments over the
mahallas of the 14 regions, small fractions tripping each pre-payroll check). Then, for each worker count, the
workers are started and registered with Redis first, and the clock runs from the commit that queues the month
(`prepare_month`: every region generated and checked, one job per region) until its result is assembled. Between
the runs the month's payrolls are removed (TRUNCATE, past the payment tables' guards, in this scratch database
only) and the tables analysed, so both runs start from the same state.

Prints one JSON object: seconds per worker count, `speedup` (1 worker's seconds / 2 workers'), when each region
ran, whether both runs counted the same lines, totals and exclusions per region, the month's result, and the load
average before and after each run (the machine is shared: the load says what else ran).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, text

from bench import serving
from bench.payroll import PERIOD, make_app, populate, recreate_postgres, staff
from webapp import create_app, fanout
from webapp.extensions import db
from webapp.models import Job, User

DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1/srsp_bench_payroll_workers"
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
QUEUE = "payments"
GUARDED = ("payroll_line", "payroll", "payment_ledger")  # the payment tables whose triggers refuse a TRUNCATE
TIMEOUT = 3600  # seconds a run may take before the benchmark gives up


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def start_workers(count: int, env: dict, folder: str, redis) -> list:
    """`count` workers on the payments queue, returned once all are registered with Redis (started up)."""
    from rq import Worker

    before = len(Worker.all(connection=redis))
    processes = [serving.start([str(serving.BIN / "srsp"), "worker", "--no-schedule", QUEUE], env,
                               Path(folder) / f"worker-{count}-{n}.log") for n in range(count)]
    deadline = time.monotonic() + 120
    while len(Worker.all(connection=redis)) < before + count:
        if time.monotonic() > deadline or any(process.poll() is not None for process in processes):
            for process in processes:
                serving.stop(process)
            raise SystemExit(f"the workers did not start; see {folder}/worker-{count}-*.log")
        time.sleep(0.1)
    return processes


def clear_month(app) -> None:
    """Remove the month's payrolls (the scratch database's only ones) and analyse the tables again."""
    with app.app_context():
        with db.engine.begin() as conn:  # the guards that keep payrolls are off for this transaction only
            for table in GUARDED:
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            conn.execute(text(f"TRUNCATE {', '.join(GUARDED)} CASCADE"))
            for table in GUARDED:
                conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE payroll_line, payroll")


def run_month(app, workers: int, env: dict, folder: str, redis, maker_id: int) -> dict:
    """Seconds from queueing the month until its result is assembled, with `workers` workers."""
    from modules.payments.tasks import start_month

    redis.delete(f"rq:queue:{QUEUE}")
    processes = start_workers(workers, env, folder, redis)
    load_before = _load()
    try:
        with app.app_context():
            maker = db.session.get(User, maker_id)
            job_id = start_month(maker, PERIOD)
            started, queued_at = time.perf_counter(), datetime.now(UTC)
            db.session.commit()  # the month goes to Redis now
            job = _wait(job_id, started)
            seconds = time.perf_counter() - started
            parts = fanout.parts_of(job_id)
            regions = _regions(parts)
            # Planning: until the parts were made; assembling: the parent's last run (it starts again to assemble).
            steps = {"plan_s": round((min(part.created_at for part in parts) - queued_at).total_seconds(), 2),
                     "assemble_s": round((job.finished_at - job.started_at).total_seconds(), 2)}
            outcome = {"status": job.status.value, "error": job.error, "result": job.result}
    finally:
        for process in processes:
            serving.stop(process)
    _progress(f"{workers} worker(s): {seconds:.1f} s")
    return {"s": round(seconds, 2), **steps, "load_average_before": load_before, "load_average_after": _load(),
            "regions": regions, **outcome}


def _regions(parts: list[Job]) -> dict:
    """Each region's start and end (seconds after the first region started) and lines: overlapping spans show
    the regions running side by side."""
    first = min((part.started_at for part in parts if part.started_at), default=None)
    return {fanout.part_key(part): {
        "start_s": round((part.started_at - first).total_seconds(), 2) if part.started_at else None,
        "end_s": round((part.finished_at - first).total_seconds(), 2) if part.finished_at else None,
        "lines": (part.result or {}).get("lines"),
        "seconds": _steps(part.result or {})} for part in parts}


def _steps(result: dict) -> dict:
    """The region's seconds generating, waiting for the month's turn to check, and checking (all programmes)."""
    total: dict[str, float] = {}
    for payroll in result.get("payrolls", []):
        for step, seconds in (payroll.get("seconds") or {}).items():
            total[step] = round(total.get(step, 0) + seconds, 2)
    return total


def _wait(job_id: str, started: float) -> Job:
    last = None
    while time.perf_counter() - started < TIMEOUT:
        db.session.rollback()  # a new transaction sees what the workers committed
        job = db.session.scalar(select(Job).where(Job.id == job_id))
        if job.done:
            return job
        if job.message != last:
            _progress(f"  {time.perf_counter() - started:6.1f} s  regions done {job.message or ''}")
            last = job.message
        time.sleep(0.2)
    raise SystemExit(f"the month did not finish within {TIMEOUT} s")


def _counts(run: dict) -> dict | None:
    """The month's lines, totals and exclusions per region (payroll ids differ from run to run)."""
    result = run.get("result") or {}
    return {code: {key: value for key, value in region.items() if key != "payrolls"}
            for code, region in result.get("regions", {}).items()} or None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enrolments", type=int, default=int(os.environ.get("BENCH_ENROLMENTS", "1200000")))
    parser.add_argument("--database-url", default=DEFAULT_DATABASE, help="a scratch PostgreSQL database (emptied!)")
    parser.add_argument("--redis", default=DEFAULT_REDIS, help="a Redis database for the queues (its payments "
                        "queue is emptied)")
    args = parser.parse_args(argv)
    if not args.database_url.startswith("postgresql"):
        raise SystemExit("workers on other machines share PostgreSQL: --database-url must be a PostgreSQL URL")
    from redis import Redis

    redis = Redis.from_url(args.redis)
    with tempfile.TemporaryDirectory() as folder:
        recreate_postgres(args.database_url)
        args.folder, args.sqlite = folder, False
        setup = make_app(args)  # migrated, areas and programmes (bench/payroll.py's set-up)
        with setup.test_request_context():
            mark = time.perf_counter()
            population = populate(args.enrolments)
            maker, regions, _checkers = staff()
            maker_id = maker.id
            populated = time.perf_counter() - mark
        # The same database and instance folder (its secrets), with jobs going to Redis.
        app = create_app({"INSTANCE_DIR": folder, "SQLALCHEMY_DATABASE_URI": args.database_url,
                          "REDIS_URL": args.redis, "JOBS_INLINE": False, "COLLECT_ON_SUBMIT": False})
        env = {"DATABASE_URL": args.database_url, "REDIS_URL": args.redis, "SRSP_INSTANCE_DIR": folder}
        runs = {}
        for workers in (1, 2):
            clear_month(app)
            runs[workers] = run_month(app, workers, env, folder, redis, maker_id)
    one, two = runs[1], runs[2]
    output = {
        "benchmark": "payroll_workers", "database": "postgresql", "period": PERIOD, "regions": len(regions),
        "setup": {"populate_s": round(populated, 1), **population},
        "lines": (one.get("result") or {}).get("lines"),
        "one_worker_s": one["s"], "two_workers_s": two["s"],
        "speedup": round(one["s"] / two["s"], 2) if two["s"] else None,
        "same_counts": _counts(one) == _counts(two),
        "baseline": "the same month with 1 worker", "cpus": os.cpu_count(),
        "runs": {"1": one, "2": two},
    }
    json.dump(output, sys.stdout, default=str)
    print()


if __name__ == "__main__":
    main()
