"""The reports pages: the list of frozen months and the freeze form, the month's dashboard with its map and
drill-down, the downloads, and who may read what."""

from __future__ import annotations

import csv
import html as html_module
import io
import re
from datetime import date

import openpyxl
import pytest
from sqlalchemy import delete, select, text

from modules.payments import reconciliation
from modules.reporting import operations, summary
from modules.reporting.models import MonthlyReturn, SummaryMonth, SummaryRow
from modules.reporting.svg.map import region_codes
from tests import factories
from tests.conftest import sign_in
from webapp.extensions import db
from webapp.models import Area, AuditEvent

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


# --- the sections read from the reporting summary -------------------------------------------------------------------

def _table(html: str, css_class: str) -> list[list[str]]:
    """The rows of the first table with `css_class`, each the text of its cells (headers and data)."""
    found = re.search(rf'<table class="figures {css_class}"[^>]*>(.*?)</table>', html, re.S)
    assert found, f"no table {css_class}"
    return [[re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", "", cell)).strip()
             for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S)]


def _trend(html: str, chart: str) -> dict[str, list[str]]:
    found = re.search(rf'<table class="figures trend" data-trend="{chart}">(.*?)</table>', html, re.S)
    assert found, f"no trend {chart}"
    rows = _table(f'<table class="figures trend">{found.group(1)}</table>', "trend")
    return {row[0]: row[1:] for row in rows[1:]}


def _visible_text(html: str) -> str:
    """What a reader reads: the text between tags, without styles (attributes and ids are not read)."""
    html = re.sub(r"<style.*?</style>", "", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _months_built(*periods: str) -> None:
    for period in periods:
        summary.refresh(period)


@pytest.fixture
def two_months(paid_month):
    """November (the applications decided), December (the four children enrolled: new claims) and January (paid;
    one child's enrolment stopped early at the month's end, another's ended with her death in the month),
    December and January frozen (which builds their summaries); October's summary is built but has nothing in it,
    the earlier months' never were."""
    _payroll, lines = paid_month
    stopped, died = lines[0].enrolment, lines[1].enrolment
    stopped.period_end = date(2026, 1, 31)
    died.beneficiary.death_date = date(2026, 1, 15)
    died.period_end = date(2026, 1, 31)
    db.session.flush()
    _months_built("2025-10", "2025-11")
    operations.freeze("2025-12")
    operations.freeze(PERIOD)
    return lines


def test_the_trends_give_each_month_its_figures_and_leave_months_without_data_blank(two_months, analyst_client):
    html = html_module.unescape(analyst_client.get(f"/reports/{PERIOD}").get_data(as_text=True))
    beneficiaries = _trend(html, "beneficiaries")
    assert list(beneficiaries) == [f"2025-{month:02d}" for month in range(2, 13)] + [PERIOD]
    assert beneficiaries["2025-12"] == ["4"] and beneficiaries[PERIOD] == ["4"]
    assert beneficiaries["2025-11"] == ["0"]  # a month with figures (the decisions) and no one paid yet
    assert beneficiaries["2025-10"] == ["–"] and beneficiaries["2025-02"] == ["–"]  # built but empty; never built
    assert _trend(html, "applications")["2025-11"] == ["0", "2"]  # received (today), decided
    assert _trend(html, "amounts")[PERIOD] == ["1\u202f000\u202f000.00", "750\u202f000.00"]  # approved, paid
    assert _trend(html, "amounts")["2025-12"] == ["0.00", "0.00"]  # a month with figures: no payroll is zero
    assert _trend(html, "applications")[PERIOD] == ["0", "0"]
    assert _trend(html, "cases")[PERIOD] == ["0"]
    for chart in ("beneficiaries", "amounts", "applications", "cases"):
        assert f'id="trend-{chart}"' in html
    # The gap is a gap: the beneficiaries' line has one segment, December to January.
    line = re.search(r'id="trend-beneficiaries".*?</svg>', html, re.S).group(0)
    assert len(re.findall(r'<path d="M[^"]*"', line)) == 1
    assert "being prepared" not in html


def test_a_regions_districts_are_the_summarys_with_their_names(two_months, analyst_client):
    person = two_months[0].enrolment.beneficiary
    district = db.session.get(Area, db.session.get(Area, person.area_id).parent_id)
    html = html_module.unescape(analyst_client.get(f"/reports/{PERIOD}?region=UZ-TK").get_data(as_text=True))
    rows = _table(html, "districts")
    assert rows[0] == ["District", "Beneficiaries", "Households receiving benefits", "Amount approved",
                       "Amount paid", "Cases overdue"] or rows[0][0] == "District"
    assert rows[1] == [district.name_en, "3", "1", "750\u202f000.00", "500\u202f000.00", "0"]
    assert rows[-1] == ["Total", "3", "1", "750\u202f000.00", "500\u202f000.00", "0"]
    expected = summary.query(["beneficiaries", "amount_paid"], ["district"], PERIOD, PERIOD,
                             filters={"region": ["UZ-TK"]})
    assert [(row["district"], row["values"]) for row in expected] == [
        (district.code, {"beneficiaries": 3, "amount_paid": 500000})]
    assert 'id="bar-districts"' in html
    assert 'class="figures districts"' not in analyst_client.get(f"/reports/{PERIOD}").get_data(as_text=True)


def test_programmes_by_region_with_totals_and_links_to_the_drill_down(two_months, analyst_client):
    html = html_module.unescape(analyst_client.get(f"/reports/{PERIOD}").get_data(as_text=True))
    rows = _table(html, "by-region")
    tashkent, samarkand = factories.area("UZ-TK").name_en, factories.area("UZ-SA").name_en
    child = factories.programme_named("child_allowance").name_en
    assert rows[0][1:] == [child, "All programmes"]
    body = {row[0]: row[1:] for row in rows[2:-1]}
    assert len(body) == len(region_codes())  # every region has its row
    assert body[tashkent] == ["3", "500\u202f000.00", "3", "500\u202f000.00"]
    assert body[samarkand] == ["1", "250\u202f000.00", "1", "250\u202f000.00"]
    assert body[factories.area("UZ-BU").name_en] == ["–", "–", "–", "–"]
    assert rows[-1] == ["Total", "4", "750\u202f000.00", "4", "750\u202f000.00"]
    assert f'href="/reports/{PERIOD}?region=UZ-SA#drill-down">{samarkand}</a>' in html


def test_who_is_paid_by_sex_and_age_household_size_and_why_people_came_or_left(two_months, analyst_client):
    html = html_module.unescape(analyst_client.get(f"/reports/{PERIOD}").get_data(as_text=True))
    # Children born 2012 (boy), 2013 (girl), 2014 (boy) in Tashkent and 2012 (boy) in Samarkand: all 6-17.
    assert _table(html, "by-age") == [["Age band", "Women", "Men", "Total"], ["6–17 years", "1", "3", "4"],
                                      ["Total", "1", "3", "4"]]
    # Tashkent's household has five people (parents and three children), Samarkand's three.
    assert _table(html, "by-household-size")[1:] == [["3 people", "1", "1"], ["5 people", "3", "1"]]
    december = html_module.unescape(analyst_client.get("/reports/2025-12").get_data(as_text=True))
    assert 'id="bar-household-size"' in html
    entrants, exits = re.findall(r'<table class="figures by-reason">.*?</table>', html, re.S)
    assert _table(entrants, "by-reason")[1:] == [["no data"]]
    assert _table(exits, "by-reason")[1:] == [["death", "1"], ["stopped by a decision", "1"], ["Total", "2"]]
    entrants = re.search(r'<table class="figures by-reason">.*?</table>', december, re.S).group(0)
    assert _table(entrants, "by-reason")[1:] == [["new application", "4"], ["Total", "4"]]


def test_the_russian_page_words_every_code(two_months, client):
    sign_in(client, factories.make_user("analyst", national=True, language="ru"))
    page = _visible_text(html_module.unescape(client.get(f"/reports/{PERIOD}?region=UZ-TK").get_data(as_text=True)))
    district = db.session.get(Area, db.session.get(Area, two_months[0].enrolment.beneficiary.area_id).parent_id)
    assert district.name_ru in page and factories.area("UZ-TK").name_ru in page
    for code in ("UZ-TK", "UZ-SA", "term_ended", "age_band", "household_size", "6-17",
                 "child_allowance", "new_entrants", "beneficiaries", "amount_paid", district.code):
        assert code not in page, code


def test_a_regional_user_reads_only_their_region_in_the_summary_sections(two_months, client):
    sign_in(client, factories.make_user("analyst", areas=["UZ-SA"]))
    html = html_module.unescape(client.get(f"/reports/{PERIOD}").get_data(as_text=True))
    assert _trend(html, "beneficiaries")[PERIOD] == ["1"]
    assert _trend(html, "amounts")[PERIOD] == ["250\u202f000.00", "250\u202f000.00"]
    rows = _table(html, "by-region")
    assert [row[0] for row in rows[2:]] == [factories.area("UZ-SA").name_en, "Total"]
    assert _table(html, "by-age")[1:] == [["6–17 years", "1", "1"], ["Total", "1", "1"]]
    assert _table(html, "by-household-size")[1:] == [["3 people", "1", "1"]]
    assert "stopped by a decision" not in html and "death" not in html  # both left in Tashkent
    assert factories.area("UZ-TK").name_en not in _visible_text(re.sub(r"<svg.*?</svg>|<table class=\"list\".*?"
                                                                        r"</table>", "", html, flags=re.S))
    assert 'class="figures districts"' not in client.get(f"/reports/{PERIOD}?region=UZ-TK").get_data(as_text=True)


def test_a_month_whose_summary_was_never_built_says_its_figures_are_coming(paid_month, analyst_client):
    operations.freeze(PERIOD)  # a return frozen before the summary was: the month's summary is not there
    db.session.execute(delete(SummaryRow).where(SummaryRow.period == PERIOD))
    db.session.delete(db.session.get(SummaryMonth, PERIOD))
    html = html_module.unescape(analyst_client.get(f"/reports/{PERIOD}?region=UZ-TK").get_data(as_text=True))
    assert html.count("The figures by district and over time are being prepared; they appear within a minute.") == 4
    assert 'class="figures' not in html
    assert 'class="list drill-down"' in html  # the return's own figures are there
