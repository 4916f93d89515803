"""keyed audit chain

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 09:00:00

Until now each audit row's hash was a plain SHA-256, so anyone able to write the table could edit a row and
recompute every later hash. From now on it is an HMAC-SHA256 under AUDIT_KEY (from the environment, never in the
database). The rows already written are re-chained here under that key, rather than kept verifiable by the old
scheme beside a "scheme" column: a column saying "plain SHA-256" would let the same person mark rows as old-style and
forge them again, so no unkeyed row may remain.

Re-chaining rewrites hashes, so it is done honestly:
- the old chain is verified first, and the upgrade stops if it is already broken (a tampered trail is never
  laundered into a valid keyed one). SRSP_AUDIT_ACCEPT_BROKEN=1 lets it go on after a person has looked at
  it; the break is then written into the trail itself;
- only the hash columns change, never what a row says;
- one keyed event, audit.rechained, closes the re-chained part: it records how many rows were re-chained and the
  old chain's last hash, so a backup taken before the upgrade can still be matched against the trail.
The downgrade re-chains with plain SHA-256 again (the audit.rechained row stays: it happened).

Also: TRUNCATE is refused by a trigger on PostgreSQL, as UPDATE and DELETE already were (row triggers never saw it).
"""
import hashlib
import hmac
import json
import os
from datetime import UTC, datetime
from types import SimpleNamespace

import sqlalchemy as sa
from alembic import op
from flask import current_app

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

GENESIS_HASH = "0" * 64
_BATCH = 5000
_events = sa.table(
    "audit_event", sa.column("id", sa.Integer), sa.column("occurred_at", sa.DateTime(timezone=True)),
    sa.column("actor_id", sa.Integer), sa.column("actor_name", sa.String), sa.column("action", sa.String),
    sa.column("object_type", sa.String), sa.column("object_id", sa.String), sa.column("details", sa.JSON),
    sa.column("prev_hash", sa.String), sa.column("hash", sa.String))
# The payload as webapp.audit hashed it when this migration was written (frozen here, as migrations must be).


def _payload(row, prev_hash: str) -> bytes:
    moment = row.occurred_at
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return json.dumps({"id": row.id, "occurred_at": moment.isoformat(timespec="microseconds"),
                       "actor_id": row.actor_id, "actor_name": row.actor_name, "action": row.action,
                       "object_type": row.object_type, "object_id": str(row.object_id), "details": row.details or {},
                       "prev_hash": prev_hash}, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _plain(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def _keyed(payload: bytes) -> str:
    return hmac.new(current_app.config["AUDIT_KEY"].encode(), payload, hashlib.sha256).hexdigest()


def _rows(bind):
    last_id = 0
    while True:
        batch = bind.execute(sa.select(_events).where(_events.c.id > last_id).order_by(_events.c.id)
                             .limit(_BATCH)).all()
        if not batch:
            return
        yield from batch
        last_id = batch[-1].id


def _check(bind, digest) -> tuple[int, str, str | None]:
    """(rows, last hash, first problem or None) of the chain as it is, under `digest`."""
    expected_prev, expected_id, rows = GENESIS_HASH, 1, 0
    for row in _rows(bind):
        if row.id != expected_id:
            return rows, expected_prev, f"row {expected_id} was removed"
        if row.prev_hash != expected_prev:
            return rows, expected_prev, f"row {row.id} does not link to the row before it"
        if digest(_payload(row, row.prev_hash)) != row.hash:
            return rows, expected_prev, f"row {row.id} was altered"
        expected_prev, expected_id, rows = row.hash, row.id + 1, rows + 1
    return rows, expected_prev, None


def _rechain(bind, digest) -> str:
    """Recompute every row's links and hashes with `digest`; returns the new last hash."""
    prev = GENESIS_HASH
    for row in list(_rows(bind)):
        new = digest(_payload(row, prev))
        bind.execute(sa.update(_events).where(_events.c.id == row.id).values(prev_hash=prev, hash=new))
        prev = new
    return prev


def _unguarded(bind, work):
    """Run `work` with the append-only triggers off (this migration is the one writer allowed to rewrite)."""
    if bind.dialect.name == "postgresql":
        bind.execute(sa.text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"))
        try:
            return work()
        finally:
            bind.execute(sa.text("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only"))
    bind.execute(sa.text("DROP TRIGGER IF EXISTS audit_event_no_update"))
    try:
        return work()
    finally:
        bind.execute(sa.text("CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
                             "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END"))


def _close(bind, action: str, details: dict, prev_hash: str, digest) -> None:
    last_id = bind.execute(sa.select(sa.func.max(_events.c.id))).scalar() or 0
    row = dict(id=last_id + 1, occurred_at=datetime.now(UTC), actor_id=None, actor_name="system", action=action,
               object_type="audit", object_id="chain", details=details, prev_hash=prev_hash)
    row["hash"] = digest(_payload(SimpleNamespace(**row), prev_hash))
    bind.execute(sa.insert(_events).values(**row))


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
                   "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()")
    rekey(bind)


def rekey(bind) -> dict | None:
    """Re-chain the existing rows under AUDIT_KEY and close them with audit.rechained (its details returned)."""
    rows, legacy_head, problem = _check(bind, _plain)
    if rows == 0 and problem is None:
        return None  # a new database: nothing to re-chain
    if problem and os.environ.get("SRSP_AUDIT_ACCEPT_BROKEN") != "1":
        raise RuntimeError(
            f"The audit trail is already broken ({problem}); it is not re-chained under the audit key, which would "
            "hide that. Look into it (`srsp audit verify` of the previous version), then upgrade with "
            "SRSP_AUDIT_ACCEPT_BROKEN=1 to re-chain it anyway and record the break in the trail.")
    details = {"rows": rows, "legacy_head": legacy_head, "scheme": "hmac-sha256"}
    if problem:
        details["legacy_problem"] = problem
    head = _unguarded(bind, lambda: _rechain(bind, _keyed))
    _close(bind, "audit.rechained", details, head, _keyed)
    return details


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event")
    if bind.execute(sa.select(sa.func.count()).select_from(_events)).scalar():
        _unguarded(bind, lambda: _rechain(bind, _plain))
