"""Fixtures the reporting tests share."""

from __future__ import annotations

import pytest

from modules.payments import reconciliation
from tests import factories


@pytest.fixture
def paid_month(app):
    """Three children of one Tashkent family in the sent January child-allowance payroll, 250 000 each; the bank
    pays the first, returns the second and fails the third."""
    payroll, lines = factories.sent_payroll(children=3)
    reconciliation.import_statement(factories.camt054([(lines[0].end_to_end_id, lines[0].amount, "paid"),
                                                       (lines[1].end_to_end_id, lines[1].amount, "returned")]))
    reconciliation.import_statement(factories.statement_csv([(lines[2].end_to_end_id, lines[2].amount, "failed")]))
    return payroll, lines
