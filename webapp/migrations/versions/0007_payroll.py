"""payroll

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 08:03:39.472020

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# An approved payroll cannot change: while a payroll is approved, sent or reconciled its lines keep
# their amount, enrolment, period, payroll and end-to-end id, none is added, deleted, excluded or re-included, and
# the payroll keeps its programme, area, period, totals and people and never goes back to draft or checked. Line
# statuses still move to paid/failed/returned (reconciliation) and the payroll's status moves on.
_FROZEN = "('approved', 'sent', 'reconciled')"
_LINE_CHANGED = ("NEW.amount IS DISTINCT FROM OLD.amount OR NEW.enrolment_id IS DISTINCT FROM OLD.enrolment_id "
                 "OR NEW.period IS DISTINCT FROM OLD.period OR NEW.payroll_id IS DISTINCT FROM OLD.payroll_id "
                 "OR NEW.end_to_end_id IS DISTINCT FROM OLD.end_to_end_id "
                 "OR NEW.exclusion_reason IS DISTINCT FROM OLD.exclusion_reason "
                 "OR (NEW.status IS DISTINCT FROM OLD.status AND 'excluded' IN (NEW.status, OLD.status))")
_PAYROLL_CHANGED = ("NEW.programme_id IS DISTINCT FROM OLD.programme_id OR NEW.area_id IS DISTINCT FROM OLD.area_id "
                    "OR NEW.period IS DISTINCT FROM OLD.period OR NEW.line_count IS DISTINCT FROM OLD.line_count "
                    "OR NEW.total_amount IS DISTINCT FROM OLD.total_amount "
                    "OR NEW.prepared_by_id IS DISTINCT FROM OLD.prepared_by_id "
                    "OR NEW.approved_by_id IS DISTINCT FROM OLD.approved_by_id "
                    "OR NEW.approved_at IS DISTINCT FROM OLD.approved_at OR NEW.status IN ('draft', 'checked')")

_PG_GUARD = f"""
CREATE FUNCTION payroll_line_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF (SELECT status FROM payroll WHERE id = NEW.payroll_id) IN {_FROZEN} THEN
      RAISE EXCEPTION 'payroll % is approved: lines cannot be added', NEW.payroll_id;
    END IF;
    RETURN NEW;
  ELSIF TG_OP = 'DELETE' THEN
    IF (SELECT status FROM payroll WHERE id = OLD.payroll_id) IN {_FROZEN} THEN
      RAISE EXCEPTION 'payroll % is approved: lines cannot be deleted', OLD.payroll_id;
    END IF;
    RETURN OLD;
  END IF;
  IF ((SELECT status FROM payroll WHERE id = OLD.payroll_id) IN {_FROZEN}
      OR (SELECT status FROM payroll WHERE id = NEW.payroll_id) IN {_FROZEN}) AND ({_LINE_CHANGED}) THEN
    RAISE EXCEPTION 'payroll % is approved: its lines cannot change', OLD.payroll_id;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER payroll_line_frozen BEFORE INSERT OR UPDATE OR DELETE ON payroll_line
FOR EACH ROW EXECUTE FUNCTION payroll_line_frozen();
CREATE FUNCTION payroll_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.status IN {_FROZEN} THEN RAISE EXCEPTION 'payroll % is approved: it cannot be deleted', OLD.id; END IF;
    RETURN OLD;
  END IF;
  IF OLD.status IN {_FROZEN} AND ({_PAYROLL_CHANGED}) THEN
    RAISE EXCEPTION 'payroll % is approved: it cannot change', OLD.id;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER payroll_frozen BEFORE UPDATE OR DELETE ON payroll FOR EACH ROW EXECUTE FUNCTION payroll_frozen();
"""

# SQLite has no IS DISTINCT FROM before 3.39 everywhere; IS NOT is its null-safe inequality.
_SQLITE = _LINE_CHANGED.replace("IS DISTINCT FROM", "IS NOT"), _PAYROLL_CHANGED.replace("IS DISTINCT FROM", "IS NOT")
_SQLITE_GUARD = [
    f"CREATE TRIGGER payroll_line_frozen_insert BEFORE INSERT ON payroll_line "
    f"WHEN (SELECT status FROM payroll WHERE id = NEW.payroll_id) IN {_FROZEN} "
    f"BEGIN SELECT RAISE(ABORT, 'payroll is approved: lines cannot be added'); END",
    f"CREATE TRIGGER payroll_line_frozen_delete BEFORE DELETE ON payroll_line "
    f"WHEN (SELECT status FROM payroll WHERE id = OLD.payroll_id) IN {_FROZEN} "
    f"BEGIN SELECT RAISE(ABORT, 'payroll is approved: lines cannot be deleted'); END",
    f"CREATE TRIGGER payroll_line_frozen_update BEFORE UPDATE ON payroll_line "
    f"WHEN ((SELECT status FROM payroll WHERE id = OLD.payroll_id) IN {_FROZEN} "
    f"OR (SELECT status FROM payroll WHERE id = NEW.payroll_id) IN {_FROZEN}) AND ({_SQLITE[0]}) "
    f"BEGIN SELECT RAISE(ABORT, 'payroll is approved: its lines cannot change'); END",
    f"CREATE TRIGGER payroll_frozen_update BEFORE UPDATE ON payroll WHEN OLD.status IN {_FROZEN} "
    f"AND ({_SQLITE[1]}) BEGIN SELECT RAISE(ABORT, 'payroll is approved: it cannot change'); END",
    f"CREATE TRIGGER payroll_frozen_delete BEFORE DELETE ON payroll WHEN OLD.status IN {_FROZEN} "
    f"BEGIN SELECT RAISE(ABORT, 'payroll is approved: it cannot be deleted'); END",
]
_SQLITE_TRIGGERS = ("payroll_line_frozen_insert", "payroll_line_frozen_delete", "payroll_line_frozen_update",
                    "payroll_frozen_update", "payroll_frozen_delete")


def upgrade():
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table('payroll',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('status', sa.Enum('draft', 'checked', 'approved', 'sent', 'reconciled', 'cancelled', name='payroll_status', native_enum=False, length=16), nullable=False),
    sa.Column('prepared_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reconciled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('line_count', sa.Integer(), nullable=False),
    sa.Column('total_amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.CheckConstraint('approved_by_id IS NULL OR approved_by_id <> prepared_by_id', name=op.f('ck_payroll_approver_not_preparer')),
    sa.ForeignKeyConstraint(['approved_by_id'], ['user.id'], name=op.f('fk_payroll_approved_by_id_user')),
    sa.ForeignKeyConstraint(['area_id'], ['area.id'], name=op.f('fk_payroll_area_id_area')),
    sa.ForeignKeyConstraint(['prepared_by_id'], ['user.id'], name=op.f('fk_payroll_prepared_by_id_user')),
    sa.ForeignKeyConstraint(['programme_id'], ['programme.id'], name=op.f('fk_payroll_programme_id_programme')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payroll'))
    )
    with op.batch_alter_table('payroll', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payroll_area_id'), ['area_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payroll_programme_id'), ['programme_id'], unique=False)
        batch_op.create_index('uq_payroll_live_programme_area_period', ['programme_id', 'area_id', 'period'], unique=True, sqlite_where=sa.text("status <> 'cancelled'"), postgresql_where=sa.text("status <> 'cancelled'"))

    op.create_table('payroll_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('payroll_id', sa.Integer(), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('status', sa.Enum('included', 'excluded', 'paid', 'failed', 'returned', name='payroll_line_status', native_enum=False, length=16), nullable=False),
    sa.Column('exclusion_reason', sa.String(length=40), nullable=True),
    sa.Column('end_to_end_id', sa.String(length=35), nullable=True),
    sa.Column('cancelled', sa.Boolean(), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_payroll_line_amount_positive')),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolment.id'], name=op.f('fk_payroll_line_enrolment_id_enrolment')),
    sa.ForeignKeyConstraint(['payroll_id'], ['payroll.id'], name=op.f('fk_payroll_line_payroll_id_payroll')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payroll_line')),
    sa.UniqueConstraint('end_to_end_id', name=op.f('uq_payroll_line_end_to_end_id')),
    sa.UniqueConstraint('enrolment_id', 'period', name='uq_payroll_line_enrolment_period')
    )
    with op.batch_alter_table('payroll_line', schema=None) as batch_op:
        batch_op.create_index('ix_payroll_line_payroll_status', ['payroll_id', 'status'], unique=False)

    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_secret', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.Integer(), nullable=True))

    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_GUARD)
    else:
        for statement in _SQLITE_GUARD:
            op.execute(statement)
    # ### end Alembic commands ###


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS payroll_line_frozen ON payroll_line")
        op.execute("DROP FUNCTION IF EXISTS payroll_line_frozen()")
        op.execute("DROP TRIGGER IF EXISTS payroll_frozen ON payroll")
        op.execute("DROP FUNCTION IF EXISTS payroll_frozen()")
    else:
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_secret')

    with op.batch_alter_table('payroll_line', schema=None) as batch_op:
        batch_op.drop_index('ix_payroll_line_payroll_status')

    op.drop_table('payroll_line')
    with op.batch_alter_table('payroll', schema=None) as batch_op:
        batch_op.drop_index('uq_payroll_live_programme_area_period', sqlite_where=sa.text("status <> 'cancelled'"), postgresql_where=sa.text("status <> 'cancelled'"))
        batch_op.drop_index(batch_op.f('ix_payroll_programme_id'))
        batch_op.drop_index(batch_op.f('ix_payroll_area_id'))

    op.drop_table('payroll')
    # ### end Alembic commands ###
