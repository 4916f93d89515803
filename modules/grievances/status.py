"""The case status machine: the only place that knows which transitions are legal."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from modules.grievances.models import OPEN_STATUSES, CaseStatus
from webapp.boundary import Refusal

S = CaseStatus

# Escalation is not a status: any open case may be escalated (escalated_at/escalated_to), its status stays.
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    S.new: frozenset({S.assigned, S.in_progress, S.resolved}),
    S.assigned: frozenset({S.in_progress, S.waiting_citizen, S.waiting_other, S.resolved}),
    S.in_progress: frozenset({S.waiting_citizen, S.waiting_other, S.resolved}),
    S.waiting_citizen: frozenset({S.in_progress, S.resolved}),
    S.waiting_other: frozenset({S.in_progress, S.resolved}),
    S.resolved: frozenset({S.closed, S.in_progress}),
    S.closed: frozenset({S.in_progress}),
}
# Moving to resolved needs a decision and a resolution summary.
NEEDS_DECISION = frozenset({S.resolved})

LABELS = {
    S.new: _l("New"),
    S.assigned: _l("Assigned"),
    S.in_progress: _l("In progress"),
    S.waiting_citizen: _l("Waiting for the citizen"),
    S.waiting_other: _l("Waiting for another body"),
    S.resolved: _l("Resolved"),
    S.closed: _l("Closed"),
}


def status_label(status: CaseStatus):
    return LABELS[CaseStatus(status)]


class IllegalCaseTransition(Refusal):
    """The case's status does not allow the change; said with the statuses in words."""

    def __init__(self, current: CaseStatus, target: CaseStatus):
        super().__init__(_l("A case with the status “%(current)s” cannot become “%(target)s”.",
                            current=status_label(current), target=status_label(target)))
        self.current, self.target = current, target


class DecisionRequired(Refusal):
    """Resolving a case needs a decision and a summary of the resolution."""

    def __init__(self, missing_decision: bool, missing_resolution: bool):
        errors = {}
        if missing_decision:
            errors["decision"] = _l("Choose the decision.")
        if missing_resolution:
            errors["resolution"] = _l("Write what was done and decided.")
        super().__init__(_l("A case is resolved with a decision and a summary of the resolution."), errors=errors)


class CaseNotOpen(Refusal):
    def __init__(self):
        super().__init__(_l("This case is already resolved or closed."))


def can_transition(current: CaseStatus, target: CaseStatus) -> bool:
    return CaseStatus(target) in TRANSITIONS[CaseStatus(current)]


def allowed_targets(current: CaseStatus) -> frozenset[CaseStatus]:
    return TRANSITIONS[CaseStatus(current)]


def is_open(status: CaseStatus) -> bool:
    return CaseStatus(status) in OPEN_STATUSES


def check(current: CaseStatus, target: CaseStatus, decision=None, resolution: str | None = None) -> None:
    """Raise the refusal for moving from `current` to `target`, or return when it is allowed."""
    if not can_transition(current, target):
        raise IllegalCaseTransition(CaseStatus(current), CaseStatus(target))
    if CaseStatus(target) in NEEDS_DECISION and (decision is None or not (resolution or "").strip()):
        raise DecisionRequired(decision is None, not (resolution or "").strip())


def can_escalate(status: CaseStatus) -> bool:
    return is_open(status)
