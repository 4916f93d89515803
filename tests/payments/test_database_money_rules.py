"""The money rules the database itself enforces (migration 0016), attacked by plain SQL as a database user or a bug
could: the payroll status machine and who approves, a paid month never paid again (the payment ledger), the payee
frozen at approval, totals equal to the lines. Each attack must be refused by the database, not only by the code.

PostgreSQL holds every rule; SQLite (the embedded `make run` database) holds them too except the totals and
TRUNCATE, which have tests of their own marked for PostgreSQL.
"""

from __future__ import annotations

import contextlib
import importlib
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from modules.enrolment.models import BankAccount, Enrolment
from modules.payments import checks, export, generation, operations, payees, status
from modules.payments.models import LINE_MOVES, LineStatus, PaymentLedger, Payroll, PayrollLine, PayrollStatus
from tests import factories
from tests.conftest import TEST_DATABASE_URL
from tests.factories import PAYROLL_PERIOD as PERIOD
from tests.factories import assessed_family as _household
from tests.factories import enrol as _enrol
from tests.factories import finance_checker as _checker
from tests.factories import fund
from tests.factories import payroll_lines as _lines
from tests.factories import totp_code as _code
from webapp.extensions import db

POSTGRES = (TEST_DATABASE_URL or "").startswith("postgresql")
postgres_only = pytest.mark.skipif(not POSTGRES, reason="kept by PostgreSQL triggers only")


def _sql(statement: str, **params):
    return db.session.execute(text(statement), params)


def _refused(statement: str, match: str | None = None, **params) -> None:
    """The database refuses the statement (and the test's transaction goes on)."""
    with pytest.raises(DBAPIError, match=match), db.session.begin_nested():
        _sql(statement, **params)


def _reload(payroll: Payroll) -> Payroll:
    db.session.expire_all()
    return db.session.get(Payroll, payroll.id)


def _checked(children: int = 2) -> tuple[Payroll, object]:
    family = _household(children=children)
    for child in family["children"]:
        _enrol(family, child)
    maker = factories.make_user("finance_maker", national=True)
    payroll = generation.generate("child_allowance", "UZ-TK", PERIOD, maker)
    checks.run_checks(payroll, maker)
    assert payroll.status is PayrollStatus.checked and payroll.line_count == children
    return payroll, maker


def _approved() -> Payroll:
    payroll, _maker = _checked()
    checker = _checker()
    return status.approve(payroll, checker, _code(checker))


def _sent() -> Payroll:
    payroll = _approved()
    fund(payroll)
    return status.mark_sent(payroll)


# --- who approves ---------------------------------------------------------------------------------------------

def test_approval_without_an_approver_is_refused():
    payroll, _maker = _checked()
    _refused("UPDATE payroll SET status = 'approved', approved_at = CURRENT_TIMESTAMP WHERE id = :id", id=payroll.id)
    assert _reload(payroll).status is PayrollStatus.checked


@pytest.mark.parametrize("role", ["finance_maker", "analyst", "admin"])
def test_approval_by_anyone_but_a_finance_checker_is_refused(role):
    payroll, _maker = _checked()
    someone = factories.make_user(role, national=True)
    _refused("UPDATE payroll SET status = 'approved', approved_by_id = :u WHERE id = :id", u=someone.id, id=payroll.id)
    assert _reload(payroll).status is PayrollStatus.checked


def test_approval_by_an_inactive_checker_or_the_preparer_is_refused():
    payroll, _maker = _checked()
    retired = _checker()
    retired.active = False
    db.session.flush()
    _refused("UPDATE payroll SET status = 'approved', approved_by_id = :u WHERE id = :id", u=retired.id, id=payroll.id)
    _refused("UPDATE payroll SET prepared_by_id = NULL WHERE id = :id", id=payroll.id)  # to approve one's own
    status.cancel(payroll, "test")
    preparer = _checker()  # a finance checker who prepared the payroll (e.g. before a change of role)
    payroll = generation.generate("child_allowance", "UZ-TK", PERIOD, preparer)
    checks.run_checks(payroll, preparer)
    _refused("UPDATE payroll SET status = 'approved', approved_by_id = :u WHERE id = :id", u=preparer.id, id=payroll.id)


def test_a_finance_checker_may_approve_by_sql_when_every_rule_holds():
    """The rules refuse the attacks above, not approval itself."""
    payroll, _maker = _checked()
    checker = _checker()
    _sql("UPDATE payroll SET status = 'approved', approved_by_id = :u, approved_at = CURRENT_TIMESTAMP "
         "WHERE id = :id", u=checker.id, id=payroll.id)
    assert _reload(payroll).status is PayrollStatus.approved


def test_a_payroll_is_born_a_draft():
    payroll, _maker = _checked()
    checker = _checker()
    _sql("UPDATE payroll SET status = 'cancelled' WHERE id = :id", id=payroll.id)
    _sql("DELETE FROM payroll_line WHERE payroll_id = :id", id=payroll.id)
    _refused("INSERT INTO payroll (programme_id, area_id, period, status, approved_by_id, created_at, line_count, "
             "total_amount) VALUES (:programme, :area, :period, 'approved', :u, CURRENT_TIMESTAMP, 0, 0)",
             programme=payroll.programme_id, area=payroll.area_id, period=PERIOD, u=checker.id)


# --- the order of statuses ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("start", "target"), [
    ("draft", "approved"), ("draft", "sent"), ("checked", "sent"), ("checked", "reconciled"), ("checked", "draft"),
    ("approved", "checked"), ("approved", "reconciled"), ("sent", "approved"), ("sent", "cancelled"),
    ("reconciled", "cancelled"), ("reconciled", "sent"), ("cancelled", "draft"),
])
def test_the_status_moves_only_as_the_status_machine_allows(start, target):
    payroll = {"draft": _draft, "checked": lambda: _checked()[0], "approved": _approved, "sent": _sent,
               "reconciled": _reconciled, "cancelled": _cancelled}[start]()
    assert _reload(payroll).status == start
    _refused("UPDATE payroll SET status = :target WHERE id = :id", target=target, id=payroll.id)
    assert _reload(payroll).status == start


def _draft() -> Payroll:
    _enrol(_household())
    return generation.generate("child_allowance", "UZ-TK", PERIOD)


def _reconciled() -> Payroll:
    payroll = _sent()
    _sql("UPDATE payroll_line SET status = 'paid' WHERE payroll_id = :id", id=payroll.id)
    return status.mark_reconciled(payroll)


def _cancelled() -> Payroll:
    payroll, _maker = _checked()
    return status.cancel(payroll, "test")


def test_the_databases_moves_are_the_status_machines():
    migration = importlib.import_module("webapp.migrations.versions.0016_payroll_state_machine")
    machine = {f"{before}>{after}" for before, targets in status.TRANSITIONS.items() for after in targets}
    assert set(migration._PAYROLL_MOVES) == machine
    assert set(migration._LINE_MOVES) == {f"{before}>{after}" for before, after in LINE_MOVES}


def test_a_cancelled_payroll_does_not_change():
    payroll = _cancelled()
    _refused("UPDATE payroll SET period = '2026-02' WHERE id = :id", id=payroll.id)


# --- paying twice ---------------------------------------------------------------------------------------------

def test_a_sent_payroll_cannot_be_cancelled_nor_its_lines_deleted():
    payroll = _sent()
    _refused("UPDATE payroll SET status = 'cancelled' WHERE id = :id", id=payroll.id)
    _refused("DELETE FROM payroll_line WHERE payroll_id = :id", id=payroll.id)
    assert len(_lines(payroll)) == 2


def test_sending_writes_every_line_to_the_ledger_which_cannot_change():
    payroll = _sent()
    lines = _lines(payroll)
    ledger = db.session.scalars(select(PaymentLedger).where(PaymentLedger.payroll_id == payroll.id)
                                .order_by(PaymentLedger.payroll_line_id)).all()
    assert [(row.payroll_line_id, row.enrolment_id, row.period, row.amount) for row in ledger] == [
        (line.id, line.enrolment_id, line.period, line.amount) for line in lines]
    _refused("UPDATE payment_ledger SET amount = 1 WHERE payroll_id = :id", id=payroll.id)
    _refused("DELETE FROM payment_ledger WHERE payroll_id = :id", id=payroll.id)
    assert db.session.scalar(select(func.count()).select_from(PaymentLedger)) == 2


@postgres_only
def test_the_ledger_and_the_payroll_tables_cannot_be_truncated():
    _sent()
    for table in ("payment_ledger", "payroll_line", "payroll", "payment_ledger, payroll_line, payroll"):
        _refused(f"TRUNCATE {table} CASCADE", match="cannot be truncated|append-only")
    assert db.session.scalar(select(func.count()).select_from(PaymentLedger)) == 2


@contextlib.contextmanager
def _past_every_guard():
    """What a superuser can do: on PostgreSQL no trigger fires, foreign keys' included (the ledger still names the
    deleted lines); SQLite's foreign keys wait for the commit anyway."""
    if not POSTGRES:
        with factories.past_the_guards():
            yield
        return
    _sql("SET LOCAL session_replication_role = replica")
    try:
        yield
    finally:
        _sql("SET LOCAL session_replication_role = origin")


def test_a_month_in_the_ledger_is_never_paid_again_even_if_its_lines_are_gone():
    """Someone past every guard (here: the test clean-up's bypass) deletes the sent lines and cancels the payroll; a
    new payroll for the same month cannot pay those enrolments again."""
    payroll = _sent()
    paid = _lines(payroll)[0].enrolment_id
    with _past_every_guard():
        _sql("DELETE FROM payroll_line WHERE payroll_id = :id", id=payroll.id)
        _sql("UPDATE payroll SET status = 'cancelled' WHERE id = :id", id=payroll.id)
    maker = factories.make_user("finance_maker", national=True)
    with pytest.raises(DBAPIError, match="already paid"), db.session.begin_nested():
        generation.generate("child_allowance", "UZ-TK", PERIOD, maker)
    assert _lines(payroll) == []
    # Another programme's draft of the month: none of its lines can become one of the paid enrolments.
    _enrol(_household(), programme="material_support", amount="400000.00")
    other = generation.generate("material_support", "UZ-TK", PERIOD, maker)
    _refused("INSERT INTO payroll_line (payroll_id, enrolment_id, period, amount, status, cancelled) "
             "VALUES (:p, :e, :period, 250000, 'included', :no)",
             match="already paid", p=other.id, e=paid, period=PERIOD, no=False)
    mine = _lines(other)[0]
    _refused("UPDATE payroll_line SET enrolment_id = :e WHERE id = :id", match="already paid",
             e=paid, id=mine.id)


def test_a_paid_line_never_goes_back_to_included():
    payroll = _sent()
    line = _lines(payroll)[0]
    _sql("UPDATE payroll_line SET status = 'paid' WHERE id = :id", id=line.id)
    _refused("UPDATE payroll_line SET status = 'included' WHERE id = :id", id=line.id)
    _refused("UPDATE payroll_line SET status = 'failed' WHERE id = :id", id=line.id)
    _sql("UPDATE payroll_line SET status = 'returned' WHERE id = :id", id=line.id)  # the bank sent it back
    _refused("UPDATE payroll_line SET status = 'paid' WHERE id = :id", id=line.id)
    assert _lines(payroll)[0].status is LineStatus.returned


# --- the payee frozen at approval -----------------------------------------------------------------------------

def _account_of(line: PayrollLine) -> BankAccount:
    return db.session.get(BankAccount, db.session.get(Enrolment, line.enrolment_id).bank_account_id)


def test_changing_the_account_after_approval_does_not_change_the_bank_file():
    payroll = _approved()
    before = export.render(payroll, "pain.001.001.03")
    line = _lines(payroll)[0]
    account = _account_of(line)
    assert line.payee_account == account.account_number and line.payee_bank_code == account.bank_code
    _sql("UPDATE bank_account SET account_number = '99999999999999999999', bank_code = '00999' WHERE id = :id",
         id=account.id)
    other = factories.bank_account(factories.make_person().id)  # someone else's account
    _sql("UPDATE enrolment SET bank_account_id = :a WHERE id = :e", a=other.id, e=line.enrolment_id)
    _sql("UPDATE person SET last_name = 'Boshqa' WHERE id = :p", p=account.person_id)
    after = export.render(_reload(payroll), "pain.001.001.03")
    assert after == before and b"99999999999999999999" not in after and other.account_number.encode() not in after


@pytest.mark.parametrize("column", ["payee_name", "payee_pin", "payee_account", "payee_bank_code"])
def test_the_snapshot_of_an_approved_payroll_cannot_change(column):
    payroll = _approved()
    _refused(f"UPDATE payroll_line SET {column} = '12345' WHERE payroll_id = :id", match="approved", id=payroll.id)


def test_approval_needs_every_line_to_pay_to_have_its_payee():
    payroll, _maker = _checked()
    checker = _checker()
    _sql("UPDATE payroll_line SET payee_account = NULL WHERE id = :id", id=_lines(payroll)[0].id)
    _refused("UPDATE payroll SET status = 'approved', approved_by_id = :u WHERE id = :id", u=checker.id, id=payroll.id)


def test_approval_takes_the_snapshot_as_it_stands_then():
    payroll, _maker = _checked()
    line = _lines(payroll)[0]
    account = _account_of(line)
    _sql("UPDATE bank_account SET account_number = '55555555555555555555' WHERE id = :id", id=account.id)
    checker = _checker()
    status.approve(payroll, checker, _code(checker))
    assert {line.payee_account for line in _lines(payroll)} == {"55555555555555555555"}
    assert b"55555555555555555555" in export.render(payroll, "pain.001.001.03")


def test_approval_is_refused_when_a_payee_lost_the_account_since_the_checks():
    payroll, _maker = _checked()
    _sql("UPDATE bank_account SET status = 'requested' WHERE id = :id", id=_account_of(_lines(payroll)[0]).id)
    checker = _checker()
    with pytest.raises(status.PayrollError, match="2 beneficiaries to pay no longer have an open bank account"):
        status.approve(payroll, checker, _code(checker))
    assert _reload(payroll).status is PayrollStatus.checked
    assert payees.refresh(payroll.id) == 2


# --- totals ---------------------------------------------------------------------------------------------------

def _totals(payroll: Payroll) -> tuple[int, Decimal]:
    fresh = _reload(payroll)
    return fresh.line_count, fresh.total_amount


@postgres_only
def test_totals_cannot_be_written_and_follow_the_lines():
    payroll = _draft()
    _enrol(_household())
    payroll = generation.generate("child_allowance", "UZ-TK", PERIOD)  # adds the second family
    assert _totals(payroll) == (2, Decimal("500000.00"))
    _refused("UPDATE payroll SET total_amount = 1 WHERE id = :id", match="totals", id=payroll.id)
    _refused("UPDATE payroll SET line_count = 7 WHERE id = :id", match="totals", id=payroll.id)
    first, second = _lines(payroll)
    _sql("UPDATE payroll_line SET amount = 100000 WHERE id = :id", id=first.id)
    assert _totals(payroll) == (2, Decimal("350000.00"))
    _sql("UPDATE payroll_line SET status = 'excluded', exclusion_reason = 'test' WHERE id = :id", id=first.id)
    assert _totals(payroll) == (1, Decimal("250000.00"))
    _sql("DELETE FROM payroll_line WHERE id = :id", id=second.id)
    assert _totals(payroll) == (0, Decimal("0.00"))
    _sql("UPDATE payroll_line SET status = 'included', exclusion_reason = NULL WHERE id = :id", id=first.id)
    assert _totals(payroll) == (1, Decimal("100000.00"))


@postgres_only
def test_a_cancelled_payroll_keeps_its_totals_as_the_record():
    payroll = _cancelled()
    assert _lines(payroll) == [] and _totals(payroll) == (2, Decimal("500000.00"))


# --- nothing to pay -------------------------------------------------------------------------------------------

def test_preparing_a_month_with_nothing_due_makes_no_payroll():
    maker = factories.make_user("finance_maker", national=True)
    with pytest.raises(generation.NothingDue, match="Nothing is due for Child allowance in Tashkent City"):
        operations.prepare_payroll(maker, "child_allowance", "UZ-TK", PERIOD)
    assert db.session.scalar(select(func.count()).select_from(Payroll)) == 0


def test_an_empty_payroll_is_not_approved():
    family = _household(children=1)
    _enrol(family, account=None)  # excluded by the checks: nothing left to pay
    maker = factories.make_user("finance_maker", national=True)
    payroll, _summary = operations.prepare_payroll(maker, "child_allowance", "UZ-TK", PERIOD)
    assert payroll.line_count == 0
    checker = _checker()
    with pytest.raises(status.PayrollError, match="no line to pay"):
        status.approve(payroll, checker, _code(checker))


# --- upgrading a database with payrolls -----------------------------------------------------------------------

@pytest.mark.committed
def test_the_upgrade_snapshots_approved_payrolls_and_writes_sent_ones_to_the_ledger(tmp_path):
    """A database with a sent payroll goes down to 0015 (no ledger, no snapshot) and up again: the payroll's lines get
    their payee from the registry and are in the ledger, so the month cannot be paid again."""
    from flask_migrate import downgrade, upgrade

    from tests.conftest import base_config
    from webapp import create_app
    from webapp.areas import load_areas
    from webapp.programmes import load_programmes

    app = create_app(base_config(tmp_path, f"sqlite:///{tmp_path / 'upgrade.db'}"))
    with app.test_request_context():
        upgrade()
        load_areas(mahallas_per_district=1)
        load_programmes()
        payroll, lines = factories.sent_payroll(children=2)
        db.session.commit()
        payroll_id, expected = payroll.id, [(line.id, line.payee_name, line.payee_account) for line in lines]
        db.session.remove()
        downgrade(revision="0015")
        upgrade()
        lines = db.session.scalars(select(PayrollLine).where(PayrollLine.payroll_id == payroll_id)
                                   .order_by(PayrollLine.id)).all()
        assert [(line.id, line.payee_name, line.payee_account) for line in lines] == expected
        assert db.session.scalars(select(PaymentLedger.payroll_line_id).order_by(PaymentLedger.payroll_line_id)
                                  ).all() == [line.id for line in lines]
        with pytest.raises(DBAPIError, match="append-only"):
            _sql("DELETE FROM payment_ledger")
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()
