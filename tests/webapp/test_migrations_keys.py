"""Upgrading a database written before the keys: 0014 encrypts the authenticator secrets kept in clear, 0015 keys the
audit chain written with plain SHA-256; both go back down."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from tests.conftest import base_config
from webapp import audit, create_app
from webapp.extensions import db
from webapp.models.audit import GENESIS_HASH
from webapp.models.encrypted import decrypt

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def _plain_chain(n: int) -> list[dict]:
    """Audit rows as the unkeyed chain wrote them."""
    rows, prev = [], GENESIS_HASH
    for number in range(1, n + 1):
        row = {"id": number, "occurred_at": datetime(2026, 11, 1, 9, number, tzinfo=UTC), "actor_id": None,
               "actor_name": "system", "action": "test.event", "object_type": "thing", "object_id": str(number),
               "details": {"n": number}, "prev_hash": prev}
        payload = json.dumps({**row, "occurred_at": row["occurred_at"].replace(tzinfo=None).isoformat(
            timespec="microseconds")}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        row["hash"] = prev = hashlib.sha256(payload.encode()).hexdigest()
        rows.append(row)
    return rows


@pytest.mark.committed
def test_an_old_database_gets_its_secrets_encrypted_and_its_audit_chain_keyed(tmp_path):
    app = create_app(base_config(tmp_path, f"sqlite:///{tmp_path / 'keys.db'}"))
    with app.app_context():
        upgrade(revision="0013")
        run = db.session.execute
        run(text('INSERT INTO "user" (id, username, full_name, password_hash, role, national_scope, language, active, '
                 "failed_logins, created_at, totp_secret) VALUES (1, 'checker', 'C', 'x', 'finance_checker', 1, 'en', "
                 "1, 0, '2026-11-01 09:00:00', :secret)"), {"secret": SECRET})
        for row in _plain_chain(3):
            run(text("INSERT INTO audit_event (id, occurred_at, actor_id, actor_name, action, object_type, object_id, "
                     "details, prev_hash, hash) VALUES (:id, :occurred_at, :actor_id, :actor_name, :action, "
                     ":object_type, :object_id, :details, :prev_hash, :hash)"),
                {**row, "occurred_at": row["occurred_at"].replace(tzinfo=None).isoformat(sep=" "),
                 "details": json.dumps(row["details"])})
        db.session.commit()
        db.session.remove()

        upgrade(revision="0015")
        stored = db.session.scalar(text('SELECT totp_secret FROM "user" WHERE id = 1'))
        assert stored != SECRET and decrypt(stored, app.config["SECRETS_KEY"]) == SECRET
        report = audit.verify_chain()
        assert report.ok and report.rows == 4, report.problem
        closing = db.session.execute(text("SELECT action, details FROM audit_event WHERE id = 4")).one()
        assert closing.action == "audit.rechained" and json.loads(closing.details)["rows"] == 3
        db.session.remove()

        downgrade(revision="0013")
        assert db.session.scalar(text('SELECT totp_secret FROM "user" WHERE id = 1')) == SECRET
        old = db.session.execute(text("SELECT id, hash FROM audit_event ORDER BY id")).all()
        assert [row.hash for row in old[:3]] == [row["hash"] for row in _plain_chain(3)]
        db.session.remove()
        db.engine.dispose()
