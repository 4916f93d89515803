"""Ad hoc reports: the figures the reader chose, from the reporting summary, as a table, a chart and files; saved
reports run again; a regional reader sees only their region; odd addresses are answered in words, never a 500."""

from __future__ import annotations

import csv
import html
import io
import re
from urllib.parse import urlencode

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from modules.reporting import summary
from modules.reporting.adhoc.models import SavedReport
from tests import factories
from tests.conftest import sign_in
from webapp.extensions import db
from webapp.models import Area, AuditEvent

PERIOD = factories.PAYROLL_PERIOD  # 2026-01: three children of one Tashkent family paid 250 000 each
REPORT = "/reports/adhoc"


@pytest.fixture
def built(paid_month):
    summary.refresh(PERIOD)
    return paid_month


@pytest.fixture
def analyst(client):
    return sign_in(client, factories.make_user("analyst", national=True))


def _address(path: str = REPORT, **params) -> str:
    pairs = []
    for name, value in params.items():
        pairs += [(name, item) for item in (value if isinstance(value, list | tuple) else [value])]
    return f"{path}?{urlencode(pairs)}"


def _january(path: str = REPORT, **params) -> str:
    return _address(path, first=PERIOD, last=PERIOD, **params)


def _cells(fragment: str) -> list[str]:
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split())
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", fragment, re.S)]


def _table(page: str) -> list[list[str]]:
    """The report's table: its header row, then each row's cells as the page writes them."""
    found = re.search(r'<table class="list" id="adhoc-table">(.*?)</table>', page, re.S)
    assert found, "no report table"
    return [_cells(row) for row in re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S)]


def _page(client, address: str) -> str:
    response = client.get(address)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


def _expected(indicators, dimensions, **filters):
    return summary.query(indicators, dimensions, PERIOD, PERIOD, filters)


# --- the figures --------------------------------------------------------------------------------------------------

def test_the_table_holds_the_summarys_figures_in_words(built, analyst):
    page = _page(analyst, _january(indicators=["beneficiaries", "amount_approved"], rows="sex"))
    # Three children: a girl and two boys, 250 000 approved each.
    assert _table(page) == [["Sex", "Beneficiaries people", "Amount approved UZS"],
                            ["Women", "1", "250 000.00"], ["Men", "2", "500 000.00"]]
    assert _expected(["beneficiaries", "amount_approved"], ["sex"]) == [
        {"sex": "F", "values": {"beneficiaries": 1, "amount_approved": 250000}},
        {"sex": "M", "values": {"beneficiaries": 2, "amount_approved": 500000}}]
    assert 'class="svg-chart svg-bar"' in page


def test_two_breakdowns_and_the_bank_outcomes(built, analyst):
    page = _page(analyst, _january(indicators=["amount_paid", "amount_returned", "amount_failed"],
                                   rows="region", columns="age_band"))
    assert _table(page)[1:] == [["Tashkent City", "6–17 years", "250 000.00", "250 000.00", "250 000.00"]]


def test_months_as_a_breakdown_draw_a_line(built, analyst):
    page = _page(analyst, _address(indicators="beneficiaries", rows="period", columns="sex", first="2025-12",
                                   last=PERIOD))
    assert 'class="svg-chart svg-line"' in page
    assert _table(page)[1:] == [["January 2026", "Women", "1"], ["January 2026", "Men", "2"]]


def test_stocks_are_the_last_months_and_the_page_says_so(built, analyst):
    summary.refresh("2026-02")  # the three children are still enrolled in February, with no payroll yet
    page = _page(analyst, _address(indicators=["beneficiaries", "amount_approved"], first=PERIOD, last="2026-02"))
    assert _table(page)[1:] == [["3", "750 000.00"]]  # three people, not three a month; amounts add up
    assert "the figure of the last month of the range (February 2026)" in html.unescape(page)


def test_the_default_report_is_beneficiaries_by_month(built, analyst):
    page = _page(analyst, REPORT)
    assert 'value="beneficiaries" checked' in page
    assert re.search(r'<option value="period" selected>', page)


def test_filters_narrow_the_figures(built, analyst):
    page = _page(analyst, _january(indicators="beneficiaries", rows="sex", sex="M", age_band="6-17",
                                   household_size="5", region="UZ-TK"))
    assert _table(page)[1:] == [["Men", "2"]]
    page = _page(analyst, _january(indicators="beneficiaries", rows="sex", household_size="2"))
    assert "No figures for these choices" in page


def test_a_totals_report_without_a_breakdown(built, analyst):
    page = _page(analyst, _january(indicators=["beneficiaries", "population", "coverage"]))
    # Coverage: three beneficiaries among the family's five registered people.
    assert _table(page) == [["Beneficiaries people", "Registered population people", "Coverage %"],
                            ["3", "5", "60.0%"]]


# --- the files ----------------------------------------------------------------------------------------------------

def test_the_csv_holds_the_table(built, analyst):
    response = analyst.get(_january(f"{REPORT}.csv", indicators=["beneficiaries", "amount_approved"], rows="sex"))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data().decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows == [["Sex", "Beneficiaries (people)", "Amount approved (UZS)"], ["Women", "1", "250000.00"],
                    ["Men", "2", "500000.00"]]
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "adhoc_report.exported")).one()
    assert event.details["format"] == "csv" and event.details["indicators"] == ["beneficiaries", "amount_approved"]


def test_the_workbook_holds_the_table_its_settings_and_the_definitions(built, analyst):
    response = analyst.get(_january(f"{REPORT}.xlsx", indicators=["beneficiaries", "amount_approved"],
                                    rows="region", columns="sex"))
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.get_data()))
    sheet = book.worksheets[0]
    assert [[cell.value for cell in row] for row in sheet.iter_rows()] == [
        ["Region", "Sex", "Beneficiaries (people)", "Amount approved (UZS)"],
        ["Tashkent City", "Women", 1, 250000], ["Tashkent City", "Men", 2, 500000]]
    assert sheet.freeze_panes == "C2"
    assert sheet["D2"].number_format == "#,##0.00" and sheet["C2"].number_format == "#,##0"
    definitions = book.worksheets[2]
    assert [row[0] for row in definitions.iter_rows(min_row=2, values_only=True)] == ["beneficiaries",
                                                                                    "amount_approved"]
    assert all(row[2] for row in definitions.iter_rows(min_row=2, values_only=True))
    settings = {row[0]: row[1] for row in book.worksheets[1].iter_rows(min_row=3, values_only=True)}
    assert settings["Months of the report"] == "January 2026"


def test_a_file_in_another_language(built, analyst):
    response = analyst.get(_january(f"{REPORT}.csv", indicators="beneficiaries", rows="region", language="ru"))
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8")[1:])))
    assert rows == [["Область", "Получатели (человек)"], ["город Ташкент", "3"]]


# --- saved reports ------------------------------------------------------------------------------------------------

def test_a_saved_report_runs_again_and_is_deleted(built, analyst):
    address = _january(indicators="beneficiaries", rows="sex")
    shown = _table(_page(analyst, address))
    params = [(name, value) for name, value in re.findall(
        r'<input type="hidden" name="(\w+)" value="([^"]*)">', _page(analyst, address)) if name != "csrf_token"]
    response = analyst.post("/reports/adhoc/saved", data=MultiDict([*params, ("name", "  Girls and boys  "),
                                                                    ("csrf_token", analyst.csrf)]))
    assert response.status_code == 303
    saved = db.session.scalars(select(SavedReport)).one()
    assert saved.name == "Girls and boys"
    assert saved.definition == {"indicators": ["beneficiaries"], "rows": "sex", "columns": None, "first": PERIOD,
                                "last": PERIOD, "filters": {}, "moving": False}
    page = _page(analyst, REPORT)
    run = re.search(r'<a href="([^"]+)">Girls and boys</a>', page)
    assert run
    assert _table(_page(analyst, html.unescape(run.group(1)))) == shown
    # Saving again under the same name replaces it.
    analyst.post("/reports/adhoc/saved", data=MultiDict([*[(n, v) for n, v in params if n != "rows"],
                                                         ("rows", "age_band"), ("name", "Girls and boys"),
                                                         ("csrf_token", analyst.csrf)]))
    db.session.expire_all()
    assert db.session.scalars(select(SavedReport)).one().definition["rows"] == "age_band"
    response = analyst.post(f"/reports/adhoc/saved/{saved.id}/delete", data={"csrf_token": analyst.csrf})
    assert response.status_code == 303
    assert db.session.scalars(select(SavedReport)).all() == []
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "saved_report")).all()
    assert actions == ["adhoc_report.saved", "adhoc_report.saved", "adhoc_report.deleted"]


def test_a_moving_saved_report_runs_on_the_months_ending_last_month(built, analyst):
    from webapp.timeutil import local_today, month_of

    data = MultiDict([("indicators", "beneficiaries"), ("first", PERIOD), ("last", "2026-03"), ("moving", "1"),
                      ("name", "Quarter"), ("csrf_token", analyst.csrf)])
    assert analyst.post("/reports/adhoc/saved", data=data).status_code == 303
    saved = db.session.scalars(select(SavedReport)).one()
    assert saved.definition["moving"] is True and saved.definition["first"] == PERIOD
    page = _page(analyst, REPORT)
    run = html.unescape(re.search(r'<a href="([^"]+)">Quarter</a>', page).group(1))
    today = local_today()
    assert f"first={month_of(today, -3)}&last={month_of(today, -1)}" in run
    assert "(the last 3 months)" in page


def test_saving_needs_a_name_of_at_most_120_characters(built, analyst):
    base = [("indicators", "beneficiaries"), ("first", PERIOD), ("last", PERIOD), ("csrf_token", analyst.csrf)]
    for name, message in (("", "Give the report a name."), ("x" * 121, "120 characters or fewer")):
        response = analyst.post("/reports/adhoc/saved", data=MultiDict([*base, ("name", name)]),
                                follow_redirects=True)
        assert message in html.unescape(response.get_data(as_text=True))
    assert db.session.scalars(select(SavedReport)).all() == []


def test_saving_without_the_csrf_token_is_refused(built, analyst):
    response = analyst.post("/reports/adhoc/saved", data={"indicators": "beneficiaries", "first": PERIOD,
                                                          "last": PERIOD, "name": "x"})
    assert response.status_code == 400
    assert db.session.scalars(select(SavedReport)).all() == []


def test_another_persons_saved_report_cannot_be_deleted_or_seen(built, analyst, app):
    owner = factories.make_user("analyst", national=True)
    other = SavedReport(owner_id=owner.id, name="Theirs", definition={"indicators": ["beneficiaries"]})
    db.session.add(other)
    db.session.flush()
    assert "Theirs" not in _page(analyst, REPORT)
    response = analyst.post(f"/reports/adhoc/saved/{other.id}/delete", data={"csrf_token": analyst.csrf})
    assert response.status_code == 404
    assert db.session.get(SavedReport, other.id) is not None


# --- who sees what ------------------------------------------------------------------------------------------------

def test_a_regional_user_sees_only_their_region(paid_month, client):
    factories.sent_payroll_in("UZ-SA", children=1)
    summary.refresh(PERIOD)
    sign_in(client, factories.make_user("analyst", areas=["UZ-SA"]))
    page = _page(client, _january(indicators="beneficiaries", rows="region"))
    assert _table(page)[1:] == [["Samarkand Region", "1"]]
    page = _page(client, _january(indicators="beneficiaries"))
    assert _table(page)[1:] == [["1"]]
    # Filtering on another region gives nothing of it, in the page and in the files.
    page = _page(client, _january(indicators="beneficiaries", region="UZ-TK"))
    assert "No figures for these choices" in page
    rows = list(csv.reader(io.StringIO(client.get(_january(f"{REPORT}.csv", indicators="beneficiaries",
                                                           region="UZ-TK")).get_data().decode("utf-8")[1:])))
    assert rows == [["Beneficiaries (people)"]]
    # The form offers only their region.
    assert '<option value="UZ-TK"' not in page and '<option value="UZ-SA"' in page


def test_a_district_user_sees_only_their_district(built, app):
    _payroll, lines = built
    mahalla = db.session.get(Area, lines[0].enrolment.beneficiary.area_id)
    district = db.session.get(Area, mahalla.parent_id).code
    client = sign_in(app.test_client(), factories.make_user("analyst", areas=[district]))
    assert _table(_page(client, _january(indicators="beneficiaries")))[1:] == [["3"]]
    assert _table(_page(client, _january(indicators="beneficiaries", rows="district")))[1][1:] == ["3"]
    other = "UZ-TK-01" if district != "UZ-TK-01" else "UZ-TK-02"
    client = sign_in(app.test_client(), factories.make_user("analyst", areas=[other]))
    assert "No figures for these choices" in _page(client, _january(indicators="beneficiaries"))
    assert "No figures for these choices" in _page(client, _january(indicators="beneficiaries", district=district,
                                                                    region="UZ-TK"))


def test_a_registrar_is_refused(built, client):
    sign_in(client, factories.make_user("registrar", areas=["UZ-TK"]))
    assert client.get(REPORT).status_code == 403
    assert client.get(f"{REPORT}.csv").status_code == 403


# --- what cannot be read ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("query", "message"), [
    ({"indicators": "nonsense", "first": PERIOD, "last": PERIOD}, "Not in the list: nonsense."),
    ({"first": PERIOD, "last": PERIOD, "rows": "sex"}, "Choose at least one indicator."),
    ({"indicators": "beneficiaries", "first": "2026-13", "last": PERIOD}, "a month written YYYY-MM"),
    ({"indicators": "beneficiaries", "first": "1899-01", "last": PERIOD}, "Choose a month from 2000-01"),
    ({"indicators": "beneficiaries", "first": "1990-01", "last": PERIOD}, "Choose a month from 2000-01"),
    ({"indicators": "beneficiaries", "first": PERIOD, "last": "2999-01"}, "Choose a month from 2000-01"),
    ({"indicators": "beneficiaries", "first": "2026-03", "last": PERIOD}, "comes after the last one"),
    ({"indicators": "beneficiaries", "first": "2005-01", "last": PERIOD}, "at most 120 months"),
    ({"indicators": "beneficiaries", "first": PERIOD, "last": PERIOD, "rows": "sex", "columns": "sex"},
     "Choose two different breakdowns."),
    ({"indicators": "beneficiaries", "first": PERIOD, "last": PERIOD, "rows": "'; drop table"},
     "Choose a breakdown from the list."),
    ({"indicators": "beneficiaries", "first": PERIOD, "last": PERIOD, "region": "UZ-SA", "district": "UZ-TK-01"},
     "The district is not in the chosen region."),
    ({"indicators": "beneficiaries", "first": PERIOD, "last": PERIOD, "household_size": "7"}, "Not in the list"),
    ({"indicators": "beneficiaries", "first": PERIOD, "last": PERIOD, "sex": "X" * 1900}, "Not in the list"),
    ({"indicators": [f"x{n}" for n in range(10_000)], "first": PERIOD, "last": PERIOD}, "Too many values."),
    ({"indicators": "beneficiaries", "first": "", "last": PERIOD}, "This field is required."),
    ({"indicators": "beneficiaries", "first": "٢٠٢٦-٠١", "last": PERIOD}, "a month written YYYY-MM"),
    ({"indicators": "beneficiaries", "first": "٢٠٢٦-01", "last": PERIOD}, "a month written YYYY-MM"),
])
def test_a_report_that_cannot_be_read_is_answered_in_words(built, analyst, query, message):
    pairs = [(name, item) for name, value in query.items()
             for item in (value if isinstance(value, list) else [value])]
    response = analyst.get(f"{REPORT}?{urlencode(pairs)}")
    assert response.status_code == 400
    assert message in html.unescape(response.get_data(as_text=True))
    response = analyst.get(f"{REPORT}.xlsx?{urlencode(pairs)}")
    assert response.status_code == 400
    assert message in html.unescape(response.get_data(as_text=True))


@pytest.mark.parametrize("query", [
    "indicators=beneficiaries&first=2026-01&last=2026-01&" + "&".join(["indicators=beneficiaries"] * 10_000),
    "indicators=beneficiaries&first=2026-01&last=2026-01&" + "&".join(["sex=F"] * 10_000),
    "indicators=beneficiaries&first=2026-01&last=2026-01&rows=",
    "indicators=&first=2026-01&last=2026-01&indicators=beneficiaries",
])
def test_repeated_and_blank_values_count_once(built, analyst, query):
    response = analyst.get(f"{REPORT}?{query}")
    assert response.status_code == 200
    assert _table(response.get_data(as_text=True))[0] == ["Beneficiaries people"]


@pytest.mark.parametrize("query", [
    "indicators=beneficiaries%00&first=2026-01&last=2026-01",
    "indicators=beneficiaries&first=2026-01&last=2026-01&name=" + "x" * 3000,
    "indicators=beneficiaries&first=2026-01%1b&last=2026-01",
])
def test_control_characters_and_huge_values_are_refused_before_the_report(built, analyst, query):
    assert analyst.get(f"{REPORT}?{query}").status_code == 400
    assert analyst.get(f"{REPORT}.csv?{query}").status_code == 400


def test_ten_thousand_repeated_values_in_a_save_count_once(built, analyst):
    data = MultiDict([("indicators", "beneficiaries")] * 10_000 + [("first", PERIOD), ("last", PERIOD),
                                                                   ("name", "Many"), ("csrf_token", analyst.csrf)])
    assert analyst.post("/reports/adhoc/saved", data=data).status_code == 303
    assert db.session.scalars(select(SavedReport.definition)).one()["indicators"] == ["beneficiaries"]


def test_odd_saved_report_posts_are_answered_in_words(built, analyst):
    response = analyst.post("/reports/adhoc/saved", data={"csrf_token": analyst.csrf, "name": "x",
                                                          "indicators": "nonsense", "first": "x"})
    assert response.status_code == 303
    page = analyst.get(response.headers["Location"]).get_data(as_text=True)
    assert "Not in the list: nonsense." in html.unescape(page)
    assert analyst.post("/reports/adhoc/saved/99999999999/delete",
                        data={"csrf_token": analyst.csrf}).status_code == 404


# --- languages ----------------------------------------------------------------------------------------------------

def test_the_russian_page_shows_no_codes(built, client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ru"
    sign_in(client, factories.make_user("analyst", national=True, language="ru"))
    page = _page(client, _january(indicators=["beneficiaries", "amount_approved"], rows="region",
                                  columns="age_band"))
    table = _table(page)
    assert table[0][0] == "Область" and table[0][2].startswith("Получатели")
    assert table[1][0] == "город Ташкент" and table[1][2:] == ["3", "750 000,00"]  # narrow spaces read as spaces
    shown = " ".join(" ".join(row) for row in table)
    for code in ("UZ-TK", "6-17", "beneficiaries", "amount_approved", "age_band", "region"):
        assert code not in shown, code
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', page)
    assert all(words.strip() and words.strip() != code for code, words in options if code), \
        [pair for pair in options if pair[0] and pair[0] == pair[1].strip()]


def test_the_audit_trail_names_what_was_done_in_words(built, client):
    admin = sign_in(client, factories.make_user("admin", national=True))
    admin.get(_january(f"{REPORT}.csv", indicators="beneficiaries", rows="sex"))
    admin.post("/reports/adhoc/saved", data=MultiDict([("indicators", "beneficiaries"), ("first", PERIOD),
                                                       ("last", PERIOD), ("name", "Mine"),
                                                       ("csrf_token", admin.csrf)]))
    page = html.unescape(_page(admin, "/admin/audit"))
    assert "Ad hoc report exported" in page and "Ad hoc report saved" in page
    mine = re.findall(r'<tr data-action="adhoc_report[^"]*">(.*?)</tr>', page, re.S)
    assert len(mine) == 2 and not any("Other" in row for row in mine), mine


def test_the_reach_of_regions_districts_and_mahallas(app):
    from modules.reporting.scope import Reach, reach

    assert reach(factories.make_user("analyst", national=True)) == Reach()
    assert reach(factories.make_user("analyst", areas=["UZ-SA"])) == Reach(frozenset({"UZ-SA"}))
    assert reach(factories.make_user("analyst", areas=["UZ-TK-02"])) == Reach(frozenset({"UZ-TK"}),
                                                                            frozenset({"UZ-TK-02"}))
    both = reach(factories.make_user("analyst", areas=["UZ-SA", "UZ-TK-02"]))
    assert both.regions == {"UZ-SA", "UZ-TK"} and "UZ-TK-02" in both.districts and "UZ-TK-01" not in both.districts
    assert {code for code in both.districts if code.startswith("UZ-SA-")}  # all of Samarkand's districts
    mahalla = factories.mahalla_in("UZ-TK").code
    assert reach(factories.make_user("analyst", areas=[mahalla])) == Reach(frozenset())


@pytest.mark.parametrize(("indicators", "dimensions"), [
    (["beneficiaries", "amount_approved", "amount_paid"], ["region", "sex"]),
    (["population", "coverage"], ["age_band"]),
    (["beneficiary_households", "new_entrants"], ["household_size"]),
    (["amount_returned", "amount_failed", "beneficiaries"], ["programme", "district"]),
    (["amount_approved"], ["sex", "age_band"]),
    (["applications_received", "beneficiaries"], []),
])
def test_the_page_and_both_files_hold_what_the_summary_gives(built, analyst, indicators, dimensions):
    from modules.reporting.exports.csv import plain
    from modules.reporting.exports.labels import format_value
    from modules.reporting.indicators import by_code

    indicators = [code for code in summary.indicators_in_summary() if code in indicators]  # the page's order
    units = [by_code()[code].unit for code in indicators]
    found = summary.query(indicators, dimensions, PERIOD, PERIOD)
    assert found  # the month has figures for each of these
    params = {"indicators": indicators, **dict(zip(("rows", "columns"), dimensions, strict=False))}
    figures = len(indicators)

    def expected(write):
        return sorted(tuple(write(row["values"].get(code), unit) if row["values"].get(code) is not None else None
                            for code, unit in zip(indicators, units, strict=True)) for row in found)

    shown = [tuple(None if cell == "–" else cell for cell in row[-figures:])
             for row in _table(_page(analyst, _january(**params)))[1:]]
    def page_value(value, unit):  # the cells read narrow spaces as spaces
        return format_value(value, unit, "en").replace("\u202f", " ")

    assert sorted(shown, key=str) == sorted(expected(page_value), key=str)
    text = analyst.get(_january(f"{REPORT}.csv", **params)).get_data().decode("utf-8")[1:]
    rows = [tuple(cell or None for cell in row[-figures:]) for row in list(csv.reader(io.StringIO(text)))[1:]]
    assert sorted(rows, key=str) == sorted(expected(plain), key=str)
    sheet = load_workbook(io.BytesIO(analyst.get(_january(f"{REPORT}.xlsx", **params)).get_data())).worksheets[0]
    cells = [tuple(row[-figures:]) for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert sorted(cells, key=str) == sorted(expected(lambda v, u: v), key=str)
    assert len(rows) == len(cells) == len(shown) == len(found)
