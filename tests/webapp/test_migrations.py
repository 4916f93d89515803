"""The schema comes only from migrations: models and migrations must agree."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, inspect, select

from modules.registration import operations
from modules.registration.models import ApplicationMember
from modules.registration.schemas import ApplicationArgs
from tests import factories
from tests.conftest import base_config
from webapp import create_app
from webapp.areas import load_areas
from webapp.extensions import db
from webapp.programmes import load_programmes

# On PostgreSQL these two foreign keys of the models are enforced by statement triggers instead (migration 0030,
# tested in tests/payments/test_line_references.py); the same names as in webapp/migrations/env.py.
TRIGGER_ENFORCED_FOREIGN_KEYS = frozenset({"fk_payroll_line_payroll_id_payroll",
                                           "fk_payroll_line_enrolment_id_enrolment"})


def _compared(connection):
    """Everything but, on PostgreSQL, the foreign keys enforced by triggers."""
    def include_object(object_, name, type_, reflected, compare_to):
        return not (connection.dialect.name == "postgresql" and type_ == "foreign_key_constraint"
                    and name in TRIGGER_ENFORCED_FOREIGN_KEYS)
    return include_object


def test_models_and_migrations_agree(app):
    connection = db.session.connection()
    context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                           "include_object": _compared(connection)})
    differences = compare_metadata(context, db.metadata)
    assert differences == [], f"models differ from migrations; run `srsp db migrate`: {differences}"


def test_schema_has_the_invariant_indexes(app):
    inspector = inspect(db.session.connection())
    names = {index["name"] for table in ("application", "application_member", "household_member")
             for index in inspector.get_indexes(table)}
    assert {"uq_application_open_household", "uq_application_household_month", "uq_application_member_open_person",
            "uq_household_member_current_person"} <= names


@pytest.mark.committed
def test_sqlite_upgrades_keep_the_rows_that_point_at_a_rebuilt_table(tmp_path):
    """SQLite rebuilds a table to alter it; with foreign keys on, dropping the old copy would cascade-delete the
    rows pointing at it (0003 rebuilds `application`, which application_member points at). The rows are made
    with today's models at the head, then the schema goes down to 0002 (rebuilding `application` on the way) and
    up again."""
    app = create_app(base_config(tmp_path, f"sqlite:///{tmp_path / 'upgrade.db'}"))
    with app.test_request_context():
        upgrade()
        load_areas(mahallas_per_district=1)
        load_programmes()
        user = factories.make_user("registrar", areas=["UZ-TK"])
        family = factories.make_family("UZ-TK")
        operations.register_application(ApplicationArgs().load(factories.application_payload(family)), user)
        db.session.commit()
        members_before = db.session.scalar(select(func.count()).select_from(ApplicationMember))
        db.session.remove()
        downgrade(revision="0002")
        upgrade()
        assert db.session.scalar(select(func.count()).select_from(ApplicationMember)) == members_before == 4
        db.session.remove()
        db.engine.dispose()
