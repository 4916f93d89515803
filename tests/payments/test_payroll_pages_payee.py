"""The payroll page names both people of a line: the beneficiary the benefit is for (a child) and the payee who
receives the money (the account holder, usually a parent), as the bank file pays it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from modules.enrolment.models import Enrolment
from modules.payments import checks, generation, status
from tests import factories
from tests.factories import PAYROLL_PERIOD as PERIOD
from tests.factories import assessed_family as _household
from tests.factories import bank_account as _bank_account
from tests.factories import enrol as _enrol
from tests.factories import page_text as _text
from tests.payments.conftest import signed_in_client as _client
from webapp.extensions import db


@pytest.fixture
def month(app):
    """A checked payroll of one child whose allowance goes to the head of the household's account."""
    family = _household(children=1)
    enrolment = _enrol(family)
    maker = factories.make_user("finance_maker", national=True)
    payroll = generation.generate("child_allowance", "UZ-TK", PERIOD, maker)
    checks.run_checks(payroll, maker)
    db.session.commit()
    return {"payroll": payroll, "family": family, "enrolment": enrolment, "maker": maker,
            "account": _bank_account(family["head"].id).account_number}


def _line_cells(page: str) -> dict[str, str]:
    """{column label: cell text} of the only line of the lines table."""
    body = re.search(r'<table class="list" id="lines">.*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    cells = re.findall(r'<td data-label="([^"]+)"[^>]*>(.*?)</td>', body, re.S)
    return {label: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)).strip() for label, text in cells}


def test_the_page_shows_the_child_as_beneficiary_and_the_parent_as_payee(app, month):
    child, head = month["family"]["children"][0], month["family"]["head"]

    cells = _line_cells(_text(_client(app, month["maker"]).get(f"/payrolls/{month['payroll'].id}")))

    assert cells["Benefit for"] == child.full_name and cells["PIN"] == child.pin
    assert cells["Paid to"] == f"{head.last_name} {head.first_name} {month['account']}"


def test_before_approval_the_page_follows_the_enrolments_payee(app, month):
    spouse = month["family"]["spouse"]
    account = _bank_account(spouse.id).account_number
    enrolment = db.session.get(Enrolment, month["enrolment"].id)
    enrolment.payee_person_id, enrolment.bank_account_id = spouse.id, _bank_account(spouse.id).id
    db.session.commit()

    cells = _line_cells(_text(_client(app, month["maker"]).get(f"/payrolls/{month['payroll'].id}")))

    assert cells["Paid to"] == f"{spouse.last_name} {spouse.first_name} {account}"


def test_an_approved_payroll_shows_the_payee_taken_at_approval(app, month):
    head, spouse = month["family"]["head"], month["family"]["spouse"]
    checker = factories.finance_checker()
    status.approve(month["payroll"], checker, factories.totp_code(checker))
    # After approval the enrolment is pointed at the other parent: the approved payroll still pays the first one.
    enrolment = db.session.scalar(select(Enrolment).where(Enrolment.id == month["enrolment"].id))
    enrolment.payee_person_id, enrolment.bank_account_id = spouse.id, _bank_account(spouse.id).id
    db.session.commit()

    page = _text(_client(app, month["maker"]).get(f"/payrolls/{month['payroll'].id}"))

    assert _line_cells(page)["Paid to"] == f"{head.last_name} {head.first_name} {month['account']}"
    assert "Payees and accounts as they were when the payroll was approved." in page


def test_a_payee_without_an_account_is_said_so(app):
    family = _household(children=1)
    _enrol(family, account=None)
    maker = factories.make_user("finance_maker", national=True)
    payroll = generation.generate("child_allowance", "UZ-TK", PERIOD, maker)  # not checked: the line is still in
    db.session.commit()

    cells = _line_cells(_text(_client(app, maker).get(f"/payrolls/{payroll.id}")))

    head = family["head"]
    assert cells["Paid to"] == f"{head.last_name} {head.first_name} no account yet"
