"""The send job and its safety net. Jobs take ids and are idempotent: however often they run, one message goes out.

The retries of a message are the notification's own (SMS_MAX_ATTEMPTS, SMS_RETRY_BASE_SECONDS, shown on the page
as `next_attempt_at`), so each send job runs once and a retry is a new, postponed job.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select, update

from connectors.sms import SmsError, get_gateway
from webapp import jobs
from webapp.boundary import unit_of_work
from webapp.extensions import db
from webapp.models import Notification, NotificationStatus
from webapp.timeutil import utcnow

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 3600
STUCK_AFTER = timedelta(minutes=5)  # queued and due this long with no live send job: its job was lost


def subject_of(notification_id: int) -> str:
    """What a send job works on, so `resend_stuck_sms` can tell whether a queued message has a live job."""
    return f"notification:{notification_id}"


@jobs.task("notifications", timeout=120)
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
    """queued → sending in one UPDATE, in its own unit of work, committed before the gateway is called.

    The one task that commits part of its work early, on purpose: two runs of the job (a retry, a restarted worker)
    race here and only one UPDATE matches, so the other run sends nothing; and a crash after the gateway took the
    message leaves the row "sending" (visible on the notifications page), never "queued" to be sent again.
    """
    with unit_of_work():
        claimed = db.session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.status == NotificationStatus.queued)
            .values(status=NotificationStatus.sending, attempts=Notification.attempts + 1, updated_at=utcnow(),
                    next_attempt_at=None)
            .execution_options(synchronize_session=False)
        ).rowcount
    return claimed == 1


def _not_sent(notification: Notification, error: SmsError) -> dict:
    """Back to queued with a later retry when the error may pass and attempts remain; failed otherwise."""
    notification.last_error = str(error)[:2000]
    if error.retryable and notification.attempts < current_app.config["SMS_MAX_ATTEMPTS"]:
        delay = backoff_seconds(notification.attempts)
        notification.status = NotificationStatus.queued
        notification.next_attempt_at = utcnow() + timedelta(seconds=delay)
        jobs.enqueue(send, delay=delay, subject=subject_of(notification.id), notification_id=notification.id)
        return {"retry_in": round(delay, 1), "attempts": notification.attempts, "error": notification.last_error}
    notification.status = NotificationStatus.failed
    return {"failed": notification.last_error, "attempts": notification.attempts}


def backoff_seconds(attempts: int) -> float:
    """Exponential from SMS_RETRY_BASE_SECONDS, with jitter so messages held up by one outage do not retry in step."""
    base = current_app.config["SMS_RETRY_BASE_SECONDS"] * 2 ** max(attempts - 1, 0)
    return min(base * random.uniform(1.0, 1.25), MAX_BACKOFF_SECONDS)


@jobs.task("notifications", timeout=300)
def resend_stuck_sms(job_id: str) -> dict:
    """Enqueue the send again for messages left queued, due for a while, with no send job queued or running.

    A message "sending" is never sent again here: the gateway may have taken it before its worker died.
    """
    cutoff = utcnow() - STUCK_AFTER
    stuck = db.session.scalars(
        select(Notification.id).where(Notification.status == NotificationStatus.queued,
                                      func.coalesce(Notification.next_attempt_at, Notification.updated_at) < cutoff)
        .order_by(Notification.id).limit(1000)).all()
    live = jobs.live_subjects([subject_of(notification_id) for notification_id in stuck])
    resent = [notification_id for notification_id in stuck if subject_of(notification_id) not in live]
    for notification_id in resent:
        jobs.enqueue(send, subject=subject_of(notification_id), notification_id=notification_id)
    return {"resent": len(resent), "stuck": len(stuck)}
