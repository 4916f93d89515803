"""Reporting jobs (run by rq workers or inline). They take ids, never ORM objects."""

from __future__ import annotations

from datetime import date

from modules.reporting import operations, summary
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


@task("reports", timeout=3600)
def refresh_summaries(job_id: str) -> dict:
    """Rebuild the summary of every month a change marked since the last run."""
    return {"months": summary.refresh_marked()}


@task("reports", timeout=3600)
def rebuild_recent_summaries(job_id: str, months: int = 2) -> dict:
    """Rebuild this month's and last month's summaries whatever was marked: changes no signal announces (a case
    worked, a certificate issued, an enrolment suspended by hand) are in them by the next morning."""
    today = local_today()
    periods = [month_of(today, -shift) for shift in range(months - 1, -1, -1)]
    for period in periods:
        summary.refresh(period)
    return {"months": periods}
