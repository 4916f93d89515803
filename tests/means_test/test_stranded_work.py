"""No stranded work: real processes killed with SIGKILL and a real Redis stopped, on PostgreSQL.

Each test runs against its own PostgreSQL database (made from TEST_DATABASE_URL's server), the registry simulator
over HTTP with a latency that keeps a collection running long enough to be interrupted, and `srsp worker`
subprocesses. After the fault, a worker with the periodic schedule (sweepers every second) must bring every
application to a decision or to manual verification, with nothing done twice.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from modules.means_test.models import Assessment, DataPull
from modules.registration.models import Application, ApplicationStatus
from tests import factories
from tests.conftest import base_config
from webapp import create_app
from webapp.areas import load_areas
from webapp.auth.operations import issue_token
from webapp.extensions import db
from webapp.models import Job, JobStatus
from webapp.programmes import load_programmes

S = ApplicationStatus
SRSP = str(Path(sys.executable).parent / "srsp")
SETTLED = (S.decided, S.manual_verification)
LATENCY_MS = 1500  # every registry answers this slowly: a collection is killed while it waits
SWEEP_SCHEDULE = {"sweep-jobs": 1, "resume-collections": 1, "resend-sms": "off", "recertification": "off",
                  "bank-accounts": "off"}

pytestmark = [
    pytest.mark.committed,
    pytest.mark.skipif(not (os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")
                            and os.environ.get("REDIS_URL")),
                       reason="kills real workers: needs PostgreSQL (TEST_DATABASE_URL) and Redis (REDIS_URL)"),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def _own_database():
    """A new, migrated database on the test server, dropped afterwards."""
    server = make_url(os.environ["TEST_DATABASE_URL"])
    name = f"srsp_kill_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def _redis_db_url(base: str) -> str:
    """Another Redis database than the suite's own, emptied: these tests' queues are theirs alone."""
    from redis import Redis

    url = urlsplit(base)
    number = (int(url.path.strip("/") or 0) + 1) % 16
    result = f"redis://{url.hostname or '127.0.0.1'}:{url.port or 6379}/{number}"

    Redis.from_url(result).flushdb()
    return result


class World:
    """The app under test, its database, the simulator and the environment every subprocess gets."""

    def __init__(self, tmp_path: Path, database_url: str, redis_url: str, sources_url: str):
        self.tmp_path, self.database_url, self.redis_url, self.sources_url = (tmp_path, database_url, redis_url,
                                                                              sources_url)
        self.config = base_config(tmp_path, database_url) | {
            "REDIS_URL": redis_url, "JOBS_INLINE": False, "COLLECT_ON_SUBMIT": True, "SOURCES_URL": sources_url,
            "BANK_ACCOUNTS_ON_ENROLMENT": False}
        self.app = create_app(self.config)
        self.env = os.environ | {
            "DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": self.config["SECRET_KEY"],
            "SRSP_INSTANCE_DIR": str(tmp_path), "SRSP_SOURCES_URL": sources_url,
            "SRSP_SOURCES": json.dumps({"*": {"timeout": 10, "cache": {"ttl": 0}}}),
            "SRSP_SCHEDULE": json.dumps(SWEEP_SCHEDULE), "SRSP_STRANDED_AFTER_SECONDS": "2",
            "SRSP_JOBS_DISPATCH_GRACE": "1"}
        self.processes: list[subprocess.Popen] = []

    def start(self, *args: str, env: dict | None = None) -> subprocess.Popen:
        log = open(self.tmp_path / f"{args[0]}-{len(self.processes)}.log", "w")  # noqa: SIM115 - closed at exit
        process = subprocess.Popen([SRSP, *args], env=self.env | (env or {}), stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes.append(process)
        return process

    def worker(self, schedule: bool = True) -> subprocess.Popen:
        return self.start("worker", "--schedule" if schedule else "--no-schedule")

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        os.killpg(process.pid, signal.SIGKILL)  # the worker and its work horse, as a machine losing power
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                self.kill(process)

    def families(self, count: int) -> tuple[list[dict], str]:
        """`count` families in the registry and a registrar's API token."""
        with self.app.app_context():
            user = factories.make_user("registrar", areas=["UZ-TK"])
            payloads = [factories.application_payload(factories.make_family("UZ-TK", children=1))
                        for _ in range(count)]
            token = issue_token(user, "kill test")
            db.session.commit()
        return payloads, token

    def applications(self) -> list[Application]:
        with self.app.app_context():
            return list(db.session.scalars(select(Application).order_by(Application.id)))

    def wait_until_settled(self, expected: int, seconds: float = 90) -> list[Application]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            applications = self.applications()
            if len(applications) >= expected and all(a.status in SETTLED for a in applications):
                return applications
            time.sleep(0.5)
        raise AssertionError(f"not settled after {seconds}s: {[(a.id, a.status.value) for a in self.applications()]}"
                             f"\n{self.logs()}")

    def wait_for_running_collection(self, seconds: float = 30) -> int:
        """The pid of the process running a collection (rq's work horse, in a session of its own)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self.app.app_context():
                worker = db.session.scalar(select(Job.worker).where(Job.status == JobStatus.running,
                                                                    Job.subject.like("application:%")))
            if worker:
                return int(worker.rpartition(":")[2])
            time.sleep(0.1)
        raise AssertionError(f"no collection started\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text()[-3000:]}" for path in self.tmp_path.glob("*.log"))

    def count(self, model, **where) -> int:
        with self.app.app_context():
            query = select(func.count()).select_from(model)
            for column, value in where.items():
                query = query.where(getattr(model, column) == value)
            return db.session.scalar(query)


def _latency(sources_url: str, milliseconds: int) -> None:
    httpx.put(f"{sources_url}/_control/faults", json={"*": {"latency_ms": milliseconds}},
              timeout=5).raise_for_status()


@pytest.fixture
def world(tmp_path, simulator, app):
    _sim, sources_url = simulator
    _latency(sources_url, LATENCY_MS)
    with _own_database() as database_url:
        built = World(tmp_path, database_url, _redis_db_url(os.environ["REDIS_URL"]), sources_url)
        with built.app.app_context():
            upgrade()
            load_areas(mahallas_per_district=1)
            load_programmes()
            db.session.commit()
        try:
            yield built
        finally:
            built.stop_all()
            with built.app.app_context():
                db.session.remove()
                db.engine.dispose()
            httpx.put(f"{sources_url}/_control/faults", json={}, timeout=5)


def _post(base_url: str, token: str, payload: dict, key: str) -> int | None:
    try:
        response = httpx.post(f"{base_url}/api/v1/applications", json=payload, timeout=30,
                              headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key})
    except httpx.TransportError:
        return None
    return response.status_code


def _assessed_once(world: World, applications: list[Application]) -> None:
    """A decided application was assessed exactly once, on evidence from every source for every member."""
    for application in applications:
        if application.status is not S.decided:
            continue
        assert world.count(Assessment, application_id=application.id) == 1, application.id
        with world.app.app_context():
            members = len(db.session.get(Application, application.id).members)
            answered = len(db.session.execute(select(DataPull.source, DataPull.person_id).distinct()
                                              .where(DataPull.application_id == application.id)).all())
        assert answered == 13 * members, (application.id, answered)


def test_a_worker_killed_mid_collection_leaves_nothing_stranded(world):
    [payload], token = world.families(1)
    with world.app.test_client() as client:
        response = client.post("/api/v1/applications", json=payload, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.get_data(as_text=True)
    first = world.worker(schedule=False)
    horse = world.wait_for_running_collection()
    os.kill(horse, signal.SIGKILL)  # the worker and the process running the job, as a machine losing power
    world.kill(first)
    [application] = world.applications()
    assert application.status is S.collecting, "killed mid-collection: nothing of the run was committed"

    world.worker()  # a new worker: its sweeper finds the job of the dead one and runs it again
    [application] = world.wait_until_settled(1)
    _assessed_once(world, [application])
    with world.app.app_context():
        job = db.session.scalar(select(Job).where(Job.subject == f"application:{application.id}"))
        assert job.status is JobStatus.finished and job.attempts == 2


def test_registration_with_redis_stopped_answers_and_the_work_follows_when_redis_returns(world, tmp_path):
    port = _free_port()
    redis_args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                  "--dir", str(tmp_path)]
    redis = subprocess.Popen(redis_args, stdout=subprocess.DEVNULL, start_new_session=True)
    own_redis = f"redis://127.0.0.1:{port}/0"
    world.app.config["REDIS_URL"] = world.env["REDIS_URL"] = own_redis
    try:
        time.sleep(0.5)
        world.kill(redis)  # Redis is gone before anyone submits
        [payload], token = world.families(1)
        with world.app.test_client() as client:
            response = client.post("/api/v1/applications", json=payload,
                                   headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 201, response.get_data(as_text=True)
        assert world.count(Job, status=JobStatus.queued) == 1, "the job waits in the outbox"

        redis = subprocess.Popen(redis_args, stdout=subprocess.DEVNULL, start_new_session=True)
        world.worker()
        _assessed_once(world, world.wait_until_settled(1))
    finally:
        if redis.poll() is None:
            world.kill(redis)


def test_the_web_process_killed_during_registrations_with_idempotency_keys(world):
    payloads, token = world.families(20)
    keys = [f"kill-{index:02d}" for index in range(len(payloads))]
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    _latency(world.sources_url, 50)  # twenty collections: quick registries, two workers
    web = world.start("run", "--port", str(port), "--no-reload", "--no-debugger", "--with-threads")
    _wait_for(base_url)
    world.worker()
    world.worker(schedule=False)

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(_post, base_url, token, payload, key) for payload, key in zip(payloads, keys,
                                                                                             strict=True)]
        time.sleep(0.3)
        world.kill(web)  # mid-flight: some were answered, some were cut off, some never arrived
        first_round = [future.result() for future in futures]
    assert None in first_round, "the kill came after every request: nothing was interrupted"

    world.start("run", "--port", str(port), "--no-reload", "--no-debugger", "--with-threads")
    _wait_for(base_url)
    # The client resends everything with the same keys: what was created is answered again, not created again.
    resent = [_post(base_url, token, payload, key) for payload, key in zip(payloads, keys, strict=True)]
    assert resent == [201] * len(payloads), resent
    applications = world.wait_until_settled(len(payloads), seconds=150)
    assert len(applications) == len(payloads), "one application per key, however often it was sent"
    _assessed_once(world, applications)


def _wait_for(base_url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{base_url} did not come up")
