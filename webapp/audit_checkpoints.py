"""Signed checkpoints of the audit chain's head, kept outside the database.

Every few minutes (schedule "audit-checkpoint", or `srsp audit checkpoint`) one line is appended to a file in
AUDIT_CHECKPOINTS: the time, the last row's id, the number of rows, that row's hash and an HMAC-SHA256 signature of
those under AUDIT_KEY. The database never holds the key or the files, so someone who can rewrite the database can
neither move a checkpoint back nor sign a new one; `verify_chain` then sees rows deleted from the end, an emptied
table, or a chain replaced up to a checkpointed row. Keep the directory on storage the database's administrators
cannot write (another host, a write-once volume): whoever can edit these files and holds the key can hide a deletion.

A checkpoint is written only after the rows since the previous one were checked (links and keyed hashes, and the
previous checkpointed row unchanged), so a tampered chain is never signed.
"""

from __future__ import annotations

import logging

from sqlalchemy import func, select

from webapp import audit, jobs
from webapp.audit_store import Checkpoint, append, directory, read_all, sign
from webapp.extensions import db
from webapp.models.audit import GENESIS_HASH, AuditEvent
from webapp.timeutil import utcnow

__all__ = ["Checkpoint", "CheckpointRefused", "checkpoint_audit", "directory", "read_all", "sign", "write_checkpoint"]
log = logging.getLogger(__name__)


class CheckpointRefused(RuntimeError):
    """The chain does not extend the last checkpoint (or a checkpoint is forged): no new one is signed. For operators
    (the command line, the job's error), in English."""


def _head() -> tuple[int, int, str]:
    """(last id, rows, last hash) read in one statement, so one snapshot: the count cannot include a later row."""
    table = AuditEvent.__table__
    rows = select(func.count()).select_from(table).scalar_subquery()
    last = db.session.execute(select(table.c.id, table.c.hash, rows).order_by(table.c.id.desc()).limit(1)).first()
    return (last[0], last[2], last[1]) if last else (0, 0, GENESIS_HASH)


def _check_since(point: Checkpoint | None, last_id: int, rows: int) -> str | None:
    """Why the chain may not be signed now (it no longer extends the previous checkpoint), or None."""
    if point is None:
        problem, *_ = audit.check_rows(5000, audit.audit_key(), None)
        return problem[0] if problem else None
    if last_id < point.last_id or rows < point.rows:
        return (f"the trail ends at row {last_id} ({rows} rows) but the checkpoint of {point.at_text} recorded "
                f"{point.rows} rows up to row {point.last_id}")
    if point.last_id:
        held = db.session.scalar(select(AuditEvent.__table__.c.hash).where(AuditEvent.__table__.c.id == point.last_id))
        if held != point.head:
            return f"row {point.last_id} is not the row checkpointed on {point.at_text}"
    problem, *_ = audit.check_rows(5000, audit.audit_key(), None, after=point.last_id, prev_hash=point.head)
    return problem[0] if problem else None


def write_checkpoint() -> Checkpoint:
    """Check the rows since the last checkpoint and append a signed checkpoint of the head; CheckpointRefused if the
    chain does not extend the last checkpoint (nothing is written then)."""
    found = read_all()
    if found.forged:
        file_name, line = found.forged[0]
        raise CheckpointRefused(f"checkpoint not written: line {line} of {file_name} is not a signed checkpoint")
    last_id, rows, head = _head()
    problem = _check_since(found.latest, last_id, rows)
    if problem:
        raise CheckpointRefused(f"checkpoint not written: {problem}")
    fields = {"at": utcnow().isoformat(), "last_id": last_id, "rows": rows, "head": head}
    point = Checkpoint(**fields, signature=sign(fields))
    append(point)
    return point


@jobs.task("default", timeout=600)
def checkpoint_audit(job_id: str) -> dict:
    """The periodic checkpoint. A chain that no longer extends the last checkpoint is logged as an error, nothing is
    signed and the job fails, visibly (`srsp audit verify` says what happened)."""
    try:
        point = write_checkpoint()
    except CheckpointRefused as refused:
        log.error("audit trail: %s", refused)
        raise
    return {"last_id": point.last_id, "rows": point.rows}
