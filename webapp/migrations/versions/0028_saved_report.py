"""saved ad hoc reports: a user's named report definitions

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-05 15:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'saved_report',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=False),
        sa.Column('definition', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['owner_id'], ['user.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('owner_id', 'name', name='uq_saved_report_owner_name'),
    )
    op.create_index('ix_saved_report_owner_id', 'saved_report', ['owner_id'])


def downgrade():
    op.drop_index('ix_saved_report_owner_id', table_name='saved_report')
    op.drop_table('saved_report')
