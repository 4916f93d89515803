"""Running, saving and deleting ad hoc reports.

A report is its `Definition`: indicators, up to two breakdowns (rows, and columns or the chart's series), months,
filters. Running it reads the reporting summary (summary.query) within the reader's reach (scope.py): a regional
reader filtering on another region gets nothing of it. Saving keeps the definition under a name of the reader's
own; the figures are read afresh each time it runs. Operations flush; the request's boundary commits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import delete, select

from modules.reporting import summary
from modules.reporting.adhoc.models import SavedReport
from modules.reporting.scope import Reach
from webapp import audit
from webapp.extensions import db
from webapp.models import Area, Programme
from webapp.models.area import AreaLevel
from webapp.timeutil import local_today, month_of, utcnow

PERIOD = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")  # YYYY-MM
FILTERS = ("programme", "region", "district", "sex", "age_band", "household_size")
MAX_MONTHS = 120
DEFAULT_MONTHS = 12
MAX_SAVED = 200  # saved reports per person


@dataclass(frozen=True)
class Definition:
    indicators: tuple[str, ...]
    rows: str | None
    columns: str | None
    first: str
    last: str
    filters: dict[str, list[str]] = field(default_factory=dict)

    @property
    def dimensions(self) -> list[str]:
        return [dimension for dimension in (self.rows, self.columns) if dimension]

    def to_json(self) -> dict:
        return {"indicators": list(self.indicators), "rows": self.rows, "columns": self.columns,
                "first": self.first, "last": self.last, "filters": {k: list(v) for k, v in self.filters.items()}}

    def params(self) -> list[tuple[str, str]]:
        """The report's query string as pairs: its address, for links, exports and saved reports."""
        pairs = [("indicators", code) for code in self.indicators]
        pairs += [(name, value) for name, value in (("rows", self.rows), ("columns", self.columns)) if value]
        pairs += [("first", self.first), ("last", self.last)]
        pairs += [(name, str(value)) for name in FILTERS for value in self.filters.get(name, ())]
        return pairs

    @staticmethod
    def args_of_json(definition: dict) -> dict:
        """A saved definition as ReportArgs reads it (filters flattened beside the rest). A moving one (`"moving":
        true`) covers as many months as when it was saved, ending last month."""
        definition = definition if isinstance(definition, dict) else {}
        filters = definition.get("filters") if isinstance(definition.get("filters"), dict) else {}
        args = {**{key: definition.get(key) for key in ("indicators", "rows", "columns", "first", "last")},
                **{name: filters.get(name) or [] for name in FILTERS}}
        count = moving_months(definition)
        if count:
            args["first"], args["last"] = month_of(local_today(), -count), month_of(local_today(), -1)
        return args


def moving_months(definition: dict) -> int | None:
    """How many months a moving saved report covers; None for one of fixed months."""
    first, last = definition.get("first"), definition.get("last")
    if definition.get("moving") is not True or not all(isinstance(v, str) and PERIOD.match(v) for v in (first, last)):
        return None
    return len(months_between(first, last)) or None


@dataclass(frozen=True)
class Choices:
    """What each parameter may hold: codes of the summary and of the registry's programmes and areas."""

    indicators: tuple[str, ...]
    programmes: frozenset[str]
    regions: frozenset[str]
    districts: dict[str, str] = field(default_factory=dict)  # {district code: its region's code}
    current_month: str = "2099-12"

    def allowed(self, name: str) -> set:
        fixed = {"sex": {"F", "M"}, "age_band": {band for band, _years in summary.AGE_BANDS},
                 "household_size": {str(size) for size in summary.HOUSEHOLD_SIZES}}
        if name in fixed:
            return fixed[name]
        return set({"programme": self.programmes, "region": self.regions, "district": self.districts,
                    "indicators": self.indicators}.get(name, ()))


def choices() -> Choices:
    """The codes a report may name, read in three queries."""
    regions = {area_id: code for area_id, code in db.session.execute(
        select(Area.id, Area.code).where(Area.level == AreaLevel.region))}
    districts = {code: regions.get(parent) for code, parent in db.session.execute(
        select(Area.code, Area.parent_id).where(Area.level == AreaLevel.district))}
    return Choices(summary.indicators_in_summary(), frozenset(db.session.scalars(select(Programme.code))),
                   frozenset(regions.values()), districts, summary.current_month())


def months_between(first: str, last: str) -> list[str]:
    """The months from `first` to `last` (YYYY-MM), both included."""
    start = int(first[:4]) * 12 + int(first[5:]) - 1
    end = int(last[:4]) * 12 + int(last[5:]) - 1
    return [f"{index // 12:04d}-{index % 12 + 1:02d}" for index in range(start, end + 1)]


def default_months() -> tuple[str, str]:
    """The twelve months ending last month: the last whole months the summary has."""
    today = local_today()
    return month_of(today, -DEFAULT_MONTHS), month_of(today, -1)


def run(definition: Definition, reach: Reach) -> list[dict]:
    """The report's figures as summary.query gives them, kept to what the reader may see."""
    filters = {name: list(values) for name, values in definition.filters.items()}
    if reach.districts is not None:
        chosen = set(filters.get("district") or reach.districts) & reach.districts
        if not chosen:
            return []
        filters["district"] = sorted(chosen)
    if "household_size" in filters:
        filters["household_size"] = [int(size) for size in filters["household_size"]]
    regions = None if reach.regions is None else set(reach.regions)
    return summary.query(list(definition.indicators), definition.dimensions, definition.first, definition.last,
                         filters, regions)


def _audited(definition: Definition) -> dict:
    return {"indicators": list(definition.indicators), "dimensions": definition.dimensions,
            "from": definition.first, "to": definition.last, "filters": definition.to_json()["filters"]}


def record_export(definition: Definition, fmt: str, language: str, rows: int) -> None:
    audit.record("adhoc_report.exported", "adhoc_report", f"{definition.first}..{definition.last}",
                 {**_audited(definition), "format": fmt, "language": language, "rows": rows})


def saved_reports(user) -> list[SavedReport]:
    return list(db.session.scalars(select(SavedReport).where(SavedReport.owner_id == user.id)
                                   .order_by(SavedReport.name)))


class TooManySaved(Exception):
    pass


def save(user, name: str, definition: Definition, moving: bool = False) -> tuple[SavedReport, bool]:
    """Save the definition under `name`, replacing the reader's report of that name; returns it and whether it
    is new. A moving report runs on as many months, ending the month before the day it is run. Raises
    TooManySaved past MAX_SAVED reports."""
    kept = {**definition.to_json(), "moving": moving}
    row = db.session.scalar(select(SavedReport).where(SavedReport.owner_id == user.id, SavedReport.name == name))
    created = row is None
    if created:
        count = db.session.query(SavedReport.id).filter(SavedReport.owner_id == user.id).count()
        if count >= MAX_SAVED:
            raise TooManySaved
        row = SavedReport(owner_id=user.id, name=name, definition=kept)
        db.session.add(row)
    else:
        row.definition, row.updated_at = kept, utcnow()
    db.session.flush()
    audit.record("adhoc_report.saved", "saved_report", row.id, {"name": name, "new": created, "moving": moving,
                                                                  **_audited(definition)})
    return row, created


def delete_saved(user, report_id: int) -> SavedReport | None:
    """Delete the reader's saved report; None when they have none of that id."""
    row = db.session.scalar(select(SavedReport).where(SavedReport.id == report_id, SavedReport.owner_id == user.id))
    if row is None:
        return None
    audit.record("adhoc_report.deleted", "saved_report", row.id, {"name": row.name})
    db.session.execute(delete(SavedReport).where(SavedReport.id == row.id))
    return row
