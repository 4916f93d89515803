"""A payroll line always points at a payroll and an enrolment that exist, and neither can go while lines point at
them. SQLite keeps this with its foreign keys; PostgreSQL with statement triggers (migration 0030), which must
refuse exactly what the foreign keys refused: the attacks below are plain SQL, as a database user or a bug would
write them, and each is refused by the database with an integrity error."""

from __future__ import annotations

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from modules.payments import generation
from modules.payments.models import Payroll, PayrollLine
from tests import factories
from tests.conftest import TEST_DATABASE_URL
from tests.factories import PAYROLL_PERIOD as PERIOD
from tests.factories import assessed_family, enrol
from webapp.extensions import db

POSTGRES = (TEST_DATABASE_URL or "").startswith("postgresql")
postgres_only = pytest.mark.skipif(not POSTGRES, reason="the triggers replacing the foreign keys are PostgreSQL's")

MISSING_ID = 987654321

# A copy of the payroll's lines (the next month, so that the unique enrolment and month does not refuse it first),
# with `:payroll` and `:enrolment` chosen per row.
_COPY_LINES = """
INSERT INTO payroll_line (payroll_id, enrolment_id, period, amount, status, cancelled)
SELECT {payroll}, {enrolment}, '2099-01', amount, 'included', false FROM payroll_line WHERE payroll_id = :id
"""


def _sql(statement: str, **params):
    return db.session.execute(text(statement), params)


def _refused(statement: str, missing_id: int | None = None, **params) -> None:
    """The database refuses the statement as a foreign key would (and the test's transaction goes on); on
    PostgreSQL with SQLSTATE 23503 and the id it could not find or that is still referenced."""
    with pytest.raises(IntegrityError) as refusal, db.session.begin_nested():
        _sql(statement, **params)
    if POSTGRES:
        assert refusal.value.orig.sqlstate == "23503"
        if missing_id is not None:
            assert str(missing_id) in str(refusal.value.orig)


@pytest.fixture
def payroll() -> Payroll:
    """A draft payroll of two lines (two enrolled children)."""
    family = assessed_family(children=2)
    for child in family["children"]:
        enrol(family, child)
    made = generation.generate("child_allowance", "UZ-TK", PERIOD, factories.make_user("finance_maker", national=True))
    assert made.line_count == 2
    return made


def _lines(payroll: Payroll) -> list[PayrollLine]:
    return list(db.session.scalars(select(PayrollLine).where(PayrollLine.payroll_id == payroll.id)
                                   .order_by(PayrollLine.id)))


def _count_lines() -> int:
    return db.session.scalar(select(func.count()).select_from(PayrollLine))


def test_a_line_for_a_missing_payroll_is_refused(payroll):
    line = _lines(payroll)[0]
    _refused("INSERT INTO payroll_line (payroll_id, enrolment_id, period, amount, status, cancelled) "
             "VALUES (:payroll, :enrolment, '2099-01', 100, 'included', false)", MISSING_ID,
             payroll=MISSING_ID, enrolment=line.enrolment_id)


def test_a_line_for_a_missing_enrolment_is_refused(payroll):
    _refused("INSERT INTO payroll_line (payroll_id, enrolment_id, period, amount, status, cancelled) "
             "VALUES (:payroll, :enrolment, '2099-01', 100, 'included', false)", MISSING_ID,
             payroll=payroll.id, enrolment=MISSING_ID)


def test_a_copy_of_good_lines_is_accepted(payroll):
    before = _count_lines()
    _sql(_COPY_LINES.format(payroll="payroll_id", enrolment="enrolment_id"), id=payroll.id)
    assert _count_lines() == before + 2


@pytest.mark.parametrize("column", ["payroll", "enrolment"])
def test_an_insert_select_with_one_bad_row_is_refused_whole(payroll, column):
    first = _lines(payroll)[0].id
    bad = f"CASE WHEN id = {first} THEN {MISSING_ID} ELSE {column}_id END"
    before = _count_lines()
    _refused(_COPY_LINES.format(payroll=bad if column == "payroll" else "payroll_id",
                                enrolment=bad if column == "enrolment" else "enrolment_id"), MISSING_ID,
             id=payroll.id)
    assert _count_lines() == before


def test_moving_a_line_to_a_missing_enrolment_is_refused(payroll):
    line = _lines(payroll)[0]
    _refused("UPDATE payroll_line SET enrolment_id = :missing WHERE id = :id", MISSING_ID,
             missing=MISSING_ID, id=line.id)
    _refused("UPDATE payroll_line SET payroll_id = :missing WHERE id = :id", MISSING_ID,
             missing=MISSING_ID, id=line.id)
    db.session.expire_all()
    assert db.session.get(PayrollLine, line.id).enrolment_id == line.enrolment_id


def test_moving_a_line_to_an_existing_enrolment_is_accepted(payroll):
    first, second = _lines(payroll)
    _sql("UPDATE payroll_line SET enrolment_id = :other, period = '2099-01' WHERE id = :id",
         other=second.enrolment_id, id=first.id)


def test_deleting_a_payroll_that_has_lines_is_refused(payroll):
    _refused("DELETE FROM payroll WHERE id = :id", payroll.id, id=payroll.id)
    _refused("UPDATE payroll SET id = :missing WHERE id = :id", payroll.id, missing=MISSING_ID, id=payroll.id)


def test_deleting_an_enrolment_that_has_lines_is_refused(payroll):
    enrolment_id = _lines(payroll)[0].enrolment_id
    _refused("DELETE FROM enrolment WHERE id = :id", enrolment_id, id=enrolment_id)
    _refused("UPDATE enrolment SET id = :missing WHERE id = :id", enrolment_id, missing=MISSING_ID, id=enrolment_id)


def test_deleting_the_lines_and_then_their_payroll_and_enrolments_is_accepted(payroll):
    """NO ACTION, as the foreign keys: once the lines are gone, what they pointed at can go."""
    enrolments = [line.enrolment_id for line in _lines(payroll)]
    _sql("DELETE FROM payroll_line WHERE payroll_id = :id", id=payroll.id)
    _sql("DELETE FROM payroll WHERE id = :id", id=payroll.id)
    for enrolment_id in enrolments:
        _sql("DELETE FROM enrolment WHERE id = :id", id=enrolment_id)


@postgres_only
def test_deleting_lines_and_payroll_in_one_statement_is_accepted(payroll):
    """The check runs at the end of the statement, as a NO ACTION foreign key's."""
    _sql("WITH gone AS (DELETE FROM payroll_line WHERE payroll_id = :id) DELETE FROM payroll WHERE id = :id",
         id=payroll.id)
    assert db.session.scalar(select(func.count()).select_from(Payroll).where(Payroll.id == payroll.id)) == 0


@postgres_only
def test_the_foreign_keys_are_triggers_on_postgresql(app):
    connection = db.session.connection()
    foreign_keys = {fk["name"] for fk in inspect(connection).get_foreign_keys("payroll_line")}
    assert not foreign_keys & {"fk_payroll_line_payroll_id_payroll", "fk_payroll_line_enrolment_id_enrolment"}
    triggers = set(connection.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")).scalars())
    assert {"payroll_line_references_inserted", "payroll_line_references_moved", "payroll_deleted_referenced",
            "payroll_id_changed_referenced", "enrolment_deleted_referenced",
            "enrolment_id_changed_referenced"} <= triggers
