"""Monthly reports, dashboards, ad hoc reports, exports.

Reacts to the changes that move the month's figures (webapp/signals.py): a decision, a payroll changing status, a
bank statement settling lines each leave a mark on the months they change, inside the sender's transaction; the
periodic `refresh_summaries` job rebuilds the marked months' summary (modules/reporting/summary.py).
"""

from webapp import signals


@signals.application_decided.connect
def _mark_decided_months(application, assessment=None, actor=None, **_extra):
    from modules.reporting import summary
    from webapp.timeutil import month_of

    # An appeal is decided as of the original day: its enrolments, and so the figures, can start months back.
    as_of = getattr(assessment, "as_of", None) or getattr(application, "as_of", None)
    summary.mark(month_of(as_of) if as_of else summary.current_month())


@signals.payroll_status_changed.connect
def _mark_payroll_month(payroll, previous=None, actor=None, **_extra):
    from modules.reporting import summary

    summary.mark(payroll.period, payroll.period)


@signals.payment_lines_settled.connect
def _mark_settled_months(_sender, payroll_ids=(), actor=None, **_extra):
    from sqlalchemy import select

    from modules.payments.models import Payroll
    from modules.reporting import summary
    from webapp.extensions import db

    for period in db.session.scalars(select(Payroll.period).where(Payroll.id.in_(payroll_ids)).distinct()):
        summary.mark(period, period)
