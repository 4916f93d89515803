"""Frozen monthly returns for the demo `analyst`: once the background work of `srsp demo run` has written the year
of payment history (demo/history.py) and taken the demo's payrolls through approval, each month's return is frozen
as the analyst would from the Reports page, so Reports opens on months whose figures are those payrolls' own, and
last month's return shows the year's trends.

Only months with a payroll the return counts (approved, sent or reconciled) are frozen: the child-allowance payroll
the demo leaves checked for `finance.checker` to approve counts nowhere until it is approved. A month frozen before
(by an earlier run, the monthly job or a person) is left as it is: a new version is the analyst's choice.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import User
from webapp.timeutil import month_of

ANALYST = "analyst"
EXPORTS = "XLSX, PDF, CSV in uz/ru/en"


def freeze_demo_returns() -> list:
    """Freeze the return of each month with a counted payroll and no return yet, as the demo analyst; returns the
    new returns (none when every such month is frozen already). Flushes; the caller commits."""
    from modules.payments.models import FROZEN, Payroll
    from modules.reporting import operations

    periods = db.session.scalars(select(Payroll.period).where(Payroll.status.in_(FROZEN)).distinct()
                                 .order_by(Payroll.period)).all()
    analyst = db.session.scalar(select(User).where(User.username == ANALYST))
    return [operations.freeze(period, analyst) for period in periods if operations.latest(period) is None]


def banner_line(period: str) -> str:
    return f"  Reports: sign in as {ANALYST}, open Reports — the return of {period} is frozen ({EXPORTS})"


def banner_lines(periods: list[str], today: date | None = None) -> list[str]:
    """What to print for the returns just frozen: one line, naming last month's return when it is one of them."""
    if len(periods) <= 1:
        return [banner_line(period) for period in periods]
    last_month = month_of(today or date.today(), -1)
    latest = last_month if last_month in periods else max(periods)
    return [f"  Reports: sign in as {ANALYST}, open Reports — {len(periods)} monthly returns are frozen "
            f"({min(periods)} … {max(periods)}); {latest} shows the year's trends ({EXPORTS})"]
