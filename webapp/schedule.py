"""Every periodic job and when it runs, in one place. `srsp worker` runs it beside the workers and `make run` in a
thread (webapp/scheduler.py); SRSP_SCHEDULE changes a period or turns an entry off."""

from flask_babel import lazy_gettext as _l

from modules.enrolment.tasks import sync_bank_accounts
from modules.grievances.tasks import escalate_cases, scan_alerts
from modules.means_test.recovery import resume_stranded_applications
from modules.means_test.tasks import recertify_households
from modules.notifications.tasks import resend_stuck_sms
from modules.reporting.tasks import freeze_previous_month, rebuild_recent_summaries, refresh_summaries
from webapp.audit_checkpoints import checkpoint_audit
from webapp.jobs import sweep_jobs
from webapp.scheduler import Daily, Every, Monthly, Periodic

SCHEDULE = (
    # Safety nets: work whose job was lost is handed over again, collections that lost theirs restart.
    Periodic("sweep-jobs", sweep_jobs, Every(seconds=30)),
    Periodic("resume-collections", resume_stranded_applications, Every(seconds=60)),
    Periodic("resend-sms", resend_stuck_sms, Every(seconds=300)),
    # The audit chain's head, signed, outside the database: deleting its newest rows shows after this long at most.
    Periodic("audit-checkpoint", checkpoint_audit, Every(seconds=300)),
    # Households whose entitlement period ends are re-assessed on the 1st of each month.
    Periodic("recertification", recertify_households, Monthly(day=1, hour=2), title=_l("Monthly recertification")),
    # The previous month's return is computed and frozen once, on the 1st (a new version only on request).
    Periodic("monthly-return", freeze_previous_month, Monthly(day=1, hour=4), title=_l("Monthly return")),
    # The reports' summary: the months decisions, payrolls and bank statements changed, within a minute; this
    # month and the last whatever changed, every night.
    Periodic("report-summaries", refresh_summaries, Every(seconds=60)),
    Periodic("report-summaries-nightly", rebuild_recent_summaries, Daily(hour=3)),
    # Accounts the bank is still opening: follow them to opened and card issued.
    Periodic("bank-accounts", sync_bank_accounts, Every(seconds=1800)),
    # Open cases past their due date go to a supervisor, once per case.
    Periodic("escalate-cases", escalate_cases, Every(seconds=3600)),
    # Alerts no event raises: entitlements ending within 30 days, applications stuck in manual verification.
    Periodic("alert-scans", scan_alerts, Daily(hour=6), title=_l("Daily alert scans")),
)
