"""SMS gateways: the interface, a local outbox that sends nothing, and Twilio; `get_gateway` picks one.

Queueing, sending and delivery reports are the notifications module's (modules/notifications).
"""

from __future__ import annotations

from flask import current_app

from connectors.sms.gateway import Gateway, SmsError
from connectors.sms.outbox import OutboxGateway
from connectors.sms.twilio_gateway import TwilioGateway

__all__ = ["Gateway", "OutboxGateway", "SmsError", "TwilioGateway", "get_gateway"]


def get_gateway(config=None) -> Gateway:
    """The backend named by SMS_BACKEND (outbox unless twilio), built from the app's configuration."""
    config = config if config is not None else current_app.config
    if config["SMS_BACKEND"] == "twilio":
        return TwilioGateway.from_config(config)
    return OutboxGateway()
