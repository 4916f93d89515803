"""A job split by region on real `srsp worker` processes (PostgreSQL and Redis): two workers take the parts side by
side, the two parts finish at the same moment, and the result is assembled exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from tests import factories
from tests.conftest import TEST_DATABASE_URL, base_config
from webapp import create_app, fanout, jobs
from webapp.extensions import db
from webapp.models import Job, JobStatus

SRSP = str(Path(sys.executable).parent / "srsp")
ROOT = Path(__file__).resolve().parents[2]


@jobs.task("default", timeout=60)
def meet_and_count(job_id: str, region: str, folder: str, parts: int) -> dict:
    """Wait (a while at most) until every part has started, so they run and finish together."""
    Path(folder, f"{region}.started").write_text(str(os.getpid()))
    deadline = time.monotonic() + 20
    while len(list(Path(folder).glob("*.started"))) < parts and time.monotonic() < deadline:
        time.sleep(0.05)
    return {"done": len(region), "pid": os.getpid()}


def assemble_meetings(results: dict, regions: list[str], folder: str) -> dict:
    with open(Path(folder, "assembled.log"), "a") as log:  # one line per assembly: the test counts them
        log.write(f"{os.getpid()}\n")
    return {"pids": sorted({result["pid"] for result in results.values()})}


@fanout.fan_out("default", child=meet_and_count, assemble=assemble_meetings, permission="payroll.prepare")
def meetings_by_region(regions: list[str], folder: str) -> list[fanout.Part]:
    return [fanout.Part(key=code, title=code, params={"region": code, "folder": folder, "parts": len(regions)})
            for code in regions]


@pytest.mark.committed
@pytest.mark.skipif(not (TEST_DATABASE_URL or "").startswith("postgresql"), reason="real workers: needs PostgreSQL")
def test_two_workers_share_the_regions_and_the_result_is_assembled_once(tmp_path, database_url):
    redis_url = factories.reachable_redis_url()
    if redis_url is None:
        pytest.skip("no Redis reachable (CI sets REDIS_URL)")
    from redis import Redis

    Redis.from_url(redis_url).delete("rq:queue:default")
    config = base_config(tmp_path, database_url) | {"REDIS_URL": redis_url, "JOBS_INLINE": False}
    app = create_app(config)
    folder = tmp_path / "meetings"
    folder.mkdir()
    env = os.environ | {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": config["SECRET_KEY"],
                        "SRSP_INSTANCE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    workers = []
    with app.app_context():
        parent_id = jobs.enqueue(meetings_by_region, title="Meetings", regions=["UZ-TK", "UZ-SA"],
                                 folder=str(folder))
        db.session.commit()
        try:
            for n in range(2):
                log = open(tmp_path / f"worker-{n}.log", "w")  # noqa: SIM115 - closed with the process
                workers.append(subprocess.Popen([SRSP, "worker", "--no-schedule", "default"], env=env, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True))
            parent = _wait_until_done(parent_id, tmp_path)
            assert parent.status is JobStatus.finished, parent.error
            assert len(parent.result["pids"]) == 2, "each worker ran a part"
            assert (folder / "assembled.log").read_text().count("\n") == 1, "assembled once"
            parts = fanout.parts_of(parent_id)
            assert [part.status for part in parts] == [JobStatus.finished] * 2 and parent.progress == 100
        finally:
            for worker in workers:
                _stop(worker)
            db.session.rollback()
            db.session.execute(delete(Job).where((Job.id == parent_id) | (Job.subject == fanout.subject_of(parent_id))))
            db.session.commit()


def _stop(worker: subprocess.Popen) -> None:
    """SIGTERM to the worker's group (it and its scheduler), SIGKILL when it has not stopped after a while."""
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)


def _wait_until_done(job_id: str, tmp_path: Path, timeout: float = 90) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()  # a new transaction sees what the workers committed
        job = db.session.scalar(select(Job).where(Job.id == job_id))
        if job.done:
            return job
        time.sleep(0.2)
    logs = "\n".join(path.read_text()[-2000:] for path in tmp_path.glob("worker-*.log"))
    raise AssertionError(f"the job did not finish\n{logs}")
