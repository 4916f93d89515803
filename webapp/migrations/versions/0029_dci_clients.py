"""DCI registry server: registered senders, their bearer tokens, transactions and subscriptions

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-05 15:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'dci_client',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('client_id', sa.String(length=64), nullable=False),
        sa.Column('secret_hash', sa.String(length=255), nullable=False),
        sa.Column('signatures', sa.String(length=10), nullable=False),
        sa.Column('callback_urls', sa.JSON(), nullable=False),
        sa.Column('allowed_query_types', sa.JSON(), nullable=False),
        sa.Column('allowed_fields', sa.JSON(), nullable=False),
        sa.Column('purpose', sa.String(length=500), nullable=True),
        sa.Column('rate_limit', sa.String(length=40), nullable=False),
        sa.Column('jwks', sa.JSON(), nullable=True),
        sa.Column('jwks_url', sa.String(length=500), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name'),
        sa.UniqueConstraint('client_id'),
    )
    op.create_table(
        'dci_token',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['client_id'], ['dci_client.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    op.create_index('ix_dci_token_client_id', 'dci_token', ['client_id'])
    op.create_table(
        'dci_transaction',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('registry_type', sa.String(length=10), nullable=False),
        sa.Column('txn_type', sa.String(length=20), nullable=False),
        sa.Column('transaction_id', sa.String(length=99), nullable=False),
        sa.Column('correlation_id', sa.String(length=99), nullable=False),
        sa.Column('status', sa.String(length=4), nullable=False),
        sa.Column('request', sa.JSON(), nullable=False),
        sa.Column('response', sa.JSON(), nullable=True),
        sa.Column('callback_url', sa.String(length=500), nullable=True),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['client_id'], ['dci_client.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('correlation_id'),
    )
    op.create_index('ix_dci_transaction_client_id', 'dci_transaction', ['client_id'])
    op.create_index('ix_dci_transaction_transaction_id', 'dci_transaction', ['transaction_id'])
    op.create_table(
        'dci_subscription',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=99), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('event_type', sa.String(length=40), nullable=False),
        sa.Column('record_type', sa.String(length=80), nullable=False),
        sa.Column('filter', sa.JSON(), nullable=True),
        sa.Column('callback_url', sa.String(length=500), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['client_id'], ['dci_client.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code'),
    )
    op.create_index('ix_dci_subscription_client_id', 'dci_subscription', ['client_id'])
    op.create_index('ix_dci_subscription_event_type', 'dci_subscription', ['event_type'])


def downgrade():
    op.drop_index('ix_dci_subscription_event_type', table_name='dci_subscription')
    op.drop_index('ix_dci_subscription_client_id', table_name='dci_subscription')
    op.drop_table('dci_subscription')
    op.drop_index('ix_dci_transaction_transaction_id', table_name='dci_transaction')
    op.drop_index('ix_dci_transaction_client_id', table_name='dci_transaction')
    op.drop_table('dci_transaction')
    op.drop_index('ix_dci_token_client_id', table_name='dci_token')
    op.drop_table('dci_token')
    op.drop_table('dci_client')
