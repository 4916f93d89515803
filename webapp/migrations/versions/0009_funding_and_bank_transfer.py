"""fund requests to the treasury and payment files sent to the bank

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 20:54:32.726346

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('fund_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=35), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('status', sa.Enum('pending', 'confirmed', 'refused', name='fund_request_status', native_enum=False, length=16), nullable=False),
    sa.Column('total_amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('beneficiaries', sa.Integer(), nullable=False),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('treasury_reference', sa.String(length=35), nullable=True),
    sa.Column('refusal_reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['requested_by_id'], ['user.id'], name=op.f('fk_fund_request_requested_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fund_request')),
    sa.UniqueConstraint('reference', name=op.f('uq_fund_request_reference'))
    )
    op.create_table('bank_transfer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('payroll_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=35), nullable=False),
    sa.Column('file_format', sa.String(length=20), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('transactions', sa.Integer(), nullable=False),
    sa.Column('control_sum', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('bank_file_id', sa.String(length=40), nullable=True),
    sa.Column('sent_by_id', sa.Integer(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('statement_import_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['payroll_id'], ['payroll.id'], name=op.f('fk_bank_transfer_payroll_id_payroll')),
    sa.ForeignKeyConstraint(['sent_by_id'], ['user.id'], name=op.f('fk_bank_transfer_sent_by_id_user')),
    sa.ForeignKeyConstraint(['statement_import_id'], ['statement_import.id'], name=op.f('fk_bank_transfer_statement_import_id_statement_import')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_transfer')),
    sa.UniqueConstraint('message_id', name=op.f('uq_bank_transfer_message_id')),
    sa.UniqueConstraint('payroll_id', name=op.f('uq_bank_transfer_payroll_id'))
    )
    op.create_table('fund_request_payroll',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fund_request_id', sa.Integer(), nullable=False),
    sa.Column('payroll_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('live', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['fund_request_id'], ['fund_request.id'], name=op.f('fk_fund_request_payroll_fund_request_id_fund_request')),
    sa.ForeignKeyConstraint(['payroll_id'], ['payroll.id'], name=op.f('fk_fund_request_payroll_payroll_id_payroll')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fund_request_payroll'))
    )
    with op.batch_alter_table('fund_request_payroll', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fund_request_payroll_fund_request_id'), ['fund_request_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fund_request_payroll_payroll_id'), ['payroll_id'], unique=False)
        batch_op.create_index('uq_fund_request_payroll_live', ['payroll_id'], unique=True, sqlite_where=sa.text('live'), postgresql_where=sa.text('live'))



def downgrade():
    with op.batch_alter_table('fund_request_payroll', schema=None) as batch_op:
        batch_op.drop_index('uq_fund_request_payroll_live', sqlite_where=sa.text('live'), postgresql_where=sa.text('live'))
        batch_op.drop_index(batch_op.f('ix_fund_request_payroll_payroll_id'))
        batch_op.drop_index(batch_op.f('ix_fund_request_payroll_fund_request_id'))

    op.drop_table('fund_request_payroll')
    op.drop_table('bank_transfer')
    op.drop_table('fund_request')
