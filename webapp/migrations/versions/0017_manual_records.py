"""records entered by hand from a document, with a second person's confirmation

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 09:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('manual_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('records', sa.JSON(), nullable=False),
    sa.Column('document_type', sa.String(length=40), nullable=False),
    sa.Column('document_number', sa.String(length=64), nullable=False),
    sa.Column('document_date', sa.Date(), nullable=False),
    sa.Column('document_name', sa.String(length=200), nullable=True),
    sa.Column('document_mime', sa.String(length=100), nullable=True),
    sa.Column('document_content', sa.LargeBinary(), nullable=True),
    sa.Column('attested', sa.Boolean(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'confirmed', 'rejected', name='manual_entry_status', native_enum=False,
                                length=16), nullable=False),
    sa.Column('entered_by_id', sa.Integer(), nullable=False),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rejection_reason', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['application.id'],
                            name=op.f('fk_manual_entry_application_id_application'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user.id'], name=op.f('fk_manual_entry_decided_by_id_user')),
    sa.ForeignKeyConstraint(['entered_by_id'], ['user.id'], name=op.f('fk_manual_entry_entered_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_manual_entry'))
    )
    with op.batch_alter_table('manual_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_manual_entry_application_id'), ['application_id'], unique=False)

    # data_pull is append-only (a trigger refuses UPDATE): adding a nullable column leaves every row as it was.
    # SQLite adds the column in place (a batch rebuild of the table would drop its append-only trigger).
    if op.get_bind().dialect.name == "postgresql":
        op.add_column('data_pull', sa.Column('manual_entry_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_data_pull_manual_entry_id_manual_entry'), 'data_pull', 'manual_entry',
                              ['manual_entry_id'], ['id'])
    else:
        op.execute("ALTER TABLE data_pull ADD COLUMN manual_entry_id INTEGER "
                   "CONSTRAINT fk_data_pull_manual_entry_id_manual_entry REFERENCES manual_entry (id)")
    op.create_index(op.f('ix_data_pull_manual_entry_id'), 'data_pull', ['manual_entry_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_data_pull_manual_entry_id'), table_name='data_pull')
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f('fk_data_pull_manual_entry_id_manual_entry'), 'data_pull', type_='foreignkey')
        op.drop_column('data_pull', 'manual_entry_id')
    else:
        # SQLite cannot drop a column a foreign key names: the table is rebuilt, and its trigger made again.
        with op.batch_alter_table('data_pull', schema=None) as batch_op:
            batch_op.drop_column('manual_entry_id')
        op.execute("DROP TRIGGER IF EXISTS data_pull_no_update")
        op.execute("CREATE TRIGGER data_pull_no_update BEFORE UPDATE ON data_pull "
                   "BEGIN SELECT RAISE(ABORT, 'data_pull is append-only'); END")
    with op.batch_alter_table('manual_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_manual_entry_application_id'))
    op.drop_table('manual_entry')
