"""Due dates in working days (weekends and the public-holiday calendar skipped) and a case's SLA status."""

from __future__ import annotations

from datetime import date, timedelta

from flask import current_app, has_app_context

from webapp.timeutil import add_working_days

ON_TRACK, AT_RISK, BREACHED = "on_track", "at_risk", "breached"


def holidays() -> frozenset[date]:
    return frozenset(current_app.config.get("PUBLIC_HOLIDAYS", ())) if has_app_context() else frozenset()


def due_date(opened_on: date, sla_working_days: int, public_holidays: frozenset[date] | None = None) -> date:
    """The date a case opened on `opened_on` must be resolved by."""
    return add_working_days(opened_on, sla_working_days, holidays() if public_holidays is None else public_holidays)


def working_days_between(start: date, end: date, public_holidays: frozenset[date] | None = None) -> int:
    """Working days after `start` up to and including `end` (0 when end ≤ start)."""
    days = holidays() if public_holidays is None else public_holidays
    count, current = 0, start
    while current < end:
        current += timedelta(days=1)
        if current.weekday() < 5 and current not in days:
            count += 1
    return count


def sla_status(case, today: date, sla_working_days: int | None = None,
               public_holidays: frozenset[date] | None = None) -> str:
    """"breached" when past its due date and still open; "at_risk" with ≤ 1 working day left or less than a quarter
    of its SLA left; else "on_track". A resolved or closed case is on track (its clock stopped)."""
    if not case.is_open:
        return ON_TRACK
    if today > case.due_date:
        return BREACHED
    left = working_days_between(today, case.due_date, public_holidays)
    if left <= 1:
        return AT_RISK
    if sla_working_days is None:
        from modules.grievances.categories import category

        found = category(case.category_code)
        sla_working_days = found.sla_working_days if found else 0
    if sla_working_days and left < 0.25 * sla_working_days:
        return AT_RISK
    return ON_TRACK
