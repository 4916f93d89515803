"""re-assessments from cases: applications get a purpose and an as-of day; a case's re-assessment is kept

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 11:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

_OLD_MONTH = "status <> 'withdrawn'"
_NEW_MONTH = "status <> 'withdrawn' AND purpose = 'claim'"
_OPEN = "status IN ('collecting', 'assessed')"


def _month_index(batch, where):
    batch.create_index('uq_application_household_month', ['household_id', 'period'], unique=True,
                       sqlite_where=sa.text(where), postgresql_where=sa.text(where))


def upgrade():
    with op.batch_alter_table('application') as batch:
        batch.add_column(sa.Column('purpose', sa.String(length=16), nullable=False, server_default='claim'))
        batch.add_column(sa.Column('as_of', sa.Date(), nullable=True))
        batch.drop_index('uq_application_household_month')
    with op.batch_alter_table('application') as batch:
        _month_index(batch, _NEW_MONTH)
    op.create_table(
        'reassessment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('purpose', sa.String(length=16), nullable=False),
        sa.Column('household_id', sa.Integer(), nullable=False),
        sa.Column('previous_assessment_id', sa.Integer(), nullable=True),
        sa.Column('application_id', sa.Integer(), nullable=True),
        sa.Column('changes', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=True),
        sa.Column('refreshed', sa.Boolean(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('confirmed_by_id', sa.Integer(), nullable=True),
        sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['case.id']),
        sa.ForeignKeyConstraint(['household_id'], ['household.id']),
        sa.ForeignKeyConstraint(['previous_assessment_id'], ['assessment.id']),
        sa.ForeignKeyConstraint(['application_id'], ['application.id']),
        sa.ForeignKeyConstraint(['created_by_id'], ['user.id']),
        sa.ForeignKeyConstraint(['confirmed_by_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('reassessment') as batch:
        batch.create_index('ix_reassessment_case_id', ['case_id'])
        batch.create_index('ix_reassessment_household_id', ['household_id'])
        batch.create_index('ix_reassessment_application_id', ['application_id'])
        batch.create_index('uq_reassessment_open_case', ['case_id'], unique=True,
                           sqlite_where=sa.text(_OPEN), postgresql_where=sa.text(_OPEN))


def downgrade():
    op.drop_table('reassessment')
    with op.batch_alter_table('application') as batch:
        batch.drop_index('uq_application_household_month')
    with op.batch_alter_table('application') as batch:
        _month_index(batch, _OLD_MONTH)
        batch.drop_column('as_of')
        batch.drop_column('purpose')
