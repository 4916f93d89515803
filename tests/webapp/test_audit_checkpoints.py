"""Signed checkpoints of the audit chain outside the database: what a DBA with the triggers switched off can do to
the table (delete the newest rows, empty it, rewrite rows and their hashes) is found by `srsp audit verify`.

The attacks run as direct SQL (tests.factories.tamper_audit switches the triggers off, as a superuser could)."""

from __future__ import annotations

import hashlib
import hmac
import importlib
import json

import flask_babel
import pytest
from sqlalchemy import func, select, text

from tests.conftest import TEST_DATABASE_URL
from tests.factories import tamper_audit
from webapp import audit, audit_checkpoints
from webapp.extensions import db
from webapp.models import AuditEvent
from webapp.scheduler import Every

ON_POSTGRESQL = (TEST_DATABASE_URL or "").startswith("postgresql")


@pytest.fixture(autouse=True)
def _english_outside_requests(app, _transaction, monkeypatch):
    """Refusals and reports read outside a request speak the default language; these tests read them in English."""
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "en")
    flask_babel.refresh()


@pytest.fixture
def checkpoints(app, tmp_path, monkeypatch):
    """A checkpoint directory of the test's own (the rows a test writes are rolled back after it)."""
    folder = tmp_path / "checkpoints"
    monkeypatch.setitem(app.config, "AUDIT_CHECKPOINTS", str(folder))
    return folder


def _append(n):
    events = [audit.record("test.event", "thing", i, {"n": i}) for i in range(n)]
    audit.link_pending()  # as the commit would: the events join the chain
    return events


def _lines(folder) -> list[dict]:
    return [json.loads(line) for path in sorted(folder.glob("*.jsonl")) for line in path.read_text().splitlines()]


def _verify(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def test_a_checkpoint_is_a_signed_line_with_time_last_row_count_and_head(app, checkpoints):
    events = _append(3)
    result = app.test_cli_runner().invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    [line] = _lines(checkpoints)
    rows = db.session.scalar(select(func.count()).select_from(AuditEvent))
    assert (line["last_id"], line["rows"], line["head"]) == (events[-1].id, rows, events[-1].hash)
    assert line["at"] and line["signature"] == audit_checkpoints.sign(
        {key: line[key] for key in ("at", "last_id", "rows", "head")})
    result = _verify(app)
    assert result.exit_code == 0 and "matches the checkpoint" in result.output


def test_verify_without_any_checkpoint_says_so(app, checkpoints):
    _append(1)
    result = _verify(app)
    assert result.exit_code == 0 and "no checkpoint yet" in result.output


def test_deleting_the_newest_rows_is_found(app, checkpoints):
    events = _append(4)
    audit_checkpoints.write_checkpoint()
    tamper_audit("DELETE FROM audit_event WHERE id >= :id", id=events[2].id)
    assert audit.verify_chain().ok is False
    report = audit.verify_chain()
    assert report.kind == "tail_removed" and report.last_id == events[1].id
    assert "The newest rows of the audit trail were deleted" in report.message()
    result = _verify(app)
    assert result.exit_code == 1
    assert "the newest rows were deleted" in result.output and f"up to row {events[-1].id}" in result.output
    assert f"now ends at row {events[1].id}" in result.output


def test_deleting_the_newest_rows_and_appending_new_ones_is_found(app, checkpoints):
    events = _append(3)
    audit_checkpoints.write_checkpoint()
    tamper_audit("DELETE FROM audit_event WHERE id >= :id", id=events[1].id)
    db.session.expunge_all()  # the session still holds the deleted rows
    _append(3)  # the ids are taken again, by other rows
    report = audit.verify_chain()
    assert not report.ok and report.kind == "checkpoint_differs" and report.row_id == events[-1].id


@pytest.mark.skipif(not ON_POSTGRESQL, reason="TRUNCATE is PostgreSQL's")
def test_truncating_the_table_is_found(app, checkpoints):
    _append(2)
    audit_checkpoints.write_checkpoint()
    tamper_audit("TRUNCATE audit_event")
    report = audit.verify_chain()
    assert not report.ok and report.kind == "truncated"
    assert "The audit trail was emptied" in report.message()
    result = _verify(app)
    assert result.exit_code == 1 and "the table is empty, but the checkpoint" in result.output


def test_emptying_the_table_is_found(app, checkpoints):
    _append(2)
    audit_checkpoints.write_checkpoint()
    tamper_audit("DELETE FROM audit_event")
    report = audit.verify_chain()
    assert not report.ok and report.kind == "truncated"
    assert report.message().endswith(f"it had {report.checkpoint.rows} rows.")


def test_a_chain_recomputed_without_the_key_is_found(app, checkpoints):
    events = _append(4)
    audit_checkpoints.write_checkpoint()
    table = AuditEvent.__table__
    tamper_audit("UPDATE audit_event SET actor_name = 'someone else' WHERE id = :id", id=events[1].id)
    prev = events[0].hash
    for event_id in [event.id for event in events[1:]]:
        tamper_audit("UPDATE audit_event SET prev_hash = :p WHERE id = :id", p=prev, id=event_id)
        row = db.session.execute(select(table).where(table.c.id == event_id)).one()
        prev = hmac.new(b"a guessed key", audit.canonical_payload(row), hashlib.sha256).hexdigest()
        tamper_audit("UPDATE audit_event SET hash = :h WHERE id = :id", h=prev, id=event_id)
    result = _verify(app)
    assert result.exit_code == 1 and f"row {events[1].id} was altered" in result.output


def test_a_chain_rewritten_with_the_key_up_to_a_checkpointed_row_is_found(app, checkpoints):
    """Even someone holding the key cannot rewrite rows the last checkpoint covers without it showing."""
    events = _append(3)
    audit_checkpoints.write_checkpoint()
    table = AuditEvent.__table__
    tamper_audit("UPDATE audit_event SET details = :d WHERE id = :id", d='{"n": 42}', id=events[1].id)
    prev = events[0].hash
    for event_id in [event.id for event in events[1:]]:
        tamper_audit("UPDATE audit_event SET prev_hash = :p WHERE id = :id", p=prev, id=event_id)
        prev = audit.content_hash(db.session.execute(select(table).where(table.c.id == event_id)).one())
        tamper_audit("UPDATE audit_event SET hash = :h WHERE id = :id", h=prev, id=event_id)
    report = audit.verify_chain()
    assert not report.ok and report.kind == "checkpoint_differs" and report.row_id == events[-1].id
    assert report.message().startswith(f"Row {events[-1].id} of the audit trail is not the row checkpointed on ")
    assert "is not the row checkpointed" in _verify(app).output


def test_an_edited_checkpoint_is_reported(app, checkpoints):
    events = _append(3)
    audit_checkpoints.write_checkpoint()
    path = next(checkpoints.glob("*.jsonl"))
    line = json.loads(path.read_text())
    line["rows"], line["last_id"] = line["rows"] - 1, events[1].id  # moved back, to hide a deletion
    path.write_text(json.dumps(line) + "\n")
    report = audit.verify_chain()
    assert not report.ok and report.kind == "checkpoint_forged" and path.name in report.problem
    assert report.message() == ("A checkpoint of the audit trail was edited or written without the audit key: "
                                f"file {path.name}, line 1.")
    assert _verify(app).exit_code == 1


def test_no_checkpoint_is_signed_over_a_tampered_chain(app, checkpoints):
    events = _append(3)
    audit_checkpoints.write_checkpoint()
    tamper_audit("DELETE FROM audit_event WHERE id = :id", id=events[-1].id)
    with pytest.raises(audit_checkpoints.CheckpointRefused, match="checkpoint not written"):
        audit_checkpoints.write_checkpoint()
    result = app.test_cli_runner().invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 1 and "BROKEN" in result.output
    assert len(_lines(checkpoints)) == 1
    with pytest.raises(audit_checkpoints.CheckpointRefused):
        audit_checkpoints.checkpoint_audit("job")


def test_later_checkpoints_check_only_what_was_appended_and_the_latest_is_compared(app, checkpoints):
    _append(2)
    audit_checkpoints.write_checkpoint()
    events = _append(2)
    assert audit_checkpoints.checkpoint_audit("job")["last_id"] == events[-1].id
    assert len(_lines(checkpoints)) == 2
    report = audit.verify_chain()
    assert report.ok and report.checkpoint.last_id == events[-1].id


def test_the_schedule_checkpoints_the_audit_trail_every_five_minutes():
    from webapp.schedule import SCHEDULE

    [entry] = [entry for entry in SCHEDULE if entry.name == "audit-checkpoint"]
    assert entry.task is audit_checkpoints.checkpoint_audit and entry.when == Every(seconds=300)


# --- the migration that keys the existing chain -----------------------------------------------------------------

def _migration():
    return importlib.import_module("webapp.migrations.versions.0015_audit_key")


def _as_before_the_key():
    """Rewrite the whole table as the unkeyed chain of before (plain SHA-256), past the triggers."""
    migration = _migration()
    bind = db.session.connection()
    if bind.dialect.name == "postgresql":
        bind.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
        migration._rechain(bind, migration._plain)
        bind.execute(text("ALTER TABLE audit_event ENABLE TRIGGER USER"))
    else:
        tamper_audit("SELECT 1")  # drops the SQLite triggers (the rolled-back test restores them)
        migration._rechain(bind, migration._plain)


def test_the_migration_keys_an_intact_unkeyed_chain_and_records_its_old_head(app, checkpoints):
    events = _append(3)
    _as_before_the_key()
    assert audit.verify_chain().kind == "altered"
    old_head = db.session.scalar(select(AuditEvent.hash).where(AuditEvent.id == events[-1].id))
    details = _migration().rekey(db.session.connection())
    db.session.expire_all()
    assert audit.verify_chain().ok
    closing = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    assert closing.action == "audit.rechained" and closing.details["legacy_head"] == old_head == details["legacy_head"]
    assert db.session.get(AuditEvent, events[1].id).details == {"n": 1}, "what rows say is never changed"


def test_the_migration_refuses_to_key_a_chain_already_broken(app, checkpoints, monkeypatch):
    events = _append(3)
    _as_before_the_key()
    tamper_audit("UPDATE audit_event SET details = :d WHERE id = :id", d='{"n": 7}', id=events[1].id)
    monkeypatch.delenv("SRSP_AUDIT_ACCEPT_BROKEN", raising=False)
    with pytest.raises(RuntimeError, match=f"already broken \\(row {events[1].id} was altered\\)"):
        _migration().rekey(db.session.connection())
    monkeypatch.setenv("SRSP_AUDIT_ACCEPT_BROKEN", "1")
    details = _migration().rekey(db.session.connection())
    assert details["legacy_problem"] == f"row {events[1].id} was altered"
