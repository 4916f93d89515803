"""The facts of every household's latest assessment as columns (`rules.frames.FactsFrames`), for runs over the
whole registry such as the policy simulation.

On PostgreSQL the database takes the stored facts documents apart itself (jsonb_to_recordset) and sends numbers
only, through one COPY that numpy parses in a single call: no Python object is made per household, member or
income line. Reading 1.2 million documents as Python dicts and walking them member by member takes minutes;
this takes seconds. Elsewhere (SQLite, in development and tests) the documents are read and converted by
`rules.frames.from_documents`. Both give the same frames (tests/means_test/test_bulk_facts.py), except that the
bulk frames carry no PINs: a batch evaluation does not need them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import false, func, or_, select

from modules.means_test.models import Assessment
from modules.registration.models import Application
from rules import frames as facts_frames
from rules.features import RELATIONS, STATUS_FLAGS
from webapp.auth.scope import area_clause
from webapp.extensions import db
from webapp.models import Area, AreaLevel

NO_REGION = "-"  # the households whose application's area lies in no region (or that have no area)


@dataclass
class AssessedFacts:
    """Row i of every array is household i of `frames` (households in the order of their ids)."""

    assessment_id: np.ndarray
    household_id: np.ndarray
    application_id: np.ndarray
    area_id: np.ndarray  # the application's area; -1 where it has none
    frames: facts_frames.FactsFrames
    skipped: int  # latest assessments whose facts cannot be evaluated (no members or no application date)

    def __len__(self) -> int:
        return len(self.household_id)

    def application_days(self) -> np.ndarray:
        """Each household's application date as a day number (numpy datetime64[D])."""
        h = self.frames.households
        if not len(h):
            return np.zeros(0, dtype="datetime64[D]")
        months = (h["year"].to_numpy(np.int64) - 1970) * 12 + h["month"].to_numpy(np.int64) - 1
        return months.astype("datetime64[M]").astype("datetime64[D]") + (h["day"].to_numpy(np.int64) - 1)

    def members(self) -> np.ndarray:
        """The number of members of each household."""
        return np.bincount(self.frames.members["hid"].to_numpy(np.int64), minlength=len(self))[:len(self)]

    def frames_of(self, rows: np.ndarray) -> facts_frames.FactsFrames:
        return self.frames if len(rows) == len(self) else facts_frames.take(self.frames, rows)


def latest_selection(pack_id: str, user=None, region: str | None = None):
    """Latest assessment of `pack_id` per household (the highest id), with its application's area, by household;
    only the households of `user`'s areas when a user is given, and of the region with code `region` when one is
    (NO_REGION: the households outside every region)."""
    latest = (select(func.max(Assessment.id)).where(Assessment.pack_id == pack_id)
              .group_by(Assessment.household_id).scalar_subquery())
    query = (select(Assessment.id, Assessment.household_id, Assessment.application_id,
                    func.coalesce(Application.area_id, -1).label("area_id"))
             .join(Application, Application.id == Assessment.application_id)
             .where(Assessment.id.in_(latest)).order_by(Assessment.household_id))
    if user is not None:
        query = query.where(area_clause(user, Application.area_id))
    if region is not None:
        query = query.where(_region_clause(region))
    return query


def _region_clause(region: str):
    """WHERE clause: applications whose area lies inside the region `region` (NO_REGION: inside none)."""
    paths = db.session.scalars(select(Area.path).where(Area.level == AreaLevel.region)
                               .where(True if region == NO_REGION else Area.code == region)).all()
    inside = Application.area_id.in_(select(Area.id).where(or_(false(), *(Area.path.startswith(path)
                                                                           for path in paths))))
    if region == NO_REGION:
        return or_(Application.area_id.is_(None), ~inside)
    return inside


def latest_facts(pack_id: str, user=None, region: str | None = None) -> AssessedFacts:
    """The facts of the latest assessment of every household assessed under `pack_id` (see `latest_selection`)."""
    query = latest_selection(pack_id, user, region)
    if db.engine.dialect.name == "postgresql":
        return _from_postgresql(query)
    return _from_documents(query)


def usable(facts) -> bool:
    return isinstance(facts, dict) and bool(facts.get("members")) and bool(facts.get("application_date"))


def _from_documents(query) -> AssessedFacts:
    rows = db.session.execute(query.add_columns(Assessment.facts)).all()
    kept = [row for row in rows if usable(row.facts)]
    ids = [np.array([row[i] for row in kept], dtype=np.int64) for i in range(4)]
    return AssessedFacts(*ids, facts_frames.from_documents([row.facts for row in kept]), len(rows) - len(kept))


# --- PostgreSQL: the database takes the documents apart -----------------------------------------------------------

DISABILITY_GROUPS = ("1", "2", "3", "child", "other")  # "other": a value no schema allows, still "disabled"
_MALE, _NON_STATE = 1 << len(STATUS_FLAGS), 1 << (len(STATUS_FLAGS) + 1)  # bits beside the statuses' own
_HOUSEHOLD, _MEMBER, _LINE, _VEHICLE, _ESTATE = range(5)
# The numbers of each kind of row: the assessment id first, then (households) the application date as yyyymmdd
# and the securities; (members) place in the document, relation, birth date, status bits, disability group;
# (lines) member's place, alimony (1) or income (0), place in its list, month index, amount; (vehicles) place,
# year, passenger; (dwellings) place, residential.
_WIDTHS = {_HOUSEHOLD: 2, _MEMBER: 6, _LINE: 5, _VEHICLE: 4, _ESTATE: 3}  # in the order of the query's texts
# Money may have decimals: the securities and the lines' amounts come as texts of their own, in the order of the
# households' and lines' texts (the aggregates of one query see the rows in the same order); the rest are
# integers, which parse three times faster.
_MONEY = {_HOUSEHOLD: "COALESCE(f.securities_value, 0)", _LINE: "l.amount"}
CHUNK = 300_000  # households per query: each kind's text stays far below PostgreSQL's 1 GB limit on a value


def _codes(column: str, names) -> str:
    return f"CASE {column} " + " ".join(f"WHEN '{name}' THEN {i}" for i, name in enumerate(names)) + " ELSE -1 END"


def _yyyymmdd(column: str) -> str:
    return f"CASE WHEN {column} <> '' THEN CAST(replace({column}, '-', '') AS integer) ELSE -1 END"


def _array(column: str) -> str:
    return f"CASE WHEN jsonb_typeof({column}) = 'array' THEN {column} END"


_STATUS_BITS = " + ".join(f"CASE WHEN i.statuses ? '{flag}' THEN {1 << bit} ELSE 0 END"
                          for bit, flag in enumerate(STATUS_FLAGS))
# Only "disabled" and "a child's group" matter to the rules: any other value no schema allows is still disabled.
_DISABILITY = ("CASE WHEN i.disability_group IS NULL THEN -1 " + " ".join(
    f"WHEN i.disability_group = '{group}' THEN {n}" for n, group in enumerate(DISABILITY_GROUPS[:-1])) + " ELSE 4 END")
_MONTH_INDEX = "CAST(substr(l.month, 1, 4) AS integer) * 12 + CAST(substr(l.month, 6, 2) AS integer) - 1"
_MEMBERS, _VEHICLES, _DWELLINGS = (f"COALESCE({_array(f'f.{name}')}, '[]')"
                                   for name in ("members", "vehicles", "real_estate"))
_INCOME = f"COALESCE({_array('i.income')}, '[]')"
_FIRST_LINE = "COALESCE(l.ord, 1) = 1"


def _text(condition: str, *numbers: str) -> str:
    """The numbers of a row meeting `condition` as text, the assessment id first (NULL for the other rows)."""
    return f"CASE WHEN {condition} THEN concat_ws(' ', s.id, {', '.join(numbers)}) END"


def _required(number: str) -> str:
    """A number a valid document always has: where it is missing, the text "null", which the parser refuses,
    rather than nothing (concat_ws leaves NULLs out), which would shift the numbers after it. The other numbers
    are CASE expressions, never NULL."""
    return f"COALESCE(CAST({number} AS text), 'null')"


# The documents taken apart in one chain of set-returning functions (which the database can hand to its parallel
# workers as a whole): each document's members, vehicles and dwellings as one list of items, each member's income
# and alimony lines as one list (the income first); one text of numbers per kind of row.
_DOCUMENT_PARTS = f"""
SELECT {", ".join(f"string_agg(t.kind{kind}, ' ')" for kind in _WIDTHS)},
       {", ".join(f"string_agg(t.money{kind}, ' ')" for kind in _MONEY)} FROM (
SELECT {_text(f"COALESCE(i.ord, 1) = 1 AND {_FIRST_LINE}", _yyyymmdd("f.application_date"))} AS kind0,
       CASE WHEN COALESCE(i.ord, 1) = 1 AND {_FIRST_LINE}
            THEN COALESCE(CAST({_MONEY[_HOUSEHOLD]} AS text), 'null') END AS money0,
       {_text(f"i.ord <= jsonb_array_length({_MEMBERS}) AND {_FIRST_LINE}", "i.ord",
              _codes("i.relation", RELATIONS), _yyyymmdd("i.birth_date"),
              f"CASE WHEN i.statuses IS NULL THEN 0 ELSE {_STATUS_BITS} END "
              f"+ CASE WHEN i.sex = 'M' THEN {_MALE} ELSE 0 END "
              f"+ CASE WHEN i.employment_sector = 'non_state' THEN {_NON_STATE} ELSE 0 END", _DISABILITY)} AS kind1,
       {_text("l.ord IS NOT NULL", "i.ord", f"CASE WHEN l.ord > jsonb_array_length({_INCOME}) THEN 1 ELSE 0 END",
              "l.ord", _required(_MONTH_INDEX))} AS kind2,
       CASE WHEN l.ord IS NOT NULL THEN COALESCE(CAST({_MONEY[_LINE]} AS text), 'null') END AS money2,
       {_text(f"i.ord > jsonb_array_length({_MEMBERS}) "
              f"AND i.ord <= jsonb_array_length({_MEMBERS}) + jsonb_array_length({_VEHICLES})",
              "i.ord", _required("trunc(i.year)"), "CASE WHEN i.kind = 'passenger' THEN 1 ELSE 0 END")} AS kind3,
       {_text(f"i.ord > jsonb_array_length({_MEMBERS}) + jsonb_array_length({_VEHICLES})",
              "i.ord", "CASE WHEN i.kind = 'residential' THEN 1 ELSE 0 END")} AS kind4
FROM assessment s
CROSS JOIN LATERAL jsonb_to_record(CASE WHEN json_typeof(s.facts) = 'object' THEN CAST(s.facts AS jsonb) END)
    AS f(application_date text, members jsonb, vehicles jsonb, real_estate jsonb, securities_value numeric)
LEFT JOIN LATERAL ROWS FROM (jsonb_to_recordset({_MEMBERS} || {_VEHICLES} || {_DWELLINGS})
    AS (relation text, birth_date text, sex text, income jsonb, alimony_paid jsonb, statuses jsonb,
        disability_group text, employment_sector text, year numeric, kind text))
    WITH ORDINALITY AS i(relation, birth_date, sex, income, alimony_paid, statuses, disability_group,
                         employment_sector, year, kind, ord) ON true
LEFT JOIN LATERAL ROWS FROM (jsonb_to_recordset({_INCOME} || COALESCE({_array('i.alimony_paid')}, '[]'))
    AS (month text, amount numeric)) WITH ORDINALITY AS l(month, amount, ord) ON true
WHERE s.id = ANY(CAST(%(ids)s AS integer[]))
) AS t
"""
# Parsing documents is the work: let the database spread it over its parallel workers (and compile nothing).
_SETTINGS = ("SET LOCAL jit = off", "SET LOCAL enable_memoize = off", "SET LOCAL parallel_setup_cost = 0",
             "SET LOCAL parallel_tuple_cost = 0")


def _from_postgresql(query) -> AssessedFacts:
    cursor = db.session.connection().connection.driver_connection.cursor()
    compiled = query.compile(db.session.connection())
    cursor.execute(f"SELECT string_agg(concat_ws(' ', q.id, q.household_id, q.application_id, q.area_id), ' ' "
                   f"ORDER BY q.household_id) FROM ({compiled}) AS q", compiled.params)
    heads = _numbers(cursor.fetchone()[0], 4).astype(np.int64)
    for setting in _SETTINGS:
        cursor.execute(setting)
    texts = {kind: [] for kind in [*_WIDTHS, *(-kind - 1 for kind in _MONEY)]}
    for start in range(0, len(heads), CHUNK):
        # The documents of exactly these assessments: a parameter rather than a temporary table, which parallel
        # workers could not read.
        ids = ",".join(heads[start:start + CHUNK, 0].astype(str))  # one text: quicker than a list to send
        cursor.execute(_DOCUMENT_PARTS, {"ids": f"{{{ids}}}"})
        for kind, text in zip(texts, cursor.fetchone(), strict=True):
            texts[kind].append(text or "")
    parts = {kind: _numbers(" ".join(texts[kind]), width).astype(float) for kind, width in _WIDTHS.items()}
    for kind in _MONEY:  # the money as the rows' last column
        parts[kind] = np.column_stack([parts[kind], _numbers(" ".join(texts[-kind - 1]), 1, float)])
    return _assemble(heads, parts)


def _numbers(text: str | None, width: int, dtype=np.int64) -> np.ndarray:
    """Numbers separated by white space as an array of `width` columns."""
    try:
        values = np.fromstring(text, dtype=dtype, sep=" ") if text and text.strip() else np.zeros(0, dtype)  # noqa: NPY201
    except ValueError:  # stopped at something that is not a number
        values = None
    if values is None or len(values) % width:
        raise ValueError("the stored facts hold a value the rules cannot read (a number or a date missing?)")
    return values.reshape(-1, width)


def _in_order(rows: np.ndarray, *keys: int) -> np.ndarray:
    """`rows` sorted by the columns `keys` (first the most significant); most often they already are."""
    columns = [rows[:, k] for k in keys]
    composite = np.zeros(len(rows))
    for column in columns:
        composite = composite * (column.max(initial=0) + 2) + column + 1
    if len(rows) < 2 or np.all(composite[1:] >= composite[:-1]):
        return rows
    return rows[np.argsort(composite, kind="stable")]


def _assemble(heads: np.ndarray, parts: dict[int, np.ndarray]) -> AssessedFacts:
    by_id = np.argsort(heads[:, 0])
    for rows in parts.values():  # assessment id → household row
        rows[:, 0] = by_id[np.searchsorted(heads[by_id, 0], rows[:, 0])]
    households = parts[_HOUSEHOLD]
    members = _in_order(parts[_MEMBER], 0, 1)
    lines = _in_order(parts[_LINE], 0, 1, 2, 3)  # household, member, income or alimony, line
    count = len(heads)
    day = np.full(count, -1, dtype=np.int64)
    day[households[:, 0].astype(np.int64)] = households[:, 1]
    securities = np.zeros(count)
    securities[households[:, 0].astype(np.int64)] = households[:, 2]
    has_members = np.bincount(members[:, 0].astype(np.int64), minlength=count)[:count] > 0
    kept = has_members & (day >= 0)
    new_row = np.full(count, -1, dtype=np.int64)
    new_row[kept] = np.arange(int(kept.sum()))

    members = members[kept[members[:, 0].astype(np.int64)]]
    bits = members[:, 4].astype(np.int64)
    birth = members[:, 3].astype(np.int64)
    member_frame = pd.DataFrame({
        "hid": new_row[members[:, 0].astype(np.int64)], "pin": np.full(len(members), None, dtype=object),
        "relation": pd.Categorical.from_codes(members[:, 2].astype(np.int8), RELATIONS),
        "birth_year": birth // 10000, "birth_month": birth // 100 % 100, "birth_day": birth % 100,
        "male": (bits & _MALE) > 0,
        "disability_group": pd.Categorical.from_codes(members[:, 5].astype(np.int8), DISABILITY_GROUPS),
        **{flag: (bits & (1 << bit)) > 0 for bit, flag in enumerate(STATUS_FLAGS)},
        "non_state": (bits & _NON_STATE) > 0}, copy=False)

    # Each line's member: its position among the members, found by (household row, member's place in it).
    width = members[:, 1].max(initial=0) + 1
    lines = lines[kept[lines[:, 0].astype(np.int64)]]
    line_member = np.searchsorted(members[:, 0] * width + members[:, 1], lines[:, 0] * width + lines[:, 1])
    income_frame = pd.DataFrame({"member": line_member.astype(np.int64), "month": lines[:, 4].astype(np.int64),
                                 "amount": lines[:, 5], "alimony_paid": lines[:, 2] > 0}, copy=False)
    vehicles = _in_order(parts[_VEHICLE], 0, 1)
    vehicles = vehicles[kept[vehicles[:, 0].astype(np.int64)]]
    estate = _in_order(parts[_ESTATE], 0, 1)
    estate = estate[kept[estate[:, 0].astype(np.int64)]]
    days = day[kept]
    frames = facts_frames.FactsFrames(
        households=pd.DataFrame({"year": days // 10000, "month": days // 100 % 100, "day": days % 100,
                                 "securities_value": securities[kept]}, copy=False),
        members=member_frame, income=income_frame,
        vehicles=pd.DataFrame({"hid": new_row[vehicles[:, 0].astype(np.int64)],
                               "year": vehicles[:, 2].astype(np.int64), "passenger": vehicles[:, 3] > 0}, copy=False),
        real_estate=pd.DataFrame({"hid": new_row[estate[:, 0].astype(np.int64)], "residential": estate[:, 2] > 0},
                                 copy=False))
    return AssessedFacts(heads[kept, 0], heads[kept, 1], heads[kept, 2], heads[kept, 3], frames,
                         int(count - kept.sum()))
