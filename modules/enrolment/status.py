"""The enrolment status machine: the only place that knows which transitions are legal."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from modules.enrolment.models import BankAccount, BankAccountStatus, Enrolment, EnrolmentStatus
from webapp import audit
from webapp.boundary import Refusal

S = EnrolmentStatus

# Ended is final: a household that comes back is enrolled again from a new decision, as a new row.
TRANSITIONS: dict[EnrolmentStatus, frozenset[EnrolmentStatus]] = {
    S.active: frozenset({S.suspended, S.ended}),
    S.suspended: frozenset({S.active, S.ended}),
    S.ended: frozenset(),
}
# The audit action of each target status.
ACTIONS = {S.suspended: "enrolment.suspended", S.active: "enrolment.resumed", S.ended: "enrolment.ended"}


class IllegalTransition(Refusal):
    def __init__(self, current: EnrolmentStatus, target: EnrolmentStatus):
        # The status words are catalog messages of their own (the pages show them too).
        super().__init__(_l("This enrolment has the status %(status)s; it cannot move to %(target)s.",
                            status=_l(current.value), target=_l(target.value)))
        self.current, self.target = current, target


def can_transition(current: EnrolmentStatus, target: EnrolmentStatus) -> bool:
    return target in TRANSITIONS[current]


def allowed_targets(current: EnrolmentStatus) -> frozenset[EnrolmentStatus]:
    return TRANSITIONS[current]


def transition(enrolment: Enrolment, target: EnrolmentStatus, reason: str | None, actor=None) -> None:
    """Move an enrolment to `target` or raise IllegalTransition; records the reason and the audit event."""
    target = EnrolmentStatus(target)
    current = enrolment.status
    if not can_transition(current, target):
        raise IllegalTransition(current, target)
    enrolment.status = target
    enrolment.status_reason = reason
    audit.record(ACTIONS[target], "enrolment", enrolment.id,
                 {"from": current.value, "to": target.value, "reason": reason}, actor=actor)


A = BankAccountStatus
# The bank opens the account, then issues the card; any account that is not closed can be closed.
ACCOUNT_TRANSITIONS: dict[BankAccountStatus, frozenset[BankAccountStatus]] = {
    A.requested: frozenset({A.opened, A.closed}),
    A.opened: frozenset({A.card_issued, A.closed}),
    A.card_issued: frozenset({A.closed}),
    A.closed: frozenset(),
}


class IllegalAccountTransition(Refusal):
    def __init__(self, current: BankAccountStatus, target: BankAccountStatus):
        super().__init__(_l("This bank account has the status %(status)s; it cannot move to %(target)s.",
                            status=_l(current.value), target=_l(target.value)))
        self.current, self.target = current, target


def account_transition(account: BankAccount, target: BankAccountStatus, actor=None, details: dict | None = None):
    """Move a bank account to `target` or raise IllegalAccountTransition; audited."""
    target = BankAccountStatus(target)
    current = account.status
    if target not in ACCOUNT_TRANSITIONS[current]:
        raise IllegalAccountTransition(current, target)
    account.status = target
    audit.record(f"bank_account.{target.value}", "bank_account", account.id,
                 {"from": current.value, "to": target.value, **(details or {})}, actor=actor)
