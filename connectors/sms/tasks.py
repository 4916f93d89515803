"""The send job (rq or inline). It takes an id and is idempotent: however often it runs, one message goes out."""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from flask import current_app
from sqlalchemy import update

from connectors.sms.gateway import SmsError, get_gateway
from connectors.sms.queueing import QUEUE, SEND_TASK
from webapp import jobs
from webapp.extensions import db
from webapp.models import Notification, NotificationStatus
from webapp.timeutil import utcnow

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 3600


def send(job_id: str, notification_id: int) -> dict:
    """Claim the notification, hand it to the gateway, record the outcome (retry later if it may pass then)."""
    if not _claim(notification_id):
        return {"skipped": "not queued: already sent, being sent, failed or gone"}
    notification = db.session.get(Notification, notification_id, populate_existing=True)
    try:
        provider_id = get_gateway().send(notification.to, notification.body,
                                         status_callback=current_app.config["SMS_STATUS_CALLBACK_URL"])
    except SmsError as error:
        return _not_sent(notification, error)
    except Exception as exc:  # a bug must not leave the row claimed as "sending" with no trace of why
        log.exception("SMS %s: the gateway crashed", notification_id)
        return _not_sent(notification, SmsError(f"{type(exc).__name__}: {exc}", retryable=False))
    notification.status = NotificationStatus.sent
    notification.provider_id = provider_id
    notification.sent_at = utcnow()
    notification.last_error = None
    return {"sent": provider_id, "attempts": notification.attempts}


def _claim(notification_id: int) -> bool:
    """queued → sending in one UPDATE, committed before the gateway is called.

    Two runs of the job (a retry, a restarted worker) race here and only one UPDATE matches: the other run
    changes nothing and sends nothing. Committing first also means that a crash after the gateway took the
    message leaves the row "sending" (visible on the notifications page), never "queued" to be sent again.
    """
    claimed = db.session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.status == NotificationStatus.queued)
        .values(status=NotificationStatus.sending, attempts=Notification.attempts + 1, updated_at=utcnow(),
                next_attempt_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return claimed == 1


def _not_sent(notification: Notification, error: SmsError) -> dict:
    """Back to queued with a later retry when the error may pass and attempts remain; failed otherwise."""
    notification.last_error = str(error)[:2000]
    if error.retryable and notification.attempts < current_app.config["SMS_MAX_ATTEMPTS"]:
        delay = backoff_seconds(notification.attempts)
        notification.status = NotificationStatus.queued
        notification.next_attempt_at = utcnow() + timedelta(seconds=delay)
        jobs.enqueue(SEND_TASK, queue=QUEUE, delay=delay, notification_id=notification.id)
        return {"retry_in": round(delay, 1), "attempts": notification.attempts, "error": notification.last_error}
    notification.status = NotificationStatus.failed
    return {"failed": notification.last_error, "attempts": notification.attempts}


def backoff_seconds(attempts: int) -> float:
    """Exponential from SMS_RETRY_BASE_SECONDS, with jitter so messages held up by one outage do not retry in step."""
    base = current_app.config["SMS_RETRY_BASE_SECONDS"] * 2 ** max(attempts - 1, 0)
    return min(base * random.uniform(1.0, 1.25), MAX_BACKOFF_SECONDS)
