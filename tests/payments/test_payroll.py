"""Payroll core: set-based generation, pre-payroll checks, approval with TOTP, the database's invariants, export."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from modules.enrolment.models import BankAccountStatus, EnrolmentStatus
from modules.payments import checks, generation, status
from modules.payments.bankfiles import ids
from modules.payments.bankfiles.xsd import validate
from modules.payments.models import (
    LineStatus,
    Payroll,
    PayrollLine,
    PayrollStatus,
)
from tests import factories
from tests.conftest import TEST_DATABASE_URL
from tests.factories import PAYROLL_PERIOD as PERIOD
from tests.factories import assessed_family as _household
from tests.factories import enrol as _enrol
from tests.factories import finance_checker as _checker
from tests.factories import fund
from tests.factories import payroll_lines as _lines
from tests.factories import remove_payroll as _cleanup
from tests.factories import totp_code as _code
from tests.payments.concurrency import race
from webapp.auth import totp
from webapp.extensions import db
from webapp.models.audit import AuditEvent

# --- generation -------------------------------------------------------------------------------------------------

def test_generation_takes_the_active_enrolments_of_the_programme_region_and_month():
    family = _household()
    due = _enrol(family)
    second_child = _enrol(family, family["children"][1])
    _enrol(family, family["spouse"], programme="material_support")  # another programme
    _enrol(_household("UZ-SA"))  # another region
    _enrol(family, family["head"], start=date(2026, 2, 1))  # starts after the month
    _enrol(family, family["spouse"], programme="child_allowance", start=date(2025, 1, 1), months=6)  # over
    suspended = _enrol(_household())
    suspended.status = EnrolmentStatus.suspended
    db.session.flush()
    maker = factories.make_user("finance_maker", national=True)

    payroll = generation.generate("child_allowance", "UZ-TK", PERIOD, maker)

    lines = _lines(payroll)
    assert sorted(line.enrolment_id for line in lines) == [due.id, second_child.id]
    assert {line.amount for line in lines} == {Decimal("250000.00")}
    assert all(line.status is LineStatus.included and line.period == PERIOD for line in lines)
    assert [line.end_to_end_id for line in lines] == [ids.end_to_end_id(payroll.id, line.id) for line in lines]
    assert (payroll.status, payroll.line_count, payroll.total_amount) == (PayrollStatus.draft, 2, Decimal("500000"))
    assert payroll.prepared_by_id == maker.id


def test_a_lump_sum_is_paid_once_in_its_first_month_for_all_its_months():
    family = _household()
    maternity = _enrol(family, family["spouse"], programme="maternity", amount="100000.00", months=3, lump_sum=True,
                       start=date(2026, 1, 1))
    first = generation.generate("maternity", "UZ-TK", "2026-01")
    assert [(line.enrolment_id, line.amount) for line in _lines(first)] == [(maternity.id, Decimal("300000.00"))]
    with pytest.raises(generation.NothingDue, match="Nothing is due for .* 2026-02: no payroll was prepared"):
        generation.generate("maternity", "UZ-TK", "2026-02")
    assert db.session.scalar(select(func.count()).select_from(Payroll).where(Payroll.period == "2026-02")) == 0


def test_generating_the_same_month_twice_adds_nothing():
    family = _household()
    _enrol(family)
    first = generation.generate("child_allowance", "UZ-TK", PERIOD)
    before = [(line.id, line.end_to_end_id) for line in _lines(first)]
    again = generation.generate("child_allowance", "UZ-TK", PERIOD)
    assert again.id == first.id
    assert [(line.id, line.end_to_end_id) for line in _lines(again)] == before
    assert db.session.scalar(select(func.count()).select_from(Payroll).where(Payroll.period == PERIOD)) == 1


def test_a_checked_payroll_is_not_generated_again():
    _enrol(_household())
    payroll = generation.generate("child_allowance", "UZ-TK", PERIOD)
    checks.run_checks(payroll)
    with pytest.raises(status.PayrollError, match="already has the status Checked"):
        generation.generate("child_allowance", "UZ-TK", PERIOD)


def test_bad_arguments_are_refused_with_a_clear_message():
    with pytest.raises(status.PayrollError, match="YYYY-MM"):
        generation.generate("child_allowance", "UZ-TK", "2026-13")
    with pytest.raises(status.PayrollError, match="programme"):
        generation.generate("nope", "UZ-TK", PERIOD)
    with pytest.raises(status.PayrollError, match="region"):
        generation.generate("child_allowance", "UZ-XX", PERIOD)


def test_an_error_half_way_through_generation_leaves_no_payroll(monkeypatch):
    _enrol(_household())

    def broken(_payroll_id):
        raise RuntimeError("injected failure")

    monkeypatch.setattr(generation, "set_end_to_end_ids", broken)
    with pytest.raises(RuntimeError, match="injected"):
        generation.generate("child_allowance", "UZ-TK", PERIOD)
    assert db.session.scalar(select(func.count()).select_from(Payroll)) == 0
    assert db.session.scalar(select(func.count()).select_from(PayrollLine)) == 0
    monkeypatch.undo()
    assert len(_lines(generation.generate("child_allowance", "UZ-TK", PERIOD))) == 1  # the session still works


# --- invariants in the database -----------------------------------------------------------------------------------

def test_a_second_line_for_the_same_enrolment_and_month_is_refused_by_the_database():
    enrolment = _enrol(_household())
    payroll = generation.generate("child_allowance", "UZ-TK", PERIOD)
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(text("INSERT INTO payroll_line (payroll_id, enrolment_id, period, amount, status, "
                                "cancelled) VALUES (:p, :e, :period, 1, 'included', :no)"),
                           {"p": payroll.id, "e": enrolment.id, "period": PERIOD, "no": False})


def test_only_one_live_payroll_per_programme_region_and_month():
    _enrol(_household())
    payroll = generation.generate("child_allowance", "UZ-TK", PERIOD)
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.add(Payroll(programme_id=payroll.programme_id, area_id=payroll.area_id, period=PERIOD))
        db.session.flush()


def test_the_preparer_cannot_be_the_approver_in_the_database():
    maker = factories.make_user("finance_maker", national=True)
    _enrol(_household())
    payroll = generation.generate("child_allowance", "UZ-TK", PERIOD, maker)
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(text("UPDATE payroll SET approved_by_id = prepared_by_id WHERE id = :id"),
                           {"id": payroll.id})


def _approved_payroll():
    family = _household()
    _enrol(family)
    _enrol(family, family["children"][1])
    maker = factories.make_user("finance_maker", national=True)
    payroll = generation.generate("child_allowance", "UZ-TK", PERIOD, maker)
    checks.run_checks(payroll, maker)
    checker = _checker()
    status.approve(payroll, checker, _code(checker))
    return payroll, checker


@pytest.mark.parametrize("statement", [
    "UPDATE payroll_line SET amount = amount + 1 WHERE payroll_id = :id",
    "UPDATE payroll_line SET period = '2026-02' WHERE payroll_id = :id",
    "UPDATE payroll_line SET status = 'excluded', exclusion_reason = 'late' WHERE payroll_id = :id",
    "DELETE FROM payroll_line WHERE payroll_id = :id",
    "INSERT INTO payroll_line (payroll_id, enrolment_id, period, amount, status, cancelled) "
    "SELECT payroll_id, enrolment_id, '2026-03', amount, status, cancelled FROM payroll_line WHERE payroll_id = :id",
    "UPDATE payroll SET total_amount = 1 WHERE id = :id",
    "UPDATE payroll SET status = 'draft' WHERE id = :id",
])
def test_an_approved_payroll_cannot_change(statement):
    payroll, _checker_user = _approved_payroll()
    with pytest.raises(DBAPIError, match="approved|cannot move"), db.session.begin_nested():
        db.session.execute(text(statement), {"id": payroll.id})
    # Reconciliation still moves line statuses on.
    db.session.execute(text("UPDATE payroll_line SET status = 'paid' WHERE payroll_id = :id"), {"id": payroll.id})
    assert {line.status for line in _lines(payroll)} == {LineStatus.paid}


def test_a_draft_payrolls_lines_can_still_change():
    _enrol(_household())
    payroll = generation.generate("child_allowance", "UZ-TK", PERIOD)
    db.session.execute(text("UPDATE payroll_line SET amount = 5 WHERE payroll_id = :id"), {"id": payroll.id})
    assert _lines(payroll)[0].amount == Decimal("5.00")


# --- checks -------------------------------------------------------------------------------------------------------

def _reasons(payroll: Payroll) -> dict[int, str | None]:
    return {line.enrolment_id: line.exclusion_reason for line in _lines(payroll)}


def test_each_check_catches_its_case():
    ok_family = _household()
    ok = _enrol(ok_family)

    deceased_family = _household()
    deceased = _enrol(deceased_family)
    deceased_family["children"][0].death_date = date(2025, 12, 20)

    # The same person paid through two households in one month (a registry error the check must catch): a child
    # of one family is also the beneficiary of material support in another household.
    moved_family, other_family = _household(), _household()
    twice = _enrol(moved_family)
    _enrol(other_family, moved_family["children"][0], programme="material_support", amount="400000.00")

    both_family = _household()
    incompatible = _enrol(both_family)
    _enrol(both_family, both_family["head"], programme="material_support", amount="400000.00")
    generation.generate("material_support", "UZ-TK", PERIOD)

    ended_family = _household()
    ended = _enrol(ended_family)
    no_account_family = _household()
    no_account = _enrol(no_account_family, account=BankAccountStatus.requested)
    wrong_family = _household()
    wrong_amount = _enrol(wrong_family)

    aged_family = _household()
    aged_family["children"][0].birth_date = date(2008, 1, 1)  # 18 on 1 January 2026
    aged_out = _enrol(aged_family)
    almost_family = _household()
    almost_family["children"][0].birth_date = date(2008, 1, 2)  # 18 the next day: still paid for January
    almost = _enrol(almost_family)
    db.session.flush()

    payroll = generation.generate("child_allowance", "UZ-TK", PERIOD)
    ended.status = EnrolmentStatus.ended  # ended between generation and checks
    db.session.flush()
    db.session.execute(text("UPDATE payroll_line SET amount = 1 WHERE enrolment_id = :id"), {"id": wrong_amount.id})

    summary = checks.run_checks(payroll)

    assert _reasons(payroll) == {
        ok.id: None, almost.id: None, deceased.id: "deceased", twice.id: "two_households",
        incompatible.id: "incompatible_programmes", ended.id: "enrolment_not_active",
        no_account.id: "no_bank_account", wrong_amount.id: "amount_mismatch", aged_out.id: "child_aged_out"}
    assert summary == {"deceased": 1, "two_households": 1, "incompatible_programmes": 1, "enrolment_not_active": 1,
                       "no_bank_account": 1, "amount_mismatch": 1, "child_aged_out": 1}
    db.session.refresh(payroll)
    assert (payroll.status, payroll.line_count, payroll.total_amount) == (PayrollStatus.checked, 2,
                                                                          Decimal("500000.00"))
    assert db.session.scalar(select(AuditEvent.details).where(
        AuditEvent.action == "payroll.checked", AuditEvent.object_id == str(payroll.id)))["excluded"] == summary


def test_a_line_is_compared_only_with_lines_still_to_be_paid():
    """The own-enrolment checks run first: a child's line without a bank account is excluded for that, and then does
    not make the same child's line in another household a duplicate; the first reason that holds is kept."""
    unbanked, other = _household(), _household()
    own = _enrol(unbanked, account=BankAccountStatus.requested)
    elsewhere = _enrol(other, unbanked["children"][0], programme="material_support", amount="400000.00")
    both_family = _household()
    both = _enrol(both_family, account=BankAccountStatus.requested)
    both_family["children"][0].death_date = date(2025, 12, 1)  # deceased and without an account: deceased first
    db.session.flush()
    support = generation.generate("material_support", "UZ-TK", PERIOD)
    allowance = generation.generate("child_allowance", "UZ-TK", PERIOD)
    summary = checks.run_checks(allowance)
    assert _reasons(allowance)[own.id] == "no_bank_account" and _reasons(allowance)[both.id] == "deceased"
    assert (summary["two_households"], summary["no_bank_account"], summary["deceased"]) == (0, 1, 1)
    assert checks.run_checks(support)["two_households"] == 0 and _reasons(support)[elsewhere.id] is None


def test_checks_only_run_on_a_draft():
    _enrol(_household())
    payroll = generation.generate("child_allowance", "UZ-TK", PERIOD)
    checks.run_checks(payroll)
    with pytest.raises(status.IllegalTransition):
        checks.run_checks(payroll)


# --- approval -----------------------------------------------------------------------------------------------------

def _checked(maker=None) -> Payroll:
    _enrol(_household())
    payroll = generation.generate("child_allowance", "UZ-TK", PERIOD, maker)
    checks.run_checks(payroll, maker)
    return payroll


def test_approval_with_a_valid_code_is_audited():
    payroll = _checked(factories.make_user("finance_maker", national=True))
    checker = _checker()
    status.approve(payroll, checker, _code(checker))
    db.session.refresh(payroll)
    assert (payroll.status, payroll.approved_by_id) == (PayrollStatus.approved, checker.id)
    assert payroll.approved_at is not None
    actions = list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "payroll",
                                                                      AuditEvent.object_id == str(payroll.id))
                                      .order_by(AuditEvent.id)))
    assert actions == ["payroll.generated", "payroll.checked", "payroll.approved"]


def test_self_approval_is_refused():
    checker = _checker()
    payroll = _checked(checker)
    with pytest.raises(status.PayrollError, match="prepared"):
        status.approve(payroll, checker, _code(checker))
    assert payroll.status is PayrollStatus.checked


def test_only_a_finance_checker_approves():
    payroll = _checked()
    maker = factories.make_user("finance_maker", national=True)
    totp.enable(maker)
    with pytest.raises(status.PayrollError, match="finance checker"):
        status.approve(payroll, maker, _code(maker))


def test_a_wrong_code_is_refused():
    payroll = _checked()
    checker = _checker()
    wrong = f"{(int(_code(checker)) + 1) % 1_000_000:06d}"
    with pytest.raises(status.PayrollError, match="authenticator"):
        status.approve(payroll, checker, wrong)
    assert payroll.status is PayrollStatus.checked


def test_a_code_cannot_be_replayed():
    checker = _checker()
    code = _code(checker)
    assert totp.verify(checker, code)
    with pytest.raises(totp.CodeReused, match="already used. Wait for the next code"):
        totp.verify(checker, code)
    payroll = _checked()
    with pytest.raises(totp.CodeReused, match="already used"):
        status.approve(payroll, checker, code)
    assert payroll.status is PayrollStatus.checked


def test_codes_of_the_neighbouring_steps_are_accepted_but_not_older_ones():
    checker = _checker()
    now = datetime.now(UTC)
    assert totp.verify(checker, _code(checker, datetime.fromtimestamp(now.timestamp() - 30, UTC)), now)
    assert not totp.verify(checker, _code(checker, datetime.fromtimestamp(now.timestamp() - 90, UTC)), now)
    assert totp.provisioning_uri(checker).startswith("otpauth://totp/SRSP:")


def test_a_user_without_an_authenticator_cannot_approve():
    payroll = _checked()
    checker = factories.make_user("finance_checker", national=True)
    with pytest.raises(status.PayrollError, match="authenticator"):
        status.approve(payroll, checker, "123456")


def test_a_draft_cannot_be_approved_and_a_sent_payroll_cannot_be_cancelled():
    _enrol(_household())
    payroll = generation.generate("child_allowance", "UZ-TK", PERIOD)
    checker = _checker()
    with pytest.raises(status.IllegalTransition):
        status.approve(payroll, checker, _code(checker))
    payroll, _ = _approved_payroll_in("2026-02")
    with pytest.raises(status.PayrollError, match="treasury has not confirmed"):
        status.mark_sent(payroll)  # never sent before the funds are confirmed
    fund(payroll)
    status.mark_sent(payroll)
    with pytest.raises(status.IllegalTransition):
        status.cancel(payroll, "too late")


def _approved_payroll_in(period: str):
    _enrol(_household(), start=date(2026, 1, 1))
    payroll = generation.generate("child_allowance", "UZ-TK", period)
    checks.run_checks(payroll)
    checker = _checker()
    status.approve(payroll, checker, _code(checker))
    return payroll, checker


def test_cancelling_deletes_the_lines_so_the_month_can_be_paid_again():
    payroll, _checker_user = _approved_payroll()
    lines = len(_lines(payroll))
    status.cancel(payroll, "wrong bank", None)
    assert payroll.status is PayrollStatus.cancelled and _lines(payroll) == []
    again = generation.generate("child_allowance", "UZ-TK", PERIOD)
    assert again.id != payroll.id and len(_lines(again)) == lines


def test_a_stale_status_is_a_conflict_not_a_second_approval():
    payroll = _checked()
    first, second = _checker(), _checker()
    db.session.execute(text("UPDATE payroll SET status = 'approved', approved_by_id = :u WHERE id = :id"),
                       {"u": first.id, "id": payroll.id})
    with pytest.raises(status.PayrollConflict):
        status.approve(payroll, second, _code(second))


@pytest.mark.committed
@pytest.mark.skipif(not (TEST_DATABASE_URL or "").startswith("postgresql"), reason="needs PostgreSQL")
def test_two_checkers_approving_at_once_exactly_one_succeeds(app):
    family = _household()
    enrolment = _enrol(family, start=date(2027, 3, 1))  # a month no other test pays
    payroll = generation.generate("child_allowance", "UZ-TK", "2027-03")
    checks.run_checks(payroll)
    checkers = [_checker(), _checker()]
    db.session.commit()
    payroll_id, checker_ids, enrolment_id = payroll.id, [checker.id for checker in checkers], enrolment.id
    family_ids = {"application": family["application"].id, "household": family["household"].id,
                  "persons": [p.id for p in (family["head"], family["spouse"], *family["children"])]}
    db.session.remove()

    def approve(user_id, ready):
        from webapp.models import User

        user = db.session.get(User, user_id)
        target = db.session.get(Payroll, payroll_id)
        code = _code(user)
        ready()
        status.approve(target, user, code)
        return "approved"

    try:
        results = race(app, approve, checker_ids)
        assert sorted(results.values()) == ["PayrollConflict", "approved"]
        approved_by = db.session.scalar(select(Payroll.approved_by_id).where(Payroll.id == payroll_id))
        assert approved_by == next(user_id for user_id, result in results.items() if result == "approved")
    finally:
        db.session.rollback()
        _cleanup(payroll_id, enrolment_id, family_ids)






# --- export -------------------------------------------------------------------------------------------------------

def test_a_month_end_to_end_exports_a_valid_byte_identical_pain001(app, tmp_path):
    from modules.payments.cli import payroll_group

    family = _household()
    _enrol(family)
    _enrol(family, family["children"][1])
    excluded = _household()
    _enrol(excluded, account=BankAccountStatus.requested)
    maker = factories.make_user("finance_maker", national=True)
    result = app.test_cli_runner().invoke(
        payroll_group, ["generate", "--programme", "child_allowance", "--region", "UZ-TK", "--period", PERIOD,
                        "--user", maker.username])
    assert result.exit_code == 0, result.output
    payroll = db.session.scalar(select(Payroll).where(Payroll.period == PERIOD))
    assert checks.run_checks(payroll, maker)["no_bank_account"] == 1
    db.session.commit()  # a refused command rolls back its unit of work, which here is the test's session
    runner = app.test_cli_runner()
    out = tmp_path / "a.xml"
    refused = runner.invoke(payroll_group, ["export", str(payroll.id), "--format", "pain.001.001.03", "-o", str(out)])
    assert refused.exit_code == 1 and "only an approved payroll" in refused.output
    checker = _checker()
    status.approve(payroll, checker, _code(checker))

    files = {}
    for name, file_format in [("a.xml", "pain.001.001.03"), ("b.xml", "pain.001.001.03"),
                              ("c.xml", "pain.001.001.09"), ("d.csv", "csv")]:
        result = runner.invoke(payroll_group, ["export", str(payroll.id), "--format", file_format,
                                               "-o", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        files[name] = (tmp_path / name).read_bytes()
    assert files["a.xml"] == files["b.xml"]
    validate(files["a.xml"], "pain.001.001.03")
    validate(files["c.xml"], "pain.001.001.09")
    xml = files["a.xml"].decode()
    assert f"<MsgId>{ids.message_id(payroll.id, 'V1')}</MsgId>" in xml
    assert "<NbOfTxs>2</NbOfTxs>" in xml and "<CtrlSum>500000.00</CtrlSum>" in xml
    for line in _lines(payroll):
        assert (line.end_to_end_id in xml) is (line.status is LineStatus.included)
    assert files["d.csv"].count(b"\r\n") == 3

    listed = runner.invoke(payroll_group, ["list", "--json"])
    assert listed.exit_code == 0
    rows = [row for row in json.loads(listed.output) if row["id"] == payroll.id]
    assert rows == [{"id": payroll.id, "programme": "child_allowance", "region": "UZ-TK", "period": PERIOD,
                     "status": "approved", "lines": 2, "total": "500000.00"}]


def test_incompatible_programmes_and_the_child_age_limit_come_from_the_pack(app, monkeypatch):
    first = date(2026, 1, 1)
    assert checks.incompatible_codes("child_allowance", first) == ["material_support"]
    assert checks.incompatible_codes("material_support", first) == ["child_allowance"]
    assert checks.incompatible_codes("maternity", first) == []
    family = _household(children=1)
    child = family["children"][0]
    child.birth_date = date(2009, 1, 15)  # 17 on 1 January 2026: paid under uz's limit of 18
    _enrol(family, child)
    payroll = generation.generate("child_allowance", "UZ-TK", PERIOD)
    assert checks.apply_checks(payroll)["child_aged_out"] == 0
    monkeypatch.setitem(app.config, "COUNTRY", "kg")  # the kg pack declares no incompatible programmes
    assert checks.incompatible_codes("child_allowance", first) == []
