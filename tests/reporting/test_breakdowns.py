"""The frozen return's breakdown tables: built from the month's summary when it is frozen, kept with it, and cut
to the reader's regions in what a regional reader downloads."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from modules.reporting import operations, summary
from tests import factories
from tests.conftest import sign_in
from webapp.extensions import db

PERIOD = factories.PAYROLL_PERIOD


def test_the_frozen_return_keeps_its_breakdowns_as_the_summary_had_them(paid_month):
    factories.sent_payroll_in("UZ-SA", children=1)
    frozen = operations.freeze(PERIOD)
    tables = frozen.data["breakdowns"]
    assert set(tables) == {"by_district", "by_sex_and_age", "by_household_size", "entrants_by_reason",
                           "exits_by_reason"}
    assert tables["by_district"]["rows"] == summary.query(tables["by_district"]["indicators"], ["region", "district"],
                                                          PERIOD, PERIOD)
    people = sum(row["values"].get("beneficiaries", 0) for row in tables["by_sex_and_age"]["rows"])
    assert people == frozen.data["indicators"]["beneficiaries"]["total"] == 4


def test_a_regional_reader_downloads_only_their_districts(paid_month, client):
    factories.sent_payroll_in("UZ-SA", children=1)
    operations.freeze(PERIOD)
    db.session.commit()
    sign_in(client, factories.make_user("analyst", areas=["UZ-SA"]))
    book = load_workbook(io.BytesIO(client.get(f"/reports/{PERIOD}/return.xlsx?language=en").data))
    assert "By sex and age" not in book.sheetnames  # a table of the whole country
    rows = [row for row in book["By district"].iter_rows(min_row=4, values_only=True) if row[0]]
    assert [row[:3] for row in rows] == [("Samarkand Region", "Bulungur District", 1)]
