import hashlib

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from tests.conftest import TEST_DATABASE_URL
from tests.factories import tamper_audit
from webapp import audit
from webapp.extensions import db
from webapp.models import AuditEvent


def _append(n):
    events = [audit.record("test.event", "thing", i, {"n": i}) for i in range(n)]
    audit.link_pending()  # as the commit would: the events join the chain
    return events


def test_chain_links_every_row_to_the_previous_one(app):
    events = _append(3)
    assert events[1].prev_hash == events[0].hash and events[2].prev_hash == events[1].hash
    assert events[0].id + 1 == events[1].id
    assert audit.verify_chain().ok


def test_verify_cli_says_ok_on_an_intact_chain(app):
    _append(3)
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK:")


def test_verify_names_the_row_changed_by_a_direct_update(app):
    events = _append(4)
    tamper_audit("UPDATE audit_event SET details = :d WHERE id = :id", d='{"n": 99}', id=events[2].id)
    report = audit.verify_chain()
    assert not report.ok and report.row_id == events[2].id
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"row {events[2].id} was altered" in result.output


def test_verify_names_a_removed_row(app):
    events = _append(4)
    tamper_audit("DELETE FROM audit_event WHERE id = :id", id=events[1].id)
    report = audit.verify_chain()
    assert not report.ok and report.row_id == events[1].id
    assert "removed" in report.problem


def test_rewriting_a_row_and_its_own_hash_is_still_caught_by_the_next_row(app):
    events = _append(3)
    forged = dict(id=events[1].id, details='{"n": 7}')
    tamper_audit("UPDATE audit_event SET details = :details WHERE id = :id", **forged)
    table = AuditEvent.__table__
    row = db.session.execute(select(table).where(table.c.id == events[1].id)).one()
    new_hash = audit.content_hash(row)  # the forger recomputes this row's own hash...
    tamper_audit("UPDATE audit_event SET hash = :h WHERE id = :id", h=new_hash, id=events[1].id)
    report = audit.verify_chain()  # ...but the next row still links to the old one
    assert not report.ok and report.row_id == events[2].id


def test_a_chain_recomputed_without_the_audit_key_is_caught_at_the_edited_row(app):
    """A DBA edits a row and recomputes every later hash as the old unkeyed chain did (plain SHA-256): the links all
    hold, but the hashes are not HMACs under AUDIT_KEY."""
    events = _append(4)
    table = AuditEvent.__table__
    tamper_audit("UPDATE audit_event SET details = :d WHERE id = :id", d='{"n": 99}', id=events[1].id)
    prev = events[0].hash
    for event_id in [event.id for event in events[1:]]:
        tamper_audit("UPDATE audit_event SET prev_hash = :p WHERE id = :id", p=prev, id=event_id)
        row = db.session.execute(select(table).where(table.c.id == event_id)).one()
        prev = hashlib.sha256(audit.canonical_payload(row)).hexdigest()
        tamper_audit("UPDATE audit_event SET hash = :h WHERE id = :id", h=prev, id=event_id)
    report = audit.verify_chain()
    assert not report.ok and report.kind == "altered" and report.row_id == events[1].id
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and f"row {events[1].id} was altered" in result.output


def test_hashes_are_keyed_with_the_audit_key(app, monkeypatch):
    event = _append(1)[0]
    assert event.hash != hashlib.sha256(audit.canonical_payload(event)).hexdigest()
    assert audit.verify_chain().ok
    monkeypatch.setitem(app.config, "AUDIT_KEY", "another key")
    report = audit.verify_chain()
    assert not report.ok and report.kind == "altered"


@pytest.mark.skipif(not (TEST_DATABASE_URL or "").startswith("postgresql"), reason="PostgreSQL's TRUNCATE trigger")
def test_the_database_refuses_truncate(app):
    _append(1)
    with pytest.raises(DBAPIError), db.session.begin_nested():
        db.session.execute(text("TRUNCATE audit_event"))


def test_the_database_refuses_updates_and_deletes(app):
    events = _append(1)
    with pytest.raises(DBAPIError), db.session.begin_nested():
        db.session.execute(text("UPDATE audit_event SET action = 'x' WHERE id = :id"), {"id": events[0].id})
    with pytest.raises(DBAPIError), db.session.begin_nested():
        db.session.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": events[0].id})


def test_viewing_an_application_is_audited(client, app):
    from tests import factories
    from tests.conftest import sign_in

    user = factories.make_user("registrar", areas=["UZ-TK"])
    sign_in(client, user)
    family = factories.make_family("UZ-TK")
    location = client.post("/applications/new", data=factories.form_data(factories.application_payload(family),
                                                                            client.csrf)).headers["Location"]
    client.get(location)
    views = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "household.viewed")).all()
    assert views and views[-1].actor_id == user.id
    assert audit.verify_chain().ok


def test_list_pages_record_which_applications_were_seen(client, app):
    from tests import factories
    from tests.conftest import sign_in

    user = factories.make_user("registrar", areas=["UZ-TK"])
    sign_in(client, user)
    family = factories.make_family("UZ-TK")
    client.post("/applications/new", data=factories.form_data(factories.application_payload(family), client.csrf))
    client.get(f"/applications?q={family['head'].pin}")
    seen = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "applications.listed")
                              .order_by(AuditEvent.id.desc())).first()
    assert seen.actor_id == user.id and seen.details["searched"] is True and len(seen.details["ids"]) == 1
