"""Background jobs: onto named rq queues after commit when REDIS_URL is set, inline after commit otherwise.

Jobs take ids, never ORM objects, and must be idempotent: a job can run twice (retries, a worker restart).
A user-visible job has a `Job` row with progress, created in the same transaction that enqueues it, so a
job never runs for data that was rolled back and never goes missing for data that was committed.
"""

from __future__ import annotations

import importlib
import logging
import os
import time
import traceback
import uuid
from datetime import timedelta

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from webapp.extensions import db
from webapp.models import Job, JobStatus
from webapp.timeutil import utcnow

log = logging.getLogger(__name__)
QUEUES = ("default", "collection", "notifications", "payments", "reports")
_PENDING = "srsp_pending_jobs"
INLINE_MAX_DELAY = 0.5  # seconds; inline, a delayed job (a retry) holds up the request that triggered it


def enqueue(task: str, *, queue: str = "default", title: str | None = None, user=None, delay: float = 0,
            **params) -> str:
    """Schedule `task` ("package.module:function", called as task(job_id, **params)) for after the commit.

    With a title, a Job row is created so people can follow it on the jobs page. Returns the job id.
    `delay` (seconds) postpones the run: on rq through rq's scheduler (a worker started with its scheduler
    moves the job to its queue when due); inline, where the request waits, by at most INLINE_MAX_DELAY.
    """
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")
    job_id = str(uuid.uuid4())
    if title:
        db.session.add(Job(id=job_id, kind=task, queue=queue, title=title, params=params, progress=0,
                           status=JobStatus.queued, created_by_id=getattr(user, "id", None)))
        db.session.flush()
    db.session.connection()  # make sure a transaction exists, so a rollback also discards the job
    db.session.info.setdefault(_PENDING, []).append((task, queue, job_id, params, delay))
    return job_id


@event.listens_for(Session, "after_commit")
def _dispatch_after_commit(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # SQLAlchemy also fires after_commit when a SAVEPOINT is released: jobs wait for the real commit
    pending = session.info.pop(_PENDING, None)
    if not pending or not has_app_context():
        return
    app = current_app._get_current_object()
    for task, queue, job_id, params, delay in pending:
        if app.config["JOBS_INLINE"]:
            if delay > 0:
                time.sleep(min(delay, INLINE_MAX_DELAY))
            # A fresh app context gives the job its own session: this one is mid-commit and cannot run SQL.
            with app.app_context():
                run_task(task, job_id, params)
        elif delay > 0:
            rq_queue(queue).enqueue_in(timedelta(seconds=delay), "webapp.jobs.run_task", task, job_id, params,
                                       job_id=job_id, failure_ttl=7 * 24 * 3600)
        else:
            rq_queue(queue).enqueue("webapp.jobs.run_task", task, job_id, params, job_id=job_id,
                                    failure_ttl=7 * 24 * 3600)


@event.listens_for(Session, "after_soft_rollback")
def _discard_after_rollback(session: Session, _previous_transaction) -> None:
    session.info.pop(_PENDING, None)


def rq_queue(name: str):
    from redis import Redis
    from rq import Queue

    return Queue(name, connection=Redis.from_url(current_app.config["REDIS_URL"]))


_worker_app = None
_pool_pid = os.getpid()


def _app_for_worker():
    """In a bare rq worker process there is no app context: build the app once per process."""
    global _worker_app
    if _worker_app is None:
        from webapp import create_app

        _worker_app = create_app()
    return _worker_app


def _forget_inherited_connections() -> None:
    """rq forks a work horse per job: pooled connections belong to the parent; never share a socket."""
    global _pool_pid
    if _pool_pid != os.getpid():
        db.engine.dispose(close=False)
        _pool_pid = os.getpid()


def run_task(task: str, job_id: str, params: dict) -> None:
    """Entry point of every job, inline or on rq: tracks the Job row and commits the job's work once."""
    if not has_app_context():
        with _app_for_worker().app_context():
            return run_task(task, job_id, params)
    inline = current_app.config["JOBS_INLINE"]
    if not inline:
        _forget_inherited_connections()
    _run(task, job_id, params, reraise=not inline)


def _run(task: str, job_id: str, params: dict, reraise: bool) -> None:
    module_name, func_name = task.split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    _mark(job_id, status=JobStatus.running, started_at=utcnow())
    try:
        result = func(job_id, **params)
        _mark(job_id, commit=False, status=JobStatus.finished, progress=100, finished_at=utcnow(),
              result=result if isinstance(result, dict) else None)
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        log.exception("job %s (%s) failed", job_id, task)
        _mark(job_id, status=JobStatus.failed, finished_at=utcnow(), error=f"{type(exc).__name__}: {exc}",
              message=traceback.format_exception_only(exc)[-1].strip()[:500])
        if reraise:
            raise  # rq records the failure and applies its retry policy; inline, the request must not fail


def report_progress(job_id: str, progress: int, message: str | None = None) -> None:
    """Record progress (0-100). On a worker it goes in its own short transaction, so people see it while the
    job runs; inline, the request waits for the job anyway, so it rides along with the job's own commit."""
    separate = not current_app.config["JOBS_INLINE"]
    _mark(job_id, commit=False, use_separate_session=separate, progress=max(0, min(100, int(progress))),
          message=message)


def _mark(job_id: str, commit: bool = True, use_separate_session: bool = False, **values) -> None:
    if use_separate_session:
        with Session(bind=db.engine) as side:
            side.execute(Job.__table__.update().where(Job.id == job_id).values(**values))
            side.commit()
        return
    db.session.execute(Job.__table__.update().where(Job.id == job_id).values(**values))
    if commit:
        db.session.commit()
