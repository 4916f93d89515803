"""Case jobs (run by rq workers or inline). They take ids, never ORM objects, and are idempotent."""

from __future__ import annotations

from datetime import date

from modules.grievances import operations
from webapp.jobs import task


@task("default", timeout=600)
def escalate_cases(job_id: str, as_of: str | None = None) -> dict:
    """Escalate, once, every open case past its due date: run twice, it escalates nothing the second time."""
    return {"escalated": operations.escalate_breached(date.fromisoformat(as_of) if as_of else None)}


@task("default", timeout=1800)
def scan_alerts(job_id: str, as_of: str | None = None) -> dict:
    """Raise, once, the alerts of the daily scans (modules/grievances/alert_scans.py): entitlements ending within
    30 days, applications waiting in manual verification. Run twice, it raises nothing the second time."""
    from modules.grievances import alert_scans

    return alert_scans.scan_alerts(date.fromisoformat(as_of) if as_of else None)
