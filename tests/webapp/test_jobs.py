import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from modules.registration.tasks import export_applications
from tests import factories
from tests.conftest import base_config, sign_in
from webapp import create_app, jobs
from webapp.extensions import db
from webapp.models import Job, JobStatus

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


def _redis_url() -> str | None:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        from redis import Redis

        Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception:
        return None
    return url


@pytest.mark.committed
def test_job_runs_on_redis_with_a_real_rq_worker_in_burst_mode(tmp_path, database_url):
    redis_url = _redis_url()
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
        worker = subprocess.run([str(Path(sys.executable).parent / "srsp"), "worker", "--burst", "reports"],
                                env=env, capture_output=True, text=True, timeout=120)
        assert worker.returncode == 0, worker.stderr[-2000:]

        db.session.rollback()  # end our read transaction: a new one sees what the worker committed
        job = db.session.get(Job, job_id)
        assert job.status is JobStatus.finished, job.error
        assert (tmp_path / "exports" / job.result["file"]).read_text(encoding="utf-8-sig").startswith("reference,")
