"""Policy simulation: what a draft policy would change for every household the registry has assessed.

The baseline is each household's latest assessment of the pack (one per household, the highest id). Its stored
facts, read in bulk into columns (`bulk_facts`: on PostgreSQL the database takes the documents apart), are
evaluated twice with the batch (pandas) engine: under the version in force on the household's
application date (recomputed, not read from the stored amounts, so that both sides are computed the same way)
and under the draft, which is that version with some parameters changed or, when a whole draft pack is given,
the draft pack's version in force on that date (with the changed parameters, if any, on top). Households are
grouped by version so that each group is one vectorised `evaluate_frames` call.

The report counts households and people newly eligible and newly ineligible, the monthly cost (the sum of the
programme amounts of eligible households) before and after by programme and by region, and lists every
household whose decision or monthly amount changes (`SimulationReport.csv_rows()` / `write_csv`).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import select

from modules.means_test import bulk_facts
from rules.evaluation import INCOME_NAME, reason_message
from rules.pack import Pack, PackError, Version, get_pack, load_pack
from rules.vectorised import evaluate_frames
from webapp.extensions import db
from webapp.models import Area, AreaLevel

DRAFT_FILE = "draft.yaml"
NO_REGION = bulk_facts.NO_REGION
CSV_COLUMNS = ["household_id", "application_id", "region", "members", "decision_before", "decision_after",
               "per_capita_income", "monthly_amount_before", "monthly_amount_after", "monthly_change",
               "main_reason_rule", "main_reason"]


@dataclass
class CostRow:
    code: str
    name: str
    before: float = 0.0
    after: float = 0.0

    @property
    def change(self) -> float:
        return round(self.after - self.before, 2)

    def as_dict(self) -> dict:
        return {"code": self.code, "name": self.name, "before": round(self.before, 2), "after": round(self.after, 2),
                "change": self.change}


@dataclass
class HouseholdChange:
    household_id: int
    application_id: int
    region: str
    members: int
    decision_before: str
    decision_after: str
    per_capita_income: float  # under the draft
    monthly_amount_before: float
    monthly_amount_after: float
    main_reason_rule: str  # the first rule that makes the household ineligible under the draft ("" if eligible)
    main_reason: str

    @property
    def monthly_change(self) -> float:
        return round(self.monthly_amount_after - self.monthly_amount_before, 2)

    def row(self) -> list:
        return [self.household_id, self.application_id, self.region, self.members, self.decision_before,
                self.decision_after, _plain(self.per_capita_income), _plain(self.monthly_amount_before),
                _plain(self.monthly_amount_after), _plain(self.monthly_change), self.main_reason_rule,
                self.main_reason]


@dataclass
class SimulationReport:
    pack_id: str
    changes: dict  # parameter → new value
    draft: str  # "parameters" or the draft pack's file name
    as_of: date | None
    households: int = 0  # assessed households simulated
    people: int = 0
    skipped: int = 0  # latest assessments whose stored facts cannot be evaluated (no members or no date)
    eligible_before: int = 0
    eligible_after: int = 0
    newly_eligible_households: int = 0
    newly_eligible_people: int = 0
    newly_ineligible_households: int = 0
    newly_ineligible_people: int = 0
    programmes: list[CostRow] = field(default_factory=list)
    regions: list[CostRow] = field(default_factory=list)
    changed: list[HouseholdChange] = field(default_factory=list)

    @property
    def cost_before(self) -> float:
        return round(sum(row.before for row in self.programmes), 2)

    @property
    def cost_after(self) -> float:
        return round(sum(row.after for row in self.programmes), 2)

    @property
    def cost_change(self) -> float:
        return round(self.cost_after - self.cost_before, 2)

    def csv_rows(self) -> list[list]:
        """The changed households as CSV rows, header first."""
        return [list(CSV_COLUMNS), *(change.row() for change in self.changed)]

    def write_csv(self, handle) -> int:
        """Write the changes to an open text file; returns the number of households written."""
        csv.writer(handle).writerows(self.csv_rows())
        return len(self.changed)

    def to_dict(self) -> dict:
        return {
            "pack": self.pack_id, "draft": self.draft, "changes": self.changes,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "households": self.households, "people": self.people, "skipped": self.skipped,
            "eligible_before": self.eligible_before, "eligible_after": self.eligible_after,
            "newly_eligible": {"households": self.newly_eligible_households, "people": self.newly_eligible_people},
            "newly_ineligible": {"households": self.newly_ineligible_households,
                                 "people": self.newly_ineligible_people},
            "monthly_cost": {"before": self.cost_before, "after": self.cost_after, "change": self.cost_change},
            "programmes": [row.as_dict() for row in self.programmes],
            "regions": [row.as_dict() for row in self.regions],
            "changed": [{**asdict(change), "monthly_change": change.monthly_change} for change in self.changed],
        }


# --- a simulation in parts (one per region) merged into one report ------------------------------------------------

_COUNTS = ("households", "people", "skipped", "eligible_before", "eligible_after", "newly_eligible_households",
           "newly_eligible_people", "newly_ineligible_households", "newly_ineligible_people")


def partial(report: SimulationReport) -> dict:
    """A report of some households as plain values, the sums unrounded, for `merge` to add up with the others."""
    return {"pack": report.pack_id, "changes": report.changes, "draft": report.draft,
            "as_of": report.as_of.isoformat() if report.as_of else None,
            **{name: getattr(report, name) for name in _COUNTS},
            "programmes": [asdict(row) for row in report.programmes],
            "regions": [asdict(row) for row in report.regions],
            "changed": [asdict(change) for change in report.changed]}


def merge(parts: list[dict]) -> SimulationReport:
    """One report from the partial reports of disjoint sets of households (see `partial`): the same as the
    simulation of all of them at once. Needs at least one part (the header comes from the first)."""
    head = parts[0]
    report = SimulationReport(pack_id=head["pack"], changes=dict(head["changes"]), draft=head["draft"],
                              as_of=date.fromisoformat(head["as_of"]) if head["as_of"] else None)
    for name in _COUNTS:
        setattr(report, name, sum(part[name] for part in parts))
    report.programmes = _added_up(row for part in parts for row in part["programmes"])
    report.regions = sorted(_added_up(row for part in parts for row in part["regions"]),
                            key=lambda row: (row.code == NO_REGION, row.code))
    report.changed = sorted((HouseholdChange(**change) for part in parts for change in part["changed"]),
                            key=lambda change: change.household_id)
    return report


def _added_up(rows) -> list[CostRow]:
    """Cost rows of the same code added up, in the order their codes first appear."""
    total: dict[str, CostRow] = {}
    for row in rows:
        into = total.setdefault(row["code"], CostRow(row["code"], row["name"]))
        into.before += row["before"]
        into.after += row["after"]
    return list(total.values())


def parse_number(pack: Pack, name: str, value) -> float:
    """A parameter value as a finite float; anything else is a PackError naming the parameter."""
    if isinstance(value, bool):
        raise PackError(pack.path, f"parameter {name}", f"{value!r} is not a number")
    try:
        number = float(str(value).strip().replace(" ", "").replace("\u00a0", "")) \
            if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise PackError(pack.path, f"parameter {name}", f"{value!r} is not a number") from None
    if not math.isfinite(number):
        raise PackError(pack.path, f"parameter {name}", f"{value!r} is not a finite number")
    return number


def parse_assignments(items, pack: Pack) -> dict[str, float]:
    """`["income_threshold=700000", …]` (the CLI's --set) → {name: value}; PackError on a malformed item."""
    changes = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise PackError(pack.path, "--set", f"{item!r} is not NAME=NUMBER")
        changes[name] = parse_number(pack, name, value)
    return changes


def load_draft(pack: Pack, pack_text: str) -> Pack:
    """A whole draft pack (YAML text) for `pack`; a PackError names its problem."""
    draft = load_pack(DRAFT_FILE, text=pack_text)
    if draft.id != pack.id:
        raise PackError(DRAFT_FILE, "id", f"the draft is pack {draft.id!r}; the simulation is of pack {pack.id!r}")
    return draft


def check_changes(version: Version, changes: dict) -> dict[str, float]:
    """Changes validated against a version's parameters: known names, finite numbers."""
    numbers = {name: parse_number(version.pack, name, value) for name, value in changes.items()}
    version.with_parameters(numbers)  # raises PackError naming an unknown parameter
    return numbers


def check_inputs(pack_id: str, changes: dict, pack_text: str | None = None) -> dict[str, float]:
    """The checks `simulate` makes before reading any household (PackError naming the problem): the changes as
    numbers. A simulation queued as a job is checked first, so that its problem shows on the form."""
    pack = get_pack(pack_id)
    target = load_draft(pack, pack_text) if pack_text is not None else pack
    return check_changes(target.versions[-1], dict(changes or {}))


def simulate(pack_id: str, changes: dict[str, float], pack_text: str | None = None, as_of: date | None = None,
             language: str = "en", user=None, region: str | None = None) -> SimulationReport:
    """Run a draft policy over the latest facts of every household assessed under `pack_id`.

    `changes` are parameter values (numbers); `pack_text` a whole draft pack in YAML; `as_of` (optional) picks
    the version for every household instead of its application date; `user` (optional) keeps the households
    of that user's areas only (staff see only their areas; the CLI sees all); `region` (optional, a region's
    code or NO_REGION) the households of that region only. Raises PackError naming the problem.
    """
    pack = get_pack(pack_id)
    draft_pack = load_draft(pack, pack_text) if pack_text is not None else None
    target = draft_pack or pack
    # Checked up front (every version has the same parameter names), so that a typo is an error even when no
    # household has been assessed yet.
    changes = check_changes(target.versions[-1], dict(changes or {}))
    report = SimulationReport(pack_id=pack.id, changes=changes, draft="parameters" if draft_pack is None
                              else DRAFT_FILE, as_of=as_of)

    facts = _load(pack.id, user, region)
    report.skipped = facts.skipped
    days = facts.application_days()
    if as_of is not None:
        days = np.full(len(facts), np.datetime64(as_of, "D"))
    drafts: dict[tuple, Version] = {}

    def draft_version(on: date) -> Version:
        base = target.version_for(on)
        key = (base.label, base.effective_from)
        if key not in drafts:
            drafts[key] = base.with_parameters(changes) if changes else base
        return drafts[key]

    built: dict = {}
    before = _evaluate(facts, _versions(days, pack.version_for), pack, built)
    after = _evaluate(facts, _versions(days, draft_version), target, built)
    _summarise(report, facts, before, after, target, pack, language)
    return report


def _load(pack_id: str, user=None, region: str | None = None) -> bulk_facts.AssessedFacts:
    return bulk_facts.latest_facts(pack_id, user, region)


def _versions(days: np.ndarray, version_for) -> dict[int, tuple[Version, np.ndarray]]:
    """Households grouped by the version in force on their day: {id(version): (version, their rows)}. The version
    is looked up once per distinct day, not once per household."""
    unique, position = np.unique(days, return_inverse=True)
    versions = [version_for(day.item()) for day in unique]
    groups: dict[int, tuple[Version, list]] = {}
    for index, version in enumerate(versions):
        groups.setdefault(id(version), (version, []))[1].append(index)
    return {key: (version, np.flatnonzero(np.isin(position, indices)))
            for key, (version, indices) in groups.items()}


@dataclass
class _Outcome:
    """Per household (in input order): decision, per-capita income, amount per programme (0 if not paid)."""

    eligible: np.ndarray
    income: np.ndarray
    amounts: dict[str, np.ndarray]
    first_rule: np.ndarray  # index (in pack.rules) of the first rule that fired; -1 where none did
    group: np.ndarray  # which evaluated group (tables[group]) the household is in …
    row: np.ndarray  # … and its row there: to word the reason of the first rule that fired
    tables: list


def _evaluate(facts: bulk_facts.AssessedFacts, groups: dict, pack: Pack, built: dict) -> _Outcome:
    """Each group of households sharing a version is one `evaluate_frames` call; `built` keeps the frames of a
    group (the baseline's and the draft's groups are usually the same households) so they are built once."""
    count = len(facts)
    outcome = _Outcome(np.zeros(count, bool), np.zeros(count), {p.code: np.zeros(count) for p in pack.programmes},
                       np.full(count, -1), np.zeros(count, np.int64), np.zeros(count, np.int64), [])
    for version, where in groups.values():
        key = where.tobytes()
        if key not in built:
            built[key] = facts.frames_of(where)
        table = evaluate_frames(built[key], version).household
        fired = table[[f"fired_{rule.id}" for rule in pack.rules]].to_numpy(bool)
        eligible = ~fired.any(axis=1)
        outcome.eligible[where] = eligible
        outcome.income[where] = table[INCOME_NAME].to_numpy(float) if INCOME_NAME in table else np.nan
        for programme in pack.programmes:
            paid = eligible & table[f"eligible_{programme.code}"].to_numpy(bool)
            amount = np.round(table[f"amount_{programme.code}"].to_numpy(float), 2)
            outcome.amounts[programme.code][where] = np.where(paid, amount, 0.0)
        outcome.first_rule[where] = np.where(eligible, -1, np.argmax(fired, axis=1) if len(pack.rules) else -1)
        outcome.group[where] = len(outcome.tables)
        outcome.row[where] = np.arange(len(where))
        outcome.tables.append(table)
    return outcome


def _regions_of_areas(area_ids: np.ndarray) -> tuple[np.ndarray, dict[str, str]]:
    """Each household's region code (from its application's area; NO_REGION without one) and the regions'
    names by code. Looked up once per area, not once per household."""
    regions = {area.id: (area.code, area.name) for area in db.session.scalars(
        select(Area).where(Area.level == AreaLevel.region))}
    areas, position = np.unique(area_ids, return_inverse=True)
    paths = dict(db.session.execute(select(Area.id, Area.path).where(Area.id.in_(areas.tolist()))).all())
    found = [_region_of(paths.get(int(area)), regions) for area in areas]
    codes = np.array([code for code, _ in found] or [NO_REGION], dtype=object)
    return codes[position] if len(areas) else np.zeros(0, dtype=object), dict(found)


def _region_of(path: str | None, regions: dict) -> tuple[str, str]:
    if path:
        head = path.strip("/").split("/")[0]
        if head.isdigit() and int(head) in regions:
            return regions[int(head)]
    return NO_REGION, NO_REGION


def _programme_name(programme, language: str) -> str:
    return programme.name.get(language) or programme.name.get("en") or programme.code


def _summarise(report: SimulationReport, facts: bulk_facts.AssessedFacts, before: _Outcome, after: _Outcome,
               draft_pack: Pack, pack: Pack, language: str) -> None:
    people = facts.members()
    report.households, report.people = len(facts), int(people.sum())
    report.eligible_before, report.eligible_after = int(before.eligible.sum()), int(after.eligible.sum())
    newly_eligible, newly_ineligible = after.eligible & ~before.eligible, before.eligible & ~after.eligible
    report.newly_eligible_households = int(newly_eligible.sum())
    report.newly_eligible_people = int(people[newly_eligible].sum())
    report.newly_ineligible_households = int(newly_ineligible.sum())
    report.newly_ineligible_people = int(people[newly_ineligible].sum())

    codes = [p.code for p in pack.programmes] + [p.code for p in draft_pack.programmes
                                                  if p.code not in before.amounts]
    names = {p.code: _programme_name(p, language) for p in [*draft_pack.programmes, *pack.programmes]}
    zero = np.zeros(len(facts))
    total_before = np.sum([before.amounts.get(code, zero) for code in codes], axis=0) if codes else zero
    total_after = np.sum([after.amounts.get(code, zero) for code in codes], axis=0) if codes else zero
    report.programmes = [CostRow(code, names[code], float(before.amounts.get(code, zero).sum()),
                                 float(after.amounts.get(code, zero).sum())) for code in codes]

    region_code, region_names = _regions_of_areas(facts.area_id)
    sums = pd.DataFrame({"region": region_code, "before": total_before, "after": total_after}).groupby("region").sum()
    report.regions = sorted((CostRow(code, region_names[code], float(sums.at[code, "before"]),
                                     float(sums.at[code, "after"])) for code in sums.index),
                            key=lambda row: (row.code == NO_REGION, row.code))

    changed = (before.eligible != after.eligible) | (np.round(total_before, 2) != np.round(total_after, 2))
    columns: dict[int, _Columns] = {}
    for index in np.flatnonzero(changed):
        rule, reason = None, ""
        if after.first_rule[index] >= 0:
            rule = draft_pack.rules[int(after.first_rule[index])]
            group = int(after.group[index])
            table = columns.setdefault(group, _Columns(after.tables[group]))
            reason = reason_message(rule, table.row(int(after.row[index])), language)
        report.changed.append(HouseholdChange(
            household_id=int(facts.household_id[index]), application_id=int(facts.application_id[index]),
            region=str(region_code[index]), members=int(people[index]),
            decision_before=_decision(before.eligible[index]), decision_after=_decision(after.eligible[index]),
            per_capita_income=round(float(after.income[index]), 2),
            monthly_amount_before=round(float(total_before[index]), 2),
            monthly_amount_after=round(float(total_after[index]), 2),
            main_reason_rule=rule.id if rule is not None else "", main_reason=reason))


class _Columns:
    """An evaluated table's columns as arrays, so that a reason reads the few values it names from one household's
    row without building the whole row."""

    def __init__(self, table: pd.DataFrame):
        self.table = table
        self.arrays: dict[str, np.ndarray] = {}

    def row(self, position: int) -> _RowValues:
        return _RowValues(self, position)


class _RowValues(Mapping):
    def __init__(self, columns: _Columns, position: int):
        self.columns, self.position = columns, position

    def __getitem__(self, name: str):
        arrays = self.columns.arrays
        if name not in arrays:
            arrays[name] = self.columns.table[name].to_numpy()
        return _plain_value(arrays[name][self.position])

    def __iter__(self):
        return iter(self.columns.table.columns)

    def __len__(self) -> int:
        return len(self.columns.table.columns)


def _plain_value(value):
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer | np.floating | int | float):
        return float(value)
    return value


def _decision(eligible) -> str:
    return "eligible" if bool(eligible) else "ineligible"


def _plain(value: float):
    return int(value) if float(value).is_integer() else round(float(value), 2)
