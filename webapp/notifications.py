"""SMS notices: the staff outbox page and Twilio's delivery-status callback.

- `GET /notifications` (`bp`): messages newest first, filtered by status, limited to the staff member's areas
  (through the application a message belongs to; messages tied to no application are for national staff only).
- `POST /api/v1/sms/status` (`callback_bp`): Twilio's status callback. It is called by Twilio, never by a browser,
  so the app exempts `callback_bp` from CSRF; the X-Twilio-Signature header is what authenticates it.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from marshmallow import fields, validate
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from twilio.request_validator import RequestValidator

from connectors.sms.status import apply_provider_status
from modules.registration.models import Application
from webapp import audit
from webapp.auth.permissions import require
from webapp.auth.scope import area_clause
from webapp.extensions import db
from webapp.filters import PageArgs, load_filters
from webapp.models import Notification, NotificationStatus

bp = Blueprint("notifications", __name__)
callback_bp = Blueprint("sms_callbacks", __name__, url_prefix="/api/v1/sms")

STATUS_LABELS = {
    NotificationStatus.queued: _l("Queued"),
    NotificationStatus.sending: _l("Sending"),
    NotificationStatus.sent: _l("Sent"),
    NotificationStatus.delivered: _l("Delivered"),
    NotificationStatus.undelivered: _l("Not delivered"),
    NotificationStatus.failed: _l("Failed"),
}


class NotificationFilterArgs(PageArgs):
    status = fields.String(validate=validate.OneOf([s.value for s in NotificationStatus]), load_default=None)
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


def visible_notifications(user, status: str | None = None):
    """Every query for the page starts here, so area scoping cannot be forgotten."""
    query = (select(Notification).outerjoin(Application, Application.id == Notification.application_id)
             .where(area_clause(user, Application.area_id))
             .options(selectinload(Notification.application)).order_by(Notification.id.desc()))
    if status:
        query = query.where(Notification.status == NotificationStatus(status))
    return query


@bp.get("/notifications")
@require("notification.view")
def notification_list():
    filters = load_filters(NotificationFilterArgs())
    page = db.paginate(visible_notifications(current_user, filters["status"]), page=filters["page"],
                       per_page=filters["per_page"], error_out=False)
    if page.items:  # the page shows what citizens were told: record who saw which messages (DESIGN §8)
        audit.record("notifications.listed", "notification", page.items[0].id,
                     {"ids": [notification.id for notification in page.items]})
    db.session.commit()
    return render_template("notifications/list.html", page=page, filters=filters, statuses=list(NotificationStatus),
                           status_labels=STATUS_LABELS)


@callback_bp.post("/status")
def status_callback():
    """Twilio's report on a message: signed with our auth token over the URL and the form parameters."""
    if not _signed_by_twilio():
        abort(403)
    sid = request.form.get("MessageSid") or request.form.get("SmsSid")
    notification = db.session.scalar(select(Notification).where(Notification.provider_id == sid)) if sid else None
    if notification is None:
        abort(404)
    changed = apply_provider_status(notification, request.form.get("MessageStatus") or request.form.get("SmsStatus"),
                                    request.form.get("ErrorCode"))
    db.session.commit()
    return {"status": notification.status.value, "changed": changed}


def _signed_by_twilio() -> bool:
    token = current_app.config["TWILIO_AUTH_TOKEN"]
    signature = request.headers.get("X-Twilio-Signature")
    if not token or not signature:
        return False
    # Twilio signs the URL it was given (SMS_STATUS_CALLBACK_URL); behind a proxy request.url may differ from it.
    url = current_app.config["SMS_STATUS_CALLBACK_URL"] or request.url
    return RequestValidator(token).validate(url, request.form, signature)
