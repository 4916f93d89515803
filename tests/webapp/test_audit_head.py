"""Appends in one transaction continue from the row the previous append wrote, without asking the database again;
a savepoint rolled back takes its rows back and the chain still verifies."""

from __future__ import annotations

from sqlalchemy import event

from webapp import audit
from webapp.extensions import db


def test_later_appends_of_a_transaction_neither_lock_nor_read_the_head_again():
    audit.record("test.first", "test", 1)
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        for n in range(5):
            audit.record("test.more", "test", n)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert not [s for s in statements if "pg_advisory_xact_lock" in s or s.startswith("SELECT audit_event.id")]
    assert len([s for s in statements if s.startswith("INSERT INTO audit_event")]) == 5
    assert audit.verify_chain().ok


def test_a_rolled_back_savepoint_takes_its_rows_and_the_head_back():
    kept = audit.record("test.kept", "test", 1)
    savepoint = db.session.begin_nested()
    audit.record("test.taken_back", "test", 2)
    savepoint.rollback()
    after = audit.record("test.after", "test", 3)
    assert after.id == kept.id + 1 and after.prev_hash == kept.hash
    assert audit.verify_chain().ok
