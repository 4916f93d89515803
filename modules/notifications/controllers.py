"""The staff outbox page and Twilio's delivery-status callback. Thin: load, check, call the operation."""

from __future__ import annotations

from flask import abort, current_app, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from twilio.request_validator import RequestValidator

from modules.notifications import operations
from modules.notifications.schemas import NotificationFilterArgs
from webapp import audit
from webapp.auth.permissions import require
from webapp.extensions import db
from webapp.filters import load_filters
from webapp.models import NotificationStatus

STATUS_LABELS = {
    NotificationStatus.queued: _l("Queued"),
    NotificationStatus.sending: _l("Sending"),
    NotificationStatus.sent: _l("Sent"),
    NotificationStatus.delivered: _l("Delivered"),
    NotificationStatus.undelivered: _l("Not delivered"),
    NotificationStatus.failed: _l("Failed"),
}


@require("notification.view")
def notification_list():
    """Messages newest first, filtered by status, limited to the staff member's areas (through the application a
    message belongs to; messages tied to no application are for national staff only)."""
    filters = load_filters(NotificationFilterArgs())
    page = db.paginate(operations.visible_notifications(current_user, filters["status"]), page=filters["page"],
                       per_page=filters["per_page"], error_out=False)
    if page.items:  # the page shows what citizens were told: record who saw which messages
        audit.record("notifications.listed", "notification", page.items[0].id,
                     {"ids": [notification.id for notification in page.items]})
    return render_template("notifications/list.html", page=page, filters=filters, statuses=list(NotificationStatus),
                           status_labels=STATUS_LABELS)


def status_callback():
    """Twilio's report on a message: signed with our auth token over the URL and the form parameters."""
    if not _signed_by_twilio():
        abort(403)
    notification = operations.by_provider_id(request.form.get("MessageSid") or request.form.get("SmsSid"))
    if notification is None:
        abort(404)
    changed = operations.apply_provider_status(
        notification, request.form.get("MessageStatus") or request.form.get("SmsStatus"), request.form.get("ErrorCode"))
    return {"status": notification.status.value, "changed": changed}


def _signed_by_twilio() -> bool:
    token = current_app.config["TWILIO_AUTH_TOKEN"]
    signature = request.headers.get("X-Twilio-Signature")
    if not token or not signature:
        return False
    # Twilio signs the URL it was given (SMS_STATUS_CALLBACK_URL); behind a proxy request.url may differ from it.
    url = current_app.config["SMS_STATUS_CALLBACK_URL"] or request.url
    return RequestValidator(token).validate(url, request.form, signature)
