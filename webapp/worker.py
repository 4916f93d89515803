"""`srsp worker`: rq workers on the SRSP queues, with the periodic schedule running beside them."""

from __future__ import annotations

import gc

from flask import Flask

from webapp import jobs
from webapp.schedule import SCHEDULE
from webapp.scheduler import start_in_thread


def run_worker(app: Flask, queues: list[str], burst: bool = False, schedule: bool = True, fork: bool = True) -> None:
    """Work the queues until stopped (or, with `burst`, until they are empty).

    By default each job runs in a fork of this process (rq's work horse), so a job that crashes or leaks takes only
    itself down. Without `fork`, jobs run in this process one after another: the registry connectors built once
    (open connections, key sets, compiled schemas, circuit breakers) serve every job, which is what a collection
    queue wants."""
    from redis import Redis
    from rq import Queue, SimpleWorker, Worker

    from connectors.registry import connectors_for

    jobs.WORKER_APP = app  # the app the jobs run in, in this process or in its forks
    if not fork:
        # Built before the first job, once. Not for forks: the connectors hold connection pools and may start
        # threads, and a fork must never inherit a lock another thread of its parent held.
        connectors_for(app)
    gc.freeze()  # what start-up allocated stays out of the collector's passes in every job
    connection = Redis.from_url(app.config["REDIS_URL"])
    stop = start_schedule(app) if schedule else None
    worker_class = Worker if fork else SimpleWorker
    try:
        # with_scheduler: jobs queued with a delay (retries with backoff) are moved to their queue when due.
        worker_class([Queue(name, connection=connection) for name in queues], connection=connection).work(
            burst=burst, with_scheduler=True)
    finally:
        if stop is not None:
            stop.set()


def start_schedule(app: Flask):
    """The periodic schedule in a thread of this process (a worker, or `make run` where jobs run inline)."""
    return start_in_thread(app, SCHEDULE)
