"""Writing and verifying the keyed, hash-chained audit trail.

Each row's hash is an HMAC-SHA256, under AUDIT_KEY (a secret from the environment that the database never holds),
of its own content and the previous row's hash. So altering or removing a row breaks every hash after it, and
someone with full rights on the database (triggers switched off) who rewrites a row cannot recompute the chain:
without the key the hashes they write do not verify.

What a chain alone cannot show is that its newest rows were deleted, or all of them (TRUNCATE): what is left is a
valid, shorter chain. So its head is checkpointed every few minutes outside the database, signed with the same key
(webapp.audit_checkpoints); `verify_chain` compares the table with the last checkpoint. Rows written after the last
checkpoint can still vanish unseen: the period (schedule "audit-checkpoint") bounds that loss.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import current_app, has_request_context
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import inspect, select, text
from sqlalchemy.event import listens_for
from sqlalchemy.orm import Session

from webapp import audit_store
from webapp.extensions import db
from webapp.models.audit import GENESIS_HASH, AuditEvent
from webapp.timeutil import utcnow

# Any constant works; it names the PostgreSQL advisory lock that serialises appends to the chain.
_AUDIT_LOCK_KEY = 0x5352_5350


def _canonical_time(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")


def canonical_payload(event) -> bytes:
    """The canonical JSON of an event (an AuditEvent or a plain row with the same fields): what its hash covers."""
    return json.dumps(
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
    ).encode()


def audit_key() -> bytes:
    return current_app.config["AUDIT_KEY"].encode()


def content_hash(event, key: bytes | None = None) -> str:
    """HMAC-SHA256 under AUDIT_KEY of the event's canonical JSON."""
    return hmac.new(key or audit_key(), canonical_payload(event), hashlib.sha256).hexdigest()


def _current_actor(actor):
    if actor is not None:
        return actor
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user
    return None


def record(action: str, obj_type: str, obj_id, details: dict | None = None, actor=None) -> AuditEvent:
    """Add one event to the caller's transaction (no commit). It joins the chain when the transaction commits, or
    earlier when the transaction reads the trail; in bulk mode at once. Joining takes the chain's lock, which is
    held until the commit: taken late, it serialises only the commits, not whole requests."""
    session = db.session()  # the request's Session itself: its transaction keeps the chain's head in bulk mode
    actor = _current_actor(actor)
    event = AuditEvent(
        occurred_at=utcnow(),
        actor_id=actor.id if actor else None,
        actor_name=actor.username if actor else "system",
        action=action,
        object_type=obj_type,
        object_id=str(obj_id),
        details=details or {},
    )
    bulk = session.info.get(_BULK)
    if (bulk is not None and bulk is session.get_transaction()) or session.info.get(_COMMITTING):
        _link(session, event, bulk=True)
        session.info[_HEAD] = event  # written with the next flush, together with the others of the loop
    else:
        session.connection()  # begins the transaction, so that its rollback forgets the event
        session.info.setdefault(_PENDING, []).append((session.get_nested_transaction(), event))
    return event


_BULK, _HEAD, _PENDING = "audit_bulk", "audit_chain_head", "audit_pending"
# Set from the start of a commit to its end: an event recorded by the commit's own flush (a listener) is chained at
# once, after the ones chained when the commit began.
_COMMITTING = "audit_committing"


def _link(session, event: AuditEvent, bulk: bool) -> None:
    """Give the event its place after the chain's head: id, previous hash, own hash."""
    last = _chain_head(session, bulk)
    event.id = (last.id + 1) if last else 1
    event.prev_hash = last.hash if last else GENESIS_HASH
    event.hash = content_hash(event)
    session.add(event)


def link_pending(session=None) -> None:
    """Chain the events this transaction recorded and has not chained yet, in the order they were recorded."""
    session = session or db.session()
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    previous = None
    for _savepoint, event in pending:
        if previous is None:
            _link(session, event, bulk=False)
        else:  # the lock is held: the head is the event chained just before
            event.id, event.prev_hash = previous.id + 1, previous.hash
            event.hash = content_hash(event)
            session.add(event)
        previous = event
    session.info[_HEAD] = previous
    session.flush()


def _within(savepoint, rolled_back) -> bool:
    """Whether an event recorded in `savepoint` (None: outside any) goes with the rollback of `rolled_back`."""
    if not rolled_back.nested:
        return True
    while savepoint is not None:
        if savepoint is rolled_back:
            return True
        savepoint = savepoint.parent
    return False


@listens_for(Session, "before_commit")
def _chain_before_commit(session) -> None:
    if not session.in_nested_transaction():  # a savepoint's release is not the end: the events wait for the commit
        session.info[_COMMITTING] = True
        link_pending(session)


@listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session, previous_transaction) -> None:
    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [item for item in pending if not _within(item[0], previous_transaction)]


@listens_for(Session, "after_transaction_end")
def _forget_at_the_end(session, transaction) -> None:
    if transaction.parent is None:
        for key in (_PENDING, _COMMITTING, _HEAD):
            session.info.pop(key, None)


@listens_for(Session, "do_orm_execute")
def _chain_before_reading_the_trail(state) -> None:
    """A transaction that reads the trail sees its own events in it, as it would any row it wrote."""
    if state.session.info.get(_PENDING) and _reads_the_trail(state):
        link_pending(state.session)


def _reads_the_trail(state) -> bool:
    if state.all_mappers:
        return any(mapper.class_ is AuditEvent for mapper in state.all_mappers)
    return "audit_event" in str(state.statement)


@contextmanager
def appending_in_bulk():
    """For a job that appends many events in one transaction through `record` alone: the lock is taken and the head
    read once, later appends continue from the row the previous one wrote (no one else can follow it while the lock
    is held), and the rows go to the database with the session's flushes instead of one by one."""
    session = db.session()
    session.connection()  # begins the transaction now, so it is the one the appends below recognise
    link_pending(session)  # what was recorded before keeps its place ahead of the loop's events
    session.info[_BULK] = session.get_transaction()
    try:
        yield
        session.flush()
    finally:
        session.info.pop(_BULK, None)
        session.info.pop(_HEAD, None)


def _chain_head(session, bulk: bool):
    """(id, hash) of the chain's last row, or None, with the right to append after it (PostgreSQL takes a lock;
    SQLite's transactions already write one at a time). In bulk mode, the row the previous append wrote, unless a
    rolled-back savepoint took it back."""
    head = session.info.get(_HEAD) if bulk else None
    if head is not None and (inspect(head).persistent or inspect(head).pending):
        return head
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _AUDIT_LOCK_KEY})
    return session.execute(select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()


@dataclass
class ChainReport:
    ok: bool
    rows: int
    problem: str | None = None  # in English, for logs and the command line; `message()` in the reader's language
    row_id: int | None = None
    # What was found, so a page can say it in the reader's language: "removed", "unlinked", "altered" (the chain
    # itself), "truncated", "tail_removed", "checkpoint_differs" (against the last checkpoint), "checkpoint_forged"
    # (a checkpoint line whose signature does not match).
    kind: str | None = None
    last_id: int = 0
    checkpoint: audit_store.Checkpoint | None = None  # the last valid checkpoint compared with
    notes: list[str] = field(default_factory=list)  # English remarks that are not failures (no checkpoint yet)
    where: tuple[str, int] | None = None  # a forged checkpoint's file and line

    def message(self) -> str:
        """What was found, in the reader's language."""
        if self.ok:
            return _("The audit trail is intact: %(n)d rows checked.", n=self.rows)
        point = self.checkpoint
        if self.kind == "removed":
            return _("The audit trail is broken: row %(row)d was removed.", row=self.row_id)
        if self.kind == "unlinked":
            return _("The audit trail is broken at row %(row)d: it does not link to the row before it.",
                     row=self.row_id)
        if self.kind == "altered":
            return _("The audit trail is broken: row %(row)d was altered (its content no longer matches its hash).",
                     row=self.row_id)
        if self.kind == "truncated":
            return ngettext("The audit trail was emptied: it has no rows, but on %(time)s it had %(num)d row.",
                            "The audit trail was emptied: it has no rows, but on %(time)s it had %(num)d rows.",
                            point.rows, time=point.at_text)
        if self.kind == "tail_removed":
            return ngettext("The newest rows of the audit trail were deleted: on %(time)s it had %(num)d row, up to "
                            "row %(last)d; now it ends at row %(now)d.",
                            "The newest rows of the audit trail were deleted: on %(time)s it had %(num)d rows, up to "
                            "row %(last)d; now it ends at row %(now)d.",
                            point.rows, time=point.at_text, last=point.last_id, now=self.last_id)
        if self.kind == "checkpoint_differs":
            return _("Row %(row)d of the audit trail is not the row checkpointed on %(time)s: the rows up to it were "
                     "rewritten or replaced.", row=self.row_id, time=point.at_text)
        if self.kind == "checkpoint_forged":
            file_name, line = self.where
            return _("A checkpoint of the audit trail was edited or written without the audit key: file %(file)s, "
                     "line %(line)d.", file=file_name, line=line)
        return self.problem or ""


def check_rows(batch_size: int, key: bytes, watch: int | None, after: int = 0, prev_hash: str = GENESIS_HASH):
    """Check every row after row `after` (whose hash is `prev_hash`) in id order: (problem or None, rows checked,
    last id, hash of row `watch` or None)."""
    expected_prev, expected_id, rows, watched = prev_hash, after + 1, 0, None
    last_id = after
    table = AuditEvent.__table__
    while True:
        # Plain rows, not ORM objects: nothing is cached, so what is checked is what the database holds now.
        batch = db.session.execute(
            select(table).where(table.c.id > last_id).order_by(table.c.id).limit(batch_size)
        ).all()
        if not batch:
            return None, rows, last_id, watched
        for event in batch:
            if event.id != expected_id:
                return (f"row {expected_id} was removed (next row is {event.id})", expected_id, "removed"), \
                    rows, last_id, watched
            if event.prev_hash != expected_prev:
                return (f"row {event.id}: previous-hash link broken", event.id, "unlinked"), rows, last_id, watched
            if not hmac.compare_digest(content_hash(event, key), event.hash):
                return (f"row {event.id} was altered (its content no longer matches its keyed hash)", event.id,
                        "altered"), rows, last_id, watched
            if event.id == watch:
                watched = event.hash
            expected_prev, expected_id, rows = event.hash, event.id + 1, rows + 1
        last_id = batch[-1].id


def verify_chain(batch_size: int = 5000) -> ChainReport:
    """Walk the chain in id order, report the first row that was altered or removed, then compare what is left with
    the last signed checkpoint (newest rows deleted, the table emptied, rows replaced)."""
    found = audit_store.read_all()
    if found.forged:
        file_name, line = found.forged[0]
        return ChainReport(False, 0, f"checkpoint file {file_name}, line {line}: its signature does not match (edited, "
                           "or written without the audit key)", kind="checkpoint_forged", where=(file_name, line))
    point = found.latest
    problem, rows, last_id, watched = check_rows(batch_size, audit_key(), point.last_id if point else None)
    report = ChainReport(True, rows, last_id=last_id, checkpoint=point)
    if problem is not None:
        report.ok, (report.problem, report.row_id, report.kind) = False, problem
        return report
    if point is None:
        report.notes.append("no checkpoint yet: deleting the newest rows could not be detected "
                            "(run `srsp audit checkpoint`, and keep the checkpoint job scheduled)")
        return report
    if point.rows and rows == 0:
        report.ok, report.kind = False, "truncated"
        report.problem = f"the table is empty, but the checkpoint of {point.at_text} recorded {point.rows} rows"
    elif last_id < point.last_id or rows < point.rows:
        report.ok, report.kind = False, "tail_removed"
        report.problem = (f"the newest rows were deleted: the checkpoint of {point.at_text} recorded {point.rows} "
                          f"rows up to row {point.last_id}; the trail now ends at row {last_id} ({rows} rows)")
    elif point.last_id and watched != point.head:
        report.ok, report.kind, report.row_id = False, "checkpoint_differs", point.last_id
        report.problem = (f"row {point.last_id} is not the row checkpointed on {point.at_text}: the rows up to it "
                          "were rewritten or replaced")
    return report
