"""Freezing the monthly return: versions, byte-for-byte reproduction, the reconciliation, the job and the CLI."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, text

from modules.payments import reconciliation
from modules.reporting import operations
from modules.reporting.models import MonthlyReturn
from modules.reporting.tasks import freeze_previous_month
from tests import factories
from webapp.extensions import db
from webapp.models import AuditEvent

PERIOD = factories.PAYROLL_PERIOD


@pytest.fixture
def paid_month(app):
    """The sent January payroll of three lines of 250 000; the bank pays the first two, returns the third."""
    payroll, lines = factories.sent_payroll(children=3)
    reconciliation.import_statement(factories.camt054(
        [(lines[0].end_to_end_id, lines[0].amount, "paid"), (lines[1].end_to_end_id, lines[1].amount, "paid"),
         (lines[2].end_to_end_id, lines[2].amount, "returned")]))
    return payroll, lines


def _canonical(data) -> str:
    return json.dumps(data, sort_keys=True)


def test_freezing_twice_keeps_both_versions_with_the_same_figures(paid_month):
    officer = factories.make_user("analyst", national=True)
    first = operations.freeze(PERIOD, officer)
    second = operations.freeze(PERIOD)
    assert (first.version, second.version) == (1, 2)
    assert first.computed_by_id == officer.id and second.computed_by_id is None
    assert first.code_version and first.code_version == second.code_version
    assert _canonical(first.data) == _canonical(second.data)
    assert first.reconciliation == {"ok": True, "differences": []}
    assert first.data["indicators"]["amount_paid"]["total"] == 500000
    actions = db.session.execute(select(AuditEvent.action, AuditEvent.details).where(
        AuditEvent.object_type == "monthly_return").order_by(AuditEvent.id)).all()
    assert [(action, details["version"], details["reconciled"]) for action, details in actions] == [
        ("report.frozen", 1, True), ("report.frozen", 2, True)]


def test_the_stored_return_reproduces_byte_for_byte(paid_month):
    frozen = operations.freeze(PERIOD)
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(MonthlyReturn, frozen.id)
    assert _canonical(stored.data) == _canonical(operations.figures(PERIOD))
    assert db.session.scalar(select(func.count()).select_from(MonthlyReturn)) == 1


def test_the_reconciliation_catches_a_payroll_line_altered_behind_the_guards(paid_month):
    _, lines = paid_month
    with factories.past_the_guards():
        db.session.execute(text("UPDATE payroll_line SET amount = amount + 1000 WHERE id = :id"),
                           {"id": lines[0].id})
    frozen = operations.freeze(PERIOD)
    assert frozen.reconciliation == {"ok": False, "differences": [
        {"programme": "child_allowance", "region": "UZ-TK", "what": "amount_approved", "reported": 751000,
         "source": 750000, "difference": 1000},
        {"programme": "child_allowance", "region": "UZ-TK", "what": "amount_paid", "reported": 501000,
         "source": 500000, "difference": 1000}]}
    assert db.session.scalar(select(AuditEvent.details).where(AuditEvent.action == "report.frozen"))[
        "reconciled"] is False


def test_the_scheduled_job_freezes_the_previous_month_once(paid_month):
    assert freeze_previous_month("job-1", as_of="2026-02-01") == {
        "period": PERIOD, "version": 1, "frozen": True, "reconciled": True}
    assert freeze_previous_month("job-2", as_of="2026-02-15") == {"period": PERIOD, "version": 1, "frozen": False}


def test_the_cli_prints_the_totals_as_json_and_freezes_only_when_asked(app, paid_month):
    runner = app.test_cli_runner()
    printed = runner.invoke(args=["reports", "monthly", "--period", PERIOD, "--json"])
    assert printed.exit_code == 0, printed.output
    result = json.loads(printed.stdout)
    assert (result["period"], result["version"], result["reconciliation"]["ok"]) == (PERIOD, 1, True)
    assert result["indicators"]["amount_approved"] == {"unit": "UZS", "total": 750000, "rows": [
        {"programme": "child_allowance", "region": "UZ-TK", "value": 750000}]}
    again = json.loads(runner.invoke(args=["reports", "monthly", "--period", PERIOD, "--json"]).stdout)
    assert again == result  # the frozen version, not a new one
    refreshed = json.loads(runner.invoke(args=["reports", "monthly", "--period", PERIOD, "--json",
                                               "--refresh"]).stdout)
    assert refreshed["version"] == 2 and refreshed["indicators"] == result["indicators"]


@pytest.mark.parametrize(("args", "message"), [
    (["--period", "2026-13"], "YYYY-MM"),
    (["--period", "January"], "YYYY-MM"),
    (["--period", "2031-05"], "2031-05"),  # named in the message, in the default language
    (["--period", PERIOD, "--format", "xlsx"], "-o"),
])
def test_the_cli_exits_2_with_a_message_and_stores_nothing(app, args, message):
    result = app.test_cli_runner().invoke(args=["reports", "monthly", "--json", *args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert db.session.scalar(select(func.count()).select_from(MonthlyReturn)) == 0
