"""What every query of the monthly return and of the reporting summary shares: the month's bounds bound as
parameters, the common tables, and the definitions of the month's active, entering and leaving enrolments, its
frozen payrolls, overdue cases and living people, written once.

- The month is the country's calendar month (Asia/Tashkent by default): timestamps are compared with the UTC
  instants at which its first day and the next month's first day begin.
- A region is an area of level "region"; anything placed in an area is counted in the region whose materialised
  path starts its own.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Date, DateTime, String, bindparam, text

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
        return rows_and_total(dims, found, everything)

    def in_month(self, column: str) -> str:
        return f"{column} >= :start AND {column} < :end"

    def days(self, later: str, earlier: str) -> str:
        if self.dialect == "postgresql":
            return f"EXTRACT(EPOCH FROM ({later} - {earlier})) / 86400.0"
        return f"(julianday({later}) - julianday({earlier}))"


def rows_and_total(dims, found, group, value: int = 0) -> tuple[list[dict], object]:
    """One set's rows and the total from Month.grouping_sets (the value at index `value` of the aggregates)."""
    total = found[()][0][1][value] if found[()] else None
    return [row_of(dims, keys, values[value]) for keys, values in found[group]], total


def row_of(dims, keys, value) -> dict:
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


LAST_IN_MONTH = """NOT EXISTS (SELECT 1 FROM assessment b WHERE b.application_id = a.application_id
    AND b.created_at >= :start AND b.created_at < :end
    AND (b.created_at > a.created_at OR (b.created_at = a.created_at AND b.id > a.id)))"""

ACTIVE = "e.period_start < :next AND e.period_end >= :first AND e.status <> 'ended'"
ENROLMENTS = "FROM enrolment e JOIN programme p ON p.id = e.programme_id JOIN household h ON h.id = e.household_id"


# An enrolment starting in the month brings its person into the programme, and one ending in it lets them go,
# unless it takes over from or hands over to the same person's enrolment in the same programme (a re-assessment,
# an appeal): entrants and exits are people not paid the month before, or not the month after. The summary
# (summary.py) tells those apart.
STARTS_IN_MONTH = "e.period_start >= :first AND e.period_start < :next"
ENDS_IN_MONTH = "e.period_end >= :first AND e.period_end < :next"
# The enrolment indicators' aggregates, each over its own enrolments (FILTER), all read by one query.

PAYROLL_LINES = ("FROM payroll_line l JOIN month_payroll pr ON pr.id = l.payroll_id "
                 "JOIN programme p ON p.id = pr.programme_id"
                 f"{region_join('pr.area_id')} WHERE pr.period = :period AND pr.status IN {FROZEN_PAYROLLS}")
AMOUNT_STATUSES = {"amount_approved": "l.status <> 'excluded'", "amount_paid": "l.status = 'paid'",
                   "amount_failed": "l.status = 'failed'", "amount_returned": "l.status = 'returned'"}

CASES_OVERDUE = ("c.created_at < :end AND c.due_date < :next AND (c.resolved_at IS NULL OR c.resolved_at >= :end) "
                 "AND (c.closed_at IS NULL OR c.closed_at >= :end)")

LIVING = "pe.birth_date < :next AND (pe.death_date IS NULL OR pe.death_date >= :first)"
