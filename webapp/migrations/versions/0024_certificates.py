"""placeholder: digital low-income certificates (filled by its change)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 12:20:00

"""

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
