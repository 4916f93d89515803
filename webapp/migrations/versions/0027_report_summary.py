"""reporting summary: the month's indicators by every dimension, rebuilt per month; marks of out-of-date months

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-05 14:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table(
        'report_summary',
        sa.Column('id', _ID, nullable=False),
        sa.Column('period', sa.String(length=7), nullable=False),
        sa.Column('indicator', sa.String(length=48), nullable=False),
        sa.Column('programme', sa.String(length=64), nullable=True),
        sa.Column('region', sa.String(length=32), nullable=True),
        sa.Column('district', sa.String(length=32), nullable=True),
        sa.Column('sex', sa.String(length=1), nullable=True),
        sa.Column('age_band', sa.String(length=8), nullable=True),
        sa.Column('household_size', sa.Integer(), nullable=True),
        sa.Column('reason', sa.String(length=64), nullable=True),
        sa.Column('value', sa.Numeric(18, 2), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_report_summary_period_indicator', 'report_summary', ['period', 'indicator'])
    op.create_table(
        'report_summary_month',
        sa.Column('period', sa.String(length=7), nullable=False),
        sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('rows', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('period'),
    )
    op.create_table(
        'report_summary_mark',
        sa.Column('id', _ID, nullable=False),
        sa.Column('first_period', sa.String(length=7), nullable=False),
        sa.Column('last_period', sa.String(length=7), nullable=False),
        sa.Column('marked_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade():
    op.drop_table('report_summary_mark')
    op.drop_table('report_summary_month')
    op.drop_index('ix_report_summary_period_indicator', table_name='report_summary')
    op.drop_table('report_summary')
