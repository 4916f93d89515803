"""Means-test jobs (rq or inline). They take ids and are idempotent."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from connectors.transport.errors import CircuitOpen, SourceTimeout, SourceUnavailable
from modules.means_test.collection import collect as collect_sources
from modules.means_test.recertification import recertify
from modules.registration.models import Application
from webapp.extensions import db
from webapp.jobs import Retry, report_progress, task
from webapp.models import User
from webapp.timeutil import local_today

# A registry that is down for longer than the collection's own rounds: the whole collection is tried again later.
COLLECTION_RETRY = Retry(attempts=3, backoff=10, transient=(SourceTimeout, SourceUnavailable, CircuitOpen, OSError))


@task("collection", retry=COLLECTION_RETRY, timeout=300)
def collect(job_id: str, application_id: int, sources: list[str] | None = None, user_id: int | None = None,
            probe: bool = False) -> dict:
    # Locked: two runs of the same collection (a restarted job and the one it replaced) take turns, and the
    # second finds the application no longer collecting.
    application = db.session.scalar(select(Application).where(Application.id == application_id).with_for_update())
    if application is None:
        return {"skipped": "no such application"}
    user = db.session.get(User, user_id) if user_id else None
    return collect_sources(application, sources, user, probe=probe)


@task("default", timeout=24 * 3600)
def recertify_households(job_id: str, as_of: str | None = None, user_id: int | None = None) -> dict:
    """The monthly recertification run as a tracked job (progress on the jobs page); as of today by default."""
    user = db.session.get(User, user_id) if user_id else None
    day = date.fromisoformat(as_of) if as_of else local_today()
    return recertify(day, progress=lambda done, total: report_progress(
        job_id, 100 * done // max(total, 1), f"{done}/{total}"), actor=user)
