"""certificates take their status-list index from a sequence on PostgreSQL, so issuers never wait on each other

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05 12:40:00

"""
from alembic import op

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite has one writer at a time: the next index is the highest plus one
    op.execute("CREATE SEQUENCE certificate_status_index_seq MINVALUE 0 START WITH 0")
    op.execute("SELECT setval('certificate_status_index_seq', coalesce(max(status_index) + 1, 0), false) "
               "FROM certificate")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE certificate_status_index_seq")
