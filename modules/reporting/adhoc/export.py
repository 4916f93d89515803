"""An ad hoc report as a file: a workbook (the table with its header frozen and numbers formatted by unit, the
report's settings, the chosen indicators' definitions) or a CSV of the same table.

Both hold the page's table (present.Table) with the figures as numbers, not as the page writes them: a formula
or another program reads what the summary gave. A text a spreadsheet would take for a formula (a name starting
with =, +, - or @) is written as text."""

from __future__ import annotations

import csv
import io

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from modules.reporting.adhoc.present import Table
from modules.reporting.exports.csv import plain
from modules.reporting.exports.xlsx import COUNT_FORMAT, NUMBER_FORMATS, sheet_name

BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)
HEADER_FILL = PatternFill("solid", fgColor="DDE4EE")
WRAP = Alignment(wrap_text=True, vertical="top")
_FORMULA_START = ("=", "+", "-", "@")
MIMETYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "csv": "text/csv"}


def headings(report: Table) -> list[str]:
    return [*report.headings, *(f"{column.name} ({column.unit_name})" for column in report.columns)]


def _safe(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_csv(report: Table, stream) -> None:
    """UTF-8 with a byte order mark, so that Excel reads Cyrillic and Uzbek letters; a decimal point."""
    text = io.StringIO()
    out = csv.writer(text, lineterminator="\r\n")
    out.writerow([_safe(heading) for heading in headings(report)])
    for words, values in zip(report.labels, report.values, strict=True):
        out.writerow([*(_safe(word) for word in words),
                      *(plain(value, column.unit) for value, column in zip(values, report.columns, strict=True))])
    stream.write(("\ufeff" + text.getvalue()).encode("utf-8"))


def write_xlsx(report: Table, stream, settings: list[tuple[str, str]]) -> None:
    """`settings`: (label, value) lines saying what the report is (months, breakdowns, filters)."""
    book = Workbook()
    used: set[str] = set()
    sheet = book.active
    sheet.title = sheet_name(_("Report"), used)
    _table(sheet, report)
    _settings(book.create_sheet(sheet_name(_("Report settings"), used)), settings)
    _definitions(book.create_sheet(sheet_name(_("Definitions"), used)), report)
    book.save(stream)


def _text_cell(sheet, row: int, column: int, value: str):
    cell = sheet.cell(row, column, value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        cell.data_type = "s"  # openpyxl takes a leading "=" for a formula
    return cell


def _table(sheet, report: Table) -> None:
    titles = headings(report)
    for column, title in enumerate(titles, start=1):
        cell = _text_cell(sheet, 1, column, title)
        cell.font, cell.fill = BOLD, HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top",
                                   horizontal="left" if column <= len(report.headings) else "center")
    formats = [NUMBER_FORMATS.get(column.unit, COUNT_FORMAT) for column in report.columns]
    first_figure = len(report.headings) + 1
    for row, (words, values) in enumerate(zip(report.labels, report.values, strict=True), start=2):
        for column, word in enumerate(words, start=1):
            _text_cell(sheet, row, column, word)
        for column, (value, number_format) in enumerate(zip(values, formats, strict=True), start=first_figure):
            if value is not None:
                sheet.cell(row, column, value).number_format = number_format
    sheet.freeze_panes = sheet.cell(2, first_figure)
    for column, title in enumerate(titles, start=1):
        longest = max([len(title) // 2, *(len(words[column - 1]) for words in report.labels)]) \
            if column < first_figure else len(title) // 2
        sheet.column_dimensions[get_column_letter(column)].width = max(14, min(45, longest + 2))


def _settings(sheet, settings: list[tuple[str, str]]) -> None:
    sheet["A1"] = _("Report settings")
    sheet["A1"].font = TITLE
    for row, (label, value) in enumerate(settings, start=3):
        _text_cell(sheet, row, 1, label).font = BOLD
        _text_cell(sheet, row, 2, value).alignment = WRAP
    sheet.column_dimensions["A"].width = 24
    sheet.column_dimensions["B"].width = 90


def _definitions(sheet, report: Table) -> None:
    for column, heading in enumerate([_("Code"), _("Indicator"), _("Definition"), _("Unit")], start=1):
        cell = sheet.cell(1, column, heading)
        cell.font, cell.fill = BOLD, HEADER_FILL
    for row, column in enumerate(report.columns, start=2):
        for index, value in enumerate([column.code, column.name, column.definition, column.unit_name], start=1):
            _text_cell(sheet, row, index, value).alignment = WRAP
    for letter, width in zip("ABCD", (24, 40, 80, 14), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
