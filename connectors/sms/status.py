"""Delivery reports: Twilio's MessageStatus values applied to a notification, only ever forward."""

from __future__ import annotations

from webapp.models import Notification, NotificationStatus
from webapp.timeutil import utcnow

S = NotificationStatus
# Twilio's statuses before "sent" mean the message is still with Twilio: for us it was already handed over.
PROVIDER_STATUSES: dict[str, NotificationStatus] = {
    "accepted": S.queued, "scheduled": S.queued, "queued": S.queued, "sending": S.sending, "sent": S.sent,
    "delivered": S.delivered, "read": S.delivered, "partially_delivered": S.delivered,
    "undelivered": S.undelivered, "failed": S.failed, "canceled": S.failed,
}
_RANK = {S.queued: 0, S.sending: 1, S.sent: 2, S.delivered: 3, S.undelivered: 3, S.failed: 3}


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
