"""frozen monthly returns: one row per computation of a month, versioned

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05 12:50:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'monthly_return',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('period', sa.String(length=7), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('code_version', sa.String(length=64), nullable=False),
        sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('computed_by_id', sa.Integer(), nullable=True),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('reconciliation', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['computed_by_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('period', 'version', name='uq_monthly_return_period_version'),
    )
    with op.batch_alter_table('monthly_return') as batch:
        batch.create_index('ix_monthly_return_period', ['period'])


def downgrade():
    op.drop_table('monthly_return')
