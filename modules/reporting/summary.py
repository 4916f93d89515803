"""The reporting summary: every month's indicators by programme, region, district, sex, age band, household size
and reason, rebuilt set-based for a whole month at a time, so that dashboards and ad hoc reports add up a few
thousand rows instead of scanning payroll lines and enrolments while someone waits.

A month is rebuilt by `refresh(period)`: the month's enrolments are read once into a temporary table with
everything the indicators group by (their beneficiary's place, sex, age band, household size, and why they came in
or left), and each indicator is one INSERT … SELECT … GROUP BY from it or from the month's other records. What
changes the figures (a decision, a payroll, a bank statement) leaves a mark (`mark`); the periodic job
`refresh_summaries` rebuilds the marked months and deletes the marks it read.

The definitions are the monthly return's (month.py): the same active, entering and leaving enrolments,
the same frozen payrolls, the same month bounds.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, delete, func, select

from modules.reporting import month as definitions
from modules.reporting.indicators import indicators
from modules.reporting.models import SummaryMark, SummaryMonth, SummaryRow
from webapp.extensions import db
from webapp.timeutil import local_today, month_of, utcnow

COLUMNS = ("programme", "region", "district", "sex", "age_band", "household_size", "reason")
AGE_BANDS = (("0-2", 3), ("3-5", 6), ("6-17", 18), ("18-29", 30), ("30-59", 60), ("60+", None))
HOUSEHOLD_SIZES = (1, 2, 3, 4, 5, 6)  # 6 stands for 6 or more
ENTRY_REASONS = ("claim", "change", "appeal", "returning")
EXIT_REASONS = ("death", "stopped", "term_ended")
# Indicators counted per person or household: their rows with no programme count everyone once.
DISTINCT_COUNTS = ("beneficiaries", "beneficiary_households", "new_entrants", "exits")
# Figures of a moment rather than of a month's flow: over several months, the last month's is the figure.
STOCKS = ("beneficiaries", "beneficiary_households", "cases_overdue", "population", "in_several_households")
_MONTH_PAYROLLS = f"pr.period = :period AND pr.status IN {definitions.FROZEN_PAYROLLS}"
MONTHS_KEPT = 36  # marks reaching further back than this are rebuilt from this many months ago

# Each area's region and district (none for an area that is itself a region), resolved once per refresh by the
# prefix of its materialised path.
_PLACES = """CREATE TEMPORARY TABLE month_place AS
    SELECT a.id AS area_id, r.code AS region, d.code AS district FROM area a
    JOIN area r ON r.level = 'region' AND a.path LIKE r.path || '%'
    LEFT JOIN area d ON d.level = 'district' AND a.path LIKE d.path || '%'"""


def _age_band(birth_date: str) -> str:
    """CASE giving the band of the age reached on the month's first day (the bounds are bound as :age_N)."""
    cases = " ".join(f"WHEN {birth_date} > :age_{years} THEN '{band}'" for band, years in AGE_BANDS if years)
    return f"CASE {cases} ELSE '{AGE_BANDS[-1][0]}' END"


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _natural_end(month: definitions.Month) -> str:
    """The last day of an enrolment's granted months: ending before it, it was stopped."""
    if month.dialect == "postgresql":
        return "(e.period_start + make_interval(months => e.months) - INTERVAL '1 day')::date"
    return "date(e.period_start, '+' || e.months || ' months', '-1 day')"


# Whether an enrolment takes over from, or hands over to, the same person's enrolment in the same programme. Looked
# up by the person's index only for the enrolments starting or ending in the month (a twelfth of them, usually):
# cheaper than hashing every enrolment in force to answer it.
_SAME_PAIR = ("SELECT 1 FROM enrolment o WHERE o.beneficiary_person_id = e.beneficiary_person_id "
              "AND o.programme_id = e.programme_id AND o.id <> e.id")
_ENTERED = (f"{definitions.STARTS_IN_MONTH} AND NOT EXISTS ({_SAME_PAIR} AND o.period_start < e.period_start "
            "AND o.period_end >= :before)")
_EXITED = (f"{definitions.ENDS_IN_MONTH} AND NOT EXISTS ({_SAME_PAIR} AND o.period_start > e.period_start "
           "AND o.period_start <= :next AND o.period_end >= :next)")


# The enrolments the month's payrolls pay (a line that is not excluded), joined by hash: as `IN (…)` in the list
# of columns PostgreSQL may run the subquery once per enrolment.
_PAID = ("SELECT DISTINCT l.enrolment_id FROM payroll pr JOIN payroll_line l ON l.payroll_id = pr.id "
         f"WHERE {_MONTH_PAYROLLS} AND l.status <> 'excluded'")


def _enrolments(month: definitions.Month) -> str:
    """Every enrolment of the month (active, entering, leaving, or paid by its payrolls) with what the summary groups
    it by, why its person came in (the application's purpose, or returning after a break) and why they left."""
    return f"""CREATE TEMPORARY TABLE month_enrolment AS
    SELECT e.id AS id, p.code AS programme, pl.region AS region, pl.district AS district, pe.sex AS sex,
        {_age_band('pe.birth_date')} AS age_band, e.household_id AS household_id,
        e.beneficiary_person_id AS person_id, mh.size AS household_size,
        CASE WHEN {definitions.ACTIVE} THEN 1 ELSE 0 END AS active,
        CASE WHEN paid.enrolment_id IS NULL THEN 0 ELSE 1 END AS paid,
        CASE WHEN {_ENTERED} THEN CASE WHEN EXISTS (SELECT 1 FROM enrolment o
            WHERE o.beneficiary_person_id = e.beneficiary_person_id AND o.programme_id = e.programme_id
            AND o.period_start < e.period_start) THEN 'returning'
            ELSE (SELECT ap.purpose FROM application ap WHERE ap.id = e.application_id) END END AS entry,
        CASE WHEN {_EXITED} THEN CASE
            WHEN pe.death_date IS NOT NULL AND pe.death_date < :next THEN 'death'
            WHEN e.status = 'ended' OR e.period_end < {_natural_end(month)} THEN 'stopped'
            ELSE 'term_ended' END END AS leaving
    {definitions.ENROLMENTS} JOIN person pe ON pe.id = e.beneficiary_person_id
    JOIN month_place pl ON pl.area_id = h.area_id LEFT JOIN month_household mh ON mh.household_id = e.household_id
    LEFT JOIN ({_PAID}) paid ON paid.enrolment_id = e.id
    WHERE ({definitions.ACTIVE}) OR ({definitions.STARTS_IN_MONTH}) OR ({definitions.ENDS_IN_MONTH})
        OR paid.enrolment_id IS NOT NULL"""


# The people in each household with an enrolment touching the month, who had not left it before the month, 6
# standing for 6 or more. When someone joined is not asked: a household copied from the population register carries
# the day of the copy as everyone's joining day, which says nothing about when they came.
_HOUSEHOLDS = """CREATE TEMPORARY TABLE month_household AS
    SELECT m.household_id AS household_id, CASE WHEN COUNT(*) >= 6 THEN 6 ELSE COUNT(*) END AS size
    FROM household_member m WHERE m.household_id IN (SELECT e.household_id FROM enrolment e
        WHERE e.period_start < :next AND e.period_end >= :first)
    AND (m.left_at IS NULL OR m.left_at >= :first) GROUP BY m.household_id"""

_TEMPORARY = ("month_line", "month_enrolment", "month_household", "month_place")


def _insert(indicator: str, columns: dict[str, str], value: str, source: str) -> str:
    """INSERT the month's rows of `indicator`: `columns` {summary column: SQL}, grouped by all of them."""
    names = ", ".join(["period", "indicator", *COLUMNS, "value"])
    selected = ", ".join(columns.get(column, "NULL") for column in COLUMNS)
    grouped = ", ".join(columns.values())
    group_by = f" GROUP BY {grouped}" if grouped else ""
    return (f"INSERT INTO report_summary ({names}) SELECT :period, '{indicator}', {selected}, {value} "
            f"{source}{group_by}")


_PLACE = ("region", "district")
_PERSON = (*_PLACE, "sex", "age_band", "household_size")


def _counted(indicator: str, columns: tuple[str, ...], key: str, condition: str, distinct: bool = True,
             reason: str | None = None) -> str:
    """The month's enrolments counted by `columns` (and by the `reason` column given), each `key` (a person, a
    household) once per group: as the groups of the DISTINCT rows, which the database hashes, rather than
    COUNT(DISTINCT), which it sorts."""
    selected = ", ".join([*columns, *([f"{reason} AS reason"] if reason else [])])
    rows = (f"(SELECT DISTINCT {key}, {selected} FROM month_enrolment WHERE {condition})" if distinct
            else f"(SELECT {selected} FROM month_enrolment WHERE {condition})")
    grouped = {column: f"d.{column}" for column in (*columns, *(["reason"] if reason else []))}
    return _insert(indicator, grouped, "COUNT(*)", f"FROM {rows} d")


def _enrolment_inserts() -> list[str]:
    """People and households, each by programme and again over all programmes (counted once)."""
    by_programme = ("programme",)
    return [
        # A person has one enrolment not ended per programme (a unique index): by programme, rows are people.
        _counted("beneficiaries", (*by_programme, *_PERSON), "person_id", "active = 1", distinct=False),
        _counted("beneficiaries", _PERSON, "person_id", "active = 1"),
        _counted("beneficiary_households", (*by_programme, *_PLACE, "household_size"), "household_id", "active = 1"),
        _counted("beneficiary_households", (*_PLACE, "household_size"), "household_id", "active = 1"),
        *(_counted(indicator, (*programme, *_PERSON), "person_id", f"{reason} IS NOT NULL", reason=reason)
          for indicator, reason in (("new_entrants", "entry"), ("exits", "leaving"))
          for programme in (by_programme, ())),
    ]


def _multiple_benefit_inserts() -> list[str]:
    """People paid by more than one programme in the month, and people enrolled in more than one household, by
    region (a person in households of two regions, in the first)."""
    several = ("FROM (SELECT MIN(region) AS region FROM month_enrolment WHERE {condition} "
               "GROUP BY person_id HAVING COUNT(DISTINCT {what}) > 1) d")
    return [_insert(indicator, {"region": "d.region"}, "COUNT(*)", several.format(condition=condition, what=what))
            for indicator, condition, what in (("paid_by_several_programmes", "paid = 1", "programme"),
                                               ("in_several_households", "active = 1", "household_id"))]


# The month's payroll lines summed by the beneficiary's place and person (month_enrolment holds every enrolment the
# month's payrolls pay) and by the line's status, in one pass; the region is the payroll's, as in the return and
# its reconciliation.
_LINES = f"""CREATE TEMPORARY TABLE month_line AS
    SELECT p.code AS programme, rp.region AS region, me.district AS district, me.sex AS sex,
        me.age_band AS age_band, me.household_size AS household_size, l.status AS status, SUM(l.amount) AS amount
    FROM payroll pr JOIN payroll_line l ON l.payroll_id = pr.id JOIN programme p ON p.id = pr.programme_id
    JOIN month_place rp ON rp.area_id = pr.area_id JOIN month_enrolment me ON me.id = l.enrolment_id
    WHERE {_MONTH_PAYROLLS}
    GROUP BY p.code, rp.region, me.district, me.sex, me.age_band, me.household_size, l.status"""


def _amount_inserts() -> list[str]:
    columns = {column: f"l.{column}" for column in ("programme", *_PERSON)}
    return [_insert(code, columns, "COALESCE(SUM(l.amount), 0)", f"FROM month_line l WHERE {condition}")
            for code, condition in definitions.AMOUNT_STATUSES.items()]


def _record_inserts(month: definitions.Month) -> list[str]:
    """Applications, refusals, cases, certificates and the registered population, by region and district."""
    place = {"region": "pl.region", "district": "pl.district"}
    applications = "FROM application ap JOIN month_place pl ON pl.area_id = ap.area_id"
    assessments = ("FROM assessment a JOIN application ap ON ap.id = a.application_id "
                   "JOIN month_place pl ON pl.area_id = ap.area_id")
    decided_last = f"{month.in_month('a.created_at')} AND {definitions.LAST_IN_MONTH}"
    if month.dialect == "postgresql":
        expand, rule = "CROSS JOIN LATERAL json_array_elements(a.reasons) AS r(value)", "r.value ->> 'rule'"
    else:
        expand, rule = "JOIN json_each(a.reasons) r", "json_extract(r.value, '$.rule')"
    cases = 'FROM "case" c JOIN month_place pl ON pl.area_id = c.area_id'
    certificates = ("FROM certificate ct JOIN household h ON h.id = ct.household_id "
                    "JOIN month_place pl ON pl.area_id = h.area_id")
    by_kind = {**place, "reason": "c.kind"}
    return [
        _insert("applications_received", place, "COUNT(*)",
                f"{applications} WHERE {month.in_month('ap.submitted_at')}"),
        _insert("applications_decided", place, "COUNT(*)",
                f"{applications} WHERE EXISTS (SELECT 1 FROM assessment a WHERE a.application_id = ap.id "
                f"AND {month.in_month('a.created_at')})"),
        _insert("applications_eligible", place, "COUNT(*)", f"{assessments} WHERE {decided_last} "
                                                            "AND a.decision = 'eligible'"),
        _insert("applications_ineligible", place, "COUNT(*)", f"{assessments} WHERE {decided_last} "
                                                              "AND a.decision = 'ineligible'"),
        _insert("refusal_reasons", {**place, "reason": rule}, "COUNT(DISTINCT a.id)",
                f"{assessments} {expand} WHERE {decided_last} AND a.decision = 'ineligible' AND {rule} IS NOT NULL"),
        _insert("cases_received", by_kind, "COUNT(*)", f"{cases} WHERE {month.in_month('c.created_at')}"),
        _insert("cases_resolved", by_kind, "COUNT(*)", f"{cases} WHERE {month.in_month('c.resolved_at')}"),
        _insert("cases_overdue", by_kind, "COUNT(*)", f"{cases} WHERE {definitions.CASES_OVERDUE}"),
        _insert("certificates_issued", place, "COUNT(*)", f"{certificates} WHERE {month.in_month('ct.issued_at')}"),
        _insert("certificates_revoked", place, "COUNT(*)", f"{certificates} WHERE {month.in_month('ct.revoked_at')}"),
        _insert("population", {**place, "sex": "pe.sex", "age_band": _age_band("pe.birth_date")}, "COUNT(*)",
                "FROM person pe JOIN month_place pl ON pl.area_id = pe.area_id "
                f"WHERE {definitions.LIVING}"),
    ]


def refresh(period: str) -> int:
    """Rebuild the month's summary rows; returns how many there are. Flushes; the caller commits."""
    month = definitions.Month(period)
    ages = {f"age_{years}": (_years_before(month.first, years), Date()) for _band, years in AGE_BANDS if years}
    if month.dialect == "postgresql":  # one rebuild of a month at a time; a second waits, then rebuilds again
        month.execute("SELECT pg_advisory_xact_lock(hashtext('report_summary:' || :period))")
    db.session.flush()
    db.session.execute(delete(SummaryRow).where(SummaryRow.period == period))
    for table in _TEMPORARY:
        month.execute(f"DROP TABLE IF EXISTS {table}")
    if month.dialect == "postgresql":
        # Big hash joins and sorts in memory rather than in batches on disk, and no JIT compilation: it costs more
        # than it saves on statements that run once. For this transaction only.
        month.execute("SET LOCAL work_mem = '256MB'")
        month.execute("SET LOCAL jit = off")
    try:
        for table, statement in (("month_place", _PLACES), ("month_household", _HOUSEHOLDS),
                                 ("month_enrolment", _enrolments(month)), ("month_line", _LINES)):
            month.execute(statement, **ages)
            if month.dialect == "postgresql":  # temporary tables are never analysed on their own
                month.execute(f"ANALYZE {table}")
        for statement in [*_enrolment_inserts(), *_multiple_benefit_inserts(), *_amount_inserts(),
                          *_record_inserts(month)]:
            month.execute(statement, **ages)
    finally:
        for table in _TEMPORARY:
            month.execute(f"DROP TABLE IF EXISTS {table}")
    rows = db.session.scalar(select(func.count(SummaryRow.id)).where(SummaryRow.period == period))
    state = db.session.get(SummaryMonth, period) or SummaryMonth(period=period)
    state.refreshed_at, state.rows = utcnow(), rows
    db.session.add(state)
    db.session.flush()
    return rows


def current_month() -> str:
    return month_of(local_today())


def mark(first_period: str, last_period: str | None = None) -> None:
    """Note that the figures of the months from `first_period` to `last_period` (the current month by default)
    changed. Flushes nothing: the mark is written with the caller's transaction."""
    last_period = max(first_period, last_period or current_month())
    db.session.add(SummaryMark(first_period=first_period, last_period=last_period))


def _months(first: str, last: str) -> list[str]:
    year, month = int(first[:4]), int(first[5:])
    found = []
    while (period := f"{year:04d}-{month:02d}") <= last:
        found.append(period)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def marked_months() -> tuple[list[str], int | None]:
    """The months the marks name (none older than MONTHS_KEPT), and the last mark read."""
    marks = db.session.execute(select(SummaryMark.id, SummaryMark.first_period, SummaryMark.last_period)).all()
    if not marks:
        return [], None
    oldest = month_of(local_today(), -MONTHS_KEPT)  # an appeal of long ago changes little worth the wait
    periods = set()
    for _id, first, last in marks:
        periods.update(_months(max(first, oldest), max(first, last)))
    return sorted(periods), max(mark_id for mark_id, _first, _last in marks)


def refresh_marked() -> list[str]:
    """Rebuild every marked month and delete the marks read; returns the months rebuilt."""
    periods, last_mark = marked_months()
    for period in periods:
        refresh(period)
    if last_mark is not None:
        db.session.execute(delete(SummaryMark).where(SummaryMark.id <= last_mark))
    return periods


def refreshed_at(period: str):
    state = db.session.get(SummaryMonth, period)
    return state.refreshed_at if state is not None else None


# --- reading ------------------------------------------------------------------------------------------------------

DIMENSIONS = ("period", *COLUMNS)
# Coverage is beneficiaries over the registered population of the same slice: only slices the population has.
_COVERAGE_DIMENSIONS = {"period", "region", "district", "sex", "age_band"}
DERIVED = ("coverage",)


def indicators_in_summary() -> tuple[str, ...]:
    """The indicators an ad hoc report can choose, in the indicators file's order."""
    kept = {*_SUMMED, *DERIVED}
    return tuple(indicator.code for indicator in indicators() if indicator.code in kept)


_SUMMED = ("applications_received", "applications_decided", "applications_eligible", "applications_ineligible",
           "refusal_reasons", *DISTINCT_COUNTS, *definitions.AMOUNT_STATUSES, "cases_received", "cases_resolved",
           "cases_overdue", "certificates_issued", "certificates_revoked", "population", "paid_by_several_programmes",
           "in_several_households")


def _summed(indicator: str, dimensions, first: str, last: str, filters: dict, regions) -> dict[tuple, object]:
    """{keys: value} of one summed indicator over the months and slices asked for."""
    columns = [getattr(SummaryRow, dimension) for dimension in dimensions]
    conditions = [SummaryRow.indicator == indicator, SummaryRow.period <= last,
                  SummaryRow.period >= (last if indicator in STOCKS and "period" not in dimensions else first)]
    if indicator in DISTINCT_COUNTS:
        by_programme = "programme" in dimensions or filters.get("programme")
        conditions.append(SummaryRow.programme.is_not(None) if by_programme else SummaryRow.programme.is_(None))
    for dimension, values in filters.items():
        if values:
            conditions.append(getattr(SummaryRow, dimension).in_(list(values)))
    if regions is not None:
        conditions.append(SummaryRow.region.in_(sorted(regions)))
    statement = select(*columns, func.sum(SummaryRow.value)).where(*conditions).group_by(*columns)
    return {tuple(row[:-1]): row[-1] for row in db.session.execute(statement) if row[-1] is not None}


def _coverage(dimensions, first: str, last: str, filters: dict, regions) -> dict[tuple, object]:
    if not set(dimensions) <= _COVERAGE_DIMENSIONS:
        return {}
    kept = {key: values for key, values in filters.items() if key in _COVERAGE_DIMENSIONS}
    paid = _summed("beneficiaries", dimensions, first, last, filters, regions)
    people = _summed("population", dimensions, first, last, kept, regions)
    return {keys: (paid.get(keys) or 0) * 100 / whole for keys, whole in people.items() if whole}


def query(indicators, dimensions, first: str, last: str, filters: dict | None = None,
          regions: set[str] | None = None) -> list[dict]:
    """The indicators by the dimensions over the months `first`..`last`, from the summary.

    Returns [{<dimension>: key, …, "values": {indicator: number}}] sorted by the keys. Flows (applications,
    amounts, cases received…) add up over the months; stocks (beneficiaries, households, overdue cases, the
    population) are the last month's unless the months are a dimension. `filters` {dimension: [values]} keep only
    those slices; `regions` (None for all) keeps the reader's regions. A dimension an indicator does not break down
    by gives the key None."""
    filters = {key: values for key, values in (filters or {}).items() if key in COLUMNS}
    found: dict[tuple, dict[str, object]] = {}
    for indicator in indicators:
        if indicator == "coverage":
            values = _coverage(dimensions, first, last, filters, regions)
        else:
            values = _summed(indicator, dimensions, first, last, filters, regions)
        for keys, value in values.items():
            found.setdefault(keys, {})[indicator] = definitions.number(value)
    rows = [{**dict(zip(dimensions, keys, strict=True)), "values": values} for keys, values in found.items()]
    return sorted(rows, key=lambda row: tuple((row[d] is not None, str(row[d] or "")) for d in dimensions))
