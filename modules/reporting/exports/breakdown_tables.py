"""The return's breakdown tables (modules/reporting/breakdowns.py) as the exports lay them out: the keys in words,
one column per indicator, suppressed for publication."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

from modules.reporting import breakdowns
from modules.reporting.exports import labels


def _titles() -> dict[str, str]:
    return {"by_district": _("By district"), "by_sex_and_age": _("By sex and age"),
            "by_household_size": _("By household size"), "entrants_by_reason": _("New entrants by reason"),
            "exits_by_reason": _("Exits by reason")}


@dataclass
class BreakdownTable:
    title: str
    keys: list[str]  # the dimensions' names
    columns: list[tuple[str, str]]  # (indicator name, unit)
    rows: list[tuple[list[str], list]]  # (the keys in words, the values: numbers, "<5" or None)


def breakdown_tables(data: dict, publication: bool, names: labels.Names) -> list[BreakdownTable]:
    titles, found = _titles(), []
    for name, table in (data.get("breakdowns") or {}).items():
        codes, dimensions = table["indicators"], table["dimensions"]
        rows = breakdowns.suppressed(table) if publication else table["rows"]
        found.append(BreakdownTable(
            title=titles.get(name, name), keys=[names.labels.dimension(d) for d in dimensions],
            columns=[(names.indicator(code), _unit(names, code)) for code in codes],
            rows=[([names.labels.value(d, row.get(d), codes[0]) for d in dimensions],
                   [row["values"].get(code) for code in codes]) for row in rows]))
    return found


def _unit(names: labels.Names, code: str) -> str:
    entry = names.definitions.get(code)
    return (entry.get("unit") if isinstance(entry, dict) else getattr(entry, "unit", "")) or ""
