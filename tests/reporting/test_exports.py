"""The monthly return's exports: XLSX, CSV and PDF from a small return of the frozen shape, internal and for
publication (small counts suppressed), in Uzbek, Russian and English."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from flask_babel import force_locale
from openpyxl import load_workbook
from pypdf import PdfReader

from modules.reporting import exports
from modules.reporting.exports.tables import SUPPRESSED, build, suppress

DEFINITIONS = {
    "beneficiaries": {"unit": "people",
                      "name": {"uz": "Oluvchilar", "ru": "Получатели", "en": "Beneficiaries"},
                      "definition": {"uz": "Oy oxiridagi oluvchilar soni.", "ru": "Число получателей на конец месяца.",
                                     "en": "People receiving a benefit at the month's end."}},
    "paid": {"unit": "UZS",
             "name": {"uz": "Toʻlangan summa", "ru": "Выплаченная сумма", "en": "Amount paid"},
             "definition": {"uz": "Oy davomida toʻlangan.", "ru": "Выплачено за месяц.", "en": "Paid in the month."}},
    "on_time": {"unit": "percent",
                "name": {"uz": "Oʻz vaqtida", "ru": "В срок", "en": "Decided on time"},
                "definition": {"uz": "Muddatida.", "ru": "В срок.", "en": "Decided within the deadline."}},
}
NAMES = {"programmes": {"child": "Bolalar nafaqasi", "poor": "Kam taʼminlanganlar"},
         "regions": {"UZ-TK": "Toshkent shahri", "UZ-SA": "Samarqand", "UZ-AN": "Andijon"}}


def row(programme, region, value):
    return {"programme": programme, "region": region, "value": value}


@dataclass
class Return:
    data: dict
    reconciliation: dict = field(default_factory=lambda: {"ok": True, "differences": []})
    period: str = "2026-11"
    version: int = 2
    computed_at: datetime = datetime(2026, 12, 1, 6, 30, tzinfo=UTC)
    code_version: str = "fe03d59"


def monthly_return() -> Return:
    return Return({"period": "2026-11", "indicators": {
        "beneficiaries": {"unit": "people", "total": 2468, "rows": [
            row("child", "UZ-TK", 1200), row("child", "UZ-SA", 3), row("child", "UZ-AN", 40),
            row("poor", "UZ-TK", 1100), row("poor", "UZ-SA", 75), row("poor", "UZ-AN", 50)]},
        "paid": {"unit": "UZS", "total": Decimal("1234567.50"), "rows": [
            row("child", "UZ-TK", Decimal("1000000.25")), row("child", "UZ-SA", Decimal("2.00")),
            row("poor", "UZ-TK", Decimal("234565.25"))]},
        "on_time": {"unit": "percent", "total": 92.5, "rows": [
            row(None, "UZ-TK", 95.0), row(None, "UZ-SA", 88.25)]},
    }}, {"ok": False, "differences": [{"programme": "child", "region": "UZ-SA", "what": "beneficiaries",
                                       "reported": 3, "source": 4, "difference": -1}]})


def write(app, format, language="en", publication=False, value=None) -> bytes:
    stream = io.BytesIO()
    with app.app_context():
        exports.write(value or monthly_return(), format, stream, language, publication, DEFINITIONS, NAMES)
    return stream.getvalue()


def workbook(app, **kwargs):
    return load_workbook(io.BytesIO(write(app, "xlsx", **kwargs)))


def cells(sheet) -> list[tuple]:
    return [tuple(cell.value for cell in line) for line in sheet.iter_rows()]


# --- suppression ------------------------------------------------------------------------------------------------


def test_counts_of_one_to_four_are_suppressed_with_a_second_cell_in_their_row_and_column():
    table = suppress(build("beneficiaries", monthly_return().data["indicators"]["beneficiaries"]))
    # Samarqand's 3 children (primary); its row's other cell (75 poor) and its column's smallest other (40 in
    # Andijon) so neither total gives it away; then Andijon's row needs a second cell too (50 poor).
    assert table.suppressed == {("UZ-SA", "child"), ("UZ-SA", "poor"), ("UZ-AN", "child"), ("UZ-AN", "poor")}
    assert table.value("UZ-TK", "child") == 1200
    assert table.row_totals["UZ-SA"] == 78 and table.total == 2468  # totals stay
    for line in [[(region, programme) for programme in table.columns] for region in table.rows] + \
            [[(region, programme) for region in table.rows] for programme in table.columns]:
        assert sum(key in table.suppressed for key in line) != 1


def test_zero_is_chosen_only_when_nothing_else_is_left_and_a_single_line_is_left_alone():
    table = suppress(build("cases", {"unit": "cases", "total": 22, "rows": [
        row("a", "R1", 2), row("b", "R1", 0), row("c", "R1", 20)]}))
    assert table.suppressed == {("R1", "a"), ("R1", "c")}
    only = suppress(build("cases", {"unit": "cases", "total": 2, "rows": [row(None, "R1", 2)]}))
    assert only.suppressed == {("R1", None)}


def test_cases_are_split_by_kind_across_and_region_down():
    table = build("cases_opened", {"unit": "cases", "total": 17, "rows": [
        {"programme": None, "region": "UZ-TK", "kind": "complaint", "value": 10},
        {"programme": None, "region": "UZ-TK", "kind": "appeal", "value": 7}]})
    assert (table.rows, table.columns) == (["UZ-TK"], ["appeal", "complaint"])
    assert table.value("UZ-TK", "complaint") == 10 and table.row_totals["UZ-TK"] == 17


def test_amounts_percentages_and_internal_exports_are_not_suppressed(app):
    data = monthly_return().data["indicators"]
    assert suppress(build("paid", data["paid"])).suppressed == set()
    assert suppress(build("on_time", {"unit": "percent", "total": 3, "rows": [row(None, "R", 3)]})).suppressed == set()
    sheet = workbook(app, publication=False)["Beneficiaries"]
    assert sheet["B5"].value == 3


# --- XLSX -------------------------------------------------------------------------------------------------------


def test_xlsx_has_a_cover_a_sheet_per_indicator_the_definitions_and_the_reconciliation(app):
    book = workbook(app)
    assert book.sheetnames == ["Return", "Beneficiaries", "Amount paid", "Decided on time", "Definitions",
                               "Reconciliation"]
    cover = dict(cells(book["Return"])[2:])
    assert cover["Period"] == "2026-11" and cover["Version"] == 2 and cover["Code version"] == "fe03d59"
    assert cover["Status"] == "Internal, not for publication"
    sheet = book["Beneficiaries"]
    assert sheet.freeze_panes == "B4"
    assert [cell.value for cell in sheet[3]] == ["Region", "Bolalar nafaqasi", "Kam taʼminlanganlar", "Total"]
    assert [cell.value for cell in sheet["A"]][3:] == ["Andijon", "Samarqand", "Toshkent shahri", "Total"]
    assert sheet.column_dimensions["A"].width >= 18
    assert sheet["D7"].value == 2468  # the grand total is the data's
    assert [sheet["B7"].value, sheet["C7"].value] == [1243, 1225]
    assert sheet["B4"].number_format == "#,##0"
    paid = book["Amount paid"]
    assert paid["D6"].value == Decimal("1234567.50") or paid["D6"].value == pytest.approx(1234567.5)
    assert paid["B4"].number_format == "#,##0.00"
    on_time = book["Decided on time"]
    assert on_time["C6"].value == 92.5 and on_time["B5"].number_format == '0.0"%"'
    definitions = cells(book["Definitions"])
    assert definitions[0] == ("Code", "Indicator", "Definition", "Unit")
    assert ("paid", "Amount paid", "Paid in the month.", "UZS") in definitions
    reconciliation = cells(book["Reconciliation"])
    assert reconciliation[1][0] == "The return differs from the source records:"
    assert reconciliation[3][:6] == ("Bolalar nafaqasi", "Samarqand", "Beneficiaries", 3, 4, -1)


def test_xlsx_for_publication_shows_small_counts_as_less_than_five_and_keeps_totals(app):
    book = workbook(app, publication=True, language="ru")
    sheet = book["Получатели"]
    assert sheet.freeze_panes == "B4"
    assert [sheet["B4"].value, sheet["C4"].value] == [SUPPRESSED, SUPPRESSED]  # Andijon
    assert [sheet["B5"].value, sheet["C5"].value] == [SUPPRESSED, SUPPRESSED]  # Samarqand
    assert sheet["B6"].value == 1200 and sheet["D7"].value == 2468
    assert sheet["A3"].value == "Область" and sheet["A7"].value == "Итого"
    assert book["Выплаченная сумма"]["B4"].value == 2  # Samarqand's 2 UZS: an amount, not suppressed


def test_xlsx_cell_values_are_the_same_for_the_same_return(app):
    first, second = workbook(app, publication=True), workbook(app, publication=True)
    assert first.sheetnames == second.sheetnames
    for name in first.sheetnames:
        assert cells(first[name]) == cells(second[name])


def test_sheet_names_are_short_unique_and_valid(app):
    value = monthly_return()
    long = {"unit": "cases", "total": 1, "rows": [row(None, "UZ-TK", 1)]}
    value.data["indicators"].update({"aaa": long, "aab": long})
    definitions = {**DEFINITIONS, "aaa": {"name": {"en": "Cases: opened/closed [this month] and still open"}},
                   "aab": {"name": {"en": "Cases: opened/closed [this month] and still open"}}}
    stream = io.BytesIO()
    with app.app_context():
        exports.write(value, "xlsx", stream, "en", False, definitions, NAMES)
    names = load_workbook(stream).sheetnames
    assert all(len(name) <= 31 for name in names) and len(set(names)) == len(names)
    assert "Cases  opened closed  this mont" in names and "Cases  opened closed  this (2)" in names


# --- CSV --------------------------------------------------------------------------------------------------------


def read(data: bytes) -> list[dict]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_csv_is_tidy_and_its_figures_add_up_to_the_totals(app):
    rows = read(write(app, "csv"))
    assert list(rows[0]) == ["Code", "Indicator", "Programme", "Region", "Value", "Unit"]
    beneficiaries = [item for item in rows if item["Code"] == "beneficiaries"]
    assert len(beneficiaries) == 7
    total = next(item for item in beneficiaries if item["Region"] == "Total")
    assert int(total["Value"]) == 2468
    assert sum(int(item["Value"]) for item in beneficiaries if item["Region"] != "Total") == 2468
    paid = [item for item in rows if item["Code"] == "paid"]
    assert sum(Decimal(item["Value"]) for item in paid if item["Region"] != "Total") == Decimal("1234567.50")
    assert paid[-1]["Value"] == "1234567.50" and paid[-1]["Unit"] == "UZS"
    assert {"Code": "beneficiaries", "Indicator": "Beneficiaries", "Programme": "Bolalar nafaqasi",
            "Region": "Samarqand", "Value": "3", "Unit": "people"} in rows


def test_csv_for_publication_suppresses_and_labels_in_the_language(app):
    rows = read(write(app, "csv", language="ru", publication=True))
    assert list(rows[0])[2:4] == ["Программа", "Область"]
    samarqand = [item for item in rows if item["Код" if "Код" in item else list(item)[0]] == "beneficiaries"
                 and item["Область"] == "Samarqand"]
    assert [item[list(item)[4]] for item in samarqand] == [SUPPRESSED, SUPPRESSED]
    totals = [item for item in rows if item["Область"] == "Итого"]
    assert [item[list(item)[4]] for item in totals] == ["2468", "1234567.50", "92.5"]


# --- PDF --------------------------------------------------------------------------------------------------------


def text_of(data: bytes) -> str:
    assert data.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


@pytest.mark.parametrize(("language", "words"), [
    ("uz", ["Oluvchilar", "Samarqand", "Toʻlangan summa"]),
    ("ru", ["Получатели", "Область", "Итого", "Выплаченная сумма"]),
])
def test_pdf_renders_in_uzbek_and_russian_with_the_figures(app, language, words):
    text = text_of(write(app, "pdf", language=language, publication=True))
    for word in words:
        assert word in text
    assert "2\u202f468" in text or "2 468" in text
    assert "1\u202f234\u202f567,50" in text or "1 234 567,50" in text
    assert SUPPRESSED in text
    assert "2026-11" in text and "fe03d59" in text


def test_pdf_draws_a_bar_chart_per_indicator(app):
    from modules.reporting.exports import labels, pdf

    with app.app_context(), force_locale("en"):
        html = pdf.render_html(monthly_return(), "en", False, labels.Names("en", NAMES, DEFINITIONS))
    assert html.count("<svg") == 3
    chart = html[html.index("<svg"):html.index("</svg>")]
    assert all(name in chart for name in ("Andijon", "Samarqand", "Toshkent shahri"))
    assert "2\u202f300" in chart and ">78<" in chart  # the regions' totals: Toshkent shahri, Samarqand
    assert "Page" in html


def test_the_plain_bar_chart_draws_a_bar_per_figure():
    from modules.reporting.exports.pdf import bar_chart

    svg = bar_chart([("Andijon", 90), ("Samarqand", None), ("Toshkent <shahri>", Decimal("45.5"))], str)
    assert svg.count("<rect") == 2 and "Toshkent &lt;shahri&gt;" in svg and "45.5" in svg
    assert bar_chart([("Andijon", None)], str) == ""


def test_an_unknown_format_is_refused(app):
    with app.app_context(), pytest.raises(ValueError, match="format"):
        exports.write(monthly_return(), "docx", io.BytesIO(), "en", False, DEFINITIONS, NAMES)


def test_names_and_definitions_come_from_the_indicator_registry_by_default(app):
    registry = pytest.importorskip("modules.reporting.indicators")
    indicator = next(iter(registry.by_code().values()))
    value = Return({"period": "2026-11", "indicators": {
        indicator.code: {"unit": indicator.unit, "total": 10, "rows": [row(None, "UZ-TK", 10)]}}})
    stream = io.BytesIO()
    with app.app_context():
        exports.write(value, "xlsx", stream, "ru", False)
    book = load_workbook(stream)
    assert book.sheetnames[1] == indicator.name_in("ru")[:31]
    assert cells(book[book.sheetnames[-2]])[1][1:3] == (indicator.name_in("ru"), indicator.definition_in("ru"))


# --- the breakdown tables ---------------------------------------------------------------------------------------


def with_breakdowns() -> Return:
    frozen = monthly_return()
    frozen.data["breakdowns"] = {
        "by_sex_and_age": {"dimensions": ["sex", "age_band"], "indicators": ["beneficiaries"], "rows": [
            {"sex": "F", "age_band": "6-17", "values": {"beneficiaries": 3}},
            {"sex": "F", "age_band": "60+", "values": {"beneficiaries": 40}},
            {"sex": "M", "age_band": "6-17", "values": {"beneficiaries": 12}},
            {"sex": "M", "age_band": "60+", "values": {"beneficiaries": 9}}]},
        "exits_by_reason": {"dimensions": ["reason"], "indicators": ["exits"], "rows": [
            {"reason": "death", "values": {"exits": 2}}, {"reason": "term_ended", "values": {"exits": 30}}]},
    }
    return frozen


def test_the_breakdown_tables_have_their_sheets_in_words_and_are_suppressed_for_publication(app):
    def sheets(publication: bool) -> dict:
        stream = io.BytesIO()
        exports.write(with_breakdowns(), "xlsx", stream, "en", publication, DEFINITIONS, NAMES)
        book = load_workbook(io.BytesIO(stream.getvalue()))
        return {name: [tuple(r) for r in book[name].iter_rows(min_row=3, values_only=True)]
                for name in ("By sex and age", "Exits by reason")}

    internal = sheets(False)
    assert internal["By sex and age"][0] == ("Sex", "Age band", "Beneficiaries (people)")
    assert internal["By sex and age"][1:] == [("Women", "6–17 years", 3), ("Women", "60 and older", 40),
                                              ("Men", "6–17 years", 12), ("Men", "60 and older", 9)]
    assert internal["Exits by reason"][1:] == [("death", 2), ("granted period ended", 30)]
    published = sheets(True)
    # Women 6-17 (3) is hidden, and so the smallest other figure of the women, lest 43 - 40 give it away.
    assert published["By sex and age"][1:3] == [("Women", "6–17 years", SUPPRESSED), ("Women", "60 and older",
                                                                                       SUPPRESSED)]
    assert published["By sex and age"][3:] == [("Men", "6–17 years", 12), ("Men", "60 and older", 9)]
    assert published["Exits by reason"][1:] == [("death", SUPPRESSED), ("granted period ended", SUPPRESSED)]


def test_the_pdf_has_the_breakdown_tables(app):
    stream = io.BytesIO()
    exports.write(with_breakdowns(), "pdf", stream, "en", False, DEFINITIONS, NAMES)
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(stream.getvalue())).pages)
    assert "Exits by reason" in text and "granted period ended" in text and "60 and older" in text
