"""Benchmark: registering applications through the full operation (validation, scoping, household, audit
chain, status machine) against a baseline measured in the same run: plain inserts of the same rows.

    make bench                      # SQLite in a temporary folder
    DATABASE_URL=postgresql://… make bench

Prints one JSON object: applications per second for both, and their ratio.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from datetime import date

from flask_migrate import upgrade
from sqlalchemy import insert, select, text

from connectors.simulator import store
from connectors.synthetic import synthesize
from demo.population import copy_simulated_population
from modules.registration import operations
from modules.registration.models import Application
from modules.registration.schemas import ApplicationArgs
from webapp import create_app
from webapp.areas import load_areas
from webapp.extensions import db
from webapp.models import Area, AreaLevel
from webapp.programmes import load_programmes

FAMILIES = int(os.environ.get("BENCH_FAMILIES", "300"))


def _app(folder: str):
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{folder}/bench.db"
    app = create_app({"INSTANCE_DIR": folder, "SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None,
                      "JOBS_INLINE": True, "COLLECT_ON_SUBMIT": False})  # registration alone (see bench/collect.py)
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        load_areas(mahallas_per_district=2)
        load_programmes()
        db.session.commit()
    return app


def _families() -> list[dict]:
    rows = db.session.execute(text(
        "SELECT hm.household_id, p.pin, hm.relation FROM household_member hm JOIN person p ON p.id = hm.person_id "
        "WHERE hm.left_at IS NULL ORDER BY hm.household_id, CASE hm.relation WHEN 'head' THEN 0 ELSE 1 END")).all()
    families: dict[int, dict] = {}
    for household_id, pin, relation in rows:
        family = families.setdefault(household_id, {"applicant_pin": pin, "members": []})
        if pin != family["applicant_pin"]:
            family["members"].append({"pin": pin, "relation": relation})
    return [f | {"phone": "+998901234567", "programmes": ["child_allowance"], "channel": "office"}
            for f in families.values()]


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        app = _app(folder)
        with app.test_request_context():
            from demo.setup import create_demo_users
            from webapp.models import User

            create_demo_users()
            mahallas = db.session.scalars(select(Area.code).where(Area.level == AreaLevel.mahalla)).all()
            sim_engine = store.engine_for(f"sqlite:///{folder}/simulator.db")
            store.create_schema(sim_engine)
            synthesize(sim_engine, FAMILIES, seed=7, areas=mahallas, as_of=date(2026, 11, 1))
            copy_simulated_population(sim_engine)
            db.session.commit()
            admin = db.session.query(User).filter_by(username="admin").one()
            admin.role = "registrar"  # national scope, allowed to register
            db.session.commit()
            families = _families()[:FAMILIES]

            started = time.perf_counter()
            for payload in families:
                operations.register_application(ApplicationArgs().load(payload), admin)
                db.session.commit()
            full = time.perf_counter() - started

            db.session.execute(text("DELETE FROM application_programme"))
            db.session.execute(text("DELETE FROM application_member"))
            db.session.execute(text("DELETE FROM application_event"))
            db.session.execute(text("DELETE FROM application"))
            db.session.commit()
            household_ids = db.session.execute(text("SELECT DISTINCT household_id FROM household_member")).scalars()
            rows = [{"household_id": h, "applicant_id": 1, "area_id": 1, "phone": "+998901234567",
                     "channel": "office", "status": "submitted", "is_open": True, "period": "2026-11"}
                    for h in list(household_ids)[:len(families)]]
            started = time.perf_counter()
            for row in rows:  # one transaction per application, as in the real path
                db.session.execute(insert(Application), [row])
                db.session.commit()
            baseline = time.perf_counter() - started

            dialect = db.engine.dialect.name

    result = {"benchmark": "registration", "database": dialect, "applications": len(families),
              "full_per_second": round(len(families) / full, 1),
              "baseline_plain_insert_per_second": round(len(rows) / baseline, 1),
              "ratio_full_to_baseline_time": round(full / baseline, 2)}
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
