"""budget returns recorded once per month, programme and region

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 21:49:52.799071

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('budget_return',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('lines', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('by_status', sa.JSON(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['area.id'], name=op.f('fk_budget_return_area_id_area')),
    sa.ForeignKeyConstraint(['programme_id'], ['programme.id'], name=op.f('fk_budget_return_programme_id_programme')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user.id'], name=op.f('fk_budget_return_recorded_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_budget_return')),
    sa.UniqueConstraint('period', 'programme_id', 'area_id', name='uq_budget_return_month')
    )


def downgrade():
    op.drop_table('budget_return')
