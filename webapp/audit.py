"""Writing and verifying the hash-chained audit trail.

Each row's hash covers its own content and the previous row's hash, so altering or removing any row
breaks every hash after it; `verify_chain` names the first row where that happens.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import has_request_context
from flask_login import current_user
from sqlalchemy import select, text

from webapp.extensions import db
from webapp.models.audit import GENESIS_HASH, AuditEvent
from webapp.timeutil import utcnow

# Any constant works; it names the PostgreSQL advisory lock that serialises appends to the chain.
_AUDIT_LOCK_KEY = 0x5352_5350


def _canonical_time(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")


def content_hash(event) -> str:
    """SHA-256 over the canonical JSON of an event (an AuditEvent or a plain row with the same fields)."""
    payload = json.dumps(
        {
            "id": event.id,
            "occurred_at": _canonical_time(event.occurred_at),
            "actor_id": event.actor_id,
            "actor_name": event.actor_name,
            "action": event.action,
            "object_type": event.object_type,
            "object_id": str(event.object_id),
            "details": event.details or {},
            "prev_hash": event.prev_hash,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _current_actor(actor):
    if actor is not None:
        return actor
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user
    return None


def record(action: str, obj_type: str, obj_id, details: dict | None = None, actor=None) -> AuditEvent:
    """Append one event to the chain inside the caller's transaction (no commit)."""
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _AUDIT_LOCK_KEY})
    last = session.execute(select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()
    actor = _current_actor(actor)
    event = AuditEvent(
        id=(last.id + 1) if last else 1,
        occurred_at=utcnow(),
        actor_id=actor.id if actor else None,
        actor_name=actor.username if actor else "system",
        action=action,
        object_type=obj_type,
        object_id=str(obj_id),
        details=details or {},
        prev_hash=last.hash if last else GENESIS_HASH,
    )
    event.hash = content_hash(event)
    session.add(event)
    session.flush()
    return event


@dataclass
class ChainReport:
    ok: bool
    rows: int
    problem: str | None = None
    row_id: int | None = None
    kind: str | None = None  # "removed", "unlinked" or "altered": lets a page say the problem in the reader's language


def verify_chain(batch_size: int = 5000) -> ChainReport:
    """Walk the chain in id order and report the first row that was altered or removed."""
    expected_prev, expected_id, rows = GENESIS_HASH, 1, 0
    last_id = 0
    while True:
        # Plain rows, not ORM objects: nothing is cached, so what is checked is what the database holds now.
        table = AuditEvent.__table__
        batch = db.session.execute(
            select(table).where(table.c.id > last_id).order_by(table.c.id).limit(batch_size)
        ).all()
        if not batch:
            return ChainReport(ok=True, rows=rows)
        for event in batch:
            if event.id != expected_id:
                return ChainReport(False, rows, f"row {expected_id} was removed (next row is {event.id})", expected_id,
                                   "removed")
            if event.prev_hash != expected_prev:
                return ChainReport(False, rows, f"row {event.id}: previous-hash link broken", event.id, "unlinked")
            if content_hash(event) != event.hash:
                return ChainReport(False, rows, f"row {event.id} was altered (its content no longer matches its hash)",
                                   event.id, "altered")
            expected_prev, expected_id, rows = event.hash, event.id + 1, rows + 1
        last_id = batch[-1].id
