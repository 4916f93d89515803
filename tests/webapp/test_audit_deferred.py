"""Events join the chain when their transaction commits, not when they are recorded: the chain's lock is held for
the commit alone, so a long request does not make every other writer wait. A rolled-back savepoint takes its events
with it, and a transaction that reads the trail sees its own events there."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, event, func, select, text

from tests.conftest import TEST_DATABASE_URL
from webapp import audit
from webapp.extensions import db
from webapp.models import AuditEvent


def _actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "deferred")
                                   .order_by(AuditEvent.id)))


def test_recorded_events_join_the_chain_at_the_commit_in_order(app):
    first = audit.record("test.first", "deferred", 1)
    second = audit.record("test.second", "deferred", 2)
    assert first.id is None and first.hash is None  # not in the chain yet
    db.session.commit()
    assert second.id == first.id + 1 and second.prev_hash == first.hash
    assert _actions() == ["test.first", "test.second"] and audit.verify_chain().ok


def test_reading_the_trail_shows_the_transactions_own_events(app):
    audit.record("test.seen", "deferred", 1)
    assert _actions() == ["test.seen"]
    assert db.session.scalar(text("SELECT count(*) FROM audit_event WHERE object_type = 'deferred'")) == 1


def test_a_rolled_back_savepoint_takes_only_its_own_events(app):
    audit.record("test.before", "deferred", 1)
    savepoint = db.session.begin_nested()
    audit.record("test.taken_back", "deferred", 2)
    inner = db.session.begin_nested()
    audit.record("test.inner", "deferred", 3)
    inner.commit()
    savepoint.rollback()
    kept = db.session.begin_nested()
    audit.record("test.kept", "deferred", 4)
    kept.commit()
    db.session.commit()
    assert _actions() == ["test.before", "test.kept"] and audit.verify_chain().ok


def test_a_rollback_forgets_the_events(app):
    audit.record("test.forgotten", "deferred", 1)
    db.session.rollback()
    audit.record("test.next", "deferred", 2)
    db.session.commit()
    assert _actions() == ["test.next"] and audit.verify_chain().ok


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="the chain's lock is a PostgreSQL advisory lock")
def test_recording_takes_no_lock_until_the_commit(app):
    audit.record("test.open", "deferred", 1)
    db.session.execute(select(func.now()))  # the transaction is open and has written nothing of the chain
    other = create_engine(db.engine.url)
    try:
        with other.connect() as conn:
            held = conn.scalar(text(
                "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                "WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()"))
    finally:
        other.dispose()
    assert held == 0
    db.session.commit()
    assert _actions() == ["test.open"]


def test_an_event_recorded_by_the_commits_own_flush_is_kept(app):
    def record_while_flushing(session, flush_context, instances):
        if not session.info.get("recorded_while_flushing"):
            session.info["recorded_while_flushing"] = True
            audit.record("test.during_flush", "deferred", 2)

    audit.record("test.before_commit", "deferred", 1)
    event.listen(db.session(), "before_flush", record_while_flushing)
    try:
        db.session.commit()
    finally:
        event.remove(db.session(), "before_flush", record_while_flushing)
    assert _actions() == ["test.before_commit", "test.during_flush"] and audit.verify_chain().ok
