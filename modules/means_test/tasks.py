"""Means-test jobs (rq or inline). They take ids and are idempotent."""

from __future__ import annotations

from modules.means_test import operations
from modules.registration.models import Application
from webapp.extensions import db
from webapp.models import User


def collect(job_id: str, application_id: int, sources: list[str] | None = None, user_id: int | None = None) -> dict:
    application = db.session.get(Application, application_id)
    if application is None:
        return {"skipped": "no such application"}
    user = db.session.get(User, user_id) if user_id else None
    return operations.collect(application, sources, user)


def recertify(job_id: str, as_of: str, user_id: int | None = None) -> dict:
    """The monthly recertification run as a tracked job (progress on the jobs page)."""
    from datetime import date

    from modules.means_test.recertification import recertify as run
    from webapp.jobs import report_progress

    user = db.session.get(User, user_id) if user_id else None
    return run(date.fromisoformat(as_of), progress=lambda done, total: report_progress(
        job_id, 100 * done // max(total, 1), f"{done}/{total}"), actor=user)
