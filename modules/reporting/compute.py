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

import re
from collections.abc import Callable
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Date, DateTime, String, bindparam, text

from modules.reporting.indicators import indicators
from webapp.extensions import db
from webapp.timeutil import local_day_start

PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
FROZEN_PAYROLLS = "('approved', 'sent', 'reconciled')"
_DIMENSION_SQL = {"programme": "p.code", "region": "r.code", "kind": "c.kind", "rule": "rule"}


class BadPeriod(ValueError):
    pass


def month_bounds(period: str) -> tuple[date, date]:
    """The first day of the month and of the next one; BadPeriod unless `period` is YYYY-MM."""
    match = PERIOD.match(period or "")
    if not match or int(match[1]) < 1900:
        raise BadPeriod(period)
    year, month = int(match[1]), int(match[2])
    return date(year, month, 1), date(year + month // 12, month % 12 + 1, 1)


# Tables every query that names them gets as a common table expression (materialised on PostgreSQL, so they are
# computed once and the big tables join them by id): each area's region, resolved by the prefix of its materialised
# path once per query rather than per row (the planner cannot estimate a prefix match and picks nested loops), and
# the month's frozen payrolls, whose lines are then read by payroll.
_COMMON = {
    "region_of_area": "SELECT a.id AS area_id, r.code AS code FROM area a "
                      "JOIN area r ON r.level = 'region' AND a.path LIKE r.path || '%'",
    "month_payroll": "SELECT id, programme_id, area_id, period, status FROM payroll "
                     f"WHERE period = :period AND status IN {FROZEN_PAYROLLS}",
}


def region_join(area_column: str) -> str:
    """Join the region an area belongs to (as `r`, its ISO code `r.code`)."""
    return f" JOIN region_of_area r ON r.area_id = {area_column}"


class Month:
    """The period's bounds as bound parameters, and the helpers the queries share."""

    def __init__(self, period: str):
        self.period = period
        self.first, self.next = month_bounds(period)
        self.dialect = db.session.get_bind().dialect.name
        self.cache: dict[str, object] = {}  # results shared by the indicators of one compute_return

    def run(self, sql: str, **extra) -> list:
        return self.execute(sql, **extra).all()

    def execute(self, sql: str, **extra):
        """Execute `sql` with the month's bounds bound (and `extra` {name: (value, type)}), the common tables it
        names put in front."""
        common = [name for name in _COMMON if re.search(rf"\b(FROM|JOIN) {name}\b", sql)]
        if common:
            materialized = " MATERIALIZED" if self.dialect == "postgresql" else ""
            sql = "WITH " + ", ".join(f"{name} AS{materialized} ({_COMMON[name]})" for name in common) + " " + sql
        params = {"start": (local_day_start(self.first), DateTime(timezone=True)),
                  "end": (local_day_start(self.next), DateTime(timezone=True)),
                  "first": (self.first, Date()), "next": (self.next, Date()), "period": (self.period, String()),
                  "before": (self.first - timedelta(days=1), Date()), **extra}
        statement = text(sql).bindparams(*(bindparam(name, value, type_=kind) for name, (value, kind)
                                           in params.items() if re.search(rf":{name}\b", sql)))
        return db.session.execute(statement)

    def grouping_sets(self, columns: list[str], aggregates: list[str], source: str,
                      sets: list[tuple[int, ...]]) -> dict[tuple[int, ...], list[tuple[tuple, tuple]]]:
        """{set: [(keys, values)]}: the aggregates grouped by each set of columns (indexes into `columns`; () is
        everything). PostgreSQL reads the source once for all the sets; SQLite, which has no GROUPING SETS, runs one
        query per set. The aggregates are computed by the database per set, so COUNT(DISTINCT) stays right."""
        found: dict[tuple[int, ...], list[tuple[tuple, tuple]]] = {group: [] for group in sets}
        if self.dialect == "postgresql":
            # GROUPING(columns…) has a bit set, first column highest, for every column the row is not grouped by.
            by_flags = {sum(1 << (len(columns) - 1 - i) for i in range(len(columns)) if i not in group): group
                        for group in sets}
            spec = ", ".join("(" + ", ".join(columns[i] for i in group) + ")" for group in sets)
            statement = (f"SELECT {', '.join([*columns, *aggregates])}, GROUPING({', '.join(columns)}) "
                         f"{source} GROUP BY GROUPING SETS ({spec})")
            for row in self.run(statement):
                group = by_flags[row[-1]]
                found[group].append((tuple(row[i] for i in group), tuple(row[len(columns):-1])))
            return found
        for group in sets:
            keys = [columns[i] for i in group]
            group_by = f" GROUP BY {', '.join(keys)}" if keys else ""
            for row in self.run(f"SELECT {', '.join([*keys, *aggregates])} {source}{group_by}"):
                found[group].append((tuple(row[:len(keys)]), tuple(row[len(keys):])))
        return found

    def grouped(self, dims: tuple[str, ...], aggregate: str, source: str) -> tuple[list[dict], object]:
        """`SELECT dims, aggregate <source> GROUP BY dims`, and the same aggregate over everything for the total."""
        everything = tuple(range(len(dims)))
        found = self.grouping_sets([_DIMENSION_SQL[d] for d in dims], [aggregate], source, [everything, ()])
        return _rows_and_total(dims, found, everything)

    def in_month(self, column: str) -> str:
        return f"{column} >= :start AND {column} < :end"

    def days(self, later: str, earlier: str) -> str:
        if self.dialect == "postgresql":
            return f"EXTRACT(EPOCH FROM ({later} - {earlier})) / 86400.0"
        return f"(julianday({later}) - julianday({earlier}))"


def _rows_and_total(dims, found, group, value: int = 0) -> tuple[list[dict], object]:
    """One set's rows and the total from Month.grouping_sets (the value at index `value` of the aggregates)."""
    total = found[()][0][1][value] if found[()] else None
    return [_row(dims, keys, values[value]) for keys, values in found[group]], total


def _row(dims, keys, value) -> dict:
    row = {"programme": None, "region": None}
    row.update(zip(dims, (str(key) if key is not None else None for key in keys), strict=True))
    row["value"] = value
    return row


def number(value) -> int | float:
    """A figure as JSON writes it the same way every time: an integer when whole, else 2 decimals."""
    if value is None:
        return 0
    value = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return int(value) if value == value.to_integral_value() else float(value)


# --- applications -----------------------------------------------------------------------------------------------

LAST_IN_MONTH = """NOT EXISTS (SELECT 1 FROM assessment b WHERE b.application_id = a.application_id
    AND b.created_at >= :start AND b.created_at < :end
    AND (b.created_at > a.created_at OR (b.created_at = a.created_at AND b.id > a.id)))"""


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
        return [_row(dims, (region,), days) for region, days in rows], total
    return indicator


def refusal_reasons(m: Month, dims):
    if m.dialect == "postgresql":
        expand, rule = "CROSS JOIN LATERAL json_array_elements(a.reasons) AS e(value)", "e.value ->> 'rule'"
    else:
        expand, rule = "JOIN json_each(a.reasons) e", "json_extract(e.value, '$.rule')"
    source = (f"FROM assessment a {expand} WHERE {m.in_month('a.created_at')} AND a.decision = 'ineligible' "
              f"AND {LAST_IN_MONTH} AND {rule} IS NOT NULL")
    return _rows_and_total(dims, m.grouping_sets([rule], ["COUNT(DISTINCT a.id)"], source, [(0,), ()]), (0,))


# --- beneficiaries ----------------------------------------------------------------------------------------------

ACTIVE = "e.period_start < :next AND e.period_end >= :first AND e.status <> 'ended'"
ENROLMENTS = "FROM enrolment e JOIN programme p ON p.id = e.programme_id JOIN household h ON h.id = e.household_id"


# An enrolment that takes over from the same person's enrolment in the same programme (a re-assessment, an appeal)
# neither brings the person in nor lets them go: entrants and exits are people who were not paid the month before,
# or will not be paid the month after.
_SAME_PAIR = ("SELECT 1 FROM enrolment o WHERE o.beneficiary_person_id = e.beneficiary_person_id "
              "AND o.programme_id = e.programme_id AND o.id <> e.id")
CONTINUES_EARLIER = f"EXISTS ({_SAME_PAIR} AND o.period_start < e.period_start AND o.period_end >= :before)"
CONTINUES_LATER = f"EXISTS ({_SAME_PAIR} AND o.period_start > e.period_start AND o.period_start <= :next " \
                  "AND o.period_end >= :next)"
ENTERED = f"e.period_start >= :first AND e.period_start < :next AND NOT {CONTINUES_EARLIER}"
EXITED = f"e.period_end >= :first AND e.period_end < :next AND NOT {CONTINUES_LATER}"
# The enrolment indicators' aggregates, each over its own enrolments (FILTER), all read by one query.
_ENROLMENT_FIGURES = {"beneficiaries": f"COUNT(DISTINCT e.beneficiary_person_id) FILTER (WHERE {ACTIVE})",
                      "beneficiary_households": f"COUNT(DISTINCT e.household_id) FILTER (WHERE {ACTIVE})",
                      "new_entrants": f"COUNT(DISTINCT e.beneficiary_person_id) FILTER (WHERE {ENTERED})",
                      "exits": f"COUNT(DISTINCT e.beneficiary_person_id) FILTER (WHERE {EXITED})"}
_BY_PROGRAMME_AND_REGION, _BY_REGION = (0, 1), (1,)


def _enrolment_figures(m: Month):
    """The enrolment indicators by programme and region, by region (for coverage) and in total, once per month."""
    if "enrolments" not in m.cache:
        m.cache["enrolments"] = m.grouping_sets(
            ["p.code", "r.code"], list(_ENROLMENT_FIGURES.values()),
            f"{ENROLMENTS} {region_join('h.area_id')} WHERE ({ACTIVE}) OR ({ENTERED}) OR ({EXITED})",
            [_BY_PROGRAMME_AND_REGION, _BY_REGION, ()])
    return m.cache["enrolments"]


def _enrolment_indicator(code: str):
    def indicator(m: Month, dims):
        rows, total = _rows_and_total(dims, _enrolment_figures(m), _BY_PROGRAMME_AND_REGION,
                                      list(_ENROLMENT_FIGURES).index(code))
        # A group with none of this indicator's enrolments was read for another one: it is no row of this one.
        return [row for row in rows if row["value"]], total
    return indicator


# --- money ------------------------------------------------------------------------------------------------------

PAYROLL_LINES = ("FROM payroll_line l JOIN month_payroll pr ON pr.id = l.payroll_id "
                 "JOIN programme p ON p.id = pr.programme_id"
                 f"{region_join('pr.area_id')} WHERE pr.period = :period AND pr.status IN {FROZEN_PAYROLLS}")
AMOUNT_STATUSES = {"amount_approved": "l.status <> 'excluded'", "amount_paid": "l.status = 'paid'",
                   "amount_failed": "l.status = 'failed'", "amount_returned": "l.status = 'returned'"}


def _amount(code: str):
    def indicator(m: Month, dims):
        return m.grouped(dims, "COALESCE(SUM(l.amount), 0)", f"{PAYROLL_LINES} AND {AMOUNT_STATUSES[code]}")
    return indicator


# --- cases and certificates -------------------------------------------------------------------------------------

_CASES = f'FROM "case" c {region_join("c.area_id")}'


def cases_received(m: Month, dims):
    return m.grouped(dims, "COUNT(*)", f"{_CASES} WHERE {m.in_month('c.created_at')}")


def cases_resolved(m: Month, dims):
    return m.grouped(dims, "COUNT(*)", f"{_CASES} WHERE {m.in_month('c.resolved_at')}")


CASES_OVERDUE = ("c.created_at < :end AND c.due_date < :next AND (c.resolved_at IS NULL OR c.resolved_at >= :end) "
                 "AND (c.closed_at IS NULL OR c.closed_at >= :end)")


def cases_overdue(m: Month, dims):
    return m.grouped(dims, "COUNT(*)", f"{_CASES} WHERE {CASES_OVERDUE}")


_CERTIFICATES = f"FROM certificate ct JOIN household h ON h.id = ct.household_id {region_join('h.area_id')}"


def certificates_issued(m: Month, dims):
    return m.grouped(dims, "COUNT(*)", f"{_CERTIFICATES} WHERE {m.in_month('ct.issued_at')}")


def certificates_revoked(m: Month, dims):
    return m.grouped(dims, "COUNT(*)", f"{_CERTIFICATES} WHERE {m.in_month('ct.revoked_at')}")


# --- coverage and the multiple-benefit check --------------------------------------------------------------------


LIVING = "pe.birth_date < :next AND (pe.death_date IS NULL OR pe.death_date >= :first)"


def population(m: Month, dims):
    """The people of the register copy alive during the month, once per month (coverage divides by it)."""
    if "population" not in m.cache:
        m.cache["population"] = m.grouped(("region",), "COUNT(*)",
                                          f"FROM person pe {region_join('pe.area_id')} WHERE {LIVING}")
    return m.cache["population"]


def coverage(m: Month, dims):
    """Beneficiaries over the living people of the register copy, per region: both counted by the database."""
    people, people_total = population(m, dims)
    paid, paid_total = _rows_and_total(("region",), _enrolment_figures(m), _BY_REGION)
    counted = {row["region"]: row["value"] for row in paid}

    def share(part, whole):
        return Decimal(part or 0) * 100 / Decimal(whole) if whole else Decimal(0)
    rows = [_row(dims, (row["region"],), share(counted.get(row["region"]), row["value"])) for row in people]
    return rows, share(paid_total, people_total)


def paid_by_several_programmes(m: Month, dims):
    several = ("SELECT e.beneficiary_person_id AS person_id FROM month_payroll pr JOIN payroll_line l ON "
               "l.payroll_id = pr.id JOIN enrolment e ON e.id = l.enrolment_id WHERE l.status <> 'excluded' "
               "GROUP BY e.beneficiary_person_id HAVING COUNT(DISTINCT pr.programme_id) > 1")
    return m.grouped(dims, "COUNT(*)", f"FROM ({several}) s JOIN person pe ON pe.id = s.person_id "
                                       f"{region_join('pe.area_id')}")


def in_several_households(m: Month, dims):
    several = (f"SELECT e.beneficiary_person_id AS person_id FROM enrolment e WHERE {ACTIVE} "
               "GROUP BY e.beneficiary_person_id HAVING COUNT(DISTINCT e.household_id) > 1")
    return m.grouped(dims, "COUNT(*)", f"FROM ({several}) s JOIN person pe ON pe.id = s.person_id "
                                       f"{region_join('pe.area_id')}")


QUERIES: dict[str, Callable] = {
    "applications_received": applications_received,
    "applications_decided": applications_decided,
    "applications_eligible": _decided_as("eligible"),
    "applications_ineligible": _decided_as("ineligible"),
    "decision_days_median": _decision_days(0.5),
    "decision_days_p95": _decision_days(0.95),
    "refusal_reasons": refusal_reasons,
    **{code: _enrolment_indicator(code) for code in _ENROLMENT_FIGURES},
    **{code: _amount(code) for code in AMOUNT_STATUSES},
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
