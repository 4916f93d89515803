"""Benchmark: submission → decision for one application of a 6-member family, 13 sources at 50 ms simulated
latency (target: p95 < 0.5 s), beside the same pulls made one source after another in the same run;
and, from the application's own timeline, collected → decided (the real-time means test, durable_rules).

    make bench          (runs every benchmark)   ·   .venv/bin/python -m bench.collect

Prints one JSON object.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import threading
import time
from datetime import date

from flask_migrate import upgrade
from sqlalchemy import select
from werkzeug.serving import make_server

from connectors.base import income_window
from connectors.registry import connectors_for
from connectors.simulator import store
from connectors.simulator.app import create_simulator_app
from connectors.synthetic import synthesize
from demo.population import copy_simulated_population
from demo.setup import create_demo_users
from modules.registration import operations
from modules.registration.models import Household, HouseholdMember
from modules.registration.schemas import ApplicationArgs
from webapp import create_app
from webapp.areas import load_areas
from webapp.extensions import db
from webapp.models import Area, AreaLevel, User
from webapp.programmes import load_programmes

RUNS = 30
FAMILY_SIZE = 6


def main() -> None:
    json.dump(measure(RUNS), sys.stdout)
    print()


def measure(runs: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        sim_url = f"sqlite:///{folder}/simulator.db"
        app = create_app({"INSTANCE_DIR": folder, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/srsp.db",
                          "REDIS_URL": None, "JOBS_INLINE": True, "COLLECTION_BACKOFF": 0.05})
        sim_engine = store.engine_for(sim_url)
        store.create_schema(sim_engine)
        simulator = create_simulator_app(sim_url, faults={"*": {"latency_ms": 50}})
        server = make_server("127.0.0.1", 0, simulator, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        app.config["SOURCES_URL"] = f"http://127.0.0.1:{server.server_port}"
        app.config["SOURCES"] = {"*": {"cache": {"ttl": 0}}}
        with app.test_request_context():
            families = _prepare(sim_engine)
            user = db.session.scalar(select(User).where(User.username == "admin"))
            _submit_and_decide(families[-1], user)  # warm-up: the first decision loads and registers the pack
            measured = [_submit_and_decide(family, user) for family in families[:runs]]
            sequential = [_sequential(family) for family in families[runs:runs * 2]]
        server.shutdown()
    submit_times = [total for total, _decide in measured]
    decide_times = [decide for _total, decide in measured]
    return {"benchmark": "collect", "family_size": FAMILY_SIZE, "sources": 13, "latency_ms_per_source": 50,
            "runs": len(submit_times),
            "submit_to_decision_p50_s": round(statistics.median(submit_times), 3),
            "submit_to_decision_p95_s": round(_p95(submit_times), 3),
            "collected_to_decided_p50_s": round(statistics.median(decide_times), 4),
            "collected_to_decided_p95_s": round(_p95(decide_times), 4),
            "baseline_sequential_pulls_p50_s": round(statistics.median(sequential), 3),
            "ratio_p50_to_sequential": round(statistics.median(submit_times) / statistics.median(sequential), 2),
            "target_p95_s": 0.5}


def _prepare(sim_engine) -> list[list[tuple[str, str]]]:
    upgrade()
    load_areas(mahallas_per_district=2)
    load_programmes()
    create_demo_users()
    admin = db.session.scalar(select(User).where(User.username == "admin"))
    admin.role = "registrar"  # national scope, may register anywhere
    mahallas = db.session.scalars(select(Area.code).where(Area.level == AreaLevel.mahalla)).all()
    synthesize(sim_engine, 4000, seed=5, areas=mahallas, as_of=date.today())
    copy_simulated_population(sim_engine)
    db.session.commit()
    families = []
    for household in db.session.scalars(select(Household)):
        members = db.session.scalars(select(HouseholdMember).where(HouseholdMember.household_id == household.id)).all()
        heads = [m for m in members if m.relation.value == "head"
                 and (date.today() - m.person.birth_date).days > 19 * 365]
        alive = all(m.person.death_date is None for m in members)  # registration refuses the deceased
        if len(members) == FAMILY_SIZE and heads and alive:
            others = [m for m in members if m is not heads[0]]
            families.append([(heads[0].person.pin, "head")] + [
                (m.person.pin, m.relation.value if m.relation.value != "head" else "other") for m in others])
    if len(families) < RUNS * 2:  # enough for the largest run
        raise SystemExit(f"only {len(families)} families of {FAMILY_SIZE}; raise the household count")
    return families


def _submit_and_decide(family, user) -> tuple[float, float]:
    payload = {"applicant_pin": family[0][0], "phone": "+998901234567", "channel": "office",
               "programmes": ["child_allowance"], "members": [{"pin": p, "relation": r} for p, r in family[1:]]}
    started = time.perf_counter()
    application = operations.register_application(ApplicationArgs().load(payload), user)
    db.session.commit()  # the collection job runs inline after the commit
    elapsed = time.perf_counter() - started
    db.session.refresh(application)
    if application.status.value != "decided":
        raise SystemExit(f"the application ended in {application.status.value}")
    at = {event.to_status: event.at for event in application.events}
    return elapsed, (at["decided"] - at["collected"]).total_seconds()


def _sequential(family) -> float:
    connectors = connectors_for()
    pins = [pin for pin, _relation in family]
    started = time.perf_counter()
    for connector in connectors.values():
        connector.fetch(pins, window=income_window(date.today()))
    return time.perf_counter() - started


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


if __name__ == "__main__":
    main()
