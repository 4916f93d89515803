"""queue_sms: the one way modules send an SMS. One row per dedupe key, so one event never sends two messages."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp import audit, jobs
from webapp.extensions import db
from webapp.models import Notification, NotificationStatus

SEND_TASK = "connectors.sms.tasks:send"
QUEUE = "notifications"
MAX_BODY = 1600  # Twilio's limit for one message, however many segments it takes
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


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
    jobs.enqueue(SEND_TASK, queue=QUEUE, notification_id=notification.id)
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
