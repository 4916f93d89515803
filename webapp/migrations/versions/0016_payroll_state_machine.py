"""the payroll state machine, payee snapshots and the payment ledger enforced by the database

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 09:00:00

What a database user (or a bug) could do by plain SQL before, and is now refused by the database itself:

- a payroll's status moves only along the status machine (`modules.payments.status.TRANSITIONS`, copied below):
  no checked → sent, no sent → approved, and a sent or reconciled payroll is never cancelled; a new payroll is a
  draft; a cancelled payroll does not change any more; who prepared a payroll does not change;
- approval needs an approver who is an active finance checker (read from the user table) and not the preparer,
  and every line to pay must carry its payee snapshot (name, PINFL, account, bank code: the bank files are made
  from it); once approved the snapshot is frozen with the rest of the line (the guard of 0007, extended);
- a line's status moves only along `LINE_MOVES` (a paid line never goes back to included);
- when a payroll moves to sent, its lines go into `payment_ledger`: append-only (UPDATE, DELETE and TRUNCATE
  refused), UNIQUE (enrolment_id, period); a line for an enrolment and month already in the ledger cannot be added
  or included again, even after the paid line itself is gone;
- PostgreSQL: `payroll.line_count` and `total_amount` are kept equal to the count and sum of the lines not excluded
  by statement triggers with transition tables (one aggregate per statement, not per row, as 0011: a national
  month has 1.2 million lines); they cannot be written directly. A cancelled payroll keeps its totals as the
  record when its lines are deleted.

SQLite (the embedded database of `make run`) gets the same rules as simple row triggers, except the totals, which
`generation.refresh_totals` writes there.
"""
from alembic import op
import sqlalchemy as sa

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

# modules/payments/status.py TRANSITIONS and models/payroll.py LINE_MOVES as they are at this revision (a test
# compares them); written as 'from>to'.
_PAYROLL_MOVES = ("draft>checked", "draft>cancelled", "checked>approved", "checked>cancelled", "approved>sent",
                  "approved>cancelled", "sent>reconciled")
_LINE_MOVES = ("included>excluded", "excluded>included", "included>paid", "included>failed", "included>returned",
               "paid>returned")


def _in(moves) -> str:
    return "(" + ", ".join(f"'{move}'" for move in moves) + ")"


_FROZEN = "('approved', 'sent', 'reconciled')"
_SNAPSHOT = ("payee_name", "payee_pin", "payee_account", "payee_bank_code")
_UNSNAPPED = "(payee_name IS NULL OR payee_account IS NULL OR payee_bank_code IS NULL)"
# 0007's columns an approved payroll's lines keep, and now their payee snapshot too.
_LINE_CHANGED_0007 = (
    "NEW.amount IS DISTINCT FROM OLD.amount OR NEW.enrolment_id IS DISTINCT FROM OLD.enrolment_id "
    "OR NEW.period IS DISTINCT FROM OLD.period OR NEW.payroll_id IS DISTINCT FROM OLD.payroll_id "
    "OR NEW.end_to_end_id IS DISTINCT FROM OLD.end_to_end_id "
    "OR NEW.exclusion_reason IS DISTINCT FROM OLD.exclusion_reason "
    "OR (NEW.status IS DISTINCT FROM OLD.status AND 'excluded' IN (NEW.status, OLD.status))")
_LINE_CHANGED = _LINE_CHANGED_0007 + "".join(f" OR NEW.{c} IS DISTINCT FROM OLD.{c}" for c in _SNAPSHOT)


def _line_frozen_function(changed: str) -> str:
    """0007's payroll_line_frozen(), with the columns it guards."""
    return f"""
CREATE OR REPLACE FUNCTION payroll_line_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
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
      OR (SELECT status FROM payroll WHERE id = NEW.payroll_id) IN {_FROZEN}) AND ({changed}) THEN
    RAISE EXCEPTION 'payroll % is approved: its lines cannot change', OLD.payroll_id;
  END IF;
  RETURN NEW;
END $$;
DROP TRIGGER payroll_line_frozen_update ON payroll_line;
CREATE TRIGGER payroll_line_frozen_update BEFORE UPDATE ON payroll_line
FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION payroll_line_frozen();
"""


_NOT_EXCLUDED = "status <> 'excluded'"

_PG_UPGRADE = _line_frozen_function(_LINE_CHANGED) + f"""
CREATE FUNCTION payroll_state_machine() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  approver record;
  lines bigint;
  total numeric;
  unsnapped bigint;
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.status NOT IN ('draft', 'cancelled') OR NEW.approved_by_id IS NOT NULL OR NEW.approved_at IS NOT NULL
       OR NEW.line_count <> 0 OR NEW.total_amount <> 0 THEN
      RAISE EXCEPTION 'a new payroll is an empty draft, not %', NEW.status USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
  END IF;
  IF OLD.status = 'cancelled' THEN
    RAISE EXCEPTION 'payroll % is cancelled: it cannot change', OLD.id USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.prepared_by_id IS DISTINCT FROM OLD.prepared_by_id THEN  -- whoever prepared it stays known to approval
    RAISE EXCEPTION 'payroll %: who prepared it does not change', OLD.id USING ERRCODE = 'check_violation';
  END IF;
  -- The totals are written only by the triggers on payroll_line (one level down), never directly.
  IF (NEW.line_count IS DISTINCT FROM OLD.line_count OR NEW.total_amount IS DISTINCT FROM OLD.total_amount)
     AND pg_trigger_depth() < 2 THEN
    RAISE EXCEPTION 'payroll %: its totals are the count and sum of its lines, kept by the database', OLD.id
      USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.status IS DISTINCT FROM OLD.status THEN
    IF (OLD.status || '>' || NEW.status) NOT IN {_in(_PAYROLL_MOVES)} THEN
      RAISE EXCEPTION 'payroll %: the status % cannot move to %', OLD.id, OLD.status, NEW.status
        USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.status = 'approved' THEN
      SELECT role, active INTO approver FROM "user" WHERE id = NEW.approved_by_id;
      IF NEW.approved_by_id IS NULL OR approver.role IS DISTINCT FROM 'finance_checker' OR NOT approver.active
         OR NEW.approved_by_id = NEW.prepared_by_id THEN
        RAISE EXCEPTION 'payroll %: only an active finance checker who did not prepare it approves it', OLD.id
          USING ERRCODE = 'check_violation';
      END IF;
      SELECT count(*), coalesce(sum(amount), 0), count(*) FILTER (WHERE {_UNSNAPPED})
        INTO lines, total, unsnapped FROM payroll_line WHERE payroll_id = NEW.id AND {_NOT_EXCLUDED};
      IF unsnapped > 0 THEN
        RAISE EXCEPTION 'payroll %: % lines to pay have no payee snapshot (name, account, bank code)', OLD.id,
          unsnapped USING ERRCODE = 'check_violation';
      END IF;
      IF lines <> NEW.line_count OR total <> NEW.total_amount THEN
        RAISE EXCEPTION 'payroll %: its totals are not those of its lines', OLD.id USING ERRCODE = 'check_violation';
      END IF;
      IF NEW.approved_at IS NULL THEN
        NEW.approved_at := now();
      END IF;
    END IF;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER payroll_state_machine BEFORE INSERT OR UPDATE ON payroll
FOR EACH ROW EXECUTE FUNCTION payroll_state_machine();

CREATE FUNCTION payroll_sent_to_ledger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO payment_ledger (payroll_line_id, enrolment_id, period, payroll_id, amount, sent_at)
  SELECT id, enrolment_id, period, payroll_id, amount, coalesce(NEW.sent_at, now())
  FROM payroll_line WHERE payroll_id = NEW.id AND {_NOT_EXCLUDED};
  RETURN NULL;
END $$;
CREATE TRIGGER payroll_sent_to_ledger AFTER UPDATE ON payroll FOR EACH ROW
WHEN (NEW.status = 'sent' AND OLD.status IS DISTINCT FROM 'sent') EXECUTE FUNCTION payroll_sent_to_ledger();

CREATE FUNCTION payment_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the payment ledger is append-only: % refused', TG_OP USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER payment_ledger_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON payment_ledger
FOR EACH STATEMENT EXECUTE FUNCTION payment_ledger_append_only();

CREATE FUNCTION payroll_line_status_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'payroll line %: the status % cannot move to %', OLD.id, OLD.status, NEW.status
    USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER payroll_line_status_order BEFORE UPDATE ON payroll_line FOR EACH ROW
WHEN (OLD.status IS DISTINCT FROM NEW.status AND (OLD.status || '>' || NEW.status) NOT IN {_in(_LINE_MOVES)})
EXECUTE FUNCTION payroll_line_status_order();

-- A line moved to another enrolment or month, or included again: not if that month was paid (the paid line itself
-- never gets here: it is frozen).
CREATE FUNCTION payroll_line_paid_before() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status <> 'excluded' AND EXISTS (SELECT 1 FROM payment_ledger WHERE enrolment_id = NEW.enrolment_id
                                          AND period = NEW.period) THEN
    RAISE EXCEPTION 'enrolment % was already paid for %', NEW.enrolment_id, NEW.period
      USING ERRCODE = 'unique_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER payroll_line_paid_before BEFORE UPDATE ON payroll_line FOR EACH ROW
WHEN (NEW.enrolment_id IS DISTINCT FROM OLD.enrolment_id OR NEW.period IS DISTINCT FROM OLD.period
      OR (OLD.status = 'excluded' AND NEW.status <> 'excluded'))
EXECUTE FUNCTION payroll_line_paid_before();

-- New lines: none for a month already paid, and the payrolls' totals move by what the statement added.
CREATE FUNCTION payroll_lines_added() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  paid record;
BEGIN
  SELECT n.enrolment_id, n.period INTO paid FROM new_lines n
  JOIN payment_ledger l ON l.enrolment_id = n.enrolment_id AND l.period = n.period
  WHERE n.{_NOT_EXCLUDED} LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'enrolment % was already paid for %', paid.enrolment_id, paid.period
      USING ERRCODE = 'unique_violation';
  END IF;
  UPDATE payroll p SET line_count = p.line_count + d.lines, total_amount = p.total_amount + d.total
  FROM (SELECT payroll_id, count(*) AS lines, sum(amount) AS total FROM new_lines WHERE {_NOT_EXCLUDED}
        GROUP BY payroll_id) d
  WHERE p.id = d.payroll_id;
  RETURN NULL;
END $$;
CREATE TRIGGER payroll_lines_added AFTER INSERT ON payroll_line REFERENCING NEW TABLE AS new_lines
FOR EACH STATEMENT EXECUTE FUNCTION payroll_lines_added();

CREATE FUNCTION payroll_lines_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE payroll p SET line_count = p.line_count + d.lines, total_amount = p.total_amount + d.total
  FROM (SELECT payroll_id, sum(lines) AS lines, sum(total) AS total FROM (
          SELECT payroll_id, -1 AS lines, -amount AS total FROM old_lines WHERE {_NOT_EXCLUDED}
          UNION ALL
          SELECT payroll_id, 1, amount FROM new_lines WHERE {_NOT_EXCLUDED}) moved
        GROUP BY payroll_id) d
  WHERE p.id = d.payroll_id AND (d.lines <> 0 OR d.total <> 0);
  RETURN NULL;
END $$;
CREATE TRIGGER payroll_lines_changed AFTER UPDATE ON payroll_line
REFERENCING OLD TABLE AS old_lines NEW TABLE AS new_lines
FOR EACH STATEMENT EXECUTE FUNCTION payroll_lines_changed();

-- Deleted lines: a cancelled payroll keeps its totals as the record of what was cancelled.
CREATE FUNCTION payroll_lines_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE payroll p SET line_count = p.line_count - d.lines, total_amount = p.total_amount - d.total
  FROM (SELECT payroll_id, count(*) AS lines, sum(amount) AS total FROM old_lines WHERE {_NOT_EXCLUDED}
        GROUP BY payroll_id) d
  WHERE p.id = d.payroll_id AND p.status <> 'cancelled';
  RETURN NULL;
END $$;
CREATE TRIGGER payroll_lines_deleted AFTER DELETE ON payroll_line REFERENCING OLD TABLE AS old_lines
FOR EACH STATEMENT EXECUTE FUNCTION payroll_lines_deleted();

CREATE FUNCTION payroll_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% cannot be truncated: approved and sent payrolls are kept', TG_TABLE_NAME
    USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER payroll_no_truncate BEFORE TRUNCATE ON payroll FOR EACH STATEMENT
EXECUTE FUNCTION payroll_no_truncate();
CREATE TRIGGER payroll_line_no_truncate BEFORE TRUNCATE ON payroll_line FOR EACH STATEMENT
EXECUTE FUNCTION payroll_no_truncate();
"""

_PG_DOWNGRADE = """
DROP TRIGGER payroll_no_truncate ON payroll;
DROP TRIGGER payroll_line_no_truncate ON payroll_line;
DROP FUNCTION payroll_no_truncate();
DROP TRIGGER payroll_lines_deleted ON payroll_line;
DROP FUNCTION payroll_lines_deleted();
DROP TRIGGER payroll_lines_changed ON payroll_line;
DROP FUNCTION payroll_lines_changed();
DROP TRIGGER payroll_lines_added ON payroll_line;
DROP FUNCTION payroll_lines_added();
DROP TRIGGER payroll_line_paid_before ON payroll_line;
DROP FUNCTION payroll_line_paid_before();
DROP TRIGGER payroll_line_status_order ON payroll_line;
DROP FUNCTION payroll_line_status_order();
DROP TRIGGER payment_ledger_append_only ON payment_ledger;
DROP FUNCTION payment_ledger_append_only();
DROP TRIGGER payroll_sent_to_ledger ON payroll;
DROP FUNCTION payroll_sent_to_ledger();
DROP TRIGGER payroll_state_machine ON payroll;
DROP FUNCTION payroll_state_machine();
""" + _line_frozen_function(_LINE_CHANGED_0007)


def _sqlite_changed(changed: str) -> str:
    return changed.replace("IS DISTINCT FROM", "IS NOT")


def _sqlite_line_frozen(changed: str) -> list[str]:
    """0007's SQLite trigger on updated lines of approved payrolls, with the columns it guards."""
    return [
        "DROP TRIGGER payroll_line_frozen_update",
        f"CREATE TRIGGER payroll_line_frozen_update BEFORE UPDATE ON payroll_line "
        f"WHEN ((SELECT status FROM payroll WHERE id = OLD.payroll_id) IN {_FROZEN} "
        f"OR (SELECT status FROM payroll WHERE id = NEW.payroll_id) IN {_FROZEN}) AND ({_sqlite_changed(changed)}) "
        f"BEGIN SELECT RAISE(ABORT, 'payroll is approved: its lines cannot change'); END",
    ]


_SQLITE_PAID = "EXISTS (SELECT 1 FROM payment_ledger WHERE enrolment_id = NEW.enrolment_id AND period = NEW.period)"
_SQLITE_UPGRADE = [
    *_sqlite_line_frozen(_LINE_CHANGED),
    "CREATE TRIGGER payroll_new_is_draft BEFORE INSERT ON payroll "
    "WHEN NEW.status NOT IN ('draft', 'cancelled') OR NEW.approved_by_id IS NOT NULL "
    "BEGIN SELECT RAISE(ABORT, 'a new payroll is a draft'); END",
    "CREATE TRIGGER payroll_cancelled_kept BEFORE UPDATE ON payroll WHEN OLD.status = 'cancelled' "
    "BEGIN SELECT RAISE(ABORT, 'payroll is cancelled: it cannot change'); END",
    "CREATE TRIGGER payroll_preparer_kept BEFORE UPDATE OF prepared_by_id ON payroll "
    "WHEN NEW.prepared_by_id IS NOT OLD.prepared_by_id "
    "BEGIN SELECT RAISE(ABORT, 'who prepared a payroll does not change'); END",
    f"CREATE TRIGGER payroll_status_order BEFORE UPDATE OF status ON payroll "
    f"WHEN NEW.status IS NOT OLD.status AND (OLD.status || '>' || NEW.status) NOT IN {_in(_PAYROLL_MOVES)} "
    f"BEGIN SELECT RAISE(ABORT, 'payroll status cannot move so'); END",
    f"CREATE TRIGGER payroll_approval BEFORE UPDATE OF status ON payroll "
    f"WHEN NEW.status = 'approved' AND OLD.status IS NOT 'approved' AND (NEW.approved_by_id IS NULL "
    f"OR NEW.approved_by_id IS NEW.prepared_by_id OR NOT EXISTS (SELECT 1 FROM \"user\" "
    f"WHERE id = NEW.approved_by_id AND role = 'finance_checker' AND active) "
    f"OR EXISTS (SELECT 1 FROM payroll_line WHERE payroll_id = NEW.id AND {_NOT_EXCLUDED} AND {_UNSNAPPED})) "
    f"BEGIN SELECT RAISE(ABORT, 'payroll approval needs another finance checker and every payee snapshot'); END",
    f"CREATE TRIGGER payroll_sent_to_ledger AFTER UPDATE OF status ON payroll "
    f"WHEN NEW.status = 'sent' AND OLD.status IS NOT 'sent' BEGIN "
    f"INSERT INTO payment_ledger (payroll_line_id, enrolment_id, period, payroll_id, amount, sent_at) "
    f"SELECT id, enrolment_id, period, payroll_id, amount, coalesce(NEW.sent_at, CURRENT_TIMESTAMP) "
    f"FROM payroll_line WHERE payroll_id = NEW.id AND {_NOT_EXCLUDED}; END",
    "CREATE TRIGGER payment_ledger_no_update BEFORE UPDATE ON payment_ledger "
    "BEGIN SELECT RAISE(ABORT, 'the payment ledger is append-only'); END",
    "CREATE TRIGGER payment_ledger_no_delete BEFORE DELETE ON payment_ledger "
    "BEGIN SELECT RAISE(ABORT, 'the payment ledger is append-only'); END",
    f"CREATE TRIGGER payroll_line_status_order BEFORE UPDATE OF status ON payroll_line "
    f"WHEN NEW.status IS NOT OLD.status AND (OLD.status || '>' || NEW.status) NOT IN {_in(_LINE_MOVES)} "
    f"BEGIN SELECT RAISE(ABORT, 'payroll line status cannot move so'); END",
    f"CREATE TRIGGER payroll_line_paid_before_insert BEFORE INSERT ON payroll_line "
    f"WHEN NEW.{_NOT_EXCLUDED} AND {_SQLITE_PAID} "
    f"BEGIN SELECT RAISE(ABORT, 'enrolment was already paid for the month'); END",
    f"CREATE TRIGGER payroll_line_paid_before_update BEFORE UPDATE ON payroll_line "
    f"WHEN NEW.{_NOT_EXCLUDED} AND (NEW.enrolment_id IS NOT OLD.enrolment_id OR NEW.period IS NOT OLD.period "
    f"OR OLD.status = 'excluded') AND {_SQLITE_PAID} "
    f"BEGIN SELECT RAISE(ABORT, 'enrolment was already paid for the month'); END",
]
_SQLITE_TRIGGERS = ("payroll_new_is_draft", "payroll_cancelled_kept", "payroll_preparer_kept", "payroll_status_order", "payroll_approval",
                    "payroll_sent_to_ledger", "payment_ledger_no_update", "payment_ledger_no_delete",
                    "payroll_line_status_order", "payroll_line_paid_before_insert", "payroll_line_paid_before_update")

# The snapshot of lines already approved (or later) when this revision is applied, from the live data.
_BACKFILL = f"""
UPDATE payroll_line SET payee_name = (SELECT p.last_name || ' ' || p.first_name FROM enrolment e
                                      JOIN person p ON p.id = e.payee_person_id WHERE e.id = payroll_line.enrolment_id),
  payee_pin = (SELECT p.pin FROM enrolment e JOIN person p ON p.id = e.payee_person_id
               WHERE e.id = payroll_line.enrolment_id),
  payee_account = (SELECT a.account_number FROM enrolment e JOIN bank_account a ON a.id = e.bank_account_id
                   WHERE e.id = payroll_line.enrolment_id),
  payee_bank_code = (SELECT a.bank_code FROM enrolment e JOIN bank_account a ON a.id = e.bank_account_id
                     WHERE e.id = payroll_line.enrolment_id)
WHERE payroll_id IN (SELECT id FROM payroll WHERE status IN {_FROZEN})
"""
# Totals of the payrolls not approved yet counted as the triggers will keep them.
_RECOUNT = """
UPDATE payroll SET
  line_count = (SELECT count(*) FROM payroll_line l WHERE l.payroll_id = payroll.id AND l.status <> 'excluded'),
  total_amount = (SELECT coalesce(sum(amount), 0) FROM payroll_line l
                  WHERE l.payroll_id = payroll.id AND l.status <> 'excluded')
WHERE status IN ('draft', 'checked')
"""


def upgrade():
    with op.batch_alter_table('payroll_line', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('payee_name', sa.String(length=161), nullable=True))
        batch_op.add_column(sa.Column('payee_pin', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('payee_account', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('payee_bank_code', sa.String(length=5), nullable=True))

    op.create_table('payment_ledger',
    sa.Column('payroll_line_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('payroll_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolment.id'], name=op.f('fk_payment_ledger_enrolment_id_enrolment')),
    sa.ForeignKeyConstraint(['payroll_id'], ['payroll.id'], name=op.f('fk_payment_ledger_payroll_id_payroll')),
    sa.ForeignKeyConstraint(['payroll_line_id'], ['payroll_line.id'], name=op.f('fk_payment_ledger_payroll_line_id_payroll_line')),
    sa.PrimaryKeyConstraint('payroll_line_id', name=op.f('pk_payment_ledger')),
    sa.UniqueConstraint('enrolment_id', 'period', name='uq_payment_ledger_enrolment_period')
    )
    with op.batch_alter_table('payment_ledger', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_ledger_payroll_id'), ['payroll_id'], unique=False)

    op.execute(_BACKFILL)
    op.execute(_RECOUNT)
    # Every payroll already sent is in the ledger.
    op.execute("INSERT INTO payment_ledger (payroll_line_id, enrolment_id, period, payroll_id, amount, sent_at) "
               "SELECT l.id, l.enrolment_id, l.period, l.payroll_id, l.amount, coalesce(p.sent_at, p.created_at) "
               "FROM payroll_line l JOIN payroll p ON p.id = l.payroll_id "
               "WHERE p.status IN ('sent', 'reconciled') AND l.status <> 'excluded'")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_UPGRADE)
    else:
        for statement in _SQLITE_UPGRADE:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_DOWNGRADE)
    else:
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        for statement in _sqlite_line_frozen(_LINE_CHANGED_0007):
            op.execute(statement)
    with op.batch_alter_table('payment_ledger', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_ledger_payroll_id'))

    op.drop_table('payment_ledger')
    if op.get_bind().dialect.name == "postgresql":
        with op.batch_alter_table('payroll_line', schema=None) as batch_op:
            for column in reversed(_SNAPSHOT):
                batch_op.drop_column(column)
    else:  # ALTER TABLE … DROP COLUMN, not a rebuild of the table, which would lose 0007's triggers
        for column in reversed(_SNAPSHOT):
            op.execute(f"ALTER TABLE payroll_line DROP COLUMN {column}")
