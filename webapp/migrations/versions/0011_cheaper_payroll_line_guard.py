"""cheaper guard of approved payrolls' lines on PostgreSQL: one check per INSERT statement, UPDATE checked only when
a frozen column changes

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 22:10:00

The rule of 0007 is unchanged (an approved, sent or reconciled payroll gets no new line, loses none, and its lines
keep their amount, enrolment, period, payroll, end-to-end id and inclusion). What changes is what it costs: 0007's
row trigger looked the payroll up once per inserted line (1.2 million lookups for a national month) and once or
twice per updated line, also when reconciliation only moves a line to paid. Now an INSERT is checked once per
statement over its new rows, and an UPDATE reaches the check only when it changes a column the rule protects.
SQLite keeps 0007's triggers, which already have such WHEN conditions.
"""
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

_FROZEN = "('approved', 'sent', 'reconciled')"
# As in 0007: the columns an approved payroll's lines keep.
_LINE_CHANGED = ("NEW.amount IS DISTINCT FROM OLD.amount OR NEW.enrolment_id IS DISTINCT FROM OLD.enrolment_id "
                 "OR NEW.period IS DISTINCT FROM OLD.period OR NEW.payroll_id IS DISTINCT FROM OLD.payroll_id "
                 "OR NEW.end_to_end_id IS DISTINCT FROM OLD.end_to_end_id "
                 "OR NEW.exclusion_reason IS DISTINCT FROM OLD.exclusion_reason "
                 "OR (NEW.status IS DISTINCT FROM OLD.status AND 'excluded' IN (NEW.status, OLD.status))")

_UPGRADE = f"""
DROP TRIGGER payroll_line_frozen ON payroll_line;
CREATE TRIGGER payroll_line_frozen_update BEFORE UPDATE ON payroll_line
FOR EACH ROW WHEN ({_LINE_CHANGED}) EXECUTE FUNCTION payroll_line_frozen();
CREATE TRIGGER payroll_line_frozen_delete BEFORE DELETE ON payroll_line
FOR EACH ROW EXECUTE FUNCTION payroll_line_frozen();
CREATE FUNCTION payroll_line_frozen_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  frozen integer;
BEGIN
  SELECT p.id INTO frozen FROM (SELECT DISTINCT payroll_id FROM new_lines) n JOIN payroll p ON p.id = n.payroll_id
  WHERE p.status IN {_FROZEN} LIMIT 1;
  IF frozen IS NOT NULL THEN
    RAISE EXCEPTION 'payroll % is approved: lines cannot be added', frozen;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER payroll_line_frozen_insert AFTER INSERT ON payroll_line REFERENCING NEW TABLE AS new_lines
FOR EACH STATEMENT EXECUTE FUNCTION payroll_line_frozen_insert();
"""

_DOWNGRADE = """
DROP TRIGGER payroll_line_frozen_insert ON payroll_line;
DROP FUNCTION payroll_line_frozen_insert();
DROP TRIGGER payroll_line_frozen_delete ON payroll_line;
DROP TRIGGER payroll_line_frozen_update ON payroll_line;
CREATE TRIGGER payroll_line_frozen BEFORE INSERT OR UPDATE OR DELETE ON payroll_line
FOR EACH ROW EXECUTE FUNCTION payroll_line_frozen();
"""


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_UPGRADE)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_DOWNGRADE)
