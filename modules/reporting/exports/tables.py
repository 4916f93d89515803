"""The indicator tables every export shows, and the suppression of small counts for publication.

A table has the regions down and the programmes (or kinds of case, or rules) across, a Total column and a Total
row. The data's rows with a programme and a region are the cells; a row without a programme (or region) is that
region's (or programme's) total when the indicator is also split the other way, otherwise the indicator is not
split that way and the single column (row) is "all programmes" ("all regions"). Totals the data does not give
are sums of the cells for additive units (counts and UZS); averages, durations and percentages have no such
margins. The grand total is always the data's own total (one person may count in two programmes, so it need not
be the sum of the cells).

Suppression, for exports marked for publication only, of the counts (people, households, applications, cases,
certificates); amounts in UZS, days and percentages are never suppressed, and totals are always shown:
1. primary: a cell of 1 to 4 is shown as "<5";
2. secondary: a row or column of the table in which exactly one cell is suppressed would give that cell away by
   subtraction from its total, so the smallest other shown cell of that line (the first one on a tie) is
   suppressed too; this is repeated until no line has exactly one suppressed cell, since a cell suppressed for its
   row may leave its column with one. Empty cells (no data) are never chosen, and a zero is chosen only when
   no other cell is left; a line with a single cell cannot be protected by another cell and keeps its total.
"""

from __future__ import annotations

from dataclasses import dataclass, field

COUNT_UNITS = ("people", "households", "applications", "cases", "certificates")
ADDITIVE_UNITS = (*COUNT_UNITS, "UZS")
SUPPRESSED = "<5"
SUPPRESSION_LIMIT = 5  # counts of 1 up to this, not included, are suppressed


@dataclass
class Table:
    code: str
    unit: str
    rows: list  # region codes (None: all regions), in order
    columns: list  # programme codes (None: all programmes), in order
    cells: dict  # (region, programme) -> number
    row_totals: dict  # region -> number or None
    column_totals: dict  # programme -> number or None
    total: object  # the data's total
    suppressed: set = field(default_factory=set)  # (region, programme) cells shown as "<5"
    across: str = "programme"  # what the columns are: programmes, a case's kind ("kind") or a refusal's "rule"

    def value(self, region, programme):
        """The cell's number, SUPPRESSED, or None when the data has no such cell."""
        if (region, programme) in self.suppressed:
            return SUPPRESSED
        return self.cells.get((region, programme))

    def region_totals(self) -> list[tuple]:
        """(region, figure) for the chart by region: the row totals, which are never suppressed, or the single
        column's figures for an indicator not split by programme (averages and percentages have no totals)."""
        single = self.columns[0] if len(self.columns) == 1 else ...
        return [(region, self.row_totals.get(region) if self.row_totals.get(region) is not None or single is ...
                 else self.cells.get((region, single))) for region in self.rows]


def _order(codes) -> list:
    # Codes sorted, "not split" last, so the same data always gives the same table.
    return sorted(code for code in codes if code is not None) + ([None] if None in codes else [])


def _add(values):
    values = [value for value in values if value is not None]
    return sum(values, type(values[0])(0)) if values else None


def build(code: str, indicator: dict) -> Table:
    unit = indicator.get("unit", "")
    # The columns are the programmes, or a case's kind or a refusal's rule for the indicators split that way.
    across = next((key for key in ("kind", "rule") if any(row.get(key) is not None for row in
                                                         indicator.get("rows", []))), "programme")
    rows = [{**row, "programme": row.get(across)} for row in indicator.get("rows", [])]
    programmes = {row.get("programme") for row in rows}
    regions = {row.get("region") for row in rows}
    by_programme = programmes != {None}
    by_region = regions != {None}
    cells, given_row_totals, given_column_totals = {}, {}, {}
    for row in rows:
        programme, region, value = row.get("programme"), row.get("region"), row.get("value")
        if by_programme and programme is None and by_region and region is not None:
            given_row_totals[region] = value
        elif by_region and region is None and by_programme and programme is not None:
            given_column_totals[programme] = value
        elif by_programme and by_region and programme is None and region is None:
            continue  # the grand total, which the indicator's total gives
        else:
            cells[(region, programme)] = value
    columns = _order({programme for _region, programme in cells} | set(given_column_totals))
    table_rows = _order({region for region, _programme in cells} | set(given_row_totals))
    additive = unit in ADDITIVE_UNITS
    row_totals = {region: given_row_totals.get(region, _add(cells.get((region, programme)) for programme in columns)
                                                if additive else None) for region in table_rows}
    column_totals = {programme: given_column_totals.get(programme, _add(cells.get((region, programme))
                                                                         for region in table_rows)
                                                        if additive else None) for programme in columns}
    return Table(code, unit, table_rows, columns, cells, row_totals, column_totals, indicator.get("total"),
                 across=across)


def suppress(table: Table) -> Table:
    """Mark the cells to show as "<5" (the rule in the module's docstring); nothing for units not counted."""
    if table.unit not in COUNT_UNITS:
        return table
    hidden = {key for key, value in table.cells.items() if value is not None and 0 < value < SUPPRESSION_LIMIT}
    lines = [[(region, programme) for programme in table.columns] for region in table.rows]
    lines += [[(region, programme) for region in table.rows] for programme in table.columns]
    changed = bool(hidden)
    while changed:
        changed = False
        for line in lines:
            present = [key for key in line if table.cells.get(key) is not None]
            if sum(key in hidden for key in present) != 1:
                continue
            others = [key for key in present if key not in hidden]
            if not others:
                continue
            # The smallest non-zero cell: a suppressed zero hides little when every other cell is large.
            chosen = min(others, key=lambda key: (table.cells[key] == 0, table.cells[key], others.index(key)))
            hidden.add(chosen)
            changed = True
    table.suppressed = hidden
    return table


def tables(data: dict, publication: bool) -> list[Table]:
    """Every indicator's table, in the return's order (the registry's), suppressed for publication."""
    built = [build(code, indicator) for code, indicator in data.get("indicators", {}).items()]
    return [suppress(table) for table in built] if publication else built

