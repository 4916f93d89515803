"""Payroll pages take any page number in the address without an error: a number too large for the database, one
written as 1e20, negative or not a number at all."""

from __future__ import annotations

import pytest

from modules.payments import checks, generation
from tests import factories
from tests.factories import PAYROLL_PERIOD as PERIOD
from tests.factories import assessed_family as _household
from tests.factories import enrol as _enrol
from tests.payments.conftest import signed_in_client as _client
from webapp.extensions import db

PAGES = ["99999999999999999999", "1e20", "2147483648", "-3", "x", "1.5", "١"]


@pytest.fixture
def payroll(app):
    maker = factories.make_user("finance_maker", national=True)
    _enrol(_household())
    payroll = generation.generate("child_allowance", "UZ-TK", PERIOD, maker)
    checks.run_checks(payroll, maker)
    db.session.commit()
    return payroll, maker


@pytest.mark.parametrize("page", PAGES)
def test_the_payroll_detail_takes_any_page_number(app, payroll, page):
    payroll, maker = payroll
    response = _client(app, maker).get(f"/payrolls/{payroll.id}?page={page}")
    assert response.status_code == 200


@pytest.mark.parametrize("page", PAGES)
def test_the_payroll_list_takes_any_page_number(app, payroll, page):
    _payroll, maker = payroll
    response = _client(app, maker).get(f"/payrolls?page={page}")
    assert response.status_code == 200
