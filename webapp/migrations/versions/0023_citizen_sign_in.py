"""the citizens' sign-in: one-time SMS codes, kept as keyed digests under an opaque ticket

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 12:20:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'citizen_sign_in_code',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ticket_digest', sa.String(length=64), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=True),
        sa.Column('pin_digest', sa.String(length=64), nullable=False),
        sa.Column('phone_digest', sa.String(length=64), nullable=False),
        sa.Column('code_digest', sa.String(length=64), nullable=False),
        sa.Column('ip', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['person_id'], ['person.id'],
                                name=op.f('fk_citizen_sign_in_code_person_id_person')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_citizen_sign_in_code')),
        sa.UniqueConstraint('ticket_digest', name=op.f('uq_citizen_sign_in_code_ticket_digest')),
    )
    with op.batch_alter_table('citizen_sign_in_code') as batch:
        for column in ('person_id', 'pin_digest', 'phone_digest', 'ip', 'created_at'):
            batch.create_index(f'ix_citizen_sign_in_code_{column}', [column])


def downgrade():
    op.drop_table('citizen_sign_in_code')
