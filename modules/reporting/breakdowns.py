"""The monthly return's breakdown tables: the month's figures by district, by sex and age band, by household size,
and the people who came in or left by their reason, read from the reporting summary when the return is frozen and
stored with it, so that the frozen return keeps them as they were.

Each table is {"dimensions": [...], "indicators": [...], "rows": [{<dimension>: key, "values": {code: n}}]}.
"""

from __future__ import annotations

from modules.reporting import summary
from modules.reporting.exports.tables import COUNT_UNITS, SUPPRESSED, SUPPRESSION_LIMIT
from modules.reporting.indicators import by_code

TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "by_district": (("region", "district"), ("beneficiaries", "beneficiary_households", "amount_approved",
                                             "amount_paid", "applications_received", "cases_overdue")),
    "by_sex_and_age": (("sex", "age_band"), ("beneficiaries", "amount_approved", "population", "coverage")),
    "by_household_size": (("household_size",), ("beneficiary_households", "beneficiaries", "amount_approved")),
    "entrants_by_reason": (("reason",), ("new_entrants",)),
    "exits_by_reason": (("reason",), ("exits",)),
}
# What a reader of some regions may see: the tables that say which region each row is in.
BY_REGION = ("by_district",)


def build(period: str) -> dict:
    """The month's tables from its summary (which the caller has rebuilt)."""
    return {name: {"dimensions": list(dimensions), "indicators": list(codes),
                   "rows": summary.query(codes, dimensions, period, period)}
            for name, (dimensions, codes) in TABLES.items()}


def cut(breakdowns: dict, regions: set[str] | None) -> dict:
    """The tables a reader of `regions` may see (all for None): the district rows of those regions only; the tables
    over the whole country are left out."""
    if regions is None:
        return breakdowns
    return {name: {**table, "rows": [row for row in table["rows"] if row.get("region") in regions]}
            for name, table in breakdowns.items() if name in BY_REGION}


def suppressed(table: dict) -> list[dict]:
    """The table's rows for publication: counts of people from 1 to 4 shown as "<5", and, where only one figure of a
    group of rows that adds up to a published total is hidden, the smallest other one too, so that subtraction
    cannot bring it back. A group is the rows sharing every key but the last (all the rows of a one-key table)."""
    rows = [{**row, "values": dict(row["values"])} for row in table["rows"]]
    dimensions = table["dimensions"]
    registry = by_code()
    for code in table["indicators"]:
        if code not in registry or registry[code].unit not in COUNT_UNITS:
            continue
        groups: dict[tuple, list[dict]] = {}
        for row in rows:
            groups.setdefault(tuple(row.get(d) for d in dimensions[:-1]), []).append(row)
        for group in groups.values():
            hidden = [row for row in group if 0 < (row["values"].get(code) or 0) < SUPPRESSION_LIMIT]
            for row in hidden:
                row["values"][code] = SUPPRESSED
            shown = [row for row in group if isinstance(row["values"].get(code), int | float)
                     and row["values"][code] > 0]
            if len(hidden) == 1 and shown:
                min(shown, key=lambda row: row["values"][code])["values"][code] = SUPPRESSED
    return rows
