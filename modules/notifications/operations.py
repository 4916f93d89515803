"""queue_sms, the one way modules send an SMS, and delivery reports applied to a notification.

One row per dedupe key, so one event never sends two messages; reports only ever move a message forward.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from modules.notifications import tasks
from modules.registration.models import Application
from webapp import audit, jobs
from webapp.auth.scope import area_clause
from webapp.extensions import db
from webapp.models import Notification, NotificationStatus
from webapp.timeutil import utcnow

MAX_BODY = 1600  # Twilio's limit for one message, however many segments it takes
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")

S = NotificationStatus
# Twilio's statuses before "sent" mean the message is still with Twilio: for us it was already handed over.
PROVIDER_STATUSES: dict[str, NotificationStatus] = {
    "accepted": S.queued, "scheduled": S.queued, "queued": S.queued, "sending": S.sending, "sent": S.sent,
    "delivered": S.delivered, "read": S.delivered, "partially_delivered": S.delivered,
    "undelivered": S.undelivered, "failed": S.failed, "canceled": S.failed,
}
_RANK = {S.queued: 0, S.sending: 1, S.sent: 2, S.delivered: 3, S.undelivered: 3, S.failed: 3}


def queue_sms(dedupe_key: str, to: str, body: str, language: str, template: str,
              application_id: int | None = None) -> Notification:
    """Add a queued SMS and send it after the caller's commit; the existing row if `dedupe_key` was used before.

    Callers pass a key naming the event, e.g. "assessment:42:decision". No commit here: the message goes (or not)
    with the caller's transaction.
    """
    _check(dedupe_key, to, body, language, template)
    existing = _by_key(dedupe_key)
    if existing is not None:
        return existing
    notification = Notification(channel="sms", template=template, language=language, to=to, body=body,
                                status=NotificationStatus.queued, attempts=0, dedupe_key=dedupe_key,
                                application_id=application_id)
    try:
        # A savepoint: when a concurrent caller inserted the same key first, only this insert is undone.
        with db.session.begin_nested():
            db.session.add(notification)
    except IntegrityError:
        winner = _by_key(dedupe_key)
        if winner is None:
            raise  # another constraint (e.g. an unknown application): the caller's error, not a duplicate
        return winner
    audit.record("notification.queued", "notification", notification.id,
                 {"template": template, "language": language, "dedupe_key": dedupe_key,
                  "application_id": application_id})
    jobs.enqueue(tasks.send, subject=tasks.subject_of(notification.id), notification_id=notification.id)
    return notification


def _by_key(dedupe_key: str) -> Notification | None:
    return db.session.scalar(select(Notification).where(Notification.dedupe_key == dedupe_key))


def _check(dedupe_key: str, to: str, body: str, language: str, template: str) -> None:
    """Refuse what could never be sent, before anything is written."""
    if not dedupe_key or len(dedupe_key) > 200:
        raise ValueError("dedupe_key: required, at most 200 characters")
    if not _E164.match(to or ""):
        raise ValueError(f"to: expected an E.164 phone number such as +998901234567, got {to!r}")
    if not body or not body.strip() or len(body) > MAX_BODY:
        raise ValueError(f"body: required, at most {MAX_BODY} characters")
    if not language or len(language) > 8:
        raise ValueError("language: required, a language code such as uz or ru")
    if not template or len(template) > 40:
        raise ValueError("template: required, at most 40 characters")


def apply_provider_status(notification: Notification, provider_status: str, error_code: str | None = None) -> bool:
    """Move the notification to the reported status if that is a step forward; returns whether it changed.

    Reports arrive out of order and may repeat; a final status is never overwritten, and a notification never goes
    back to "queued" (which would make it eligible to be sent again).
    """
    target = PROVIDER_STATUSES.get((provider_status or "").strip().lower())
    current = notification.status
    if target is None or _RANK[target] <= _RANK[current]:  # final statuses share the top rank: they stay
        return False
    notification.status = target
    notification.updated_at = utcnow()
    if target in (S.undelivered, S.failed) and error_code:
        notification.last_error = f"Twilio error {error_code}"
    return True


def by_provider_id(provider_id: str | None) -> Notification | None:
    if not provider_id:
        return None
    return db.session.scalar(select(Notification).where(Notification.provider_id == provider_id))


def visible_notifications(user, status: str | None = None):
    """Every query for the page starts here, so area scoping cannot be forgotten."""
    query = (select(Notification).outerjoin(Application, Application.id == Notification.application_id)
             .where(area_clause(user, Application.area_id))
             .options(selectinload(Notification.application)).order_by(Notification.id.desc()))
    if status:
        query = query.where(Notification.status == NotificationStatus(status))
    return query
