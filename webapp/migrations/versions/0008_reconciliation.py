"""reconciliation: imported bank statements (unique digest) and the exceptions list

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 08:13:18.515441

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('statement_import',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=True),
    sa.Column('message_id', sa.String(length=140), nullable=True),
    sa.Column('imported_by_id', sa.Integer(), nullable=True),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('matched', sa.Integer(), nullable=False),
    sa.Column('paid', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('returned', sa.Integer(), nullable=False),
    sa.Column('unmatched', sa.Integer(), nullable=False),
    sa.Column('pending', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['imported_by_id'], ['user.id'], name=op.f('fk_statement_import_imported_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statement_import')),
    sa.UniqueConstraint('digest', name=op.f('uq_statement_import_digest'))
    )
    op.create_table('statement_exception',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('end_to_end_id', sa.String(length=35), nullable=True),
    sa.Column('amount', sa.Numeric(precision=16, scale=2), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('reason_code', sa.String(length=35), nullable=True),
    sa.Column('reason_text', sa.String(length=500), nullable=True),
    sa.Column('source_line', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.Enum('unmatched', 'amount_mismatch', 'already_settled', 'unclassified', 'pending', name='statement_exception_kind', native_enum=False, length=16), nullable=False),
    sa.Column('payroll_line_id', sa.Integer(), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['import_id'], ['statement_import.id'], name=op.f('fk_statement_exception_import_id_statement_import')),
    sa.ForeignKeyConstraint(['payroll_line_id'], ['payroll_line.id'], name=op.f('fk_statement_exception_payroll_line_id_payroll_line')),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['user.id'], name=op.f('fk_statement_exception_resolved_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statement_exception'))
    )
    with op.batch_alter_table('statement_exception', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_statement_exception_end_to_end_id'), ['end_to_end_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_statement_exception_import_id'), ['import_id'], unique=False)



def downgrade():
    with op.batch_alter_table('statement_exception', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_statement_exception_import_id'))
        batch_op.drop_index(batch_op.f('ix_statement_exception_end_to_end_id'))

    op.drop_table('statement_exception')
    op.drop_table('statement_import')
