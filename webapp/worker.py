"""`srsp worker`: rq workers on the SRSP queues, with the periodic schedule running beside them."""

from __future__ import annotations

from flask import Flask

from webapp import jobs
from webapp.schedule import SCHEDULE
from webapp.scheduler import start_in_thread


def run_worker(app: Flask, queues: list[str], burst: bool = False, schedule: bool = True) -> None:
    """Work the queues until stopped (or, with `burst`, until they are empty)."""
    from redis import Redis
    from rq import Queue, Worker

    jobs.WORKER_APP = app  # rq's work horses are forks of this process: they run jobs in this app
    connection = Redis.from_url(app.config["REDIS_URL"])
    stop = start_schedule(app) if schedule else None
    try:
        # with_scheduler: jobs queued with a delay (retries with backoff) are moved to their queue when due.
        Worker([Queue(name, connection=connection) for name in queues], connection=connection).work(
            burst=burst, with_scheduler=True)
    finally:
        if stop is not None:
            stop.set()


def start_schedule(app: Flask):
    """The periodic schedule in a thread of this process (a worker, or `make run` where jobs run inline)."""
    return start_in_thread(app, SCHEDULE)
