"""URL map of the notifications module: the staff outbox page and Twilio's status callback.

The callback is called by Twilio, never by a browser: the app exempts `callback_bp` from CSRF; the
X-Twilio-Signature header is what authenticates it.
"""

from flask import Blueprint

from modules.notifications import controllers

bp = Blueprint("notifications", __name__, template_folder="templates")
bp.add_url_rule("/notifications", "notification_list", controllers.notification_list)

callback_bp = Blueprint("sms_callbacks", __name__, url_prefix="/api/v1/sms")
callback_bp.add_url_rule("/status", "status_callback", controllers.status_callback, methods=["POST"])
