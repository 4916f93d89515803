"""records entered by hand from a document, with a second person's confirmation

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 09:00:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
