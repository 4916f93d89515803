import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from modules.registration.tasks import export_applications
from tests import factories
from tests.conftest import base_config, sign_in
from webapp import create_app, jobs
from webapp.extensions import db
from webapp.models import Job, JobStatus
from webapp.timeutil import utcnow

CALLS: list[tuple[str, dict]] = []


@jobs.task("default")
def record_call(job_id: str, **params) -> dict:
    CALLS.append((job_id, params))
    jobs.report_progress(job_id, 50, "half-way")
    return {"seen": params}


@jobs.task("default")
def explode(job_id: str) -> None:
    raise RuntimeError("the bank is closed")


@pytest.fixture(autouse=True)
def _clear_calls():
    CALLS.clear()


def test_inline_job_runs_after_commit_and_tracks_progress(app):
    job_id = jobs.enqueue(record_call, title="Test job", colour="green")
    assert CALLS == [], "nothing runs before the commit"
    assert db.session.get(Job, job_id).status is JobStatus.queued
    db.session.commit()
    assert CALLS == [(job_id, {"colour": "green"})]
    job = db.session.scalar(select(Job).where(Job.id == job_id).execution_options(populate_existing=True))
    assert job.status is JobStatus.finished and job.progress == 100 and job.result == {"seen": {"colour": "green"}}


def test_a_rolled_back_transaction_runs_no_job(app):
    jobs.enqueue(record_call, colour="red")
    db.session.rollback()
    db.session.commit()
    assert CALLS == []


def test_a_job_queued_inside_a_savepoint_waits_for_the_real_commit(app):
    # SQLAlchemy fires after_commit when a SAVEPOINT is released too; running the job then (inline, with the
    # write lock still held) deadlocked SQLite and sent notices for work that could still be rolled back.
    with db.session.begin_nested():
        jobs.enqueue(record_call, colour="blue")
    assert CALLS == [], "a released savepoint is not a commit"
    db.session.commit()
    assert [params for _job, params in CALLS] == [{"colour": "blue"}]


def test_a_failing_job_is_marked_failed_with_its_error(app):
    job_id = jobs.enqueue(explode, title="Doomed")
    db.session.commit()  # inline, a failing job is recorded, and the request that queued it still succeeds
    job = db.session.scalar(select(Job).where(Job.id == job_id).execution_options(populate_existing=True))
    assert job.status is JobStatus.failed and "the bank is closed" in job.error


def test_unknown_queue_is_refused(app):
    with pytest.raises(ValueError, match="unknown queue"):
        jobs.task("nowhere")


def test_a_job_is_enqueued_by_reference_never_by_name(app):
    with pytest.raises(TypeError, match="registered task"):
        jobs.enqueue("tests.webapp.test_jobs:record_call")


def test_jobs_page_shows_the_users_jobs_with_progress(client, app):
    user = factories.make_user("registrar", areas=["UZ-TK"])
    other = factories.make_user("registrar", areas=["UZ-TK"])
    mine = jobs.enqueue(record_call, title="My export", user=user)
    theirs = jobs.enqueue(record_call, title="Their export", user=other)
    db.session.commit()
    sign_in(client, user)
    page = client.get("/jobs").get_data(as_text=True)
    assert "My export" in page and "Their export" not in page
    assert client.get(f"/jobs/{mine}.json").get_json()["status"] == "finished"
    assert client.get(f"/jobs/{theirs}").status_code == 404



@pytest.mark.committed
@pytest.mark.parametrize("fork", [True, False], ids=["fork", "no-fork"])
def test_job_runs_on_redis_with_a_real_rq_worker_in_burst_mode(tmp_path, database_url, fork):
    redis_url = factories.reachable_redis_url()
    if redis_url is None:
        pytest.skip("no Redis reachable (CI sets REDIS_URL)")
    config = base_config(tmp_path, database_url) | {"REDIS_URL": redis_url, "JOBS_INLINE": False}
    app = create_app(config)
    with app.app_context():
        from redis import Redis

        Redis.from_url(redis_url).delete("rq:queue:reports")
        user = factories.make_user("registrar", areas=["UZ-TK"], username=f"rq-{os.getpid()}-{tmp_path.name}")
        job_id = jobs.enqueue(export_applications, title="Export",
                              user=user, user_id=user.id, filters={})
        db.session.commit()
        assert jobs.rq_queue("reports").count == 1, "the job waits on Redis, it did not run inline"
        assert db.session.get(Job, job_id).status is JobStatus.queued
        db.session.rollback()  # hold no transaction (SQLite: no lock) while the worker writes

        env = os.environ | {"DATABASE_URL": database_url, "REDIS_URL": redis_url,
                            "SECRET_KEY": config["SECRET_KEY"], "SRSP_INSTANCE_DIR": str(tmp_path)}
        command = [str(Path(sys.executable).parent / "srsp"), "worker", "--burst", "--fork" if fork else "--no-fork",
                   "reports"]
        worker = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err[-2000:]

        db.session.rollback()  # end our read transaction: a new one sees what the worker committed
        job = db.session.get(Job, job_id)
        assert job.status is JobStatus.finished, job.error
        assert (tmp_path / "exports" / job.result["file"]).read_text(encoding="utf-8-sig").startswith("Reference,")
        ran_in_the_worker_itself = job.worker.endswith(f":{worker.pid}")
        assert ran_in_the_worker_itself is not fork


# --- retries, the outbox and the sweeper ------------------------------------------------------------------------


class NotYet(Exception):
    """A failure that may pass: the task's retry policy names it transient."""


FLAKY = {"failures_left": 0}


@jobs.task("default", retry=jobs.Retry(attempts=3, backoff=0.001, transient=(NotYet,)))
def flaky(job_id: str) -> dict:
    if FLAKY["failures_left"] > 0:
        FLAKY["failures_left"] -= 1
        raise NotYet("the registry is restarting")
    return {"ok": True}


def _job(job_id: str) -> Job:
    return db.session.scalar(select(Job).where(Job.id == job_id).execution_options(populate_existing=True))


def test_a_transient_failure_is_retried_until_it_passes(app):
    FLAKY["failures_left"] = 2
    job_id = jobs.enqueue(flaky)
    db.session.commit()
    job = _job(job_id)
    assert job.status is JobStatus.finished and job.attempts == 3 and job.result == {"ok": True}


def test_a_transient_failure_stops_after_the_policys_attempts(app):
    FLAKY["failures_left"] = 5
    job_id = jobs.enqueue(flaky, title="Flaky")
    db.session.commit()
    job = _job(job_id)
    assert job.status is JobStatus.failed and job.attempts == 3 and "restarting" in job.error


def test_a_permanent_failure_is_not_retried(app):
    job_id = jobs.enqueue(explode)
    db.session.commit()
    assert _job(job_id).attempts == 1


def test_the_job_row_is_written_with_the_callers_transaction(app):
    job_id = jobs.enqueue(record_call, subject="thing:1", colour="grey")
    assert _job(job_id).status is JobStatus.queued and jobs.live_subjects(["thing:1", "thing:2"]) == {"thing:1"}
    db.session.rollback()
    assert _job(job_id) is None and CALLS == []


def _lost_on_the_way(**params) -> str:
    """A job committed with its state change whose hand-over never happened (the process died after the commit)."""
    job_id = jobs.enqueue(record_call, **params)
    db.session.info.pop(jobs._PENDING)
    db.session.commit()
    return job_id


def test_the_sweeper_hands_over_a_job_lost_between_commit_and_queue(app):
    job_id = _lost_on_the_way(colour="violet")
    assert CALLS == [] and _job(job_id).status is JobStatus.queued
    assert jobs.sweep_jobs("sweep")["handed_over"] == 0, "within the grace period it may still be on its way"
    _job(job_id).created_at = utcnow() - timedelta(minutes=5)
    assert jobs.sweep_jobs("sweep")["handed_over"] == 1
    db.session.commit()
    assert CALLS == [(job_id, {"colour": "violet"})] and _job(job_id).status is JobStatus.finished


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def _orphan(attempts: int = 1) -> str:
    """A job that was running in a process of this machine that has since died (SIGKILL, a crash, a restart)."""
    job_id = _lost_on_the_way(colour="teal")
    job = _job(job_id)
    job.status, job.attempts, job.worker = JobStatus.running, attempts, f"{socket.gethostname()}:{_dead_pid()}"
    job.lease_until = utcnow() + timedelta(hours=1)
    db.session.commit()
    return job_id


def test_the_sweeper_restarts_a_job_whose_worker_died(app):
    job_id = _orphan()
    assert jobs.sweep_jobs("sweep") == {"handed_over": 0, "restarted": 1, "failed": 0}
    db.session.commit()
    job = _job(job_id)
    assert job.status is JobStatus.finished and job.attempts == 2 and CALLS == [(job_id, {"colour": "teal"})]


def test_a_job_whose_lease_ran_out_is_restarted_even_from_another_machine(app):
    job_id = _orphan()
    job = _job(job_id)
    job.worker, job.lease_until = "another-host:1", utcnow() - timedelta(seconds=1)
    assert jobs.sweep_jobs("sweep")["restarted"] == 1


def test_a_job_running_in_a_live_process_is_left_alone(app):
    job_id = _orphan()
    _job(job_id).worker = jobs.worker_name()
    assert jobs.sweep_jobs("sweep") == {"handed_over": 0, "restarted": 0, "failed": 0}


def test_a_job_that_keeps_killing_its_worker_ends_failed(app):
    job_id = _orphan(attempts=1 + jobs.RESTARTS)
    assert jobs.sweep_jobs("sweep")["failed"] == 1
    db.session.commit()
    assert _job(job_id).status is JobStatus.failed and CALLS == []
