"""Benchmark: submission → decision for one application of a 6-member family, 13 sources at 50 ms simulated
latency (target: p95 < 0.12 s), beside the limit measured in the same run — one registry round trip for the
family plus the assessment (collected → decided) — and the same pulls made one source after another.

    make bench          (runs every benchmark)   ·   .venv/bin/python -m bench.collect [--runs N] [--latency-ms L]

The simulator runs in its own process under gunicorn's threaded worker, which keeps connections open between
requests as a security server does (werkzeug's development server closes each one). Jobs run inline, so the
submission's commit returns after the collection job, and after the jobs the decision queues (the notice):
`submit_to_decision` ends when the decision is committed, `submit_to_return` when the commit returns.

Prints one JSON object: the latencies, the limit, where the time went (`phases_p50_ms`: the median of each step
of one submission; the sources' fetches overlap; `gc_pauses`: the garbage collector's, during which every thread
waits), and how many requests each registry got per application.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import httpx
from flask_migrate import upgrade
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from bench import serving
from connectors.base import Connector, income_window
from connectors.registry import connectors_for
from connectors.simulator import store
from connectors.sources.civil_registry import CivilRegistryConnector
from connectors.synthetic import synthesize
from demo.population import copy_simulated_population
from demo.setup import create_demo_users
from modules.means_test import assessment, collection
from modules.registration import operations
from modules.registration.models import Household, HouseholdMember
from modules.registration.schemas import ApplicationArgs
from webapp import create_app, jobs
from webapp.areas import load_areas
from webapp.extensions import db
from webapp.models import Area, AreaLevel, User
from webapp.programmes import load_programmes

RUNS = 30
FAMILY_SIZE = 6
LATENCY_MS = 50
TARGET_P95_S = 0.12
SIMULATOR_THREADS = 32  # every source's call of a few applications at once, and idle kept connections


def main() -> None:
    parser = argparse.ArgumentParser(description="Submission → decision for one application (prints JSON).")
    parser.add_argument("--runs", type=int, default=RUNS, help="applications measured (default %(default)s)")
    parser.add_argument("--latency-ms", type=float, default=LATENCY_MS,
                        help="simulated latency of every registry (default %(default)s)")
    args = parser.parse_args()
    json.dump(measure(args.runs, latency_ms=args.latency_ms), sys.stdout)
    print()


def measure(runs: int, latency_ms: float = LATENCY_MS) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        sim_url = f"sqlite:///{folder}/simulator.db"
        app = create_app({"INSTANCE_DIR": folder, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/srsp.db",
                          "REDIS_URL": None, "JOBS_INLINE": True, "COLLECTION_BACKOFF": 0.05})
        sim_engine = store.engine_for(sim_url)
        store.create_schema(sim_engine)
        app.config["SOURCES"] = {"*": {"cache": {"ttl": 0}}}
        with app.test_request_context():
            families = _prepare(sim_engine, runs)
            simulator, base = _start_simulator(folder, sim_url, latency_ms)
            try:
                app.config["SOURCES_URL"] = base
                result = _measure(families, runs, base)
            finally:
                serving.stop(simulator)
    return {"benchmark": "collect", "family_size": FAMILY_SIZE, "sources": 13, "latency_ms_per_source": latency_ms,
            **result, "target_p95_s": TARGET_P95_S}


def _measure(families, runs: int, base: str) -> dict:
    user = db.session.scalar(select(User).where(User.username == "admin"))
    timer = _Timer()
    with timer.installed():
        _submit_and_decide(families[-1], user, timer)  # warm-up: the pack, the connections, the registry's keys
        timer.reset()
        calls_before = _calls(base)
        measured = [_submit_and_decide(family, user, timer) for family in families[:runs]]
        calls = {source: (count - calls_before.get(source, 0)) / runs for source, count in _calls(base).items()}
        phases = timer.medians()
        gc_pauses = {"per_application_ms": round(sum(timer.gc_pauses) / runs * 1000, 1),
                     "longest_ms": round(max(timer.gc_pauses, default=0) * 1000, 1)}
    round_trips = [_one_round_trip(family) for family in families[:runs]]
    sequential = [_sequential(family) for family in families[runs:runs * 2]]
    to_decision = [m["to_decision"] for m in measured]
    to_return = [m["to_return"] for m in measured]
    assessing = [m["collected_to_decided"] for m in measured]
    limit = _p95(round_trips) + _p95(assessing)
    return {
        "runs": len(measured),
        "submit_to_decision_p50_s": round(statistics.median(to_decision), 3),
        "submit_to_decision_p95_s": round(_p95(to_decision), 3),
        "submit_to_return_p50_s": round(statistics.median(to_return), 3),
        "submit_to_return_p95_s": round(_p95(to_return), 3),
        "collected_to_decided_p50_s": round(statistics.median(assessing), 4),
        "collected_to_decided_p95_s": round(_p95(assessing), 4),
        "one_round_trip_p50_s": round(statistics.median(round_trips), 4),
        "one_round_trip_p95_s": round(_p95(round_trips), 4),
        "limit_p95_s": round(limit, 3),
        "ratio_p95_to_limit": round(_p95(to_decision) / limit, 2),
        "baseline_sequential_pulls_p50_s": round(statistics.median(sequential), 3),
        "ratio_p50_to_sequential": round(statistics.median(to_decision) / statistics.median(sequential), 2),
        "requests_per_registry_per_application": {source: round(count, 2) for source, count in sorted(calls.items())
                                                  if count},
        "phases_p50_ms": phases,
        "gc_pauses": gc_pauses,
    }


def _prepare(sim_engine, runs: int) -> list[list[tuple[str, str]]]:
    upgrade()
    load_areas(mahallas_per_district=2)
    load_programmes()
    create_demo_users()
    admin = db.session.scalar(select(User).where(User.username == "admin"))
    admin.role = "registrar"  # national scope, may register anywhere
    mahallas = db.session.scalars(select(Area.code).where(Area.level == AreaLevel.mahalla)).all()
    synthesize(sim_engine, max(4000, runs * 130), seed=5, areas=mahallas, as_of=date.today())
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
    if len(families) < runs * 2 + 1:  # measured, sequential baseline, warm-up
        raise SystemExit(f"only {len(families)} families of {FAMILY_SIZE}; raise the household count")
    return families


def _start_simulator(folder: str, sim_url: str, latency_ms: float):
    """The simulator in its own process: gunicorn, one worker (its faults and keys live in memory), threads."""
    port = serving.free_port()
    process = serving.start(
        [str(serving.BIN / "gunicorn"), "-k", "gthread", "-w", "1", "--threads", str(SIMULATOR_THREADS),
         "--keep-alive", "30", "-b", f"127.0.0.1:{port}", "--log-level", "warning",
         "connectors.simulator.app:create_simulator_app()"],
        {"SIMULATOR_DATABASE_URL": sim_url, "SIMULATOR_FAULTS": json.dumps({"*": {"latency_ms": latency_ms}})},
        Path(folder) / "simulator.log")
    base = f"http://127.0.0.1:{port}"
    serving.wait_for(f"{base}/_control/health", process, "the simulator", seconds=60)
    return process, base


def _calls(base: str) -> dict[str, int]:
    health = httpx.get(f"{base}/_control/health", timeout=10).json()
    return {source: counts.get("calls", 0) for source, counts in health["calls"].items()}


def _submit_and_decide(family, user, timer: _Timer) -> dict:
    payload = {"applicant_pin": family[0][0], "phone": "+998901234567", "channel": "office",
               "programmes": ["child_allowance"], "members": [{"pin": p, "relation": r} for p, r in family[1:]]}
    started = time.perf_counter()
    timer.decided_at = None
    application = operations.register_application(ApplicationArgs().load(payload), user)
    db.session.commit()  # the collection job runs inline after the commit, then the jobs it queued
    returned = time.perf_counter()
    db.session.refresh(application)
    if application.status.value != "decided" or timer.decided_at is None:
        raise SystemExit(f"the application ended in {application.status.value}")
    at = {event.to_status: event.at for event in application.events}
    return {"to_decision": timer.decided_at - started, "to_return": returned - started,
            "collected_to_decided": (at["decided"] - at["collected"]).total_seconds()}


class _Timer:
    """Times the steps of a submission by wrapping them, and notes when the decision's transaction commits."""

    STEPS = ((operations, "register_application"), (jobs, "_claim"), (collection, "_pull"),
             (collection, "_record"), (collection, "finish"), (assessment, "assess"))

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self.decided_at: float | None = None
        self._decision_pending = False
        self._gc_started = 0.0
        self.gc_pauses: list[float] = []

    def reset(self) -> None:
        self.times.clear()
        self.gc_pauses.clear()

    def medians(self) -> dict[str, float]:
        return {name: round(statistics.median(values) * 1000, 1) for name, values in self.times.items()}

    def _gc(self, phase: str, _info: dict) -> None:
        """The cyclic garbage collector's pauses: every thread waits while it runs."""
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc_pauses.append(time.perf_counter() - self._gc_started)

    @contextmanager
    def installed(self):
        originals = [(module, name, getattr(module, name)) for module, name in self.STEPS]
        for module, name, original in originals:
            setattr(module, name, self._timed(name, original))
        fetches = [(cls, cls.fetch) for cls in (Connector, CivilRegistryConnector)]
        for cls, original in fetches:
            cls.fetch = self._timed_fetch(original)
        event.listen(Session, "after_commit", self._committed, insert=True)  # before the inline jobs run
        gc.callbacks.append(self._gc)
        try:
            yield
        finally:
            gc.callbacks.remove(self._gc)
            event.remove(Session, "after_commit", self._committed)
            for cls, original in fetches:
                cls.fetch = original
            for module, name, original in originals:
                setattr(module, name, original)

    def _timed(self, name: str, function):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.times[name].append(time.perf_counter() - started)
                if name == "finish":
                    self._decision_pending = True

        return timed

    def _timed_fetch(self, function):
        timer = self

        def fetch(connector, *args, **kwargs):
            started = time.perf_counter()
            try:
                return function(connector, *args, **kwargs)
            finally:
                timer.times[f"fetch {connector.source_name}"].append(time.perf_counter() - started)

        return fetch

    def _committed(self, session) -> None:
        if self._decision_pending and session.get_nested_transaction() is None:
            self.decided_at, self._decision_pending = time.perf_counter(), False


def _one_round_trip(family) -> float:
    """One registry's answer for the whole family: the least a collection can wait."""
    pins = [pin for pin, _relation in family]
    started = time.perf_counter()
    connectors_for()["tax"].fetch(pins, window=income_window(date.today()))
    return time.perf_counter() - started


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
