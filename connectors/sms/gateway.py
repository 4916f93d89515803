"""The SMS gateway interface, its typed error, and the choice of backend from configuration."""

from __future__ import annotations

from typing import Protocol

from flask import current_app


class SmsError(Exception):
    """The gateway did not take the message. `retryable`: trying again later may succeed (429, 5xx, no network)."""

    def __init__(self, message: str, *, retryable: bool, code: str | int | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.code = code


class Gateway(Protocol):
    name: str

    def send(self, to: str, body: str, status_callback: str | None = None) -> str:
        """Hand one message to the provider; returns the provider's id for it. Raises SmsError."""
        ...


def get_gateway(config=None) -> Gateway:
    """The backend named by SMS_BACKEND (outbox unless twilio), built from the app's configuration."""
    config = config if config is not None else current_app.config
    if config["SMS_BACKEND"] == "twilio":
        from connectors.sms.twilio_gateway import TwilioGateway

        return TwilioGateway.from_config(config)
    from connectors.sms.outbox import OutboxGateway

    return OutboxGateway()
