"""The return as one tidy CSV: a row per figure (code, indicator, programme, region, value, unit) and a Total row
per indicator, UTF-8 with a byte order mark so that Excel reads the Cyrillic and Uzbek letters."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from flask_babel import gettext as _

from modules.reporting.exports import labels
from modules.reporting.exports.tables import SUPPRESSED, tables


def write(monthly_return, path_or_stream, language: str, publication: bool, names: labels.Names) -> None:
    text = io.StringIO()
    out = csv.writer(text, lineterminator="\r\n")
    out.writerow([_("Code"), _("Indicator"), _("Programme"), _("Region"), _("Value"), _("Unit")])
    for table in tables(monthly_return.data or {}, publication):
        name, unit = names.indicator(table.code), labels.unit_name(table.unit)
        for region in table.rows:
            for programme in table.columns:
                value = table.value(region, programme)
                if value is not None:
                    out.writerow([table.code, name, names.column(table, programme), names.region(region),
                                  plain(value, table.unit), unit])
        out.writerow([table.code, name, _("Total"), _("Total"), plain(table.total, table.unit), unit])
    data = ("\ufeff" + text.getvalue()).encode("utf-8")
    if hasattr(path_or_stream, "write"):
        path_or_stream.write(data)
    else:
        with open(path_or_stream, "wb") as file:
            file.write(data)


def plain(value, unit: str) -> str:
    """A figure for software: no grouping, a decimal point, UZS with two decimals; "<5" when suppressed."""
    if value is None:
        return ""
    if value == SUPPRESSED:
        return SUPPRESSED
    if unit == "UZS":
        return f"{Decimal(str(value)):.2f}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
