"""jobs as a transactional outbox (attempts, hand-over, lease, subject, schedule slot) and idempotency keys

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 08:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.alter_column('kind', existing_type=sa.String(length=80), type_=sa.String(length=120))
        batch_op.alter_column('title', existing_type=sa.String(length=200), nullable=True)
        batch_op.add_column(sa.Column('subject', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('dedupe_key', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('max_attempts', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('run_after', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('dispatch_id', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('worker', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_job_subject'), ['subject'], unique=False)
        batch_op.create_index('ix_job_status_created_at', ['status', 'created_at'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_job_dedupe_key'), ['dedupe_key'])
    # Jobs committed before the outbox existed were handed over when they were made.
    op.execute("UPDATE job SET dispatched_at = created_at")

    op.create_table('idempotency_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('location', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_idempotency_key_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_key')),
    sa.UniqueConstraint('user_id', 'key', name=op.f('uq_idempotency_key_user_id_key'))
    )


def downgrade():
    op.drop_table('idempotency_key')
    op.execute("DELETE FROM job WHERE title IS NULL")
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_job_dedupe_key'), type_='unique')
        batch_op.drop_index('ix_job_status_created_at')
        batch_op.drop_index(batch_op.f('ix_job_subject'))
        for column in ('lease_until', 'worker', 'dispatch_id', 'dispatched_at', 'run_after', 'max_attempts',
                       'attempts', 'dedupe_key', 'subject'):
            batch_op.drop_column(column)
        batch_op.alter_column('title', existing_type=sa.String(length=200), nullable=False)
        batch_op.alter_column('kind', existing_type=sa.String(length=120), type_=sa.String(length=80))
