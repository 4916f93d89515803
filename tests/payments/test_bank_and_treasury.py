"""The bank and the treasury over real HTTP (the simulator plays both): account opening, fund requests, sending a
payroll's file, fetching the bank's camt.054 and reconciling it; and a whole month from decisions to reconciled."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from connectors.bank import BankConnector
from connectors.partners import bank_connector
from connectors.simulator import finance
from connectors.transport.errors import SourceRejected
from modules.enrolment import banking
from modules.enrolment.models import BankAccount, BankAccountStatus, Enrolment
from modules.means_test.models import Decision
from modules.payments import checks, export, funding, generation, sending, status
from modules.payments.bankfiles.xsd import validate
from modules.payments.models import (
    BankTransfer,
    FundRequestPayroll,
    FundRequestStatus,
    LineStatus,
    Payroll,
    PayrollStatus,
)
from tests import factories
from tests.conftest import TEST_DATABASE_URL
from tests.factories import PAYROLL_PERIOD as PERIOD
from tests.factories import assessed_family as _household
from tests.factories import decide as _decide
from tests.factories import decided_assessment as _decided
from tests.factories import enrol as _enrol
from tests.factories import finance_checker as _checker
from tests.factories import payroll_lines as _lines
from tests.factories import remove_payroll as _cleanup
from tests.factories import totp_code as _code
from tests.payments.concurrency import race
from webapp.extensions import db
from webapp.models.audit import AuditEvent

XSD = Path(__file__).resolve().parents[2].parent / "shared" / "standards" / "iso20022" / "xsd"
needs_standards = pytest.mark.skipif(not XSD.is_dir(), reason="../shared/standards/iso20022 not available")


def _approved(children: int = 2, account=BankAccountStatus.opened) -> Payroll:
    family = _household(children=children)
    for child in family["children"]:
        _enrol(family, child, account=account)
    maker = factories.make_user("finance_maker", national=True)
    payroll = generation.generate("child_allowance", "UZ-TK", PERIOD, maker)
    checks.run_checks(payroll, maker)
    checker = _checker()
    status.approve(payroll, checker, _code(checker))
    return payroll


def _accounts_of(payroll: Payroll) -> list[BankAccount]:
    return list(db.session.scalars(
        select(BankAccount).join(Enrolment, Enrolment.bank_account_id == BankAccount.id)
        .where(Enrolment.id.in_([line.enrolment_id for line in _lines(payroll)]))).unique())


def _open_at_bank(payroll: Payroll) -> None:
    """The payees' accounts exist at the simulated bank (as if it had opened them)."""
    with _sim_engine().begin() as conn:
        for account in _accounts_of(payroll):
            conn.execute(finance.bank_account.insert().values(
                request_id=account.request_id, pin=account.person.pin, name="test", bank_code=account.bank_code,
                account_number=account.account_number, status="opened", status_queries=0,
                requested_at=datetime.now(UTC)))


_SIM = {}


def _sim_engine():
    return _SIM["sim"].extensions["simulator"].engine


@pytest.fixture(autouse=True)
def _remember_simulator(request):
    if "partners_at" in request.fixturenames:
        _SIM["sim"] = request.getfixturevalue("partners_at")
    yield
    _SIM.clear()


# --- bank accounts ----------------------------------------------------------------------------------------------

def test_the_payee_list_goes_to_the_bank_and_accounts_open_then_cards_are_issued(partners_at):
    family = _household(children=2)
    enrolments = [_enrol(family, child, account=None) for child in family["children"]]
    counts = banking.open_accounts([e.id for e in enrolments])
    assert counts["requested"] == 1 and counts["sent"] == 1 and counts["opened"] == 1  # one payee, the head
    account = db.session.get(Enrolment, enrolments[0].id).bank_account
    assert account.status is BankAccountStatus.opened and len(account.account_number) == 20
    assert {e.bank_account_id for e in enrolments} == {account.id}
    assert banking.sync_accounts() == {"opened": 0, "card_issued": 1, "rejected": 0}
    assert account.status is BankAccountStatus.card_issued
    again = banking.open_accounts([e.id for e in enrolments])  # nothing new to request or send
    assert again["requested"] == 0 and again["sent"] == 0
    with _sim_engine().connect() as conn:
        assert conn.scalar(select(func.count()).select_from(finance.bank_account)) == 1
    actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "bank_account")))
    assert {"bank_account.requested", "bank_account.opened", "bank_account.card_issued"} <= actions


def test_an_account_the_bank_does_not_know_stays_requested(partners_at):
    family = _household(children=1)
    _enrol(family, account=BankAccountStatus.requested)
    assert banking.sync_accounts() == {"opened": 0, "card_issued": 0, "rejected": 0}
    assert db.session.scalar(select(BankAccount.status).where(BankAccount.person_id == family["head"].id)) \
        is BankAccountStatus.requested


# --- fund requests ----------------------------------------------------------------------------------------------

def test_funds_are_requested_with_totals_by_programme_and_region_and_confirmed(partners_at):
    payroll = _approved(children=3)
    request = funding.request_funds([payroll], factories.make_user("finance_maker", national=True))
    assert request.status is FundRequestStatus.confirmed and request.treasury_reference.startswith("GFMIS-")
    assert request.lines == [{"programme": "child_allowance", "region": "UZ-TK", "beneficiaries": 3,
                              "amount": "750000.00"}]
    assert status.funds_confirmed(payroll.id)
    with pytest.raises(status.PayrollError, match="already requested"):
        funding.request_funds([payroll])
    with _sim_engine().connect() as conn:
        row = conn.execute(select(finance.fund_request)).one()
    assert (row.reference, row.total, row.status) == (request.reference, "750000.00", "confirmed")


def test_a_refused_request_releases_the_payroll_which_cannot_be_sent(partners_at):
    payroll = _approved()
    partners_at.extensions["simulator"].treasury_limit = 1000
    refused = funding.request_funds([payroll])
    assert refused.status is FundRequestStatus.refused and "1000" in refused.refusal_reason
    assert not status.funds_confirmed(payroll.id)
    with pytest.raises(status.PayrollError, match="treasury has not confirmed"):
        sending.send_to_bank(payroll)
    assert payroll.status is PayrollStatus.approved
    partners_at.extensions["simulator"].treasury_limit = None
    second = funding.request_funds([payroll])  # a new reference: the treasury is asked a new question
    assert second.status is FundRequestStatus.confirmed and second.reference != refused.reference
    assert db.session.scalar(select(func.count()).select_from(FundRequestPayroll)
                             .where(FundRequestPayroll.payroll_id == payroll.id, FundRequestPayroll.live)) == 1


def test_only_approved_payrolls_of_one_month_are_funded(partners_at):
    _enrol(_household())
    draft = generation.generate("child_allowance", "UZ-TK", PERIOD)
    with pytest.raises(status.PayrollError, match="approved payrolls only"):
        funding.request_funds([draft])
    with pytest.raises(status.PayrollError, match="No approved payroll"):
        funding.request_funds([])


def test_an_unreachable_treasury_is_a_clear_refusal(app, monkeypatch):
    monkeypatch.setitem(app.config, "PARTNERS", {"treasury": {"base_url": "http://127.0.0.1:9", "timeout": 1,
                                                              "retry": {"attempts": 1}}})
    app.extensions.pop("srsp_partners", None)
    try:
        payroll = _approved()
        with pytest.raises(status.PayrollError, match="treasury could not be reached"):
            funding.request_funds([payroll])
    finally:
        app.extensions.pop("srsp_partners", None)


# --- sending and the bank's statement -----------------------------------------------------------------------------

def _funded(children: int = 2) -> Payroll:
    payroll = _approved(children)
    funding.request_funds([payroll])
    _open_at_bank(payroll)
    return payroll


def test_a_funded_payroll_is_sent_once_and_the_bank_keeps_the_file(partners_at):
    payroll = _funded(children=2)
    transfer = sending.send_to_bank(payroll, factories.make_user("finance_maker", national=True))
    assert payroll.status is PayrollStatus.sent and transfer.bank_file_id.startswith("F")
    assert (transfer.transactions, str(transfer.control_sum)) == (2, "500000.00")
    with pytest.raises(status.IllegalTransition):
        sending.send_to_bank(payroll)
    with _sim_engine().connect() as conn:
        stored = conn.execute(select(finance.payment_file)).one()
    assert stored.message_id == transfer.message_id and stored.sha256 == transfer.sha256
    # The bank takes a MsgId once: the same file again gets the same receipt, another file under it is refused.
    content = export.render(payroll, "pain.001.001.03")
    receipt = bank_connector().submit_payment_file(content, transfer.message_id, "pain.001.001.03")
    assert receipt.file_id == transfer.bank_file_id
    with pytest.raises(SourceRejected, match="409"):
        bank_connector().submit_payment_file(export.render(payroll, "pain.001.001.09"), transfer.message_id,
                                             "pain.001.001.09")


def test_a_second_transfer_of_the_same_payroll_is_refused_by_the_database():
    payroll = _approved()
    db.session.add(BankTransfer(payroll_id=payroll.id, message_id="M-1", file_format="pain.001.001.03",
                                sha256="0" * 64, transactions=1, control_sum=1))
    db.session.flush()
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.add(BankTransfer(payroll_id=payroll.id, message_id="M-2", file_format="pain.001.001.03",
                                    sha256="0" * 64, transactions=1, control_sum=1))
        db.session.flush()


def test_a_bank_that_refuses_the_file_leaves_the_payroll_approved(app, partners_at, monkeypatch):
    payroll = _funded()

    def refuse(*_args, **_kwargs):
        raise SourceRejected("HTTP 400: the file is not well-formed XML", source="bank")

    monkeypatch.setattr(BankConnector, "submit_payment_file", refuse)
    with pytest.raises(status.PayrollError, match="stays approved"), db.session.begin_nested():
        sending.send_to_bank(payroll)
    db.session.expire_all()
    assert payroll.status is PayrollStatus.approved and sending.transfer_of(payroll.id) is None


def test_the_banks_camt054_settles_the_payroll_and_a_second_fetch_changes_nothing(partners_at):
    payroll = _funded(children=3)
    sending.send_to_bank(payroll)
    record = sending.fetch_statement(payroll)
    assert (record.kind, record.paid, record.returned, record.unmatched) == ("camt.054", 3, 0, 0)
    db.session.expire_all()
    assert payroll.status is PayrollStatus.reconciled
    assert {line.status for line in _lines(payroll)} == {LineStatus.paid}
    again = sending.fetch_statement(payroll)
    assert again.repeat and again.id == record.id


def test_a_payment_to_a_closed_account_comes_back_returned(partners_at):
    payroll = _funded(children=2)
    [account] = _accounts_of(payroll)  # both children are paid to the head's account
    number = account.account_number
    assert finance.close_account(_sim_engine(), number)
    sending.send_to_bank(payroll)
    record = sending.fetch_statement(payroll)
    assert (record.paid, record.returned) == (0, 2)
    assert {line.status for line in _lines(payroll)} == {LineStatus.returned}
    assert db.session.get(Payroll, payroll.id).status is PayrollStatus.reconciled


@needs_standards
def test_the_simulated_banks_notification_is_schema_valid(partners_at):
    payroll = _funded(children=2)
    transfer = sending.send_to_bank(payroll)
    file_format, content = bank_connector().statement(transfer.bank_file_id)
    schema = etree.XMLSchema(etree.parse(str(XSD / "cash_management/camt.054/camt.054.001.08.xsd")))
    assert file_format == "camt.054.001.08"
    assert schema.validate(etree.fromstring(content)), schema.error_log
    assert bank_connector().statement(transfer.bank_file_id)[1] == content  # stable bytes


def test_sending_without_the_bank_connector_fetch_is_refused_clearly():
    payroll = _approved()
    with pytest.raises(status.PayrollError, match="not sent through the bank connector"):
        sending.fetch_statement(payroll)


# --- a whole month ------------------------------------------------------------------------------------------------

def test_a_whole_month_from_decisions_to_reconciled(partners_at):
    """Real decisions → enrolments → accounts at the bank → payroll → checks → approval with TOTP → funds →
    pain.001 valid against the published XSD → the bank's camt.054 → every line paid, the payroll reconciled."""
    families = [factories.make_family(children=children) for children in (2, 3)]
    assessments = [_decided(family) for family in families]
    assert all(a.decision is Decision.eligible for a in assessments)
    enrolments = [e for a in assessments for e in _decide(a)]
    assert len(enrolments) == 5 and all(e.period_start == date(2025, 12, 1) for e in enrolments)
    banking.open_accounts([e.id for e in enrolments])
    assert all(e.bank_account.status is BankAccountStatus.opened for e in enrolments)

    maker = factories.make_user("finance_maker", national=True)
    payroll = generation.generate("child_allowance", "UZ-TK", "2025-12", maker)
    assert checks.run_checks(payroll, maker) == {reason: 0 for reason in checks.CHECKS}
    assert payroll.line_count == 5
    checker = _checker()
    with pytest.raises(status.PayrollError, match="Only a finance checker"):  # the preparer is no checker
        status.approve(payroll, maker, "000000")
    with pytest.raises(status.PayrollError, match="wrong"):
        status.approve(payroll, checker, "000000")
    status.approve(payroll, checker, _code(checker))
    assert funding.request_funds([payroll], maker).status is FundRequestStatus.confirmed
    transfer = sending.send_to_bank(payroll, maker)

    pain = export.render(payroll, "pain.001.001.03")
    validate(pain, "pain.001.001.03")  # the XSD bundled with the package
    if XSD.is_dir():  # and the published one, where the standards folder is beside the repository
        schema = etree.XMLSchema(etree.parse(str(XSD / "payments_initiation/pain.001/pain.001.001.03.xsd")))
        assert schema.validate(etree.fromstring(pain)), schema.error_log
    assert transfer.sha256 == hashlib.sha256(pain).hexdigest()

    record = sending.fetch_statement(payroll, maker)
    assert (record.paid, record.unmatched) == (5, 0)
    db.session.expire_all()
    assert payroll.status is PayrollStatus.reconciled
    with pytest.raises(status.PayrollError, match="already has the status Reconciled"):
        generation.generate("child_allowance", "UZ-TK", "2025-12", maker)


# --- commands -----------------------------------------------------------------------------------------------------

def _invoke(app, *args):
    result = app.test_cli_runner().invoke(args=[str(arg) for arg in args])
    return result.exit_code, result.output.strip().splitlines()[-1] if result.output.strip() else ""


def test_commands_take_a_payroll_from_approved_to_reconciled(app, partners_at):
    payroll = _approved(children=2)
    _open_at_bank(payroll)
    db.session.commit()
    try:
        code, output = _invoke(app, "payroll", "send", payroll.id)
        assert code == 1 and "treasury has not confirmed" in output
        code, output = _invoke(app, "payroll", "request-funds", payroll.id)
        assert code == 0 and json.loads(output)["status"] == "confirmed"
        code, output = _invoke(app, "payroll", "send", payroll.id, "--format", "pain.001.001.09")
        assert code == 0 and "received by the bank" in output
        code, output = _invoke(app, "payroll", "fetch-statement", payroll.id)
        assert code == 0 and json.loads(output)["payroll_status"] == "reconciled" and json.loads(output)["paid"] == 2
        code, output = _invoke(app, "payroll", "send", 999999)
        assert code == 1 and "no payroll 999999" in output
    finally:
        db.session.rollback()


def test_bank_commands_open_and_sync_accounts(app, partners_at):
    family = _household(children=1)
    _enrol(family, account=None)
    db.session.commit()
    try:
        code, output = _invoke(app, "bank", "open-accounts")
        assert code == 0 and json.loads(output)["opened"] == 1
        code, output = _invoke(app, "bank", "sync-accounts")
        assert code == 0 and json.loads(output) == {"opened": 0, "card_issued": 1, "rejected": 0}
    finally:
        db.session.rollback()


# --- two people sending at once -----------------------------------------------------------------------------------

@pytest.mark.committed
@pytest.mark.skipif(not (TEST_DATABASE_URL or "").startswith("postgresql"), reason="needs PostgreSQL")
def test_two_people_sending_the_same_payroll_at_once_exactly_one_succeeds(app, partners_at):
    family = _household()
    enrolment = _enrol(family, start=date(2026, 11, 1))  # a month no other test pays
    payroll = generation.generate("child_allowance", "UZ-TK", "2026-11")
    checks.run_checks(payroll)
    checker = _checker()
    status.approve(payroll, checker, _code(checker))
    request = funding.request_funds([payroll])
    _open_at_bank(payroll)
    makers = [factories.make_user("finance_maker", national=True) for _ in range(2)]
    db.session.commit()
    payroll_id, maker_ids, enrolment_id, request_id = payroll.id, [m.id for m in makers], enrolment.id, request.id
    family_ids = {"application": family["application"].id, "household": family["household"].id,
                  "persons": [p.id for p in (family["head"], family["spouse"], *family["children"])]}
    db.session.remove()

    def send(user_id, ready):
        from webapp.models import User

        user = db.session.get(User, user_id)
        target = db.session.get(Payroll, payroll_id)
        ready()
        sending.send_to_bank(target, user)
        return "sent"

    try:
        results = race(app, send, maker_ids)
        assert sorted(results.values()) == ["PayrollConflict", "sent"]
        assert db.session.scalar(select(func.count()).select_from(BankTransfer)
                                 .where(BankTransfer.payroll_id == payroll_id)) == 1
        with _sim_engine().connect() as conn:  # the bank got the file once
            assert conn.scalar(select(func.count()).select_from(finance.payment_file)) == 1
    finally:
        db.session.rollback()
        run = db.session.execute
        run(text("DELETE FROM bank_transfer WHERE payroll_id = :id"), {"id": payroll_id})
        run(text("DELETE FROM fund_request_payroll WHERE fund_request_id = :id"), {"id": request_id})
        run(text("DELETE FROM fund_request WHERE id = :id"), {"id": request_id})
        db.session.commit()
        _cleanup(payroll_id, enrolment_id, family_ids)
