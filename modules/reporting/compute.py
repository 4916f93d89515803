"""The monthly return's figures: one grouped SQL query per indicator, run by the database, never a Python loop over
the big tables.

`compute_return("2026-01")` returns::

    {"period": "2026-01",
     "indicators": {
         "<code>": {"unit": "people",
                    "rows": [{"programme": "child_allowance", "region": "UZ-TK", "value": 3}, ...],
                    "total": 3},
         ...}}

- `rows` break the indicator down by its dimensions (indicators.yaml). Every row has "programme" and "region" (the
  programme's code and the region's ISO 3166-2 code, None when the indicator does not break down by it); cases add
  "kind" (the case's kind) and the reasons for refusal "rule" (the rule's id). Rows are sorted by their keys.
- `total` is the figure over the whole country and every programme, counted again by the database (people in two
  programmes are one person in the total), so it is not always the sum of the rows; for days and percent it is the
  national median, 95th percentile or coverage.
- Values are numbers: counts and whole amounts as integers, other amounts and days with at most 2 decimals.
- The month is the country's calendar month (Asia/Tashkent by default): timestamps are compared with the UTC
  instants at which its first day and the next month's first day begin.
- Percentiles are nearest-rank (the median of an even count is the lower middle value), the same on PostgreSQL and
  SQLite. A region is an area of level "region"; anything placed in an area is counted in the region whose
  materialised path starts its own.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import String

from modules.reporting import summary
from modules.reporting.indicators import indicators
from modules.reporting.month import (
    AMOUNT_STATUSES,
    CASES_OVERDUE,
    LAST_IN_MONTH,
    Month,
    number,
    region_join,
    row_of,
    rows_and_total,
)

# --- applications -----------------------------------------------------------------------------------------------


def applications_received(m: Month, dims):
    return m.grouped(dims, "COUNT(*)", f"FROM application ap {region_join('ap.area_id')} "
                                       f"WHERE {m.in_month('ap.submitted_at')}")


def applications_decided(m: Month, dims):
    return m.grouped(dims, "COUNT(*)", f"FROM application ap {region_join('ap.area_id')} WHERE EXISTS (SELECT 1 FROM "
                                       f"assessment a WHERE a.application_id = ap.id AND {m.in_month('a.created_at')})")


def _decided_as(decision: str):
    def indicator(m: Month, dims):
        return m.grouped(dims, "COUNT(*)", f"FROM assessment a JOIN application ap ON ap.id = a.application_id "
                                           f"{region_join('ap.area_id')} WHERE {m.in_month('a.created_at')} "
                                           f"AND a.decision = '{decision}' AND {LAST_IN_MONTH}")
    return indicator


def _decision_days(share: float):
    """The nearest-rank percentile of the days from submission to first decision, by window functions."""
    def indicator(m: Month, dims):
        first = f"""SELECT ap.area_id AS area_id, {m.days('MIN(a.created_at)', 'ap.submitted_at')} AS days
            FROM assessment a JOIN application ap ON ap.id = a.application_id WHERE ap.submitted_at IS NOT NULL
            GROUP BY ap.id, ap.area_id, ap.submitted_at
            HAVING MIN(a.created_at) >= :start AND MIN(a.created_at) < :end"""
        ranked = f"""SELECT r.code AS region, f.days AS days,
            ROW_NUMBER() OVER (PARTITION BY {{part}} ORDER BY f.days) AS rank,
            COUNT(*) OVER (PARTITION BY {{part}}) AS n FROM ({first}) f {region_join('f.area_id')}"""
        rows = m.run(f"SELECT k.region, MIN(k.days) FROM ({ranked.format(part='r.code')}) k "
                     f"WHERE k.rank >= k.n * {share} GROUP BY k.region")
        total = m.run(f"SELECT MIN(k.days) FROM ({ranked.format(part='1')}) k WHERE k.rank >= k.n * {share}")[0][0]
        return [row_of(dims, (region,), days) for region, days in rows], total
    return indicator


def refusal_reasons(m: Month, dims):
    if m.dialect == "postgresql":
        expand, rule = "CROSS JOIN LATERAL json_array_elements(a.reasons) AS e(value)", "e.value ->> 'rule'"
    else:
        expand, rule = "JOIN json_each(a.reasons) e", "json_extract(e.value, '$.rule')"
    source = (f"FROM assessment a {expand} WHERE {m.in_month('a.created_at')} AND a.decision = 'ineligible' "
              f"AND {LAST_IN_MONTH} AND {rule} IS NOT NULL")
    return rows_and_total(dims, m.grouping_sets([rule], ["COUNT(DISTINCT a.id)"], source, [(0,), ()]), (0,))


# --- people, households and money, from the reporting summary ---------------------------------------------------
# The month's summary is rebuilt once per computation and these figures read from it, so that the return, its
# breakdowns and the dashboards count people and money the same way, and the big tables are read once for all.


def _summary(m: Month) -> None:
    if "summary" not in m.cache:
        summary.refresh(m.period)
        m.cache["summary"] = True


def _summed(m: Month, code: str, keys: str, which: str) -> list:
    _summary(m)
    group_by = f" GROUP BY {keys}" if keys else ""
    selected = f"{keys}, " if keys else ""
    return m.run(f"SELECT {selected}SUM(value) FROM report_summary WHERE period = :period "
                 f"AND indicator = :indicator AND {which}{group_by}", indicator=(code, String()))


def _from_summary(code: str):
    """By programme and region; the total over the rows with no programme for people and households (a person in
    two programmes is one person), over the programmes' rows for money."""
    everyone = code in summary.DISTINCT_COUNTS

    def indicator(m: Month, dims):
        rows = _summed(m, code, "programme, region", "programme IS NOT NULL")
        total = _summed(m, code, "", "programme IS NULL" if everyone else "programme IS NOT NULL")[0][0]
        return [row_of(dims, (programme, region), value) for programme, region, value in rows if value], total
    return indicator


# --- cases and certificates -------------------------------------------------------------------------------------

_CASES = f'FROM "case" c {region_join("c.area_id")}'


def cases_received(m: Month, dims):
    return m.grouped(dims, "COUNT(*)", f"{_CASES} WHERE {m.in_month('c.created_at')}")


def cases_resolved(m: Month, dims):
    return m.grouped(dims, "COUNT(*)", f"{_CASES} WHERE {m.in_month('c.resolved_at')}")





def cases_overdue(m: Month, dims):
    return m.grouped(dims, "COUNT(*)", f"{_CASES} WHERE {CASES_OVERDUE}")


_CERTIFICATES = f"FROM certificate ct JOIN household h ON h.id = ct.household_id {region_join('h.area_id')}"


def certificates_issued(m: Month, dims):
    return m.grouped(dims, "COUNT(*)", f"{_CERTIFICATES} WHERE {m.in_month('ct.issued_at')}")


def certificates_revoked(m: Month, dims):
    return m.grouped(dims, "COUNT(*)", f"{_CERTIFICATES} WHERE {m.in_month('ct.revoked_at')}")


# --- coverage and the multiple-benefit check --------------------------------------------------------------------





def _by_region(m: Month, code: str, dims) -> tuple[list[dict], object]:
    rows = _summed(m, code, "region", "programme IS NULL")
    return [row_of(dims, (region,), value) for region, value in rows], sum(value for _region, value in rows)


def population(m: Month, dims):
    """The people of the register copy alive during the month, by region."""
    return _by_region(m, "population", ("region",))


def coverage(m: Month, dims):
    """Beneficiaries over the living people of the register copy, per region."""
    people, people_total = population(m, dims)
    paid, paid_total = _by_region(m, "beneficiaries", ("region",))
    counted = {row["region"]: row["value"] for row in paid}

    def share(part, whole):
        return Decimal(part or 0) * 100 / Decimal(whole) if whole else Decimal(0)
    rows = [row_of(dims, (row["region"],), share(counted.get(row["region"]), row["value"])) for row in people]
    return rows, share(paid_total, people_total)


def paid_by_several_programmes(m: Month, dims):
    """People the month's payrolls pay from more than one programme, by region."""
    return _by_region(m, "paid_by_several_programmes", dims)


def in_several_households(m: Month, dims):
    """People enrolled in more than one household in the month, by region."""
    return _by_region(m, "in_several_households", dims)


QUERIES: dict[str, Callable] = {
    "applications_received": applications_received,
    "applications_decided": applications_decided,
    "applications_eligible": _decided_as("eligible"),
    "applications_ineligible": _decided_as("ineligible"),
    "decision_days_median": _decision_days(0.5),
    "decision_days_p95": _decision_days(0.95),
    "refusal_reasons": refusal_reasons,
    **{code: _from_summary(code) for code in ("beneficiaries", "beneficiary_households", "new_entrants", "exits",
                                              *AMOUNT_STATUSES)},
    "cases_received": cases_received,
    "cases_resolved": cases_resolved,
    "cases_overdue": cases_overdue,
    "certificates_issued": certificates_issued,
    "certificates_revoked": certificates_revoked,
    "population": population,
    "coverage": coverage,
    "paid_by_several_programmes": paid_by_several_programmes,
    "in_several_households": in_several_households,
}


def _sort_key(row: dict) -> tuple:
    return tuple((key, "" if value is None else str(value)) for key, value in row.items() if key != "value")


def compute_indicator(code: str, period: str, month: Month | None = None) -> dict:
    indicator = next(i for i in indicators() if i.code == code)
    rows, total = QUERIES[code](month or Month(period), indicator.dimensions)
    rows = sorted(({**row, "value": number(row["value"])} for row in rows), key=_sort_key)
    return {"unit": indicator.unit, "rows": rows, "total": number(total)}


def compute_return(period: str) -> dict:
    """Every indicator of indicators.yaml for the month (shape in the module's docstring)."""
    month = Month(period)  # one for every indicator: they share what it caches
    return {"period": period,
            "indicators": {i.code: compute_indicator(i.code, period, month) for i in indicators()}}
