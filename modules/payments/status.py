"""The payroll status machine: the only place that moves a payroll from one status to another.

Every move is one conditional UPDATE (`… WHERE id = :id AND status = :current`) and its rowcount is checked, so
two people approving, sending or cancelling the same payroll at once cannot both succeed: the second finds the
status already changed and gets `PayrollConflict`. Every move is audited. Nothing here commits.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from sqlalchemy import delete, update

from modules.payments import payees
from modules.payments.models import FundRequestStatus, Payroll, PayrollLine, PayrollStatus, live_fund_request
from webapp import audit, signals
from webapp.auth import totp
from webapp.auth.permissions import has_permission
from webapp.boundary import Refusal
from webapp.extensions import db
from webapp.timeutil import utcnow

S = PayrollStatus

# The database enforces the same moves (migration 0016 copies them; a test compares).
TRANSITIONS: dict[PayrollStatus, frozenset[PayrollStatus]] = {
    S.draft: frozenset({S.checked, S.cancelled}),
    S.checked: frozenset({S.approved, S.cancelled}),
    S.approved: frozenset({S.sent, S.cancelled}),
    S.sent: frozenset({S.reconciled}),
    S.reconciled: frozenset(),
    S.cancelled: frozenset(),
}
# The timestamp column each target status sets.
STAMPS = {S.checked: "checked_at", S.approved: "approved_at", S.sent: "sent_at", S.reconciled: "reconciled_at",
          S.cancelled: "cancelled_at"}


class PayrollError(Refusal):
    """A payroll request that cannot be carried out as it stands; nothing was changed."""


class IllegalTransition(PayrollError):
    def __init__(self, current: PayrollStatus, target: PayrollStatus):
        # The status words are catalog messages of their own (the pages show them too).
        super().__init__(_l("Nothing changed: a payroll with the status %(current)s cannot move to %(target)s.",
                            current=_l(current.value), target=_l(target.value)))
        self.current, self.target = current, target


class PayrollConflict(PayrollError):
    """Someone else changed the payroll's status first (e.g. two checkers approving at once)."""

    status = 409


def can_transition(current: PayrollStatus, target: PayrollStatus) -> bool:
    return target in TRANSITIONS[current]


def transition(payroll: Payroll, target: PayrollStatus, actor=None, details: dict | None = None,
               **values) -> Payroll:
    """Move `payroll` to `target` (setting `values` too) or raise IllegalTransition / PayrollConflict."""
    target = PayrollStatus(target)
    current = payroll.status
    if not can_transition(current, target):
        raise IllegalTransition(current, target)
    if target is S.sent and not funds_confirmed(payroll.id):  # a payroll is never sent unfunded
        raise PayrollError(_l("The treasury has not confirmed the funds for this payroll: request them first."))
    db.session.flush()
    values = {"status": target, STAMPS[target]: utcnow(), **values}
    result = db.session.execute(
        update(Payroll).where(Payroll.id == payroll.id, Payroll.status == current).values(**values)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.expire(payroll)
        raise PayrollConflict(_l("Nothing changed: payroll %(id)d was changed by someone else (its status is no "
                                 "longer %(status)s).", id=payroll.id, status=_l(current.value)))
    db.session.expire(payroll)  # reload what the UPDATE wrote
    audit.record(f"payroll.{target.value}", "payroll", payroll.id,
                 {"from": current.value, "to": target.value, **(details or {})}, actor=actor)
    signals.payroll_status_changed.send(payroll, previous=current, actor=actor)
    return payroll


def approval_refusal(payroll: Payroll, checker) -> PayrollError | None:
    """Why `checker` may not approve `payroll` now, or None. The one maker-checker rule: a finance checker who did
    not prepare the payroll, with an authenticator set up, approves a checked payroll. The payroll page shows this
    reason; `approve` raises it."""
    if not has_permission(checker, "payroll.approve"):
        return PayrollError(_l("Only a finance checker can approve a payroll."))
    if payroll.prepared_by_id is not None and checker.id == payroll.prepared_by_id:
        return PayrollError(_l("You prepared this payroll, so another finance checker must approve it."))
    if not can_transition(payroll.status, S.approved):
        return IllegalTransition(payroll.status, S.approved)
    if payroll.line_count == 0:
        return PayrollError(_l("This payroll has no line to pay: cancel it."))
    if not checker.totp_secret:
        return PayrollError(_l("Set up your authenticator before approving payrolls."))
    return None


class WrongCode(PayrollError):
    """A wrong or replayed authenticator code: refused, and the audit event of the refusal is kept."""

    keep = True


def approve(payroll: Payroll, checker, totp_code: str) -> Payroll:
    """Approval under `approval_refusal`'s rule, confirmed with the checker's authenticator code."""
    refusal = approval_refusal(payroll, checker)
    if refusal is not None:
        raise refusal
    if not totp.verify(checker, totp_code):
        audit.record("payroll.approval_refused", "payroll", payroll.id, {"reason": "totp"}, actor=checker)
        raise WrongCode(_l("The authenticator code is wrong or was already used."))
    with db.session.begin_nested():  # the snapshot taken here is kept only if the approval goes through
        unpaid = payees.refresh(payroll.id)
        if unpaid:
            raise PayrollError(lazy_ngettext(
                "%(num)d beneficiary to pay no longer has an open bank account: cancel the payroll and prepare the "
                "month again.",
                "%(num)d beneficiaries to pay no longer have an open bank account: cancel the payroll and prepare "
                "the month again.", unpaid))
        return transition(payroll, S.approved, checker,
                          {"lines": payroll.line_count, "total": str(payroll.total_amount)}, approved_by_id=checker.id)


def funds_confirmed(payroll_id: int) -> bool:
    """The treasury confirmed a live fund request covering the payroll."""
    request = live_fund_request(payroll_id)
    return request is not None and request.status is FundRequestStatus.confirmed


def mark_sent(payroll: Payroll, actor=None, details: dict | None = None) -> Payroll:
    return transition(payroll, S.sent, actor, details)


def mark_reconciled(payroll: Payroll, actor=None, details: dict | None = None) -> Payroll:
    return transition(payroll, S.reconciled, actor, details)


def cancel(payroll: Payroll, reason: str, actor=None) -> Payroll:
    """Cancel a draft, checked or approved payroll and delete its lines, so the month can be paid by a new one."""
    reason = (reason or "").strip()
    if not reason:
        raise PayrollError(_l("A reason is required."))
    counts = {"lines": payroll.line_count, "total": str(payroll.total_amount), "reason": reason}
    transition(payroll, S.cancelled, actor, counts)
    # After the status change: the triggers refuse deleting lines of an approved payroll, not of a cancelled one.
    db.session.execute(delete(PayrollLine).where(PayrollLine.payroll_id == payroll.id)
                       .execution_options(synchronize_session=False))
    db.session.expire_all()
    return payroll

