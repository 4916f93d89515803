"""Benchmark: the case work queues and the escalation run over 200 000 open cases on PostgreSQL (target: the
worker's queue page p95 < 150 ms and the escalation run < 10 s), beside a baseline measured in the same run: a bare
indexed SELECT of the same queue rows.

    .venv/bin/python -m bench.cases                                        # srsp_casebench on 127.0.0.1
    .venv/bin/python -m bench.cases --cases 20000
    .venv/bin/python -m bench.cases --database postgresql://user@host/scratch   # emptied! created when missing

The database is emptied and migrated (the app's Alembic migrations), areas and categories loaded, then N cases are
loaded with COPY, spread over the mahallas, categories, kinds, channels and open statuses, with due dates from
three weeks back to three weeks ahead (a share of them breached) and a few thousand assigned to the measured social
worker (a district's worker); most of the rest unassigned. Timed through the Flask test client as the signed-in
users, several dozen requests each: GET /cases (the worker's own queue), /cases?queue=area (the district's
unassigned queue) and /cases?queue=supervisor (a national supervisor); then `operations.escalate_breached` (the
body of the escalate_cases job) with its commit, run twice (the second must escalate nothing).

Prints one JSON object; `ratio` = the worker's queue page p50 / the bare SELECT p50.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

from flask_migrate import upgrade
from sqlalchemy import select, text

from bench.database import ensure_database
from modules.grievances import categories as case_categories
from modules.grievances import operations
from webapp import create_app
from webapp.areas import load_areas
from webapp.extensions import db
from webapp.models import Area, AreaLevel, Role
from webapp.timeutil import local_today

DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1/srsp_casebench"
MAHALLAS_PER_DISTRICT = 3
PASSWORD = "bench-password-2026-cases"  # noqa: S105 - a throw-away account in a scratch database
REQUESTS = 40
QUEUE_TARGET_MS = 150
ESCALATION_TARGET_S = 10
WORKER_CASES = 3000
BREACHED_EVERY = 20  # 5 % of the cases are past their due date
OPEN = ("new", "assigned", "in_progress", "waiting_citizen", "waiting_other")
CHANNELS = ("office", "mahalla", "phone", "sms", "portal", "api")
_CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


def make_app(url: str, folder: str, today):
    ensure_database(url)
    app = create_app({"INSTANCE_DIR": folder, "SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None,
                      "JOBS_INLINE": True, "TODAY_OVERRIDE": today, "WTF_CSRF_ENABLED": True})
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        load_areas(mahallas_per_district=MAHALLAS_PER_DISTRICT)
        db.session.commit()
    return app


def staff(district: Area) -> dict:
    """The measured district worker, a national supervisor, and per region a user of each handling role (the
    escalation targets)."""
    from webapp.auth.operations import create_user

    users = {"worker": create_user("bench.worker", PASSWORD, Role.social_worker, "Bench worker", [district.code]),
             "supervisor": create_user("bench.supervisor", PASSWORD, Role.social_worker, "Bench supervisor",
                                       national_scope=True)}
    roles = {c.role for c in case_categories.categories()}
    for region in db.session.scalars(select(Area).where(Area.level == AreaLevel.region)).all():
        for role in sorted(roles):
            create_user(f"bench.{role.value}.{region.code.lower()}", PASSWORD, role, f"Bench {region.code}",
                        [region.code])
    db.session.commit()
    return {name: user.id for name, user in users.items()}


def populate(count: int, worker_id: int, district: Area, today) -> dict:
    """COPY `count` open cases; the worker's are in their district's mahallas."""
    mahallas = db.session.scalars(select(Area.id).where(Area.level == AreaLevel.mahalla).order_by(Area.code)).all()
    own = db.session.scalars(select(Area.id).where(Area.level == AreaLevel.mahalla,
                                                   Area.path.startswith(district.path)).order_by(Area.code)).all()
    cats = [(c.code, c.kinds[0].value, c.priority) for c in case_categories.categories()]
    now = datetime.now(UTC)
    worker_every = max(count // WORKER_CASES, 1)
    started = time.perf_counter()
    raw = db.engine.raw_connection()
    breached = 0
    try:
        connection = raw.driver_connection
        with connection.cursor() as cursor:
            with cursor.copy('COPY "case" (id, tracking_number, kind, category_code, channel, status, priority, '
                             'area_id, language, description, assignee_id, created_at, due_date) FROM STDIN') as copy:
                for i in range(1, count + 1):
                    code, kind, priority = cats[i % len(cats)]
                    mine = i % worker_every == 0
                    area = own[i % len(own)] if mine else mahallas[(i * 7) % len(mahallas)]
                    assignee = worker_id if mine else None
                    status = OPEN[i % len(OPEN)] if assignee else ("new" if i % 3 else "waiting_other")
                    late = i % BREACHED_EVERY == 1
                    breached += late
                    due = today - timedelta(days=1 + i % 21) if late else today + timedelta(days=i % 21)
                    copy.write_row((i, f"M{today:%y%m%d}-{i:07d}", kind, code, CHANNELS[i % len(CHANNELS)], status,
                                    priority, area, "uz", "Bench case: a citizen asks about a payment.", assignee,
                                    now - timedelta(days=i % 30), due))
            cursor.execute("""SELECT setval('case_id_seq', %s)""", (count,))
        connection.commit()
        loaded = time.perf_counter() - started
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute('VACUUM ANALYZE "case"')
    finally:
        raw.close()
    return {"cases": count, "breached": breached, "worker_cases": count // worker_every,
            "copy_s": round(loaded, 1), "analyze_s": round(time.perf_counter() - started - loaded, 1)}


def sign_in(app, username: str):
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "uz"
    token = _CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def timed(fn, n: int = REQUESTS) -> dict:
    fn()  # warm up: templates compiled, caches filled
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {"n": n, "p50_ms": round(statistics.median(samples), 1),
            "p95_ms": round(samples[min(n - 1, int(0.95 * n))], 1), "max_ms": round(samples[-1], 1)}


def page(client, path: str):
    def get():
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
    return get


def bare_select(worker_id: int, today):
    """The worker's first queue page straight from the index: no app, no template, no count."""
    sql = text('SELECT id, tracking_number, category_code, status, priority, due_date FROM "case" '
               "WHERE assignee_id = :w ORDER BY (CASE WHEN status IN ('new', 'assigned', 'in_progress', "
               "'waiting_citizen', 'waiting_other') AND due_date < :t THEN 0 ELSE 1 END), due_date, priority, id "
               "LIMIT 20")

    def run():
        with db.engine.connect() as conn:
            conn.execute(sql, {"w": worker_id, "t": today}).all()
    return run


def explain(user_id: int, scope: str, today) -> str:
    from webapp.models import User

    query = operations.cases_for(db.session.get(User, user_id), scope, {}, today=today).limit(20)
    compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
    return "\n".join(r[0] for r in db.session.execute(text(f"EXPLAIN ANALYZE {compiled}")))


def escalation(today) -> dict:
    started = time.perf_counter()
    escalated = operations.escalate_breached(today)
    db.session.commit()
    return {"escalated": escalated, "s": round(time.perf_counter() - started, 2)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200000)
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="a scratch PostgreSQL database (emptied!)")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the queue queries")
    args = parser.parse_args(argv)
    today = local_today()
    with tempfile.TemporaryDirectory() as folder:
        app = make_app(args.database, folder, today)
        with app.app_context():
            district = db.session.scalars(select(Area).where(Area.level == AreaLevel.district)
                                          .order_by(Area.code)).first()
            ids = staff(district)
            population = populate(args.cases, ids["worker"], district, today)
            if args.explain:
                for name, scope in (("worker", "mine"), ("worker", "unassigned"), ("supervisor", "all")):
                    print(f"== {name} {scope}\n{explain(ids[name], scope, today)}", file=sys.stderr)
                db.session.rollback()
        # The pages are requested outside the app context, as a server would (each request its own context and g).
        worker, supervisor = sign_in(app, "bench.worker"), sign_in(app, "bench.supervisor")
        results = {"worker_queue": timed(page(worker, "/cases")),
                   "area_queue": timed(page(worker, "/cases?queue=area")),
                   "supervisor_view": timed(page(supervisor, "/cases?queue=supervisor"))}
        with app.app_context():
            results["bare_select"] = timed(bare_select(ids["worker"], today))
            first, second = escalation(today), escalation(today)
    base = results["bare_select"]["p50_ms"]
    output = {
        "benchmark": "cases", "database": "postgresql", "setup": population, **results,
        "escalation_first": first, "escalation_second": second,
        "baseline": "bare indexed SELECT of the worker's first queue page", "baseline_p50_ms": base,
        "ratio": round(results["worker_queue"]["p50_ms"] / base, 1) if base else None,
        "targets": {"queue_p95_ms": QUEUE_TARGET_MS, "escalation_s": ESCALATION_TARGET_S},
        "targets_met": {"worker_queue": results["worker_queue"]["p95_ms"] < QUEUE_TARGET_MS,
                        "escalation": first["s"] < ESCALATION_TARGET_S,
                        "idempotent": second["escalated"] == 0},
    }
    json.dump(output, sys.stdout)
    print()


if __name__ == "__main__":
    main()
