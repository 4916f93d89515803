"""The schema comes only from migrations: models and migrations must agree."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from webapp.extensions import db


def test_models_and_migrations_agree(app):
    context = MigrationContext.configure(db.session.connection(), opts={"compare_type": True})
    differences = compare_metadata(context, db.metadata)
    assert differences == [], f"models differ from migrations; run `srsp db migrate`: {differences}"


def test_schema_has_the_invariant_indexes(app):
    inspector = inspect(db.session.connection())
    names = {index["name"] for table in ("application", "application_member", "household_member")
             for index in inspector.get_indexes(table)}
    assert {"uq_application_open_household", "uq_application_household_month", "uq_application_member_open_person",
            "uq_household_member_current_person"} <= names
