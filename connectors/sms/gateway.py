"""The SMS gateway interface and its typed error."""

from __future__ import annotations

from typing import Protocol


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
