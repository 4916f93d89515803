"""Registered DCI senders, the bearer tokens issued to them, their transactions and their subscriptions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.timeutil import utcnow


class DciClient(db.Model):
    """A system allowed to query the registries: its credentials, keys and policy.

    `signatures`: "required" (every message signed with one of the sender's keys), "optional" (unsigned accepted, a
    present signature must verify) or "none" (not checked: the transport already signs, e.g. X-Road).
    `allowed_fields` lists the record fields the sender may read and filter on; `allowed_query_types` the DCI query
    types it may send. `jwks` is the sender's key set as registered, `jwks_url` where to fetch it instead.
    """

    __tablename__ = "dci_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(255))
    signatures: Mapped[str] = mapped_column(String(10), default="required")
    callback_urls: Mapped[list] = mapped_column(JSON, default=list)
    allowed_query_types: Mapped[list] = mapped_column(JSON, default=list)
    allowed_fields: Mapped[list] = mapped_column(JSON, default=list)
    purpose: Mapped[str | None] = mapped_column(String(500))
    rate_limit: Mapped[str] = mapped_column(String(40), default="60 per minute")
    jwks: Mapped[dict | None] = mapped_column(JSON)
    jwks_url: Mapped[str | None] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def __repr__(self) -> str:
        return f"<DciClient {self.name}>"


class DciToken(db.Model):
    """A bearer token issued by the token endpoint; only its SHA-256 is kept."""

    __tablename__ = "dci_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("dci_client.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    client: Mapped[DciClient] = relationship()


class DciTransaction(db.Model):
    """An async request of a sender and, once answered, the answer (what txn status reports)."""

    __tablename__ = "dci_transaction"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("dci_client.id", ondelete="CASCADE"), index=True)
    registry_type: Mapped[str] = mapped_column(String(10))  # social, ibr
    txn_type: Mapped[str] = mapped_column(String(20))  # search, subscribe
    transaction_id: Mapped[str] = mapped_column(String(99), index=True)
    correlation_id: Mapped[str] = mapped_column(String(99), unique=True)
    status: Mapped[str] = mapped_column(String(4), default="rcvd")  # rcvd, pdng, succ, rjct
    request: Mapped[dict] = mapped_column(JSON)
    response: Mapped[dict | None] = mapped_column(JSON)
    callback_url: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    client: Mapped[DciClient] = relationship()


class DciSubscription(db.Model):
    """A sender's subscription to registry events, notified at `callback_url` until unsubscribed."""

    __tablename__ = "dci_subscription"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(99), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("dci_client.id", ondelete="CASCADE"), index=True)
    event_type: Mapped[str] = mapped_column(String(40), index=True)  # REGISTER, NewHouseHoldMember
    record_type: Mapped[str] = mapped_column(String(80))
    filter: Mapped[dict | list | None] = mapped_column(JSON)
    callback_url: Mapped[str] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    client: Mapped[DciClient] = relationship()
