"""The finance lists fit the screen in a real Chromium: no sideways scrolling on a 1366-pixel laptop or a 390-pixel
phone, in Uzbek and in Russian (the longest words), with long file names, message ids, payee names and references.
Set SRSP_SCREENSHOTS to a folder to keep a PNG of every page looked at."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import bindparam, select, text

from modules.payments import checks, generation
from modules.payments.models import ExceptionKind, Payroll, PayrollStatus, StatementException, StatementImport
from tests import factories
from tests.browser.conftest import SCREENS, commit_and_let_go, overflow, sign_in
from tests.factories import assessed_family as _household
from tests.factories import enrol as _enrol
from tests.factories import remove_family
from webapp.extensions import db
from webapp.models import Area, Programme

pytestmark = pytest.mark.committed

PERIOD = "2026-11"  # a month no other test pays
RESERVED = 800_000  # on SQLite this test's payroll takes an id above it, far from the ids other tests reuse
# Names as banks write them: no hyphen or space a line could break at.
LONG_NAME = "CAMT054_20261128_TOSHKENT_SHAHAR_HUDUDIY_FILIALI_00440_0000123456789_V1.xml"


@pytest.fixture
def finance(live_app, live_server):
    """Committed: two statement imports with long names and exceptions, a checked payroll of two children paid to
    their parent, and a national finance officer per language. Taken out afterwards (audit rows stay)."""
    made = {"imports": [], "payroll": None, "family": None, "reserved": False}
    try:
        users = {lang: factories.make_user("finance_maker", national=True, language=lang) for lang in ("uz", "ru")}
        for n in (1, 2):
            record = StatementImport(digest=f"layout-test-{n}-{os.getpid()}".ljust(64, "0")[:64], kind="camt.054",
                                     filename=LONG_NAME, message_id=f"NTF20261128TOSHKENT{n:017d}"[:35],
                                     imported_by_id=users["uz"].id, matched=1234, paid=1200, failed=20, returned=14,
                                     unmatched=3, pending=1)
            db.session.add(record)
            db.session.flush()
            made["imports"].append(record.id)
            db.session.add(StatementException(
                import_id=record.id, end_to_end_id=f"SRSPP{n:06d}L000000120261128XYZABC"[:35],
                amount=Decimal("1250000.00"), currency="UZS", outcome="returned", reason_code="AC04",
                reason_text="Счёт получателя закрыт; средства возвращены отправителю " * 3,
                source_line="Ntfctn[1]/Ntry[1]/TxDtls[1]", kind=ExceptionKind.unmatched))
        family = _household(children=2)
        made["family"] = {"application": family["application"].id, "household": family["household"].id,
                          "persons": [p.id for p in (family["head"], family["spouse"], *family["children"])]}
        for child in family["children"]:
            _enrol(family, child, amount="1250000.00", months=1, start=generation.month_bounds(PERIOD)[0])
        made["reserved"] = _reserve()
        payroll = generation.generate("child_allowance", "UZ-TK", PERIOD, users["uz"])
        made["payroll"] = payroll.id
        if made["reserved"]:
            db.session.execute(text("DELETE FROM payroll WHERE id = :id"), {"id": RESERVED})
        checks.run_checks(payroll, users["uz"])
        usernames = {lang: user.username for lang, user in users.items()}
        commit_and_let_go()
        yield {"users": usernames, "imports": made["imports"], "payroll": made["payroll"]}
    finally:
        _remove(made)


def _reserve() -> bool:
    """SQLite gives a new row the largest id + 1: a placeholder at a high id makes this test's payroll take an id
    no rolled-back test reaches (its audit events stay). PostgreSQL never reuses a sequence's values."""
    if db.session.get_bind().dialect.name != "sqlite":
        return False
    programme = db.session.scalar(select(Programme.id).where(Programme.code == "child_allowance"))
    region = db.session.scalar(select(Area.id).where(Area.code == "UZ-TK"))
    db.session.add(Payroll(id=RESERVED, programme_id=programme, area_id=region, period="1999-02",
                           status=PayrollStatus.cancelled))
    db.session.flush()
    return True


def _remove(made: dict) -> None:
    db.session.rollback()

    def run(sql: str, **params) -> None:
        db.session.execute(text(sql).bindparams(*[bindparam(k, expanding=True) for k in params]), params)

    imports = made["imports"] or [-1]
    run("DELETE FROM statement_exception WHERE import_id IN :i", i=imports)
    run("DELETE FROM statement_import WHERE id IN :i", i=imports)
    payrolls = [made["payroll"] or -1, RESERVED]
    run("DELETE FROM payroll_line WHERE payroll_id IN :p", p=payrolls)
    run("DELETE FROM payroll WHERE id IN :p", p=payrolls)
    if made["family"]:
        remove_family(made["family"])
    db.session.commit()


@pytest.mark.parametrize("language", ["uz", "ru"])
@pytest.mark.parametrize("screen", ["phone", "laptop"])
def test_the_statement_and_payroll_lists_fit_the_screen(finance, live_server, browser, language, screen):
    context = browser.new_context(viewport=SCREENS[screen])
    page = context.new_page()
    sign_in(page, live_server, finance["users"][language])
    keep = os.environ.get("SRSP_SCREENSHOTS")
    pages = {"statements": "/statements", "statement": f"/statements/{finance['imports'][0]}",
             "exceptions": "/statements/exceptions", "payrolls": "/payrolls",
             "payroll": f"/payrolls/{finance['payroll']}"}
    try:
        for name, address in pages.items():
            page.goto(f"{live_server}{address}")
            assert page.locator("h1").count() == 1, address
            if keep:
                Path(keep).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=f"{keep}/{name}-{screen}-{language}.png", full_page=True)
            measured = overflow(page)
            assert measured["scroll"] <= measured["inner"], (address, measured)
            assert measured["spill"] == [], (address, measured)  # no table sticks out of the page's column
        assert LONG_NAME in page.goto(f"{live_server}/statements").text()
    finally:
        context.close()
