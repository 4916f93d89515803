"""Reconciliation: bank statements settle payroll lines by EndToEndId; everything else is an exception."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from modules.payments import generation, reconciliation
from modules.payments.models import ExceptionKind, LineStatus, PayrollStatus, StatementException, StatementImport
from modules.payments.statements import read_statement
from tests import factories
from tests.factories import PAYMENT_AMOUNT as AMOUNT
from tests.factories import PAYROLL_PERIOD as PERIOD
from tests.factories import assessed_family as _household
from tests.factories import camt054 as _camt054
from tests.factories import enrol as _enrol
from tests.factories import payroll_lines as _lines
from tests.factories import sent_payroll as _sent_payroll
from tests.factories import statement_csv as _csv
from webapp.extensions import db
from webapp.models.audit import AuditEvent

TRYTON_CAMT053 = (Path(__file__).resolve().parents[2].parent / "shared" / "standards" / "iso20022"
                  / "samples-tryton" / "camt.053.001.02.xml")






def _pain002(rows: list[tuple[str, str]]) -> bytes:
    """A pain.002.001.03 status report: (EndToEndId, TxSts) per transaction, no amounts (as banks often send)."""
    txs = "".join(
        f'<TxInfAndSts><OrgnlEndToEndId>{e2e}</OrgnlEndToEndId><TxSts>{tx_status}</TxSts>'
        + ('<StsRsnInf><Rsn><Cd>AC04</Cd></Rsn><AddtlInf>Closed account number</AddtlInf></StsRsnInf>'
           if tx_status == "RJCT" else "")
        + '</TxInfAndSts>' for e2e, tx_status in rows)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"><CstmrPmtStsRpt>'
        '<GrpHdr><MsgId>STS-T-1</MsgId><CreDtTm>2026-01-28T12:00:00</CreDtTm></GrpHdr>'
        '<OrgnlGrpInfAndSts><OrgnlMsgId>SRSP-PAY</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.03</OrgnlMsgNmId>'
        '</OrgnlGrpInfAndSts>'
        f'<OrgnlPmtInfAndSts><OrgnlPmtInfId>PMT-1</OrgnlPmtInfId>{txs}</OrgnlPmtInfAndSts>'
        '</CstmrPmtStsRpt></Document>').encode()




def _statuses(payroll) -> list[LineStatus]:
    return [line.status for line in _lines(payroll)]


def _exceptions(record: StatementImport) -> list[StatementException]:
    return list(db.session.scalars(select(StatementException).where(StatementException.import_id == record.id)
                                   .order_by(StatementException.id)))


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# --- matching -----------------------------------------------------------------------------------------------------

def test_a_camt054_settles_the_lines_and_reconciles_the_payroll():
    payroll, (a, b, c) = _sent_payroll()
    officer = factories.make_user("finance_maker", national=True)
    data = _camt054([(a.end_to_end_id, AMOUNT, "paid"), (b.end_to_end_id, AMOUNT, "returned"),
                     (c.end_to_end_id, AMOUNT, "paid")])

    record = reconciliation.import_statement(data, "ntf.xml", officer)

    assert _statuses(payroll) == [LineStatus.paid, LineStatus.returned, LineStatus.paid]
    assert record.counts() == {"matched": 3, "paid": 2, "failed": 0, "returned": 1, "unmatched": 0, "pending": 0}
    assert (record.kind, record.filename, record.imported_by_id, record.repeat) == ("camt.054", "ntf.xml",
                                                                                   officer.id, False)
    assert _exceptions(record) == []
    db.session.refresh(payroll)
    assert payroll.status is PayrollStatus.reconciled and payroll.reconciled_at is not None
    actions = list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(2)))
    assert actions == ["payroll.reconciled", "statement.import"]


def test_a_payroll_with_lines_still_open_stays_sent():
    payroll, (a, _b, _c) = _sent_payroll()
    reconciliation.import_statement(_camt054([(a.end_to_end_id, AMOUNT, "paid")]), "part.xml")
    assert _statuses(payroll) == [LineStatus.paid, LineStatus.included, LineStatus.included]
    db.session.refresh(payroll)
    assert payroll.status is PayrollStatus.sent


def test_importing_the_same_bytes_again_changes_nothing():
    payroll, (a, b, _c) = _sent_payroll()
    data = _camt054([(a.end_to_end_id, AMOUNT, "paid"), (b.end_to_end_id, AMOUNT, "returned"),
                     ("SRSP-UNKNOWN-1", AMOUNT, "paid")])
    first = reconciliation.import_statement(data, "ntf.xml")
    before = (_statuses(payroll), _count(StatementImport), _count(StatementException), _count(AuditEvent))

    again = reconciliation.import_statement(data, "renamed.xml")

    assert again.id == first.id and again.repeat is True
    assert (_statuses(payroll), _count(StatementImport), _count(StatementException), _count(AuditEvent)) == before
    assert before[2] == 1  # the unknown id, once


def test_an_unknown_end_to_end_id_goes_on_the_exceptions_list():
    payroll, lines = _sent_payroll(children=1)
    record = reconciliation.import_statement(_camt054([("SRSP-NOT-OURS-9", Decimal("75000.00"), "paid")]), "x.xml")
    (exception,) = _exceptions(record)
    assert (exception.kind, exception.end_to_end_id, exception.amount, exception.outcome, exception.payroll_line_id) \
        == (ExceptionKind.unmatched, "SRSP-NOT-OURS-9", Decimal("75000.00"), "paid", None)
    assert exception.resolved_at is None and exception.source_line
    assert record.counts()["unmatched"] == 1 and record.matched == 0
    assert _statuses(payroll) == [LineStatus.included]
    assert reconciliation.open_exceptions(record.id) == [exception]


def test_an_amount_that_disagrees_is_an_exception_and_the_line_is_unchanged():
    payroll, (line,) = _sent_payroll(children=1)
    record = reconciliation.import_statement(_camt054([(line.end_to_end_id, Decimal("249999.99"), "paid")]), "a.xml")
    (exception,) = _exceptions(record)
    assert (exception.kind, exception.payroll_line_id, exception.amount) == (
        ExceptionKind.amount_mismatch, line.id, Decimal("249999.99"))
    assert _statuses(payroll) == [LineStatus.included]
    db.session.refresh(payroll)
    assert payroll.status is PayrollStatus.sent


def test_a_second_different_outcome_for_a_settled_line_is_an_exception():
    payroll, (line,) = _sent_payroll(children=1)
    reconciliation.import_statement(_csv([(line.end_to_end_id, AMOUNT, "paid")]), "1.csv")
    same = reconciliation.import_statement(_csv([(line.end_to_end_id, AMOUNT, "paid")]) + b"\n", "2.csv")
    assert same.repeat is False and same.matched == 1 and same.paid == 0 and _exceptions(same) == []
    other = reconciliation.import_statement(_csv([(line.end_to_end_id, AMOUNT, "failed")]), "3.csv")
    (exception,) = _exceptions(other)
    assert exception.kind is ExceptionKind.already_settled and "already paid" in exception.reason_text
    assert _statuses(payroll) == [LineStatus.paid]


def test_a_payment_returned_after_it_was_booked_becomes_returned_and_goes_back_to_the_budget():
    payroll, (line,) = _sent_payroll(children=1)
    reconciliation.import_statement(_camt054([(line.end_to_end_id, AMOUNT, "paid")], "NTF-1"), "1.xml")
    assert _statuses(payroll) == [LineStatus.paid]
    returned = reconciliation.import_statement(_camt054([(line.end_to_end_id, AMOUNT, "returned")], "NTF-2"),
                                               "2.xml")
    assert (returned.matched, returned.returned, _exceptions(returned)) == (1, 1, [])
    assert _statuses(payroll) == [LineStatus.returned]
    assert reconciliation.returns_to_budget(PERIOD, date(2026, 2, 1))["amount"] == AMOUNT
    paid_again = reconciliation.import_statement(_camt054([(line.end_to_end_id, AMOUNT, "paid")], "NTF-3"), "3.xml")
    assert _exceptions(paid_again)[0].kind is ExceptionKind.already_settled  # never back from returned to paid


def test_a_pain002_rejection_marks_the_line_failed():
    payroll, (a, b) = _sent_payroll(children=2)
    record = reconciliation.import_statement(_pain002([(a.end_to_end_id, "RJCT"), (b.end_to_end_id, "ACSP")]),
                                             "sts.xml")
    assert _statuses(payroll) == [LineStatus.failed, LineStatus.included]
    assert (record.kind, record.failed, record.pending) == ("pain.002", 1, 1)
    assert [(e.kind, e.end_to_end_id) for e in _exceptions(record)] == [(ExceptionKind.pending, b.end_to_end_id)]


def test_a_bank_csv_settles_lines_too():
    payroll, (a, b, c) = _sent_payroll()
    record = reconciliation.import_statement(_csv([(a.end_to_end_id, AMOUNT, "paid"), (b.end_to_end_id, AMOUNT,
                                                   "failed"), (c.end_to_end_id, AMOUNT, "returned")]), "out.csv")
    assert record.kind == "csv" and (record.paid, record.failed, record.returned) == (1, 1, 1)
    assert _statuses(payroll) == [LineStatus.paid, LineStatus.failed, LineStatus.returned]
    db.session.refresh(payroll)
    assert payroll.status is PayrollStatus.reconciled


def test_a_bad_file_is_refused_and_nothing_is_stored():
    _sent_payroll(children=1)
    before = (_count(StatementImport), _count(AuditEvent))
    with pytest.raises(reconciliation.ReconciliationError, match="not imported.*bad.csv"):
        reconciliation.import_statement(b"end_to_end_id,amount\nX,1\n", "bad.csv")
    assert (_count(StatementImport), _count(AuditEvent)) == before


def test_lines_of_a_draft_payroll_are_not_matched():
    _enrol(_household())
    payroll = generation.generate("child_allowance", "UZ-TK", PERIOD)
    (line,) = _lines(payroll)
    record = reconciliation.import_statement(_csv([(line.end_to_end_id, AMOUNT, "paid")]), "early.csv")
    assert [e.kind for e in _exceptions(record)] == [ExceptionKind.unmatched]
    assert _statuses(payroll) == [LineStatus.included]


def test_a_concurrent_import_of_the_same_file_is_a_repeat_not_an_error(monkeypatch):
    payroll, (line,) = _sent_payroll(children=1)
    data = _csv([(line.end_to_end_id, AMOUNT, "paid")])
    first = reconciliation.import_statement(data, "1.csv")
    audits = _count(AuditEvent)
    real, calls = reconciliation._existing, []

    def missed_once(digest):
        # The other import commits between our look-up and our insert: the unique digest catches it.
        calls.append(digest)
        return None if len(calls) == 1 else real(digest)

    monkeypatch.setattr(reconciliation, "_existing", missed_once)
    again = reconciliation.import_statement(data, "1.csv")
    assert len(calls) == 2 and again.id == first.id and again.repeat is True
    assert (_count(StatementImport), _count(AuditEvent), _statuses(payroll)) == (1, audits, [LineStatus.paid])


@pytest.mark.skipif(not TRYTON_CAMT053.exists(), reason="the shared ISO 20022 samples are not present")
def test_the_tryton_camt053_sample_imports_with_every_entry_on_the_exceptions_list():
    payroll, _ = _sent_payroll(children=1)
    data = TRYTON_CAMT053.read_bytes()
    statement = read_statement(data)
    total = len(statement.entries) + len(statement.pending) + len(statement.unclassified)
    assert total > 0
    record = reconciliation.import_statement(data, TRYTON_CAMT053.name)
    exceptions = _exceptions(record)
    assert len(exceptions) == total and record.matched == 0
    assert {e.kind for e in exceptions} <= {ExceptionKind.unmatched, ExceptionKind.unclassified, ExceptionKind.pending}
    assert record.unmatched + record.pending == total
    assert _statuses(payroll) == [LineStatus.included]


def test_resolving_an_exception_needs_a_note_and_is_audited():
    _sent_payroll(children=1)
    record = reconciliation.import_statement(_csv([("SRSP-NOT-OURS-1", AMOUNT, "paid")]), "u.csv")
    (exception,) = _exceptions(record)
    officer = factories.make_user("finance_maker", national=True)
    with pytest.raises(reconciliation.ReconciliationError, match="note"):
        reconciliation.resolve_exception(exception, "  ", officer)
    reconciliation.resolve_exception(exception, "Another agency's payment; reported to the bank", officer)
    assert exception.resolved_by_id == officer.id and reconciliation.open_exceptions(record.id) == []
    assert db.session.scalar(select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(1)) \
        == "statement.exception_resolved"


# --- returns to the budget ----------------------------------------------------------------------------------------

def test_returns_to_the_budget_count_failed_returned_and_after_the_25th_unpaid_lines():
    payroll, (a, b, c, d) = _sent_payroll(children=4)
    reconciliation.import_statement(_csv([(a.end_to_end_id, AMOUNT, "paid"), (b.end_to_end_id, AMOUNT, "failed"),
                                          (c.end_to_end_id, AMOUNT, "returned")]), "out.csv")
    assert _statuses(payroll)[3] is LineStatus.included  # d: no word from the bank yet

    before = reconciliation.returns_to_budget(PERIOD, today=date(2026, 2, 25))
    assert before["deadline"] == date(2026, 2, 25)
    assert (before["lines"], before["amount"]) == (2, 2 * AMOUNT)
    (group,) = before["groups"]
    assert (group["programme"], group["region"]) == ("child_allowance", "UZ-TK")
    assert group["by_status"] == {"failed": {"lines": 1, "amount": AMOUNT}, "returned": {"lines": 1, "amount": AMOUNT}}

    after = reconciliation.returns_to_budget(PERIOD, today=date(2026, 2, 26))
    assert (after["lines"], after["amount"]) == (3, 3 * AMOUNT)
    assert after["groups"][0]["by_status"]["unpaid"] == {"lines": 1, "amount": AMOUNT}
    assert reconciliation.returns_to_budget("2026-02", today=date(2026, 6, 1))["lines"] == 0
    assert reconciliation.budget_deadline("2026-12") == date(2027, 1, 25)
    with pytest.raises(reconciliation.ReconciliationError, match="YYYY-MM"):
        reconciliation.returns_to_budget("2026-13")


# --- CLI ----------------------------------------------------------------------------------------------------------

def test_reconcile_command_prints_the_counts_and_refuses_a_bad_file(app, tmp_path):
    payroll, (a, b) = _sent_payroll(children=2)
    good = tmp_path / "out.csv"
    good.write_bytes(_csv([(a.end_to_end_id, AMOUNT, "paid"), (b.end_to_end_id, AMOUNT, "returned")]))
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"<Document><nope/></Document>")
    db.session.commit()
    try:
        result = app.test_cli_runner().invoke(args=["payroll", "reconcile", str(good)])
        assert result.exit_code == 0, result.output
        counts = json.loads(result.output.strip().splitlines()[-1])
        assert {k: counts[k] for k in ("matched", "paid", "returned", "unmatched", "repeat")} == {
            "matched": 2, "paid": 1, "returned": 1, "unmatched": 0, "repeat": False}
        assert _statuses(payroll) == [LineStatus.paid, LineStatus.returned]
        again = app.test_cli_runner().invoke(args=["payroll", "reconcile", str(good)])
        assert again.exit_code == 0 and json.loads(again.output.strip().splitlines()[-1])["repeat"] is True
        refused = app.test_cli_runner().invoke(args=["payroll", "reconcile", str(bad)])
        assert refused.exit_code == 2 and "bad.xml" in refused.output
    finally:
        db.session.rollback()


def test_a_months_return_to_the_budget_is_recorded_once_per_programme_and_region_in_the_database():
    from sqlalchemy.exc import IntegrityError

    from modules.payments.models import BudgetReturn

    payroll, _lines_ = _sent_payroll(children=1)
    (record,) = reconciliation.record_returns_to_budget(PERIOD, today=date(2026, 3, 1))  # the line never got paid
    assert (record.lines, record.amount) == (1, AMOUNT)
    assert reconciliation.record_returns_to_budget(PERIOD, today=date(2026, 3, 2)) == []
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.add(BudgetReturn(period=PERIOD, programme_id=payroll.programme_id, area_id=payroll.area_id,
                                    lines=1, amount=AMOUNT, by_status={}))
        db.session.flush()
