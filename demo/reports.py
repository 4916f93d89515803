"""A frozen monthly return for the demo `analyst`: once the background work of `srsp demo run` has taken a payroll
through approval, the month's return is frozen as the analyst would from the Reports page, so Reports opens on a
month whose figures are the demo payrolls'.

Only months with a payroll the return counts (approved, sent or reconciled) are frozen: the child-allowance payroll
the demo leaves checked for `finance.checker` to approve counts nowhere until it is approved. A month frozen before
(by an earlier run, the monthly job or a person) is left as it is: a new version is the analyst's choice.
"""

from __future__ import annotations

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import User

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
