"""The return as a workbook: a cover, one sheet per indicator, the definitions and the reconciliation.

Cells hold the return's own numbers, so that a formula or a check reads what was computed: counts grouped by
thousands, UZS with 2 decimals, days with one, and percentages (0 to 100 in the return) with a literal % sign
rather than Excel's percent format, which would need the figure divided by 100."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from modules.reporting.exports import labels
from modules.reporting.exports.breakdown_tables import BreakdownTable, breakdown_tables
from modules.reporting.exports.tables import SUPPRESSED, Table, tables

NUMBER_FORMATS = {"UZS": "#,##0.00", "percent": '0.0"%"', "days": "#,##0.0"}
COUNT_FORMAT = "#,##0"
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)
HEADER_FILL = PatternFill("solid", fgColor="DDE4EE")
RIGHT = Alignment(horizontal="right")
WRAP = Alignment(wrap_text=True, vertical="top")
INVALID_IN_SHEET_NAMES = "[]:*?/\\"
HEADER_ROW = 3  # the indicator's name, its unit, then the column headings


def write(monthly_return, path_or_stream, language: str, publication: bool, names: labels.Names) -> None:
    book = Workbook()
    cover = book.active
    _cover(cover, monthly_return, publication)
    used = {cover.title}
    for table in tables(monthly_return.data or {}, publication):
        sheet = book.create_sheet(sheet_name(names.indicator(table.code), used))
        _indicator(sheet, table, names)
    for table in breakdown_tables(monthly_return.data or {}, publication, names):
        _breakdown(book.create_sheet(sheet_name(table.title, used)), table)
    _definitions(book.create_sheet(sheet_name(_("Definitions"), used)), monthly_return, names)
    _reconciliation(book.create_sheet(sheet_name(_("Reconciliation"), used)), monthly_return.reconciliation, names)
    # The same return gives the same file: the workbook's dates are the return's, not the time of writing.
    stamp = _naive(monthly_return.computed_at)
    if stamp is not None:
        book.properties.created = book.properties.modified = stamp
    book.properties.title = f"{labels.title()} {monthly_return.period}"
    book.save(path_or_stream)


def sheet_name(name: str, used: set) -> str:
    """At most 31 characters, none that Excel refuses, and unique in the workbook (case-insensitively)."""
    base = "".join(" " if char in INVALID_IN_SHEET_NAMES else char for char in name).strip(" '") or "Sheet"
    candidate, number = base[:31], 1
    while candidate.lower() in {other.lower() for other in used}:
        number += 1
        suffix = f" ({number})"
        candidate = base[:31 - len(suffix)].rstrip() + suffix
    used.add(candidate)
    return candidate


def _naive(value):
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return None


def _cover(sheet, monthly_return, publication: bool) -> None:
    sheet.title = _("Return")
    sheet["A1"] = labels.title()
    sheet["A1"].font = TITLE
    computed_at = monthly_return.computed_at
    rows = [
        (_("Period"), monthly_return.period),
        (_("Version"), monthly_return.version),
        (_("Computed at"), computed_at.strftime("%Y-%m-%d %H:%M %Z").strip() if computed_at else ""),
        (_("Code version"), monthly_return.code_version or ""),
        (_("Status"), labels.status(publication)),
    ]
    if publication:
        rows.append((_("Suppression"), labels.suppression_note()))
    for number, (label, value) in enumerate(rows, start=3):
        sheet.cell(number, 1, label).font = BOLD
        sheet.cell(number, 2, value).alignment = Alignment(wrap_text=True, horizontal="left", vertical="top")
    sheet.column_dimensions["A"].width = 22
    sheet.column_dimensions["B"].width = 70


def _indicator(sheet, table: Table, names: labels.Names) -> None:
    sheet["A1"] = names.indicator(table.code)
    sheet["A1"].font = TITLE
    sheet["A2"] = f"{_('Unit')}: {labels.unit_name(table.unit)}"
    headings = [_("Region"), *(names.column(table, code) for code in table.columns), _("Total")]
    for column, heading in enumerate(headings, start=1):
        cell = sheet.cell(HEADER_ROW, column, heading)
        cell.font, cell.fill = BOLD, HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top", horizontal="left" if column == 1 else "center")
    number_format = NUMBER_FORMATS.get(table.unit, COUNT_FORMAT)
    row = HEADER_ROW
    for row, region in enumerate(table.rows, start=HEADER_ROW + 1):
        sheet.cell(row, 1, names.region(region))
        values = [table.value(region, programme) for programme in table.columns] + [table.row_totals.get(region)]
        for column, value in enumerate(values, start=2):
            _number(sheet.cell(row, column), value, number_format)
        sheet.cell(row, len(headings)).font = BOLD
    total_row = row + 1
    sheet.cell(total_row, 1, _("Total")).font = BOLD
    values = [table.column_totals.get(programme) for programme in table.columns] + [table.total]
    for column, value in enumerate(values, start=2):
        cell = sheet.cell(total_row, column)
        _number(cell, value, number_format)
        cell.font, cell.fill = BOLD, HEADER_FILL
    sheet.freeze_panes = sheet.cell(HEADER_ROW + 1, 2)
    sheet.column_dimensions["A"].width = max(18, min(40, max(len(str(sheet.cell(r, 1).value or ""))
                                                              for r in range(HEADER_ROW, total_row + 1)) + 2))
    for column in range(2, len(headings) + 1):
        sheet.column_dimensions[get_column_letter(column)].width = max(14, min(30, len(headings[column - 1]) + 2))


def _breakdown(sheet, table: BreakdownTable) -> None:
    sheet["A1"] = table.title
    sheet["A1"].font = TITLE
    headings = [*table.keys, *(f"{name} ({labels.unit_name(unit)})" for name, unit in table.columns)]
    _headings(sheet, headings, row=HEADER_ROW)
    formats = [NUMBER_FORMATS.get(unit, COUNT_FORMAT) for _name, unit in table.columns]
    for row, (keys, values) in enumerate(table.rows, start=HEADER_ROW + 1):
        for column, key in enumerate(keys, start=1):
            sheet.cell(row, column, key)
        for column, (value, number_format) in enumerate(zip(values, formats, strict=True), start=len(keys) + 1):
            _number(sheet.cell(row, column), value, number_format)
    sheet.freeze_panes = sheet.cell(HEADER_ROW + 1, len(table.keys) + 1)
    for column, heading in enumerate(headings, start=1):
        sheet.column_dimensions[get_column_letter(column)].width = max(14, min(36, len(heading) + 2))


def _number(cell, value, number_format: str) -> None:
    if value is None:
        return
    cell.value = value
    if value == SUPPRESSED:
        cell.alignment = RIGHT
    else:
        cell.number_format = number_format


def _definitions(sheet, monthly_return, names: labels.Names) -> None:
    headings = [_("Code"), _("Indicator"), _("Definition"), _("Unit")]
    _headings(sheet, headings)
    indicators = (monthly_return.data or {}).get("indicators", {})
    codes = list(indicators)
    for row, code in enumerate(codes, start=2):
        entry = names.definitions.get(code) or {}
        unit = indicators.get(code, {}).get("unit") or (entry.get("unit") if isinstance(entry, dict)
                                                        else getattr(entry, "unit", ""))
        for column, value in enumerate([code, names.indicator(code), names.definition(code),
                                        labels.unit_name(unit or "")], start=1):
            sheet.cell(row, column, value).alignment = WRAP
    for column, width in zip("ABCD", (24, 40, 80, 14), strict=True):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "B2"


def _reconciliation(sheet, reconciliation: dict | None, names: labels.Names) -> None:
    reconciliation = reconciliation or {}
    sheet["A1"] = _("Reconciliation")
    sheet["A1"].font = TITLE
    ok = bool(reconciliation.get("ok"))
    sheet["A2"] = labels.reconciled(ok)
    headings = [_("Programme"), _("Region"), _("What"), _("Reported"), _("Source"), _("Difference")]
    _headings(sheet, headings, row=HEADER_ROW)
    for row, difference in enumerate(reconciliation.get("differences") or [], start=HEADER_ROW + 1):
        values = [names.programme(difference.get("programme")), names.region(difference.get("region")),
                  names.indicator(difference.get("what") or ""), difference.get("reported"), difference.get("source"),
                  difference.get("difference")]
        for column, value in enumerate(values, start=1):
            cell = sheet.cell(row, column, value)
            if column >= 4 and isinstance(value, int | float | Decimal):
                cell.number_format = "#,##0.##"
    for column, width in zip("ABCDEF", (28, 24, 36, 16, 16, 16), strict=True):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = sheet.cell(HEADER_ROW + 1, 2)


def _headings(sheet, headings: list[str], row: int = 1) -> None:
    for column, heading in enumerate(headings, start=1):
        cell = sheet.cell(row, column, heading)
        cell.font, cell.fill = BOLD, HEADER_FILL
