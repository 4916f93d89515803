"""The application status machine: the only place that knows which transitions are legal."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from modules.registration.models import Application, ApplicationEvent, ApplicationStatus
from webapp import audit, signals
from webapp.boundary import Refusal

S = ApplicationStatus

# Collection ends in `collected` (every source answered) or `manual_verification` (a source still failed after
# the retry budget); a registrar's retry sends it back to `collecting`. Only a collected application is assessed.
TRANSITIONS: dict[ApplicationStatus, frozenset[ApplicationStatus]] = {
    S.draft: frozenset({S.submitted, S.withdrawn}),
    S.submitted: frozenset({S.collecting, S.withdrawn}),
    S.collecting: frozenset({S.collected, S.manual_verification, S.withdrawn}),
    S.manual_verification: frozenset({S.collecting, S.withdrawn}),
    S.collected: frozenset({S.assessed, S.collecting, S.withdrawn}),
    S.assessed: frozenset({S.decided, S.withdrawn}),
    S.decided: frozenset(),
    S.withdrawn: frozenset(),
}
CLOSED = frozenset(status for status, targets in TRANSITIONS.items() if not targets)


class IllegalTransition(Refusal):
    """The application's status does not allow the change; said with the statuses in words."""

    def __init__(self, current: ApplicationStatus, target: ApplicationStatus):
        super().__init__(_l("An application with the status “%(current)s” cannot become “%(target)s”.",
                            current=status_label(current), target=status_label(target)))
        self.current, self.target = current, target


def status_label(status: ApplicationStatus):
    """A status in the reader's words (lazy); the words themselves are marked for translation in webapp/labels.py."""
    return _l(ApplicationStatus(status).value)


def can_transition(current: ApplicationStatus, target: ApplicationStatus) -> bool:
    return target in TRANSITIONS[current]


def allowed_targets(current: ApplicationStatus) -> frozenset[ApplicationStatus]:
    return TRANSITIONS[current]


def is_open(status: ApplicationStatus) -> bool:
    return status not in CLOSED


def start(application: Application, status: ApplicationStatus, actor=None, note: str | None = None) -> None:
    """Give a new application its first status and its first timeline entry."""
    application.status = status
    application.is_open = is_open(status)
    application.events.append(ApplicationEvent(from_status=None, to_status=status.value, actor_id=_id(actor),
                                               note=note))


def transition(application: Application, target: ApplicationStatus, actor=None, note: str | None = None) -> None:
    """Move an application to `target`, or raise IllegalTransition; records the timeline and the audit event."""
    target = ApplicationStatus(target)
    current = application.status
    if not can_transition(current, target):
        raise IllegalTransition(current, target)
    application.status = target
    application.is_open = is_open(target)
    for member in application.members:
        member.is_open = application.is_open
    application.events.append(ApplicationEvent(from_status=current.value, to_status=target.value,
                                               actor_id=_id(actor), note=note))
    audit.record("application.status_changed", "application", application.id,
                 {"from": current.value, "to": target.value}, actor=actor)
    signals.application_status_changed.send(application, previous=current, actor=actor)


def _id(actor):
    return getattr(actor, "id", None)
