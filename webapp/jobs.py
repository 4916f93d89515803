"""Background jobs: registered tasks, a transactional outbox, rq queues or inline runs, retries and recovery.

Every `enqueue` writes a `job` row in the caller's transaction: the row is the outbox. After the commit the job is
handed to its rq queue (REDIS_URL set) or run inline; a rollback discards it with the rest. A job whose hand-over
was lost (the process died after the commit, Redis was down), whose worker died mid-run, or whose rq entry
vanished is found by `sweep_jobs` (on the periodic schedule) and handed over again. So a committed state change
never loses the job it needs.

Jobs take ids, never ORM objects, and must be idempotent: a job can run twice (retries, a worker restart).
Task functions never commit: `execute` runs each one in a unit of work and records the outcome with it.

A job may split its work into other jobs, its parts (`webapp.fanout`): it returns `Waiting` and stays running,
with no worker and no lease, until its last part queues it again to assemble the result.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, has_app_context
from sqlalchemy import event, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.boundary import unit_of_work
from webapp.extensions import db
from webapp.models import Job, JobStatus
from webapp.signals import job_settled
from webapp.timeutil import utcnow

log = logging.getLogger(__name__)
QUEUES = ("default", "collection", "notifications", "payments", "reports")
_PENDING = "srsp_pending_jobs"
INLINE_MAX_DELAY = 0.5  # seconds; inline, a delayed job (a retry) holds up the request that triggered it
LOST_AFTER = timedelta(minutes=2)  # a job handed to rq that rq no longer knows after this was lost by Redis
LEASE_GRACE = timedelta(seconds=60)  # beyond the task's timeout, before a silent run counts as dead
RESTARTS = 3  # runs a job may lose to dead workers beyond its own retry budget


@dataclass(frozen=True)
class Retry:
    """How a task is retried: `attempts` runs in all, waits of `backoff` × 2ⁿ seconds, only for `transient` errors."""

    attempts: int = 1
    backoff: float = 30
    transient: tuple[type[BaseException], ...] = ()

    def delay(self, attempt: int) -> float:
        return self.backoff * 2 ** max(attempt - 1, 0)

    def retries(self, error: BaseException, attempt: int) -> bool:
        return attempt < self.attempts and isinstance(error, self.transient)


NO_RETRY = Retry()


@dataclass(frozen=True)
class Waiting:
    """What a task returns when its work goes on in other jobs (its parts): the job stays running with no worker
    and no lease, so the sweeper leaves it alone, until a part queues it again (`webapp.fanout`)."""

    progress: int = 0
    message: str | None = None


TASKS: dict[str, Task] = {}


@dataclass(frozen=True)
class Task:
    """A registered job: its function, queue, retry policy and timeout (seconds). Enqueued by reference."""

    func: Callable
    name: str
    queue: str
    retry: Retry
    timeout: int

    def __call__(self, *args, **kwargs):
        return self.func(*args, **kwargs)


def task(queue: str = "default", *, retry: Retry = NO_RETRY, timeout: int = 600) -> Callable[[Callable], Task]:
    """Register a job function (called as func(job_id, **params)) under its module and name."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")

    def register(func: Callable) -> Task:
        registered = Task(func=func, name=f"{func.__module__}:{func.__name__}", queue=queue, retry=retry,
                          timeout=timeout)
        TASKS[registered.name] = registered
        return registered

    return register


def resolve(name: str) -> Task:
    """The registered task stored under `name` (its module is imported when this process has not yet)."""
    if name not in TASKS:
        importlib.import_module(name.partition(":")[0])
    try:
        return TASKS[name]
    except KeyError:
        raise LookupError(f"{name} is not a registered task") from None


# --- enqueueing: the outbox ------------------------------------------------------------------------------------


def enqueue(job: Task, *, title: str | None = None, user=None, delay: float = 0, subject: str | None = None,
            dedupe_key: str | None = None, **params) -> str | None:
    """Write the job into the caller's transaction; it is handed over after the commit. Returns the job id.

    With a title, people follow it on the jobs page. `delay` (seconds) postpones it (rq's scheduler; inline, by at
    most INLINE_MAX_DELAY). `subject` names what it works on ("application:7"), so sweepers can tell whether work
    has a live job. A `dedupe_key` already used makes this a no-op (returns None): one run per schedule slot.
    """
    if not isinstance(job, Task):
        raise TypeError(f"enqueue takes a registered task (webapp.jobs.task), not {job!r}")
    now = utcnow()
    row = Job(id=str(uuid.uuid4()), kind=job.name, queue=job.queue, title=str(title) if title else None,
              params=params, progress=0, status=JobStatus.queued, subject=subject, dedupe_key=dedupe_key,
              attempts=0, max_attempts=job.retry.attempts, created_at=now,
              run_after=now + timedelta(seconds=delay) if delay > 0 else None,
              created_by_id=getattr(user, "id", None))
    if dedupe_key:
        try:
            with db.session.begin_nested():
                db.session.add(row)
        except IntegrityError:
            return None
    else:
        db.session.add(row)
        db.session.flush()
    _pending(db.session).append((row.id, job.queue, delay, job.timeout))
    return row.id


def _pending(session: Session) -> list:
    return session.info.setdefault(_PENDING, [])


@event.listens_for(Session, "after_commit")
def _dispatch_after_commit(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # SQLAlchemy also fires after_commit when a SAVEPOINT is released: jobs wait for the real commit
    pending = session.info.pop(_PENDING, None)
    if not pending or not has_app_context():
        return
    app = current_app._get_current_object()
    for job_id, queue, delay, timeout in pending:
        dispatch(app, job_id, queue, delay, timeout)


@event.listens_for(Session, "after_soft_rollback")
def _discard_after_rollback(session: Session, _previous_transaction) -> None:
    session.info.pop(_PENDING, None)


def dispatch(app, job_id: str, queue: str, delay: float = 0, timeout: int = 600) -> None:
    """Hand a committed job over: run it inline, or put it on its rq queue. A failed hand-over is left to the
    sweeper (the job row stays queued and undispatched), never raised into the request that committed it."""
    if app.config["JOBS_INLINE"]:
        if delay > 0:
            time.sleep(min(delay, INLINE_MAX_DELAY))
        # A fresh app context gives the job its own session: the committing one cannot run SQL now.
        with app.app_context():
            execute(job_id, reraise=False)
        return
    with app.app_context():
        try:
            _to_rq(job_id, queue, delay, timeout)
        except Exception as error:  # Redis down or unreachable: the sweeper hands it over when Redis is back
            log.warning("job %s not handed to rq (%s); the sweeper will retry", job_id, error)


def _to_rq(job_id: str, queue: str, delay: float, timeout: int) -> None:
    rq_id = f"{job_id}-{uuid.uuid4().hex[:8]}"
    target = rq_queue(queue)
    options = {"job_id": rq_id, "failure_ttl": 7 * 24 * 3600, "job_timeout": timeout + 30}
    if delay > 0:
        target.enqueue_in(timedelta(seconds=delay), "webapp.jobs.run_rq_job", job_id, **options)
    else:
        target.enqueue("webapp.jobs.run_rq_job", job_id, **options)
    with Session(bind=db.engine) as side:
        side.execute(update(Job).where(Job.id == job_id).values(dispatched_at=utcnow(), dispatch_id=rq_id))
        side.commit()


def rq_queue(name: str):
    from redis import Redis
    from rq import Queue

    return Queue(name, connection=Redis.from_url(current_app.config["REDIS_URL"], socket_connect_timeout=2,
                                                 socket_timeout=5))


# --- running ---------------------------------------------------------------------------------------------------

#: The app a worker process runs jobs in; set by `webapp.worker.run_worker` before rq forks its work horses.
WORKER_APP = None
_pool_pid = os.getpid()


def run_rq_job(job_id: str) -> None:
    """rq's entry point: run one job in the worker's app."""
    if not has_app_context():
        if WORKER_APP is None:
            raise RuntimeError("SRSP jobs run in `srsp worker`, which sets up the application")
        with WORKER_APP.app_context():
            return run_rq_job(job_id)
    _forget_inherited_connections()
    execute(job_id, reraise=True)


def _forget_inherited_connections() -> None:
    """rq forks a work horse per job: pooled connections belong to the parent; never share a socket."""
    global _pool_pid
    if _pool_pid != os.getpid():
        db.engine.dispose(close=False)
        _pool_pid = os.getpid()


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def execute(job_id: str, reraise: bool) -> None:
    """Claim the job, run its task in one unit of work with the outcome, or record the failure and retry."""
    claimed = _claim(job_id)
    if claimed is None:
        return  # already running elsewhere, finished, or gone: a repeated hand-over changes nothing
    job, params, attempt, subject = claimed
    try:
        with unit_of_work():
            result = job.func(job_id, **params)
            db.session.execute(update(Job).where(Job.id == job_id).values(**_outcome(result)))
            if not isinstance(result, Waiting):
                _settled(subject)
    except Exception as error:
        log.exception("job %s (%s) failed on attempt %d", job_id, job.name, attempt)
        if _after_failure(job, job_id, attempt, error, subject) is None and reraise:
            raise  # rq keeps the final failure in its failed registry for operators


def _outcome(result) -> dict:
    """The job row's values after its task returned `result`."""
    if isinstance(result, Waiting):
        return {"status": JobStatus.running, "worker": None, "lease_until": None,
                "progress": max(0, min(100, int(result.progress))), "message": result.message}
    return {"status": JobStatus.finished, "progress": 100, "finished_at": utcnow(), "lease_until": None,
            "result": result if isinstance(result, dict) else None}


def _settled(subject: str | None) -> None:
    """A job has its final outcome: whoever waits for it (a job it is a part of) counts it, in this transaction."""
    job_settled.send(None, subject=subject)


def _claim(job_id: str):
    """Mark the job running for this process in its own short transaction; None when it is not ours to run."""
    with unit_of_work():
        row = db.session.get(Job, job_id, populate_existing=True)
        if row is None or row.status is not JobStatus.queued:
            return None
        job, attempt, params, subject = resolve(row.kind), (row.attempts or 0) + 1, dict(row.params or {}), row.subject
        now = utcnow()
        claimed = db.session.execute(update(Job).where(Job.id == job_id, Job.status == JobStatus.queued).values(
            status=JobStatus.running, attempts=Job.attempts + 1, started_at=now, worker=worker_name(),
            lease_until=now + timedelta(seconds=job.timeout) + LEASE_GRACE)).rowcount
        if not claimed:
            return None
        return job, params, attempt, subject


def _after_failure(job: Task, job_id: str, attempt: int, error: Exception, subject: str | None = None
                   ) -> float | None:
    """Queue the next attempt of a transient failure (returns its delay), or mark the job failed (None)."""
    message = f"{type(error).__name__}: {error}"[:2000]
    with unit_of_work():
        if job.retry.retries(error, attempt):
            delay = job.retry.delay(attempt)
            db.session.execute(update(Job).where(Job.id == job_id).values(
                status=JobStatus.queued, worker=None, lease_until=None, dispatched_at=None, error=message,
                run_after=utcnow() + timedelta(seconds=delay)))
            _pending(db.session).append((job_id, job.queue, delay, job.timeout))
            return delay
        db.session.execute(update(Job).where(Job.id == job_id).values(
            status=JobStatus.failed, finished_at=utcnow(), lease_until=None, error=message,
            message=message.splitlines()[0][:500]))
        _settled(subject)
    return None


def requeue(row: Job) -> None:
    """Run a failed job again from its first attempt (a person asked to, once the cause is fixed); handed over
    after the caller's commit."""
    row.status, row.attempts, row.progress = JobStatus.queued, 0, 0
    row.message = row.error = row.result = row.started_at = row.finished_at = row.run_after = None
    row.worker = row.lease_until = row.dispatched_at = row.dispatch_id = None
    _pending(db.session).append((row.id, row.queue, 0, _timeout_of(row)))


def report_progress(job_id: str, progress: int, message: str | None = None) -> None:
    """Record progress (0-100). On a worker it goes in its own short transaction, so people see it while the
    job runs; inline, the request waits for the job anyway, so it rides along with the job's own commit."""
    values = {"progress": max(0, min(100, int(progress))), "message": message}
    if current_app.config["JOBS_INLINE"]:
        db.session.execute(update(Job).where(Job.id == job_id).values(**values))
        return
    with Session(bind=db.engine) as side:
        side.execute(update(Job).where(Job.id == job_id).values(**values))
        side.commit()


def live_subjects(subjects: list[str]) -> set[str]:
    """Which of these subjects have a job queued or running."""
    if not subjects:
        return set()
    return set(db.session.scalars(select(Job.subject).where(
        Job.subject.in_(subjects), Job.status.in_((JobStatus.queued, JobStatus.running)))))


# --- recovery --------------------------------------------------------------------------------------------------


@task("default", timeout=120)
def sweep_jobs(job_id: str) -> dict:
    """Hand over again every job that was lost: never handed over, dropped by Redis, or left by a dead worker."""
    now = utcnow()
    counts = {"handed_over": 0, "restarted": 0, "failed": 0}
    for row in _undelivered(now):
        _redeliver(row)
        counts["handed_over"] += 1
    for row in _orphaned(now):
        counts["restarted" if _restart(row) else "failed"] += 1
    return counts


def _undelivered(now) -> list[Job]:
    """Queued jobs that are due and were never handed over, or were handed to an rq that no longer has them."""
    due = or_(Job.run_after.is_(None), Job.run_after <= now)
    # Not handed over by then (JOBS_DISPATCH_GRACE seconds), a committed job was lost on the way.
    grace = timedelta(seconds=current_app.config["JOBS_DISPATCH_GRACE"])
    never = Job.dispatched_at.is_(None) & (Job.created_at < now - grace)
    rows = db.session.scalars(select(Job).where(Job.status == JobStatus.queued, due,
                                                or_(never, Job.dispatched_at < now - LOST_AFTER))
                              .order_by(Job.created_at).limit(500)).all()
    return [row for row in rows if row.dispatched_at is None or not _rq_has(row)]


def _rq_has(row: Job) -> bool:
    if current_app.config["JOBS_INLINE"] or not row.dispatch_id:
        return False
    from rq.job import Job as RqJob

    return RqJob.exists(row.dispatch_id, connection=rq_queue(row.queue).connection)


def _redeliver(row: Job) -> None:
    row.dispatched_at = None
    row.dispatch_id = None
    _pending(db.session).append((row.id, row.queue, 0, _timeout_of(row)))


def _timeout_of(row: Job) -> int:
    try:
        return resolve(row.kind).timeout
    except (LookupError, ImportError):
        return 600


def _orphaned(now) -> list[Job]:
    """Running jobs whose worker is gone: a process of this host that no longer lives, or a lease run out."""
    running = select(Job).where(Job.status == JobStatus.running)
    expired = db.session.scalars(running.where(Job.lease_until < now).limit(500)).all()
    here = db.session.scalars(running.where(Job.worker.like(f"{socket.gethostname()}:%"),
                                            or_(Job.lease_until.is_(None), Job.lease_until >= now)).limit(500)).all()
    return list(expired) + [row for row in here if _dead_here(row.worker)]


def _dead_here(worker: str | None) -> bool:
    host, _, pid = (worker or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    return not _process_alive(int(pid))


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child its parent has not reaped yet is a zombie: it runs nothing
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _restart(row: Job) -> bool:
    """Queue a job whose worker died again (it is idempotent), unless it has died too often."""
    if (row.attempts or 0) >= (row.max_attempts or 1) + RESTARTS:
        row.status, row.finished_at = JobStatus.failed, utcnow()
        row.message = "the worker running it stopped too many times"
        db.session.flush()  # a job split into parts counts this one's outcome from the database
        _settled(row.subject)
        return False
    row.status, row.worker, row.lease_until, row.dispatched_at, row.dispatch_id = (
        JobStatus.queued, None, None, None, None)
    row.message = "restarted: the worker running it stopped"
    _pending(db.session).append((row.id, row.queue, 0, _timeout_of(row)))
    return True
