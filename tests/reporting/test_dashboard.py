"""The reports pages: the list of frozen months and the freeze form, the month's dashboard with its map and
drill-down, the downloads, and who may read what."""

from __future__ import annotations

import csv
import io
import re

import openpyxl
import pytest
from sqlalchemy import select, text

from modules.payments import reconciliation
from modules.reporting import operations
from modules.reporting.models import MonthlyReturn
from modules.reporting.svg.map import region_codes
from tests import factories
from tests.conftest import sign_in
from webapp.extensions import db
from webapp.models import AuditEvent

PERIOD = factories.PAYROLL_PERIOD


@pytest.fixture
def paid_month(app):
    """January: three children paid 250 000 each in Tashkent city (two paid, one returned), one in Samarkand."""
    payroll, lines = factories.sent_payroll(children=3)
    other, other_lines = factories.sent_payroll_in("UZ-SA", children=1)
    reconciliation.import_statement(factories.camt054(
        [(lines[0].end_to_end_id, lines[0].amount, "paid"), (lines[1].end_to_end_id, lines[1].amount, "paid"),
         (lines[2].end_to_end_id, lines[2].amount, "returned"),
         (other_lines[0].end_to_end_id, other_lines[0].amount, "paid")]))
    return payroll, lines


@pytest.fixture
def analyst_client(client):
    return sign_in(client, factories.make_user("analyst", national=True))


def _headline(page: str, code: str) -> list[str]:
    row = re.search(rf'<tr data-indicator="{code}">(.*?)</tr>', page, re.S)
    assert row, f"no headline {code}"
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]


def _freeze(client, period: str):
    return client.post("/reports/freeze", data={"period": period, "csrf_token": client.csrf})


def test_freezing_through_the_form_keeps_each_version(paid_month, analyst_client):
    first = _freeze(analyst_client, PERIOD)
    assert first.status_code == 302 and first.headers["Location"].endswith(f"/reports/{PERIOD}")
    _freeze(analyst_client, PERIOD)
    assert db.session.scalars(select(MonthlyReturn.version).where(MonthlyReturn.period == PERIOD)
                              .order_by(MonthlyReturn.version)).all() == [1, 2]
    page = factories.page_text(analyst_client.get("/reports"))
    assert PERIOD in page and "Reconciled" in page
    assert re.search(rf"{PERIOD}</a></td>\s*<td>2</td>", page)


@pytest.mark.parametrize("period, message", [("2026-13", "YYYY-MM"), ("January", "YYYY-MM"),
                                             ("1999-05", "There is no data for 1999-05.")])
def test_a_bad_month_or_one_without_data_is_refused_in_words(app, analyst_client, period, message):
    response = _freeze(analyst_client, period)
    assert response.status_code == 302
    assert message in factories.page_text(analyst_client.get(response.headers["Location"]))
    assert db.session.scalar(select(MonthlyReturn.id)) is None


def test_a_registrar_is_refused_and_an_auditor_reads_but_does_not_freeze(paid_month, client):
    operations.freeze(PERIOD)
    sign_in(client, factories.make_user("registrar", national=True))
    for url in ("/reports", f"/reports/{PERIOD}", f"/reports/{PERIOD}/return.csv"):
        assert client.get(url).status_code == 403
    assert _freeze(client, PERIOD).status_code == 403
    client.post("/logout", data={"csrf_token": client.csrf})
    sign_in(client, factories.make_user("auditor", national=True))
    page = client.get("/reports").get_data(as_text=True)
    assert "/reports/freeze" not in page and f"/reports/{PERIOD}" in page
    assert _freeze(client, PERIOD).status_code == 403


def test_the_dashboard_shows_the_month_the_map_and_the_programmes(paid_month, analyst_client):
    operations.freeze("2025-12")
    operations.freeze(PERIOD)
    response = analyst_client.get(f"/reports/{PERIOD}")
    assert response.status_code == 200
    page = factories.page_text(response)
    assert _headline(page, "beneficiaries")[1:] == ["4", "0"]  # enrolled in December already
    assert _headline(page, "amount_approved")[1:] == ["1\u202f000\u202f000.00", "+1\u202f000\u202f000.00"]
    assert _headline(page, "amount_paid")[1] == "750\u202f000.00"
    assert _headline(page, "amount_returned")[1] == "250\u202f000.00"
    html = response.get_data(as_text=True)
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" id="map') == 1
    for code in region_codes():
        assert f"/reports/{PERIOD}?region={code}#drill-down" in html
    assert 'id="bar' in html and "Child" in page
    assert "The return agrees with the source records." in page
    for language in ("uz", "ru", "en"):
        for fmt in ("xlsx", "pdf", "csv"):
            assert f"/reports/{PERIOD}/return.{fmt}?language={language}" in html
    assert "publication=1" in html
    assert "<script" not in html


def test_the_drill_down_shows_one_regions_programmes(paid_month, analyst_client):
    operations.freeze(PERIOD)
    page = factories.page_text(analyst_client.get(f"/reports/{PERIOD}?region=UZ-SA"))
    table = re.search(r'<table class="list drill-down">(.*?)</table>', page, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", table, re.S)]
    assert cells[1:3] == ["1", "1"]  # beneficiaries, households
    assert "250\u202f000.00" in cells and "1\u202f000\u202f000.00" not in cells
    assert 'class="list drill-down"' not in analyst_client.get(f"/reports/{PERIOD}").get_data(as_text=True)


def test_the_reconciliation_differences_are_in_words(paid_month, analyst_client):
    _, lines = paid_month
    with factories.past_the_guards():
        db.session.execute(text("UPDATE payroll_line SET amount = amount + 1000 WHERE id = :id"), {"id": lines[0].id})
    operations.freeze(PERIOD)
    page = factories.page_text(analyst_client.get(f"/reports/{PERIOD}"))
    assert "The return differs from the source records:" in page
    assert "Tashkent City, Amount approved: the return says 751\u202f000.00, the records say 750\u202f000.00" in page
    assert "2 differences" in factories.page_text(analyst_client.get("/reports"))


def test_a_regional_user_sees_only_their_region(paid_month, client):
    operations.freeze(PERIOD)
    sign_in(client, factories.make_user("analyst", areas=["UZ-SA"]))
    page = factories.page_text(client.get(f"/reports/{PERIOD}"))
    assert _headline(page, "beneficiaries")[1] == "1"
    assert _headline(page, "amount_approved")[1] == "250\u202f000.00"
    assert "UZ-TK" not in re.sub(r"\?region=UZ-\w+|data-region=\"UZ-\w+\"|id=\"[^\"]*\"", "", page)
    assert 'class="list drill-down"' not in client.get(f"/reports/{PERIOD}?region=UZ-TK").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(client.get(f"/reports/{PERIOD}/return.csv?language=en")
                                       .get_data(as_text=True).lstrip("\ufeff"))))
    tashkent = factories.area("UZ-TK").name_en
    assert not any(tashkent in row for row in rows)
    assert any(factories.area("UZ-SA").name_en in row for row in rows)


def test_the_downloads(paid_month, analyst_client):
    operations.freeze(PERIOD)
    xlsx = analyst_client.get(f"/reports/{PERIOD}/return.xlsx?language=ru")
    assert xlsx.status_code == 200 and xlsx.mimetype.endswith("spreadsheetml.sheet")
    assert f"monthly-return-{PERIOD}-v1-ru.xlsx" in xlsx.headers["Content-Disposition"]
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx.data))
    assert len(workbook.sheetnames) > 1
    pdf = analyst_client.get(f"/reports/{PERIOD}/return.pdf?language=uz&publication=1")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert "publication" in pdf.headers["Content-Disposition"]
    plain = analyst_client.get(f"/reports/{PERIOD}/return.csv?language=en")
    assert plain.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(plain.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) > 5 and any("Child" in cell for row in rows for cell in row)
    assert analyst_client.get(f"/reports/{PERIOD}/return.doc").status_code == 404
    assert analyst_client.get("/reports/2024-01/return.csv").status_code == 404
    details = db.session.scalars(select(AuditEvent.details).where(AuditEvent.action == "report.downloaded")
                                 .order_by(AuditEvent.id)).all()
    assert [(d["format"], d["language"], d["publication"]) for d in details] == [
        ("xlsx", "ru", False), ("pdf", "uz", True), ("csv", "en", False)]
