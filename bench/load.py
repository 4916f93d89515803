"""Benchmark: staff pages under load (target: ≥ 60 requests/s, p95 < 1 s, no errors), beside the health endpoint under
the same load in the same run. Everything runs on this machine and talks to 127.0.0.1 only: PostgreSQL, the registry
simulator, gunicorn with 4 workers, `srsp worker` on Redis, and the load generator.

    .venv/bin/python -m bench.load                              # srsp_loadbench on 127.0.0.1, 50 users, 60 s
    .venv/bin/python -m bench.load --users 5 --seconds 10       # a quick run
    .venv/bin/python -m bench.load --requests 2000 --households 4000 --cases 2000 --redis redis://127.0.0.1:6379/9

The database is emptied and migrated; areas and programmes loaded; a synthetic population generated in the
simulator's database (SQLite in a temporary folder) and copied into the registry, a year of decided applications,
enrolments and payrolls written for it (as the demo's history), open cases loaded, and one social worker with
national scope per simulated user, with an API token each. The Redis database is flushed. Then each user signs in
(the login form, its CSRF token, the password) and browses until the time or the request budget runs out: the
applications list (pages, status filters), an application, the households list and a household, the cases list and
a case, and the applications API with the bearer token. Then as many clients, for as long, on GET /healthz alone.
The load starts once the worker's start-up runs of the periodic jobs are done (its schedule keeps
running). Every server is stopped at the end, also on errors and Ctrl-C; the servers import the code of this
checkout.

Prints one JSON object: per kind of request its count, errors, requests/s and p50/p95/p99 (`by_kind`); the staff
totals (`staff`, sign-in included); the health endpoint's alone (`health`), and as a probe five times a second during
the staff load (`health_during_staff`: the wait for a free gunicorn worker); `ratio` = staff requests/s / health
requests/s; the load average before and after; the CPU seconds each part used in each phase (`cpu_s`: gunicorn, the
worker, the simulator, this database's PostgreSQL backends, the load generator) beside the machine's capacity; the
average number of the app's PostgreSQL sessions in each state during the staff load
(`database_sessions_during_staff`: running a query, waiting for a lock, idle in a transaction while Python works,
idle; and holding an advisory lock, as an append to the audit chain does until its commit); the targets and whether
they are met. List pages are drawn from the first 40, as people page through lists.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import create_engine, func, select, text

from bench import serving
from bench.database import ensure_database
from webapp import create_app
from webapp.extensions import db

DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1/srsp_loadbench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/9"
PASSWORD = "bench-password-2026-load"  # noqa: S105 - throw-away accounts in a scratch database
PAGE_SIZE = 25
TARGETS = {"requests_per_s": 60, "p95_ms": 1000, "errors": 0}
# What a user does after signing in, with how often: lists more than details, the API now and then.
BROWSING = (("applications_list", 3), ("application_detail", 3), ("households_list", 2), ("household_detail", 2),
            ("cases_list", 2), ("case_detail", 2), ("api_applications", 1))


def setup(url: str, folder: str, users: int, households: int, cases: int) -> dict:
    """Empty and migrate the database, fill it, create the users; what the users browse (ids and page counts)."""
    from flask_migrate import upgrade

    from bench.cases import populate
    from connectors.simulator import store
    from connectors.synthetic import synthesize
    from demo.history import create_demo_history
    from demo.population import copy_simulated_population
    from demo.setup import create_demo_users
    from modules.grievances.models import Case
    from modules.registration.models import Application, Household
    from webapp.areas import load_areas
    from webapp.auth.operations import create_user, issue_token
    from webapp.models import Area, AreaLevel, Role
    from webapp.programmes import load_programmes
    from webapp.timeutil import local_today

    ensure_database(url)
    app = create_app({"INSTANCE_DIR": folder, "SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None,
                      "JOBS_INLINE": True})
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        load_areas()
        load_programmes()
        create_demo_users()  # the finance users the history's payrolls name
        sim_engine = store.engine_for(simulator_url(folder))
        store.create_schema(sim_engine)
        mahallas = db.session.scalars(select(Area.code).where(Area.level == AreaLevel.mahalla)
                                      .order_by(Area.code)).all()
        synthesize(sim_engine, households, seed=2026, areas=mahallas, as_of=date.today())
        copy_simulated_population(sim_engine)
        sim_engine.dispose()
        create_demo_history()
        db.session.commit()
        accounts, user_ids = [], []
        for number in range(users):
            user = create_user(f"bench.load.{number}", PASSWORD, Role.social_worker, f"Bench user {number}",
                               national_scope=True)
            accounts.append((user.username, issue_token(user, "bench")))
            user_ids.append(user.id)
        district = db.session.scalars(select(Area).where(Area.level == AreaLevel.district).order_by(Area.code)).first()
        db.session.commit()
        if cases and user_ids:
            populate(cases, user_ids[0], district, local_today())  # a share of them assigned to the first user
        applied = select(Application.household_id)
        ids = {"application": db.session.scalars(select(Application.id)).all(),
               # the households with an application: their profiles have something to show
               "household": db.session.scalars(select(Household.id).where(Household.id.in_(applied))).all(),
               "case": db.session.scalars(select(Case.id)).all()}
        counts = {"applications": len(ids["application"]),
                  "households": db.session.scalar(select(func.count(Household.id))), "cases": len(ids["case"])}
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    return {"accounts": accounts, "ids": ids, "counts": counts,
            "pages": {kind: max(1, min(40, count // PAGE_SIZE)) for kind, count in counts.items()}}


def simulator_url(folder: str) -> str:
    return f"sqlite:///{Path(folder) / 'simulator.db'}"


def start_servers(url: str, folder: str, redis: str, workers: int, stack) -> str:
    """The simulator, gunicorn and a worker; each appended to `stack` as soon as it runs. The app's base URL."""
    subprocess.run(["redis-cli", "-u", redis, "flushdb"], check=True, capture_output=True)
    port = serving.free_port()
    simulator = serving.start([str(serving.BIN / "srsp"), "simulator", "serve", "--host", "127.0.0.1", "--port",
                               str(port), "--database-url", simulator_url(folder)],
                              {"SRSP_INSTANCE_DIR": folder, "DATABASE_URL": url}, Path(folder) / "simulator.log")
    stack.append(simulator)
    sources = f"http://127.0.0.1:{port}"
    serving.wait_for(f"{sources}/_control/health", simulator, "the simulator", seconds=60)
    env = {"DATABASE_URL": url, "SRSP_INSTANCE_DIR": folder, "REDIS_URL": redis, "SRSP_SOURCES_URL": sources}
    stack.append(serving.start([str(serving.BIN / "srsp"), "worker"], env, Path(folder) / "worker.log"))
    server, base = serving.gunicorn(env, workers, Path(folder) / "gunicorn.log")
    stack.append(server)
    return base


def settle(url: str, quiet: float = 3, seconds: float = 180) -> float:
    """Wait until no job has been queued or running for `quiet` seconds (the worker's start-up runs of the periodic
    jobs done), at most `seconds`; the seconds waited."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    started = time.monotonic()
    calm_since = None
    try:
        while time.monotonic() - started < seconds:
            with engine.connect() as conn:
                busy = conn.execute(text("SELECT count(*) FROM job WHERE status IN ('queued', 'running')")).scalar()
            now = time.monotonic()
            calm_since = None if busy else (calm_since or now)
            if calm_since and now - calm_since >= quiet:
                break
            time.sleep(0.5)
    finally:
        engine.dispose()
    return time.monotonic() - started


def sample_sessions(url: str, stopped: threading.Event, seen: Counter) -> None:
    """Five times a second until `stopped`: what the app's PostgreSQL sessions are doing (state and wait event), to
    tell queries, lock waits and transactions held open by Python work apart. `seen["samples"]` counts the samples."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    sql = text("SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
               "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'")
    holders = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                   "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
    try:
        with engine.connect() as conn:
            while not stopped.wait(0.2):
                for state, kind, event in conn.execute(sql):
                    seen[f"{state}: {kind}/{event}" if kind and state == "active" else state] += 1
                seen["holding an advisory lock"] += conn.execute(holders).scalar()
                conn.rollback()
                seen["samples"] += 1
    finally:
        engine.dispose()


def _sessions(seen: Counter) -> dict:
    """The average number of sessions in each state over the samples, busiest first."""
    samples = seen.pop("samples", 0) or 1
    return {state: round(count / samples, 2) for state, count in seen.most_common()}


class Recorder:
    """Latencies and errors per kind of request, shared by the user threads, and the request budget."""

    def __init__(self, budget: int):
        self.lock = threading.Lock()
        self.timings: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}
        self.budget = budget

    def take(self) -> bool:
        with self.lock:
            self.budget -= 1
            return self.budget >= 0

    def timed(self, kind: str, call):
        started = time.perf_counter()
        try:
            response = call()
            failed = response.status_code >= 400
        except Exception:  # noqa: BLE001 - a refused or timed-out request is an error of its kind, not the run's
            response, failed = None, True
        with self.lock:
            self.timings.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
            if failed:
                self.errors[kind] = self.errors.get(kind, 0) + 1
        return response

    def fail(self, kind: str) -> None:
        with self.lock:
            self.errors[kind] = self.errors.get(kind, 0) + 1

    def summary(self, seconds: float) -> dict:
        return {kind: {**serving.stats(values), "errors": self.errors.get(kind, 0),
                       "requests_per_s": round(len(values) / seconds, 1)}
                for kind, values in sorted(self.timings.items())}

    def total(self, seconds: float) -> dict:
        values = [value for values in self.timings.values() for value in values]
        return {**serving.stats(values), "errors": sum(self.errors.values()), "seconds": round(seconds, 2),
                "requests_per_s": round(len(values) / seconds, 1)}


def _request(kind: str, rng: random.Random, data: dict) -> tuple[str, dict]:
    """The path and headers of one request of `kind`."""
    pages, ids = data["pages"], data["ids"]
    if kind == "applications_list":
        status = rng.choice([None, None, "decided", "submitted"])
        return f"/applications?page={rng.randint(1, pages['applications'])}" + (
            f"&status={status}" if status else ""), {}
    if kind == "households_list":
        return f"/households?page={rng.randint(1, pages['households'])}", {}
    if kind == "cases_list":
        return f"/cases?scope=all&page={rng.randint(1, pages['cases'])}" + rng.choice(["", "&status=new"]), {}
    if kind == "api_applications":
        return f"/api/v1/applications?page={rng.randint(1, pages['applications'])}", {
            "Authorization": f"Bearer {data['token']}"}
    entity = kind.removesuffix("_detail")
    path = {"application": "/applications/{}", "household": "/households/{}", "case": "/cases/{}"}[entity]
    return path.format(rng.choice(ids[entity])), {}


def user(base: str, number: int, data: dict, deadline: float, recorder: Recorder) -> None:
    """Sign in, then browse until the deadline or the budget."""
    username, token = data["accounts"][number]
    rng = random.Random(number)
    # A kind whose rows the set-up has none of (--cases 0) is left out.
    kinds, weights = zip(*[(kind, weight) for kind, weight in BROWSING
                           if data["ids"].get(kind.removesuffix("_detail"), True)], strict=True)
    with serving.client(base, number, headers={"Accept-Language": "uz"}) as client:
        if not recorder.take():
            return
        form = recorder.timed("sign_in_form", lambda: client.get("/login"))
        if form is None or not recorder.take():
            return
        found = serving.CSRF.search(form.text)
        signed = recorder.timed("sign_in", lambda: client.post("/login", data={
            "username": username, "password": PASSWORD, "csrf_token": found.group(1) if found else ""}))
        if signed is None or signed.url.path == "/login":
            if signed is not None and signed.status_code < 400:
                recorder.fail("sign_in")  # the form again: the password was refused
            return
        browse = {**data, "token": token}
        while time.monotonic() < deadline and recorder.take():
            kind = rng.choices(kinds, weights)[0]
            path, headers = _request(kind, rng, browse)
            recorder.timed(kind, lambda: client.get(path, headers=headers))  # noqa: B023 - called at once


def health(base: str, number: int, deadline: float, recorder: Recorder) -> None:
    with serving.client(base, number) as client:
        while time.monotonic() < deadline and recorder.take():
            recorder.timed("health", lambda: client.get("/healthz"))  # noqa: B023 - called at once


def probe(base: str, number: int, stopped: threading.Event, recorder: Recorder) -> None:
    """GET /healthz five times a second while the load runs: how long a request waits for a free worker."""
    with serving.client(base, number) as client:
        while not stopped.wait(0.2):
            recorder.timed("health", lambda: client.get("/healthz"))  # noqa: B023 - called at once


def run(base: str, target, users: int, seconds: float, budget: int) -> tuple[Recorder, float, Recorder]:
    """`users` threads of target(number, deadline, recorder) for at most `seconds` and `budget` requests, with the
    health probe beside them. (the load's recorder, its seconds, the probe's recorder)"""
    recorder, probed, stopped = Recorder(budget), Recorder(0), threading.Event()
    started = time.monotonic()
    threads = [threading.Thread(target=target, args=(number, started + seconds, recorder), daemon=True)
               for number in range(users)]
    watcher = threading.Thread(target=probe, args=(base, users, stopped, probed), daemon=True)
    for thread in [*threads, watcher]:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    stopped.set()
    watcher.join()
    return recorder, seconds, probed


def _show_logs(folder: str, lines: int = 20) -> None:
    """The last lines of the servers' logs, on stderr: the run failed and the folder is about to go."""
    for log in sorted(Path(folder).glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        print(f"== {log.name}", *tail, sep="\n", file=sys.stderr)


def cpu_seconds(groups: dict[str, int], database: str) -> dict[str, dict[int, float]]:
    """CPU seconds used so far, per process, by each started process group (name: group id), by the PostgreSQL
    backends of `database` alive now, and by this process (the load generator)."""
    tick = os.sysconf("SC_CLK_TCK")
    used: dict[str, dict[int, float]] = {name: {} for name in [*groups, "postgresql", "load_generator"]}
    names = {group: name for name, group in groups.items()}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            seconds = (int(fields[11]) + int(fields[12])) / tick
            if int(fields[2]) in names:
                used[names[int(fields[2])]][int(entry.name)] = seconds
            elif stat[stat.index("(") + 1:stat.rindex(")")] == "postgres" and \
                    f" {database} " in (entry / "cmdline").read_bytes().decode(errors="replace"):
                used["postgresql"][int(entry.name)] = seconds
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not readable
    times = os.times()
    used["load_generator"][os.getpid()] = times.user + times.system
    return used


def _cpu_share(before: dict, after: dict, seconds: float) -> dict:
    """CPU seconds per part between two readings (of the processes alive at the second: a backend that ended
    meanwhile is left out), and the machine's CPU capacity in that time."""
    spent = {name: round(sum(used - before[name].get(pid, 0) for pid, used in after[name].items()), 1)
             for name in after}
    return {**spent, "total": round(sum(spent.values()), 1), "capacity": round(seconds * os.cpu_count(), 1)}


def _load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="a scratch PostgreSQL database (emptied!)")
    parser.add_argument("--redis", default=DEFAULT_REDIS, help="a scratch Redis database (flushed!)")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--requests", type=int, default=100_000, help="at most this many per phase")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--households", type=int, default=9000, help="in the synthetic population")
    parser.add_argument("--cases", type=int, default=3000)
    args = parser.parse_args(argv)
    stack: list[subprocess.Popen] = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped as on Ctrl-C: the servers too
    with tempfile.TemporaryDirectory() as folder:
        try:
            started = time.perf_counter()
            data = setup(args.database, folder, args.users, args.households, args.cases)
            setup_s = time.perf_counter() - started
            started = time.perf_counter()
            base = start_servers(args.database, folder, args.redis, args.workers, stack)
            start_s = time.perf_counter() - started
            settle_s = settle(args.database)
            groups = dict(zip(("simulator", "worker", "gunicorn"), (p.pid for p in stack), strict=True))
            database = urlsplit(args.database).path.lstrip("/")
            load_before, cpu_before = _load(), cpu_seconds(groups, database)
            sessions, stopped = Counter(), threading.Event()
            sampler = threading.Thread(target=sample_sessions, args=(args.database, stopped, sessions), daemon=True)
            sampler.start()
            staff, staff_s, staff_probe = run(base, lambda n, d, r: user(base, n, data, d, r), args.users,
                                              args.seconds, args.requests)
            stopped.set()
            sampler.join()
            load_staff, cpu_staff = _load(), cpu_seconds(groups, database)
            limit, limit_s, _ = run(base, lambda n, d, r: health(base, n, d, r), args.users, args.seconds,
                                    args.requests)
            load_after, cpu_after = _load(), cpu_seconds(groups, database)
        except BaseException:
            _show_logs(folder)
            raise
        finally:
            for process in reversed(stack):
                serving.stop(process)
    total, baseline = staff.total(staff_s), limit.total(limit_s)
    result = {"benchmark": "staff load", "database": "postgresql", "cpus": os.cpu_count(), "users": args.users,
              "seconds": args.seconds, "request_budget": args.requests, "gunicorn_workers": args.workers,
              "data": data["counts"], "setup_s": round(setup_s, 1), "servers_start_s": round(start_s, 1),
              "worker_settle_s": round(settle_s, 1),
              "staff": total, "by_kind": staff.summary(staff_s),
              "health_during_staff": staff_probe.total(staff_s),
              "health": baseline, "baseline": "the same clients on GET /healthz alone, same run, same duration",
              "ratio": round(total["requests_per_s"] / baseline["requests_per_s"], 3)
              if baseline.get("requests_per_s") else None,
              "load_average": {"before": load_before, "after_staff": load_staff, "after_health": load_after},
              "database_sessions_during_staff": _sessions(sessions),
              "cpu_s": {"staff": _cpu_share(cpu_before, cpu_staff, staff_s),
                        "health": _cpu_share(cpu_staff, cpu_after, limit_s)},
              "targets": TARGETS,
              "targets_met": {"requests_per_s": total["requests_per_s"] >= TARGETS["requests_per_s"],
                              "p95_ms": total.get("p95_ms", float("inf")) < TARGETS["p95_ms"],
                              "errors": total["errors"] == TARGETS["errors"]}}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
