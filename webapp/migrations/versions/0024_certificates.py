"""digital low-income certificates and the issuer's signing keys

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 12:20:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'certificate_key',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kid', sa.String(length=64), nullable=False),
        sa.Column('public_jwk', sa.JSON(), nullable=False),
        sa.Column('private_key', sa.String(length=400), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_key')),
        sa.UniqueConstraint('kid', name=op.f('uq_certificate_key_kid')),
    )
    op.create_table(
        'certificate',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('serial', sa.String(length=32), nullable=False),
        sa.Column('household_id', sa.Integer(), nullable=False),
        sa.Column('head_person_id', sa.Integer(), nullable=False),
        sa.Column('programmes', sa.JSON(), nullable=False),
        sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('valid_from', sa.Date(), nullable=False),
        sa.Column('valid_until', sa.Date(), nullable=False),
        sa.Column('status_index', sa.Integer(), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revocation_reason', sa.String(length=32), nullable=True),
        sa.Column('superseded_by_id', sa.Integer(), nullable=True),
        sa.Column('kid', sa.String(length=64), nullable=False),
        sa.Column('credential', sa.Text(), nullable=False),
        sa.Column('issued_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_certificate_household_id_household')),
        sa.ForeignKeyConstraint(['head_person_id'], ['person.id'], name=op.f('fk_certificate_head_person_id_person')),
        sa.ForeignKeyConstraint(['superseded_by_id'], ['certificate.id'],
                                name=op.f('fk_certificate_superseded_by_id_certificate')),
        sa.ForeignKeyConstraint(['issued_by_id'], ['user.id'], name=op.f('fk_certificate_issued_by_id_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate')),
        sa.UniqueConstraint('serial', name=op.f('uq_certificate_serial')),
        sa.UniqueConstraint('status_index', name=op.f('uq_certificate_status_index')),
    )
    with op.batch_alter_table('certificate') as batch:
        batch.create_index(batch.f('ix_certificate_household_id'), ['household_id'])
        batch.create_index(batch.f('ix_certificate_head_person_id'), ['head_person_id'])


def downgrade():
    op.drop_table('certificate')
    op.drop_table('certificate_key')
