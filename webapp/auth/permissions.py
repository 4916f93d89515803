"""Roles → permissions, in one table; every check in the code names a permission, never a role."""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user

from webapp.models import Role

R = Role
_CASEWORK = {R.registrar, R.mahalla_worker, R.social_worker}

PERMISSIONS: dict[str, frozenset[Role]] = {
    "application.view": frozenset(_CASEWORK | {R.admin, R.auditor}),
    "application.create": frozenset({R.registrar, R.mahalla_worker}),
    "application.change": frozenset({R.registrar, R.mahalla_worker}),
    "application.export": frozenset(_CASEWORK | {R.admin, R.auditor}),
    # Records of a source that did not answer, typed in from a document; a second person confirms them.
    "manual_record.enter": frozenset({R.registrar, R.mahalla_worker}),
    "manual_record.confirm": frozenset({R.registrar, R.social_worker}),
    "enrolment.change": frozenset({R.social_worker, R.admin}),
    "job.view_all": frozenset({R.admin}),
    "means_test.evaluate": frozenset(_CASEWORK | {R.admin, R.auditor, R.analyst}),
    "policy.simulate": frozenset({R.analyst, R.admin}),
    "report.view": frozenset({R.analyst, R.admin, R.auditor}),
    "report.freeze": frozenset({R.analyst, R.admin}),
    "audit.view": frozenset({R.admin, R.auditor}),
    "notification.view": frozenset(_CASEWORK | {R.admin, R.auditor}),
    "user.manage": frozenset({R.admin}),
    "payroll.view": frozenset({R.finance_maker, R.finance_checker, R.admin, R.auditor}),
    "payroll.prepare": frozenset({R.finance_maker}),
    "payroll.approve": frozenset({R.finance_checker}),
    "account.authenticator": frozenset({R.finance_maker, R.finance_checker}),
    "statement.view": frozenset({R.finance_maker, R.finance_checker, R.admin, R.auditor}),
    "statement.import": frozenset({R.finance_maker, R.finance_checker}),
    # Cases (enquiries, updates, alerts, grievances, appeals). Supervising also needs national scope for a social
    # worker (modules.grievances.operations.can_supervise).
    "case.view": frozenset(_CASEWORK | {R.admin, R.auditor}),
    "case.open": frozenset(_CASEWORK),
    "case.manage": frozenset({R.mahalla_worker, R.social_worker}),
    "case.supervise": frozenset({R.admin, R.social_worker}),
}


def has_permission(user, permission: str) -> bool:
    return bool(user and user.is_authenticated and user.role in PERMISSIONS[permission])


def check_api_permission(permission: str) -> None:
    """For API views: 401 without a signed-in user or token, 403 when the role does not grant `permission`."""
    if not current_user.is_authenticated:
        abort(401)
    if not has_permission(current_user, permission):
        abort(403)


def require(permission: str):
    """View decorator: 403 unless the signed-in user's role grants `permission`."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                from webapp.extensions import login_manager

                return login_manager.unauthorized()
            if not has_permission(current_user, permission):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
