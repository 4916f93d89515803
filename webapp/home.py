"""Each role's first page after signing in."""

from __future__ import annotations

from flask import url_for

from webapp.auth.permissions import has_permission

# Each role's first page: the first of these its permissions open (a finance officer lands on the payrolls, not
# on a list of applications it may not see).
HOMES = (("application.view", "registration.application_list"), ("payroll.view", "payments.payroll_list"),
         ("policy.simulate", "means_test.policy_simulate"), ("audit.view", "admin.audit_list"))


def home_url(user) -> str:
    for permission, endpoint in HOMES:
        if has_permission(user, permission):
            return url_for(endpoint)
    return url_for("core.job_list")
