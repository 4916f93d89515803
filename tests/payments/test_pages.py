"""Finance pages: payroll list and filters, preparing from the page, the detail page (totals, exceptions), approval
with an authenticator code (wrong code and self-approval refused), bank file downloads, authenticator set-up."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pyotp
import pytest
from sqlalchemy import select

from modules.payments import checks, generation
from modules.payments.bankfiles.xsd import validate
from modules.payments.models import LineStatus, Payroll, PayrollLine, PayrollStatus, live_fund_request
from tests import factories
from tests.factories import PAYROLL_PERIOD as PERIOD
from tests.factories import assessed_family as _household
from tests.factories import enrol as _enrol
from tests.factories import page_text as _text
from tests.payments.conftest import signed_in_client as _client
from webapp.auth import totp
from webapp.extensions import db
from webapp.formatting import money
from webapp.models.audit import AuditEvent


@pytest.fixture
def maker(app):
    return factories.make_user("finance_maker", national=True)


@pytest.fixture
def checker(app):
    user = factories.make_user("finance_checker", national=True)
    totp.enable(user)
    return user


@pytest.fixture
def month(maker):
    """A checked child-allowance payroll for UZ-TK: two lines paid, one excluded (no bank account)."""
    family = _household()
    _enrol(family)
    _enrol(family, family["children"][1], amount="250000.00")
    unbanked = _household()
    _enrol(unbanked, account=None)
    payroll = generation.generate("child_allowance", "UZ-TK", PERIOD, maker)
    checks.run_checks(payroll, maker)
    db.session.commit()
    return {"payroll": payroll, "unbanked": unbanked["children"][0]}


def _link(payroll_id: int) -> str:
    return f'href="/payrolls/{payroll_id}"'


def _reload(payroll: Payroll) -> Payroll:
    db.session.expire_all()
    return db.session.get(Payroll, payroll.id)


def _code(user, at: datetime | None = None) -> str:
    return pyotp.TOTP(user.totp_secret).at(at or datetime.now(UTC))


def _approve(app, checker, payroll, code):
    client = _client(app, checker)
    return client.post(f"/payrolls/{payroll.id}/approve", data={"code": code, "csrf_token": client.csrf},
                       follow_redirects=True)


# --- list ------------------------------------------------------------------------------------------------------

def test_the_list_shows_payrolls_with_totals_and_filters_them(app, maker, month):
    payroll_id = month["payroll"].id
    _enrol(_household("UZ-SA"), programme="material_support", amount="400000.00", start=date(2026, 2, 1))
    other = generation.generate("material_support", "UZ-SA", "2026-02", maker)
    db.session.commit()
    client = _client(app, maker)

    everything = _text(client.get("/payrolls"))
    assert _link(payroll_id) in everything and _link(other.id) in everything
    assert "500 000.00" in everything  # the included total of the checked month
    assert 'class="badge status-checked"' in everything and 'class="badge status-draft"' in everything

    by_region = _text(client.get("/payrolls?region=UZ-SA"))
    assert _link(other.id) in by_region and _link(payroll_id) not in by_region
    by_status = _text(client.get("/payrolls?status=checked"))
    assert _link(payroll_id) in by_status and _link(other.id) not in by_status
    by_period = _text(client.get(f"/payrolls?period={PERIOD}&programme=child_allowance"))
    assert _link(payroll_id) in by_period and _link(other.id) not in by_period
    assert "not understood" in _text(client.get("/payrolls?period=January"))


def test_a_registrar_cannot_see_payrolls_and_has_no_link(app, month):
    client = _client(app, factories.make_user("registrar", areas=["UZ-TK"]))
    assert client.get("/payrolls").status_code == 403
    assert client.get(f"/payrolls/{month['payroll'].id}").status_code == 403
    assert "/payrolls" not in _text(client.get("/applications"))


def test_an_auditor_sees_payrolls_but_cannot_prepare(app, month):
    payroll_id = month["payroll"].id
    client = _client(app, factories.make_user("auditor", national=True))
    page = _text(client.get("/payrolls"))
    assert _link(payroll_id) in page and "Prepare payroll</button>" not in page
    response = client.post("/payrolls/prepare", data={"programme": "child_allowance", "region": "UZ-TK",
                                                      "period": "2026-02", "csrf_token": client.csrf})
    assert response.status_code == 403


# --- preparing --------------------------------------------------------------------------------------------------

def test_a_finance_maker_prepares_and_checks_a_payroll_from_the_page(app, maker):
    family = _household()
    enrolment = _enrol(family)
    _enrol(_household(), account=None)
    db.session.commit()
    client = _client(app, maker)
    assert "Prepare payroll" in _text(client.get("/payrolls"))

    response = client.post("/payrolls/prepare", data={"programme": "child_allowance", "region": "UZ-TK",
                                                      "period": PERIOD, "csrf_token": client.csrf})

    assert response.status_code == 302
    payroll = db.session.scalar(select(Payroll).where(Payroll.period == PERIOD))
    assert response.headers["Location"].endswith(f"/payrolls/{payroll.id}")
    assert (payroll.status, payroll.line_count, payroll.prepared_by_id) == (PayrollStatus.checked, 1, maker.id)
    included = db.session.scalars(select(PayrollLine.enrolment_id).where(
        PayrollLine.payroll_id == payroll.id, PayrollLine.status == LineStatus.included)).all()
    assert included == [enrolment.id]
    assert "1 lines included, 1 excluded" in _text(client.get(response.headers["Location"]))


def test_preparing_with_a_bad_month_or_region_changes_nothing(app, maker):
    _enrol(_household())
    db.session.commit()
    client = _client(app, maker)
    bad_month = client.post("/payrolls/prepare", data={"programme": "child_allowance", "region": "UZ-TK",
                                                       "period": "2026-13", "csrf_token": client.csrf},
                            follow_redirects=True)
    assert "is not a month" in _text(bad_month)
    bad_region = client.post("/payrolls/prepare", data={"programme": "child_allowance", "region": "UZ-XX",
                                                        "period": PERIOD, "csrf_token": client.csrf},
                             follow_redirects=True)
    assert "Choose a region you work in." in _text(bad_region)
    assert db.session.scalars(select(Payroll)).all() == []


# --- detail -----------------------------------------------------------------------------------------------------

def test_the_detail_page_shows_totals_exclusions_and_exceptions(app, maker, month):
    page = _text(_client(app, maker).get(f"/payrolls/{month['payroll'].id}"))
    included = re.search(r'<dd id="included">(.*?)</dd>', page, re.S).group(1)
    excluded = re.search(r'<dd id="excluded">(.*?)</dd>', page, re.S).group(1)
    assert "2 lines" in included and "500 000.00" in included
    assert "1 line " in excluded and "250 000.00" in excluded
    assert 'class="bars"' in page and "No open bank account" in page
    exceptions = re.search(r'<table class="list" id="exceptions">(.*?)</table>', page, re.S).group(1)
    assert month["unbanked"].pin in exceptions and "No open bank account" in exceptions
    lines = re.search(r'<table class="list" id="lines">(.*?)</table>', page, re.S).group(1)
    assert month["unbanked"].pin not in lines and lines.count("<tr>") == 3  # a header and two lines
    timeline = re.search(r"<ol class=\"timeline\">(.*?)</ol>", page, re.S).group(1)
    assert "<strong>Generated</strong>" in timeline and "<strong>Checked</strong>" in timeline  # from the audit trail


def test_a_payroll_out_of_the_users_regions_is_not_found(app, month):
    payroll_id = month["payroll"].id
    client = _client(app, factories.make_user("finance_checker", areas=["UZ-SA"]))
    assert client.get(f"/payrolls/{month['payroll'].id}").status_code == 404
    assert _link(payroll_id) not in _text(client.get("/payrolls"))


# --- approval ---------------------------------------------------------------------------------------------------

def test_a_checker_approves_with_a_correct_code(app, checker, month):
    payroll = month["payroll"]
    page = _text(_client(app, checker).get(f"/payrolls/{payroll.id}"))
    assert 'name="code"' in page and "Approve 2 lines" in page

    response = _approve(app, checker, payroll, _code(checker))

    assert "Payroll approved." in _text(response)
    payroll = _reload(payroll)
    assert (payroll.status, payroll.approved_by_id) == (PayrollStatus.approved, checker.id)
    assert "pain.001.001.03" in _text(response) and "Mark as sent" not in _text(response)


def test_a_wrong_code_is_refused_with_a_message_and_nothing_changes(app, checker, month):
    wrong = _code(checker, datetime.now(UTC) - timedelta(minutes=10))
    response = _approve(app, checker, month["payroll"], wrong)
    assert "The authenticator code is wrong or was already used." in _text(response)
    payroll = _reload(month["payroll"])
    assert (payroll.status, payroll.approved_by_id) == (PayrollStatus.checked, None)
    refused = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "payroll.approval_refused",
                                                         AuditEvent.actor_id == checker.id))
    assert refused is not None and refused.object_id == str(payroll.id)


def test_the_preparer_cannot_approve_and_is_told_why(app, checker):
    _enrol(_household())
    payroll = generation.generate("child_allowance", "UZ-TK", PERIOD, checker)  # prepared by the checker
    checks.run_checks(payroll, checker)
    db.session.commit()
    page = _text(_client(app, checker).get(f"/payrolls/{payroll.id}"))
    assert "You prepared this payroll" in page and 'name="code"' not in page

    response = _approve(app, checker, payroll, _code(checker))

    assert "You prepared this payroll, so another finance checker must approve it." in _text(response)
    assert _reload(payroll).status is PayrollStatus.checked


def test_a_finance_maker_cannot_approve(app, maker, month):
    client = _client(app, maker)
    response = client.post(f"/payrolls/{month['payroll'].id}/approve", data={"code": "123456",
                                                                             "csrf_token": client.csrf})
    assert response.status_code == 403
    assert _reload(month["payroll"]).status is PayrollStatus.checked


def test_approving_twice_is_refused_the_second_time(app, checker, month):
    _approve(app, checker, month["payroll"], _code(checker))
    later = _code(checker, datetime.now(UTC) + timedelta(seconds=30))
    response = _approve(app, checker, month["payroll"], later)
    assert "Nothing changed: a payroll with the status Approved cannot move to Approved." in _text(response)


def test_cancel_needs_a_reason_and_the_page_takes_an_approved_payroll_to_reconciled(app, maker, checker, month,
                                                                                    partners_at):
    payroll = month["payroll"]
    client = _client(app, maker)
    refused = client.post(f"/payrolls/{payroll.id}/send", data={"csrf_token": client.csrf}, follow_redirects=True)
    assert "Nothing changed" in _text(refused) and _reload(payroll).status is PayrollStatus.checked
    no_reason = client.post(f"/payrolls/{payroll.id}/cancel", data={"reason": " ", "csrf_token": client.csrf},
                            follow_redirects=True)
    assert "A reason is required." in _text(no_reason) and _reload(payroll).status is PayrollStatus.checked

    _approve(app, checker, payroll, _code(checker))
    page = _text(client.get(f"/payrolls/{payroll.id}"))
    assert "Request 500 000.00 UZS from the treasury" in page and "once the treasury has confirmed" in page
    unfunded = _text(client.post(f"/payrolls/{payroll.id}/send", data={"csrf_token": client.csrf},
                                 follow_redirects=True))
    assert "treasury has not confirmed" in unfunded and _reload(payroll).status is PayrollStatus.approved

    funded = _text(client.post(f"/payrolls/{payroll.id}/funds", data={"csrf_token": client.csrf},
                               follow_redirects=True))
    assert "The treasury confirmed the funds (GFMIS-" in funded and "Send the file to the bank (2 payments)" in funded
    sent = _text(client.post(f"/payrolls/{payroll.id}/send", data={"csrf_token": client.csrf}, follow_redirects=True))
    assert "The bank received the file SRSP-P" in sent and _reload(payroll).status is PayrollStatus.sent
    # The bank never opened these test accounts, so it returns both payments (AC01) and the month is settled.
    fetched = _text(client.post(f"/payrolls/{payroll.id}/statement", data={"csrf_token": client.csrf},
                                follow_redirects=True))
    assert "Statement imported: 0 paid, 0 failed, 2 returned, 0 exceptions." in fetched
    assert _reload(payroll).status is PayrollStatus.reconciled


# --- downloads --------------------------------------------------------------------------------------------------

def test_downloads_give_xsd_valid_pain001_files_and_a_csv(app, checker, month):
    payroll = month["payroll"]
    client = _client(app, checker)
    early = client.get(f"/payrolls/{payroll.id}/files/pain.001.001.03", follow_redirects=True)
    assert early.mimetype == "text/html" and "only an approved payroll has a bank file" in _text(early)

    _approve(app, checker, payroll, _code(checker))
    for version in ("pain.001.001.03", "pain.001.001.09"):
        response = client.get(f"/payrolls/{payroll.id}/files/{version}")
        assert response.status_code == 200 and response.mimetype == "application/xml"
        assert f'filename="payroll-{payroll.id}-{PERIOD}-{version}.xml"' in response.headers["Content-Disposition"]
        validate(response.data, version)  # raises BankFileError if not valid
        assert response.data.count(b"<CdtTrfTxInf>") == 2
    csv = client.get(f"/payrolls/{payroll.id}/files/csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert f"payroll-{payroll.id}-{PERIOD}-csv.csv" in csv.headers["Content-Disposition"]
    assert "250000.00" in csv.get_data(as_text=True) and month["unbanked"].pin not in csv.get_data(as_text=True)
    assert client.get(f"/payrolls/{payroll.id}/files/xlsx").status_code == 404


# --- authenticator ----------------------------------------------------------------------------------------------

def test_authenticator_set_up_and_confirmation(app):
    user = factories.make_user("finance_checker", national=True)
    db.session.commit()
    client = _client(app, user)
    assert "Not set up" in _text(client.get("/account/authenticator"))

    page = _text(client.post("/account/authenticator", data={"action": "setup", "password": factories.PASSWORD,
                                                           "csrf_token": client.csrf},
                             follow_redirects=True))
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page).group(1)
    assert "Not confirmed" in page and f"otpauth://totp/SRSP:{user.username}?secret={secret}" in page
    assert "<svg" in page  # the QR code, inline

    wrong = pyotp.TOTP(secret).at(datetime.now(UTC) - timedelta(minutes=10))
    page = _text(client.post("/account/authenticator", data={"action": "confirm", "code": wrong,
                                                             "csrf_token": client.csrf}, follow_redirects=True))
    assert "The code is wrong" in page and "Not confirmed" in page

    page = _text(client.post("/account/authenticator", data={"action": "confirm", "code": pyotp.TOTP(secret).now(),
                                                             "csrf_token": client.csrf}, follow_redirects=True))
    assert "Authenticator confirmed" in page and "Enabled" in page and secret not in page
    db.session.expire_all()
    assert db.session.get(type(user), user.id).totp_secret == secret


def test_a_registrar_has_no_authenticator_page(app):
    client = _client(app, factories.make_user("registrar", areas=["UZ-TK"]))
    assert client.get("/account/authenticator").status_code == 403


def test_viewing_a_payroll_and_downloading_its_file_are_audited(app, checker, month):
    payroll = month["payroll"]
    client = _client(app, checker)
    client.get(f"/payrolls/{payroll.id}")
    viewed = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "payroll.viewed",
                                                         AuditEvent.object_id == str(payroll.id))).all()
    assert [event.actor_id for event in viewed] == [checker.id]
    _approve(app, checker, payroll, _code(checker))
    client.get(f"/payrolls/{payroll.id}/files/csv")
    downloaded = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "payroll.file_downloaded"))
    assert downloaded.details == {"format": "csv"} and downloaded.actor_id == checker.id


def test_without_segno_the_page_gives_the_address_only(app, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "segno", None)  # `import segno` now raises ImportError
    user = factories.make_user("finance_maker", national=True)
    db.session.commit()
    client = _client(app, user)
    page = _text(client.post("/account/authenticator", data={"action": "setup", "password": factories.PASSWORD,
                                                           "csrf_token": client.csrf},
                             follow_redirects=True))
    assert "otpauth://totp/" in page and "<svg" not in page


def test_one_fund_request_covers_the_months_approved_payrolls_by_programme_and_region(app, maker, checker,
                                                                                      partners_at):
    payrolls = []
    for region in ("UZ-TK", "UZ-SA"):
        _enrol(_household(region=region))
        payroll = generation.generate("child_allowance", region, PERIOD, maker)
        checks.run_checks(payroll, maker)
        payrolls.append(payroll)
    db.session.commit()
    for payroll in payrolls:
        _approve(app, checker, payroll, _code(checker))
        checker.totp_last_step = None  # a fresh code for the second approval in the same 30 s
        db.session.commit()
    client = _client(app, maker)
    listing = _text(client.get("/payrolls"))
    assert f"Approved and waiting for funds: {PERIOD} (2)" in listing
    bad = _text(client.post("/payrolls/funds", data={"period": "2026-13", "csrf_token": client.csrf},
                            follow_redirects=True))
    assert "2026-13 is not a month: give it as YYYY-MM" in bad
    page = _text(client.post("/payrolls/funds", data={"period": PERIOD, "csrf_token": client.csrf},
                             follow_redirects=True))
    assert f"2 payrolls, {money(Decimal('500000'))}: The treasury confirmed the funds" in page
    request = live_fund_request(payrolls[0].id)
    assert request.lines == [
        {"programme": "child_allowance", "region": "UZ-SA", "beneficiaries": 1, "amount": "250000.00"},
        {"programme": "child_allowance", "region": "UZ-TK", "beneficiaries": 1, "amount": "250000.00"}]
    assert live_fund_request(payrolls[1].id).id == request.id
    again = _text(client.post("/payrolls/funds", data={"period": PERIOD, "csrf_token": client.csrf},
                              follow_redirects=True))
    assert "No approved payroll to request funds for." in again
