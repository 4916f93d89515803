"""Reporting jobs (run by rq workers or inline). They take ids, never ORM objects."""

from __future__ import annotations

from datetime import date

from modules.reporting import operations
from webapp.jobs import task
from webapp.timeutil import local_today, month_of


@task("default", timeout=3600)
def freeze_previous_month(job_id: str, as_of: str | None = None) -> dict:
    """Freeze the return of the month before `as_of` (today by default), once: a month already frozen is left as
    it is (a new version is asked for with `srsp reports monthly --refresh`)."""
    period = month_of(date.fromisoformat(as_of) if as_of else local_today(), -1)
    existing = operations.latest(period)
    if existing is not None:
        return {"period": period, "version": existing.version, "frozen": False}
    row = operations.freeze(period)
    return {"period": period, "version": row.version, "frozen": True, "reconciled": row.reconciliation["ok"]}
