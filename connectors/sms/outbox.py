"""The default gateway: nothing leaves the machine; the notification table is the outbox staff can read."""

from __future__ import annotations

import uuid


class OutboxGateway:
    name = "outbox"

    def send(self, to: str, body: str, status_callback: str | None = None) -> str:  # noqa: ARG002 - the interface
        """Accept every message: it stays readable on the notifications page, marked sent under its own id."""
        return f"OUTBOX-{uuid.uuid4().hex[:20].upper()}"
