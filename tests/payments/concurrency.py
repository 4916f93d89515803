"""Two (or more) people doing the same thing to a payroll at the same moment, each in their own session."""

from __future__ import annotations

import threading

from modules.payments.status import PayrollError
from webapp.extensions import db


def race(app, work, keys, timeout: float = 30) -> dict:
    """Run `work(key, ready)` for each key in its own thread and app context; `ready()` holds each thread until all
    have loaded what they need, so the changes meet in the database. Each thread commits its work or rolls it back;
    returns {key: what work returned, or the name of the PayrollError it raised}."""
    barrier, results = threading.Barrier(len(keys)), {}

    def run(key):
        with app.app_context():
            try:
                results[key] = work(key, barrier.wait)
                db.session.commit()
            except PayrollError as error:
                db.session.rollback()
                results[key] = type(error).__name__
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return results
