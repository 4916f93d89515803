"""alert cases keep the event that raised them, so an event raises one alert however often it arrives

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 10:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('case') as batch:
        batch.add_column(sa.Column('source_key', sa.String(length=120), nullable=True))
        batch.create_index('ix_case_source_key', ['source_key'], unique=True)


def downgrade():
    with op.batch_alter_table('case') as batch:
        batch.drop_index('ix_case_source_key')
        batch.drop_column('source_key')
