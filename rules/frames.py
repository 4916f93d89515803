"""Many households as columns: the input of the batch (pandas) engine and its vectorised primitives.

`FactsFrames` holds one table per kind of fact (households, members, income lines, vehicles, real estate),
members and lines in document order, so that sums run in the same order as the scalar path's and give the
same floating-point results. `from_documents` builds them from facts documents; a bulk loader (the benchmark,
recertification) may build them straight from database tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from rules.features import RELATIONS, STATUS_FLAGS, disability_group, month_index


@dataclass
class FactsFrames:
    households: pd.DataFrame  # year, month, day (application date), securities_value; row i = household i
    members: pd.DataFrame  # hid, pin, relation, birth_year/month/day, male, disability_group, flags, non_state
    income: pd.DataFrame  # member (row in members), month (month index), amount, alimony_paid (bool)
    vehicles: pd.DataFrame  # hid, year, passenger (bool)
    real_estate: pd.DataFrame  # hid, residential (bool)

    def __len__(self) -> int:
        return len(self.households)


def from_documents(documents: list[dict]) -> FactsFrames:
    """Columns from validated facts documents (row i of `households` is documents[i])."""
    households, members, income, vehicles, estate = [], [], [], [], []
    for hid, facts in enumerate(documents):
        on = date.fromisoformat(facts["application_date"])
        households.append((on.year, on.month, on.day, float(facts.get("securities_value") or 0)))
        for member in facts["members"]:
            row = len(members)
            members.append(_member_row(hid, member))
            income.extend((row, month_index(line["month"]), float(line["amount"]), False)
                          for line in member.get("income") or ())
            income.extend((row, month_index(line["month"]), float(line["amount"]), True)
                          for line in member.get("alimony_paid") or ())
        vehicles.extend((hid, int(v["year"]), v["kind"] == "passenger") for v in facts.get("vehicles") or ())
        estate.extend((hid, item["kind"] == "residential") for item in facts.get("real_estate") or ())
    return FactsFrames(
        households=pd.DataFrame(households, columns=["year", "month", "day", "securities_value"]),
        members=pd.DataFrame(members, columns=MEMBER_COLUMNS),
        income=pd.DataFrame(income, columns=["member", "month", "amount", "alimony_paid"]),
        vehicles=pd.DataFrame(vehicles, columns=["hid", "year", "passenger"]),
        real_estate=pd.DataFrame(estate, columns=["hid", "residential"]),
    )


MEMBER_COLUMNS = ["hid", "pin", "relation", "birth_year", "birth_month", "birth_day", "male", "disability_group",
                  *STATUS_FLAGS, "non_state"]


def _member_row(hid: int, member: dict) -> tuple:
    birth = date.fromisoformat(member["birth_date"])
    statuses = set(member.get("statuses") or ())
    return (hid, member["pin"], member["relation"], birth.year, birth.month, birth.day, member["sex"] == "M",
            disability_group(member.get("disability_group")), *(flag in statuses for flag in STATUS_FLAGS),
            member.get("employment_sector") == "non_state")


def _per_household(hid: np.ndarray, weights: np.ndarray, count: int) -> np.ndarray:
    """Sum per household in row order (np.bincount adds sequentially, as the scalar path does)."""
    return np.bincount(hid, weights=weights.astype(float), minlength=count)[:count]


def member_primitives(frames: FactsFrames, window_months: int) -> dict[str, np.ndarray]:
    m, h = frames.members, frames.households
    hid = m["hid"].to_numpy()
    on_y, on_m, on_d = (_seen_from_members(h[c].to_numpy(), hid) for c in ("year", "month", "day"))
    by, bm, bd = (m[c].to_numpy() for c in ("birth_year", "birth_month", "birth_day"))
    before_birthday = (on_m < bm) | ((on_m == bm) & (on_d < bd))
    group = m["disability_group"]
    values = {
        "age": (on_y - by - before_birthday).astype(float),
        "age_months": ((on_y - by) * 12 + on_m - bm - (on_d < bd)).astype(float),
        "male": m["male"].to_numpy(bool),
        "disabled": group.notna().to_numpy(),
        "disabled_child_group": (group == "child").to_numpy(),
        "non_state_worker": m["non_state"].to_numpy(bool),
        **_window_sums(frames, window_months, on_y * 12 + on_m - 1),
    }
    # Compared as a Series: a categorical column (a bulk loader's) compares its codes, not a string per member.
    values.update({f"is_{name}": (m["relation"] == name).to_numpy(bool) for name in RELATIONS})
    values.update({flag: m[flag].to_numpy(bool) for flag in STATUS_FLAGS})
    return values


def _seen_from_members(values: np.ndarray, hid: np.ndarray):
    """A household column per member; one number when every household has the same (a batch run's single
    date), which spares copying it to millions of members."""
    if len(values) and (values == values[0]).all():
        return values[0]
    return values[hid]


def _window_sums(frames: FactsFrames, window_months: int, current_by_member) -> dict:
    lines, count = frames.income, len(frames.members)
    member = lines["member"].to_numpy(np.int64)
    month = lines["month"].to_numpy()
    current = current_by_member if np.ndim(current_by_member) == 0 else current_by_member[member]
    in_window = (month >= current - window_months) & (month < current)
    alimony = lines["alimony_paid"].to_numpy(bool)
    # One pass for both sums: bin 2m holds member m's income, bin 2m + 1 the alimony it paid.
    sums = np.bincount(member * 2 + alimony, weights=np.where(in_window, lines["amount"].to_numpy(float), 0.0),
                       minlength=2 * count).reshape(count, 2)
    return {"window_income": np.ascontiguousarray(sums[:, 0]), "window_alimony_paid": np.ascontiguousarray(sums[:, 1])}


def household_primitives(frames: FactsFrames) -> dict[str, np.ndarray]:
    h, count = frames.households, len(frames.households)
    cars = frames.vehicles[frames.vehicles["passenger"].astype(bool)]
    newest = np.zeros(count)
    if len(cars):
        latest = cars.groupby("hid")["year"].max()
        newest[latest.index.to_numpy()] = latest.to_numpy(float)
    residential = frames.real_estate["residential"].to_numpy(bool)
    estate_hid = frames.real_estate["hid"].to_numpy(np.int64)
    return {
        "members": np.bincount(frames.members["hid"].to_numpy(np.int64), minlength=count).astype(float),
        "application_year": h["year"].to_numpy(float), "application_month": h["month"].to_numpy(float),
        "passenger_cars": np.bincount(cars["hid"].to_numpy(np.int64), minlength=count).astype(float),
        "vehicles": np.bincount(frames.vehicles["hid"].to_numpy(np.int64), minlength=count).astype(float),
        "newest_car_year": newest,
        "residential_properties": _per_household(estate_hid, residential, count),
        "non_residential_properties": _per_household(estate_hid, ~residential, count),
        "securities_value": h["securities_value"].to_numpy(float),
    }


def take(frames: FactsFrames, households: np.ndarray) -> FactsFrames:
    """The frames of some households only (`households`: their rows, in the order wanted), renumbered; members
    and lines keep their order, so that every sum adds up as it does in the whole."""
    households = np.asarray(households, dtype=np.int64)
    new_household = np.full(len(frames), -1, dtype=np.int64)
    new_household[households] = np.arange(len(households))
    hid = new_household[frames.members["hid"].to_numpy(np.int64)]
    kept = hid >= 0
    new_member = np.full(len(kept), -1, dtype=np.int64)
    new_member[kept] = np.arange(int(kept.sum()))
    lines = frames.income
    member = new_member[lines["member"].to_numpy(np.int64)]
    return FactsFrames(
        households=frames.households.iloc[households].reset_index(drop=True),
        members=frames.members[kept].assign(hid=hid[kept]).reset_index(drop=True),
        income=lines[member >= 0].assign(member=member[member >= 0]).reset_index(drop=True),
        vehicles=_of_households(frames.vehicles, new_household),
        real_estate=_of_households(frames.real_estate, new_household),
    )


def _of_households(table: pd.DataFrame, new_household: np.ndarray) -> pd.DataFrame:
    hid = new_household[table["hid"].to_numpy(np.int64)]
    return table[hid >= 0].assign(hid=hid[hid >= 0]).reset_index(drop=True)
