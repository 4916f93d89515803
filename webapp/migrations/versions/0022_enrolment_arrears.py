"""months owed to an enrolment (arrears), paid once by the next payroll of its programme and region

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 12:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'enrolment_arrear',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('enrolment_id', sa.Integer(), nullable=False),
        sa.Column('period', sa.String(length=7), nullable=False),
        sa.Column('amount', sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column('reason', sa.String(length=300), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.CheckConstraint('amount > 0', name=op.f('ck_enrolment_arrear_amount_positive')),
        sa.ForeignKeyConstraint(['enrolment_id'], ['enrolment.id'],
                                name=op.f('fk_enrolment_arrear_enrolment_id_enrolment')),
        sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_enrolment_arrear_created_by_id_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_enrolment_arrear')),
        sa.UniqueConstraint('enrolment_id', 'period', name='uq_enrolment_arrear_enrolment_period'),
    )


def downgrade():
    op.drop_table('enrolment_arrear')
