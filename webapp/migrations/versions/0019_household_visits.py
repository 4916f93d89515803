"""household visits: who was met, findings, facts confirmed or contradicted, a photo or document

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 10:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('household_visit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('visited_on', sa.Date(), nullable=False),
    sa.Column('visitor_id', sa.Integer(), nullable=False),
    sa.Column('met', sa.String(length=200), nullable=False),
    sa.Column('findings', sa.Text(), nullable=False),
    sa.Column('facts', sa.JSON(), nullable=False),
    sa.Column('attachment_name', sa.String(length=200), nullable=True),
    sa.Column('attachment_mime', sa.String(length=40), nullable=True),
    sa.Column('attachment_content', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_household_visit_case_id_case'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_household_visit_household_id_household')),
    sa.ForeignKeyConstraint(['visitor_id'], ['user.id'], name=op.f('fk_household_visit_visitor_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_household_visit'))
    )
    with op.batch_alter_table('household_visit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_household_visit_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_household_visit_case_id'), ['case_id'], unique=False)


def downgrade():
    op.drop_table('household_visit')
