"""PostgreSQL: a payroll line's payroll and enrolment are checked once per statement instead of once per line

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-05 17:10:00

The guarantee is unchanged: every line's payroll and enrolment exist, and a payroll or enrolment that lines point at
can be neither deleted nor given another id (NO ACTION, as the foreign keys of 0007: checked at the end of the
statement, so a statement that removes the lines as well, or puts the id back, passes). What changes is the cost.
A foreign key checks each inserted line with one query of its own, twice per line here: 2.4 million queries for a
national month of 1.2 million lines. On PostgreSQL the two foreign keys of `payroll_line` become triggers:

- INSERT on payroll_line: one check per statement over its new lines (a transition table). The payrolls the lines
  point at are locked FOR KEY SHARE in bulk, as the foreign key locked them one by one, so that a payroll cannot be
  deleted between the check and the commit (one payroll per generation: nothing to measure). The enrolments are
  checked but not locked: locking a row writes to it (and to the WAL), one enrolment per line. Measured on one
  region's 21,280 lines (INSERT … SELECT, rolled back, best of 8 on 2 busy cores): 303 ms with the foreign keys,
  119 ms with no check, 166 ms with these triggers, 222 ms if they also locked the enrolments FOR KEY SHARE: the
  bulk lock would cost more than the checks themselves, about a third of what the foreign keys cost. Enrolments
  are never deleted by the application (an ended one keeps its row and gets a status); instead, a DELETE of
  enrolments, or a change of their id, first takes a SHARE lock on payroll_line, which waits for every transaction
  writing lines to end and keeps new ones out until it commits, and then looks for lines with a fresh snapshot.
  Either the writer commits first and the delete sees its lines, or the delete commits first and the writer's
  check no longer finds the enrolment.
- UPDATE of a line's payroll_id or enrolment_id: a row trigger WHEN the id changes, which the application never
  does. PostgreSQL refuses transition tables on a trigger limited to some columns, and a statement trigger on every
  UPDATE would join the old and new rows of each reconciliation and numbering of 1.2 million lines to find none.
- DELETE of payrolls or enrolments: one check per statement over the deleted rows; a change of their id (never done)
  a row trigger WHEN it changes, for the same reason as above.

Refusals raise SQLSTATE 23503 (foreign_key_violation) with the constraint's name, as the foreign key did.
The checks read with a fresh snapshot per statement, which is what the application runs (READ COMMITTED). Under
REPEATABLE READ, a line could be added for an enrolment deleted after the writer's snapshot, and a delete could
miss a line committed after its own, where the foreign key would fail with a serialization error; SERIALIZABLE
catches both (each side reads what the other writes).
The models keep their `ForeignKey`s (relationships, joins, SQLite's real foreign keys); migrations/env.py leaves
these two out of the PostgreSQL comparison. Downgrade puts the foreign keys back.
"""
from alembic import op

revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None

_PAYROLL_FK = "fk_payroll_line_payroll_id_payroll"
_ENROLMENT_FK = "fk_payroll_line_enrolment_id_enrolment"


def _refuse_missing(column: str, table: str, constraint: str) -> str:
    """PL/pgSQL raising as the foreign key does when a line points at a missing row (its id in `missing`)."""
    return f"""
    RAISE EXCEPTION 'insert or update on table "payroll_line" violates foreign key constraint "{constraint}": '
                    '{table} % does not exist', missing
      USING ERRCODE = 'foreign_key_violation', CONSTRAINT = '{constraint}', TABLE = 'payroll_line',
            DETAIL = format('Key ({column})=(%s) is not present in table "{table}".', missing);"""


def _refuse_referenced(table: str, constraint: str) -> str:
    """PL/pgSQL raising as the foreign key does when a row lines point at goes (its id in `referenced`)."""
    return f"""
    RAISE EXCEPTION 'update or delete on table "{table}" violates foreign key constraint "{constraint}" on table '
                    '"payroll_line": {table} % has payroll lines', referenced
      USING ERRCODE = 'foreign_key_violation', CONSTRAINT = '{constraint}', TABLE = '{table}',
            DETAIL = format('Key (id)=(%s) is still referenced from table "payroll_line".', referenced);"""


_UPGRADE = f"""
ALTER TABLE payroll_line DROP CONSTRAINT {_PAYROLL_FK};
ALTER TABLE payroll_line DROP CONSTRAINT {_ENROLMENT_FK};

-- The lines' payrolls, locked in one statement; their enrolments, looked up in one anti-join.
CREATE FUNCTION payroll_line_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  wanted bigint;
  locked bigint;
  missing bigint;
BEGIN
  SELECT count(DISTINCT payroll_id) INTO wanted FROM new_lines;
  SELECT count(*) INTO locked FROM (
    SELECT 1 FROM payroll WHERE id IN (SELECT payroll_id FROM new_lines) FOR KEY SHARE) p;
  IF locked < wanted THEN
    SELECT n.payroll_id INTO missing FROM new_lines n
    WHERE NOT EXISTS (SELECT 1 FROM payroll p WHERE p.id = n.payroll_id) LIMIT 1;
    {_refuse_missing("payroll_id", "payroll", _PAYROLL_FK)}
  END IF;
  SELECT n.enrolment_id INTO missing FROM new_lines n
  WHERE NOT EXISTS (SELECT 1 FROM enrolment e WHERE e.id = n.enrolment_id) LIMIT 1;
  IF FOUND THEN
    {_refuse_missing("enrolment_id", "enrolment", _ENROLMENT_FK)}
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER payroll_line_references_inserted AFTER INSERT ON payroll_line REFERENCING NEW TABLE AS new_lines
FOR EACH STATEMENT EXECUTE FUNCTION payroll_line_references_exist();

-- One line whose payroll or enrolment changed (the application never moves a line).
CREATE FUNCTION payroll_line_references_moved() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  missing bigint;
BEGIN
  PERFORM 1 FROM payroll WHERE id = NEW.payroll_id FOR KEY SHARE;
  IF NOT FOUND THEN
    missing := NEW.payroll_id;
    {_refuse_missing("payroll_id", "payroll", _PAYROLL_FK)}
  END IF;
  PERFORM 1 FROM enrolment WHERE id = NEW.enrolment_id FOR KEY SHARE;
  IF NOT FOUND THEN
    missing := NEW.enrolment_id;
    {_refuse_missing("enrolment_id", "enrolment", _ENROLMENT_FK)}
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER payroll_line_references_moved AFTER UPDATE OF payroll_id, enrolment_id ON payroll_line
FOR EACH ROW WHEN (NEW.payroll_id IS DISTINCT FROM OLD.payroll_id OR NEW.enrolment_id IS DISTINCT FROM OLD.enrolment_id)
EXECUTE FUNCTION payroll_line_references_moved();

-- Payrolls gone (deleted, or their id changed) while lines still point at them; NO ACTION: an id back in place by
-- the end of the statement is not gone.
CREATE FUNCTION payroll_referenced_by_lines() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  referenced bigint;
BEGIN
  SELECT o.id INTO referenced FROM old_payrolls o
  WHERE EXISTS (SELECT 1 FROM payroll_line l WHERE l.payroll_id = o.id)
    AND NOT EXISTS (SELECT 1 FROM payroll p WHERE p.id = o.id) LIMIT 1;
  IF FOUND THEN
    {_refuse_referenced("payroll", _PAYROLL_FK)}
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER payroll_deleted_referenced AFTER DELETE ON payroll REFERENCING OLD TABLE AS old_payrolls
FOR EACH STATEMENT EXECUTE FUNCTION payroll_referenced_by_lines();
CREATE FUNCTION payroll_id_changed_referenced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  referenced bigint := OLD.id;
BEGIN
  IF EXISTS (SELECT 1 FROM payroll_line WHERE payroll_id = OLD.id)
     AND NOT EXISTS (SELECT 1 FROM payroll WHERE id = OLD.id) THEN
    {_refuse_referenced("payroll", _PAYROLL_FK)}
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER payroll_id_changed_referenced AFTER UPDATE OF id ON payroll
FOR EACH ROW WHEN (NEW.id IS DISTINCT FROM OLD.id) EXECUTE FUNCTION payroll_id_changed_referenced();

-- Enrolments gone while lines point at them. Their rows are not locked by the lines' inserts (see above): the
-- SHARE lock waits for the transactions writing lines and keeps new ones out until this one ends.
CREATE FUNCTION enrolment_referenced_by_lines() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  referenced bigint;
BEGIN
  LOCK TABLE payroll_line IN SHARE MODE;
  SELECT o.id INTO referenced FROM old_enrolments o
  WHERE EXISTS (SELECT 1 FROM payroll_line l WHERE l.enrolment_id = o.id)
    AND NOT EXISTS (SELECT 1 FROM enrolment e WHERE e.id = o.id) LIMIT 1;
  IF FOUND THEN
    {_refuse_referenced("enrolment", _ENROLMENT_FK)}
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER enrolment_deleted_referenced AFTER DELETE ON enrolment REFERENCING OLD TABLE AS old_enrolments
FOR EACH STATEMENT EXECUTE FUNCTION enrolment_referenced_by_lines();
CREATE FUNCTION enrolment_id_changed_referenced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  referenced bigint := OLD.id;
BEGIN
  LOCK TABLE payroll_line IN SHARE MODE;
  IF EXISTS (SELECT 1 FROM payroll_line WHERE enrolment_id = OLD.id)
     AND NOT EXISTS (SELECT 1 FROM enrolment WHERE id = OLD.id) THEN
    {_refuse_referenced("enrolment", _ENROLMENT_FK)}
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER enrolment_id_changed_referenced AFTER UPDATE OF id ON enrolment
FOR EACH ROW WHEN (NEW.id IS DISTINCT FROM OLD.id) EXECUTE FUNCTION enrolment_id_changed_referenced();
"""

_DOWNGRADE = f"""
DROP TRIGGER enrolment_id_changed_referenced ON enrolment;
DROP FUNCTION enrolment_id_changed_referenced();
DROP TRIGGER enrolment_deleted_referenced ON enrolment;
DROP FUNCTION enrolment_referenced_by_lines();
DROP TRIGGER payroll_id_changed_referenced ON payroll;
DROP FUNCTION payroll_id_changed_referenced();
DROP TRIGGER payroll_deleted_referenced ON payroll;
DROP FUNCTION payroll_referenced_by_lines();
DROP TRIGGER payroll_line_references_moved ON payroll_line;
DROP FUNCTION payroll_line_references_moved();
DROP TRIGGER payroll_line_references_inserted ON payroll_line;
DROP FUNCTION payroll_line_references_exist();
ALTER TABLE payroll_line ADD CONSTRAINT {_PAYROLL_FK} FOREIGN KEY (payroll_id) REFERENCES payroll (id);
ALTER TABLE payroll_line ADD CONSTRAINT {_ENROLMENT_FK} FOREIGN KEY (enrolment_id) REFERENCES enrolment (id);
"""


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_UPGRADE)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_DOWNGRADE)
