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

import hashlib
import hmac
import json
import logging
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select

from webapp import audit, jobs
from webapp.extensions import db
from webapp.models.audit import GENESIS_HASH, AuditEvent
from webapp.timeutil import local_time, utcnow

log = logging.getLogger(__name__)
_DOMAIN = b"srsp audit checkpoint v1\n"
_FIELDS = ("at", "last_id", "rows", "head")


class CheckpointRefused(RuntimeError):
    """The chain does not extend the last checkpoint (or a checkpoint is forged): no new one is signed. For operators
    (the command line, the job's error), in English."""


@dataclass(frozen=True)
class Checkpoint:
    at: str  # ISO 8601, UTC
    last_id: int
    rows: int
    head: str
    signature: str = ""

    @property
    def at_text(self) -> str:
        """The checkpoint's time in the country's time zone, as messages show it."""
        return f"{local_time(datetime.fromisoformat(self.at)):%Y-%m-%d %H:%M:%S}"

    def fields(self) -> dict:
        return {name: getattr(self, name) for name in _FIELDS}


@dataclass
class Found:
    latest: Checkpoint | None = None
    count: int = 0
    forged: list[tuple[str, int]] = field(default_factory=list)  # (file, line) of lines whose signature fails


def directory() -> Path:
    return Path(current_app.config["AUDIT_CHECKPOINTS"])


def sign(fields: dict, key: bytes | None = None) -> str:
    payload = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(key or audit.audit_key(), _DOMAIN + payload, hashlib.sha256).hexdigest()


def _parse(line: str, key: bytes) -> Checkpoint | None:
    """The checkpoint on a line, or None when it is malformed or its signature does not match."""
    try:
        data = json.loads(line)
        point = Checkpoint(at=str(data["at"]), last_id=int(data["last_id"]), rows=int(data["rows"]),
                           head=str(data["head"]), signature=str(data["signature"]))
        datetime.fromisoformat(point.at)
    except (ValueError, KeyError, TypeError):
        return None
    return point if hmac.compare_digest(sign(point.fields(), key), point.signature) else None


def read_all() -> Found:
    """Every checkpoint file in the directory, oldest first; the latest valid checkpoint and any forged lines."""
    found, key = Found(), audit.audit_key()
    folder = directory()
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("checkpoints-*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            point = _parse(line, key)
            if point is None:
                found.forged.append((path.name, number))
                continue
            found.count += 1
            if found.latest is None or point.at >= found.latest.at:
                found.latest = point
    return found


def _head() -> tuple[int, int, str]:
    """(last id, rows, last hash) read in one statement, so one snapshot: the count cannot include a later row."""
    table = AuditEvent.__table__
    rows = select(func.count()).select_from(table).scalar_subquery()
    last = db.session.execute(select(table.c.id, table.c.hash, rows).order_by(table.c.id.desc()).limit(1)).first()
    return (last[0], last[2], last[1]) if last else (0, 0, GENESIS_HASH)


def _check_since(point: Checkpoint | None, last_id: int, rows: int) -> str | None:
    """Why the chain may not be signed now (it no longer extends the previous checkpoint), or None."""
    if point is None:
        problem, *_ = audit._walk(5000, audit.audit_key(), None)
        return problem[0] if problem else None
    if last_id < point.last_id or rows < point.rows:
        return (f"the trail ends at row {last_id} ({rows} rows) but the checkpoint of {point.at_text} recorded "
                f"{point.rows} rows up to row {point.last_id}")
    if point.last_id:
        held = db.session.scalar(select(AuditEvent.__table__.c.hash).where(AuditEvent.__table__.c.id == point.last_id))
        if held != point.head:
            return f"row {point.last_id} is not the row checkpointed on {point.at_text}"
    problem, *_ = audit._walk(5000, audit.audit_key(), None, after=point.last_id, prev_hash=point.head)
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
    _append(point)
    return point


def _append(point: Checkpoint) -> None:
    folder = directory()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"checkpoints-{point.at[:7]}.jsonl"
    line = json.dumps(asdict(point), sort_keys=True, separators=(",", ":")) + "\n"
    # O_APPEND: lines from two writers at once never interleave; fsync: a signed checkpoint survives a crash.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


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
