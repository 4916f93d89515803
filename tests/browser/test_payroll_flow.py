"""The finance officers' month, as people would do it in a real Chromium against a live server: the checker sets up
an authenticator and approves a checked payroll with a code (a wrong code first is refused); the maker asks the
treasury for the funds, sends the file to the bank and reconciles the bank's statement. The simulator plays the bank
and the treasury over real HTTP. The maker works on a phone: the pages must fit a 390-pixel screen."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import pyotp
import pytest
from sqlalchemy import bindparam, select, text

from connectors.simulator import finance
from modules.enrolment.models import BankAccount, BankAccountStatus
from modules.payments import checks, generation
from modules.payments.models import Payroll, PayrollStatus, StatementImport
from tests import factories
from tests.browser.conftest import commit_and_let_go, go, sign_in
from tests.connectors.simulator import serving_simulator
from tests.factories import assessed_family as _household
from tests.factories import enrol as _enrol
from tests.factories import past_the_guards, remove_family
from tests.payments.conftest import partners_config
from webapp.extensions import db
from webapp.models import Area, Programme

pytestmark = pytest.mark.committed

PERIOD = "2026-10"  # a month no other test pays
START = date(2026, 10, 1)
AMOUNT = "250000.00"
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1024, "height": 768}  # an old laptop
RESERVED = 900_000  # on SQLite the payroll and the statement import take ids above this (see _reserve)


@pytest.fixture
def simulator(tmp_path):
    """The registry simulator with its own empty store, serving the bank and the treasury on a free port."""
    with serving_simulator(f"sqlite:///{tmp_path / 'finance-simulator.db'}") as served:
        yield served


@pytest.fixture
def month(live_app, live_server, simulator):
    """A checked child-allowance payroll of UZ-TK, committed: 2 included lines and 1 excluded (no bank account);
    the app under test talks to the simulator. Everything it commits is taken out afterwards."""
    sim, sim_url = simulator
    live_app.config["PARTNERS"] = partners_config(sim_url)
    live_app.extensions.pop("srsp_partners", None)
    made = {"families": [], "payroll": None, "users": []}  # what to take out afterwards
    try:
        paid = _household()
        made["families"].append(paid)
        for child in paid["children"]:
            _enrol(paid, child, amount=AMOUNT, months=1, start=START)
        unpaid = _household(children=1)
        made["families"].append(unpaid)
        _enrol(unpaid, amount=AMOUNT, months=1, start=START, account=BankAccountStatus.requested)
        maker = factories.make_user("finance_maker", national=True)
        checker = factories.make_user("finance_checker", national=True)
        made["users"] = [maker.id, checker.id]
        made["reserved"] = _reserve()
        payroll = generation.generate("child_allowance", "UZ-TK", PERIOD, maker)
        made["payroll"] = payroll.id
        db.session.execute(text("DELETE FROM payroll WHERE id = :id"), {"id": RESERVED})
        assert checks.run_checks(payroll, maker)["no_bank_account"] == 1
        assert (payroll.line_count, str(payroll.total_amount)) == (2, "500000.00")
        accounts = db.session.scalars(select(BankAccount).where(BankAccount.person_id == paid["head"].id)).all()
        with sim.extensions["simulator"].engine.begin() as conn:  # the bank opened the payee's account
            for account in accounts:
                conn.execute(finance.bank_account.insert().values(
                    request_id=account.request_id, pin=account.person.pin, name="test", bank_code=account.bank_code,
                    account_number=account.account_number, status="opened", status_queries=0,
                    requested_at=datetime.now(UTC)))
        made["family_ids"] = [_ids_of(family) for family in made["families"]]
        yield {"payroll": payroll.id, "maker": maker.username, "checker": checker.username,
               "excluded_pin": unpaid["children"][0].pin, "paid_pins": [c.pin for c in paid["children"]]}
    finally:
        if "family_ids" in made:  # else the set-up failed before the test committed anything
            _remove_month(made)
        else:
            db.session.rollback()
        live_app.extensions.pop("srsp_partners", None)


def _reserve() -> bool:
    """SQLite gives a new row the largest id + 1, so once this test's rows are deleted, later tests (rolled back)
    would reuse their ids, and find this test's audit events (append-only, they stay) under their own payroll or
    statement import. A placeholder row at a high id makes this test's payroll and statement import take ids that
    no other test reaches. PostgreSQL never reuses a sequence's values: nothing to do there."""
    if db.session.get_bind().dialect.name != "sqlite":
        return False
    programme = db.session.scalar(select(Programme.id).where(Programme.code == "child_allowance"))
    region = db.session.scalar(select(Area.id).where(Area.code == "UZ-TK"))
    db.session.add(Payroll(id=RESERVED, programme_id=programme, area_id=region, period="1999-01",
                           status=PayrollStatus.cancelled))  # deleted once the test's payroll has its id
    db.session.add(StatementImport(id=RESERVED, digest=f"reserved-by-{__name__}"[:64], kind="camt.054"))
    db.session.flush()
    return True


def _ids_of(family: dict) -> dict:
    return {"application": family["application"].id, "household": family["household"].id,
            "persons": [p.id for p in (family["head"], family["spouse"], *family["children"])]}


def _remove_month(made: dict) -> None:
    """Take out what the test committed (audit rows stay: the audit trail is append-only). The database keeps a sent
    payroll, its lines and its ledger rows forever, so the clean-up runs past its guards."""
    db.session.rollback()
    run = db.session.execute

    def ids(sql: str, **params) -> list[int]:
        return [row[0] for row in run(text(sql).bindparams(*[bindparam(k, expanding=True) for k in params]), params)]

    payroll_id, users = made["payroll"], made["users"] or [-1]
    if payroll_id is not None:
        imports = set(ids("SELECT statement_import_id FROM bank_transfer WHERE payroll_id IN :p "
                          "AND statement_import_id IS NOT NULL", p=[payroll_id]))
        imports |= set(ids("SELECT id FROM statement_import WHERE imported_by_id IN :u", u=users))
        imports |= {RESERVED} if made.get("reserved") else set()
        requests = set(ids("SELECT fund_request_id FROM fund_request_payroll WHERE payroll_id IN :p", p=[payroll_id]))
        requests |= set(ids("SELECT id FROM fund_request WHERE requested_by_id IN :u", u=users))
        lines = ids("SELECT id FROM payroll_line WHERE payroll_id IN :p", p=[payroll_id]) or [-1]
        imports, requests = list(imports) or [-1], list(requests) or [-1]
        statements = (
                ("DELETE FROM payment_ledger WHERE payroll_id IN :p", {"p": [payroll_id]}),
                ("DELETE FROM bank_transfer WHERE payroll_id IN :p", {"p": [payroll_id]}),
                ("DELETE FROM statement_exception WHERE import_id IN :i OR payroll_line_id IN :l",
                 {"i": imports, "l": lines}),
                ("DELETE FROM statement_import WHERE id IN :i", {"i": imports}),
                ("DELETE FROM fund_request_payroll WHERE payroll_id IN :p OR fund_request_id IN :r",
                 {"p": [payroll_id], "r": requests}),
                ("DELETE FROM fund_request WHERE id IN :r", {"r": requests}),
                ("DELETE FROM payroll_line WHERE payroll_id IN :p", {"p": [payroll_id]}),
                ("DELETE FROM payroll WHERE id IN :p", {"p": [payroll_id]}))
        with past_the_guards():
            for sql, params in statements:
                run(text(sql).bindparams(*[bindparam(k, expanding=True) for k in params]), params)
    for family in made["family_ids"]:
        remove_family(family)
    db.session.commit()


def _flash(page) -> str:
    return " ".join(page.locator(".flash").all_inner_texts())


def _status(page) -> str:
    return _words(page.locator("h1 .badge").inner_text())


def _words(shown: str) -> str:
    """A label as a finance officer reads it, whether the page shows the key ("no_bank_account") or its words."""
    return shown.lower().replace("_", " ")


def _fits_the_phone(page, button) -> None:
    """No horizontal scrolling, and the button is on the screen without it."""
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    box = button.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box


def _wrong(secret: str) -> str:
    """A six-digit code no step near now accepts."""
    near = {pyotp.TOTP(secret).at(time.time() + 30 * step) for step in range(-3, 4)}
    return next(code for code in (f"{n:06d}" for n in range(123456, 999999, 111111)) if code not in near)


def test_checker_approves_with_a_code_and_maker_funds_sends_and_reconciles(month, live_server, browser, tmp_path):
    payroll_id = month["payroll"]
    detail = f"{live_server}/payrolls/{payroll_id}"
    commit_and_let_go()

    # --- the checker, on an old laptop ------------------------------------------------------------------------
    checker = browser.new_context(locale="en-GB", viewport=LAPTOP)
    page = checker.new_page()
    sign_in(page, live_server, month["checker"])
    assert page.url == f"{live_server}/payrolls"
    assert page.locator("h1").inner_text() == "Payrolls"

    go(page, "nav >> text=Authenticator")
    assert "Not set up" in page.locator("#totp-status").inner_text()
    page.fill("#setup-password", factories.PASSWORD)  # a key is made only with the account's password
    go(page, "button:has-text('Set up the authenticator')")
    assert "A new authenticator key was made" in _flash(page)
    assert "Not confirmed" in page.locator("#totp-status").inner_text()
    secret = page.locator("#totp-secret").inner_text().strip()
    assert secret and f"secret={secret}" in page.locator("#totp-uri").inner_text()
    page.fill("#code", pyotp.TOTP(secret).now())
    go(page, "button.primary:has-text('Confirm')")
    assert "Authenticator confirmed" in _flash(page)
    assert "Enabled" in page.locator("#totp-status").inner_text()
    assert page.locator("#totp-secret").count() == 0  # a confirmed key is not shown again

    go(page, "nav >> text=Payrolls")
    row = page.locator("table.list tbody tr", has=page.locator(f"a[href='/payrolls/{payroll_id}']"))
    assert "checked" in _words(row.inner_text()) and PERIOD in row.inner_text() and "500 000.00" in row.inner_text()
    go(page, row.locator(f"a[href='/payrolls/{payroll_id}']"))
    assert page.url == detail
    assert _status(page) == "checked"
    assert page.locator("#included").inner_text() == "2 lines · 500 000.00 UZS"
    assert page.locator("#excluded").inner_text().endswith("· 250 000.00 UZS")
    chart = page.locator("ul.bars[aria-label='Excluded lines by reason'] li")
    assert chart.count() == 1
    assert "bank account" in _words(chart.inner_text())
    assert chart.locator(".num").inner_text() == "1"
    assert chart.locator(".bar").get_attribute("style") == "width: 100.0%"
    exceptions = page.locator("#exceptions tbody tr")
    assert exceptions.count() == 1 and month["excluded_pin"] in exceptions.inner_text()
    assert "250 000.00" in exceptions.inner_text() and "bank account" in _words(exceptions.inner_text())
    lines = page.locator("#lines tbody").inner_text()
    assert all(pin in lines for pin in month["paid_pins"]) and month["excluded_pin"] not in lines

    approve = page.locator("button.primary:has-text('Approve 2 lines, 500 000.00 UZS')")
    page.fill("#code", _wrong(secret))
    go(page, approve)
    assert "The authenticator code is wrong or was already used." in page.locator(".flash.error").inner_text()
    assert _status(page) == "checked"
    assert "approval refused" in _words(page.locator("ol.timeline").inner_text())

    # The confirmation used this 30-second step and a code counts once: approve with the next step's code.
    page.fill("#code", pyotp.TOTP(secret).at(time.time() + 30))
    go(page, approve)
    assert "Payroll approved." in _flash(page)
    assert _status(page) == "approved"
    assert "Test finance_checker" in page.locator("dl.facts").inner_text()
    assert page.locator("#code").count() == 0
    page.screenshot(path=str(tmp_path / "approved-laptop.png"), full_page=True)
    checker.close()

    # --- the maker, on a phone ------------------------------------------------------------------------------
    maker = browser.new_context(locale="en-GB", viewport=PHONE)
    page = maker.new_page()
    sign_in(page, live_server, month["maker"])
    page.goto(detail)
    assert _status(page) == "approved"
    request = page.locator("#funding button:has-text('Request 500 000.00 UZS from the treasury')")
    _fits_the_phone(page, request)
    page.screenshot(path=str(tmp_path / "approved-phone.png"), full_page=False)
    assert "The file can be sent once the treasury has confirmed the funds." in page.locator("#bank").inner_text()
    go(page, request)
    assert "The treasury confirmed the funds" in page.locator(".flash.success").inner_text()
    assert _words(page.locator("#funding .badge").inner_text()) == "confirmed"
    assert "500 000.00 UZS" in page.locator("#funding").inner_text()

    send = page.locator("#bank button.primary:has-text('Send the file to the bank (2 payments)')")
    _fits_the_phone(page, send)
    go(page, send)
    assert "The bank received the file" in _flash(page) and "(2 payments); the payroll is sent." in _flash(page)
    assert _status(page) == "sent"
    bank = page.locator("#bank").inner_text()
    assert "Bank's receipt" in bank and "2 payments, 500 000.00 UZS" in bank
    assert page.locator("#bank code").inner_text().startswith("F")

    fetch = page.locator("#bank button:has-text(\"Fetch the bank's statement and reconcile\")")
    _fits_the_phone(page, fetch)
    go(page, fetch)
    assert _status(page) == "reconciled"
    assert "Statement imported: 2 paid, 0 failed, 0 returned, 0 exceptions." in _flash(page)
    assert page.locator("#bank button").count() == 0  # nothing left to do
    _fits_the_phone(page, page.locator("h1 .badge"))
    page.screenshot(path=str(tmp_path / "reconciled-phone.png"), full_page=True)

    go(page, "#bank a[href^='/statements/']")
    assert page.locator("h1").inner_text().startswith("Bank statement #")
    counts = {key: page.locator(f"#{key}").inner_text() for key in
              ("matched", "paid", "failed", "returned", "unmatched", "pending")}
    assert counts == {"matched": "2", "paid": "2", "failed": "0", "returned": "0", "unmatched": "0", "pending": "0"}
    reconciled = page.locator("#payrolls tbody tr")
    assert reconciled.count() == 1 and f"#{payroll_id}" in reconciled.inner_text()
    assert "reconciled" in _words(reconciled.inner_text())
    assert "No exceptions" in page.locator("main").inner_text()
    page.screenshot(path=str(tmp_path / "statement-phone.png"), full_page=True)
    # The summary's file name is one long word: it must wrap, not widen the page past a phone's screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    maker.close()
