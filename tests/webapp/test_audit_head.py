"""In bulk mode, appends in one transaction continue from the row the previous append wrote, without asking the
database again; a savepoint rolled back takes its rows back and the chain still verifies."""

from __future__ import annotations

from sqlalchemy import event

from webapp import audit
from webapp.extensions import db
from webapp.models import AuditEvent


def test_later_appends_in_bulk_neither_lock_nor_read_the_head_again():
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()))

    with audit.appending_in_bulk():
        audit.record("test.first", "test", 1)
        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            for n in range(5):
                audit.record("test.more", "test", n)
            db.session.flush()
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
    assert not [s for s in statements if "pg_advisory_xact_lock" in s or s.startswith("SELECT audit_event.id")]
    assert [s for s in statements if s.startswith("INSERT INTO audit_event")]
    assert db.session.query(AuditEvent).filter_by(action="test.more").count() == 5
    assert audit.verify_chain().ok


def test_a_rolled_back_savepoint_takes_its_rows_and_the_head_back():
    with audit.appending_in_bulk():
        kept = audit.record("test.kept", "test", 1)
        savepoint = db.session.begin_nested()
        audit.record("test.taken_back", "test", 2)
        savepoint.rollback()
        after = audit.record("test.after", "test", 3)
    assert after.id == kept.id + 1 and after.prev_hash == kept.hash
    assert audit.verify_chain().ok


def test_outside_bulk_mode_every_append_reads_the_head_so_rows_written_otherwise_are_followed():
    first = audit.record("test.one", "test", 1)
    audit.link_pending()
    with audit.appending_in_bulk():
        pass  # leaves nothing behind
    second = audit.record("test.two", "test", 2)
    audit.link_pending()
    assert second.prev_hash == first.hash and audit.verify_chain().ok
