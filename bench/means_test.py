"""Benchmark: the means test over a synthetic country (target: 1.2 million households, facts → decisions
stored, in < 20 s on 2 cores), through the pandas engine and through durable_rules, plus the real-time
latency from collected to decided for one application.

    .venv/bin/python -m bench.means_test
    BENCH_HOUSEHOLDS=100000 BENCH_DURABLE_HOUSEHOLDS=5000 .venv/bin/python -m bench.means_test

Steps, each timed: generate the population into a scratch simulator database (not part of the measure: it plays
the registries); load every household's facts for the application date from it (each table read once, straight
into numpy columns, two tables at a time; PINs as numbers, codes as categories); evaluate the
`uz` pack version in force with the pandas engine; store one decision row per household. durable_rules evaluates
a sample of the same households one by one (as the real-time path does) and must agree with pandas on every one.
Baseline in the same run: a hand-written numpy per-capita income test over the same columns (no rules engine),
so `ratio` says what the rule language costs over the bare arithmetic.

Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import numpy as np
import pandas as pd

from bench.synth import mahallas
from connectors import synthetic
from connectors.simulator import store
from rules import frames as facts_frames
from rules import vectorised
from rules.durable import get_engine
from rules.features import RELATIONS, STATUS_FLAGS, window_months
from rules.pack import get_pack

HOUSEHOLDS = int(os.environ.get("BENCH_HOUSEHOLDS", "1200000"))
DURABLE_HOUSEHOLDS = int(os.environ.get("BENCH_DURABLE_HOUSEHOLDS", "20000"))
APPLICATION_DATE = date.fromisoformat(os.environ.get("BENCH_APPLICATION_DATE", "2026-11-10"))
SEED = 2026
TARGET_SECONDS = 20


def load_frames(path: str, on: date, window: int) -> facts_frames.FactsFrames:
    """Every living household's facts on `on`, straight from the registries' tables into columns."""
    queries = _queries(on.isoformat(), window_months(on, window))
    # Two reads at a time (SQLite scans and aggregates with the interpreter lock released), and the members are
    # put together while the income, the biggest read, is still being read.
    with ThreadPoolExecutor(max_workers=2) as pool:
        return _frames(_Pending({name: pool.submit(read_columns, path, *query) for name, query in queries.items()}),
                       on)


class _Pending(dict):
    """Tables being read: a table is waited for where it is first used."""

    def __getitem__(self, name: str) -> dict[str, np.ndarray]:
        return super().__getitem__(name).result()


def read_columns(path: str, columns: dict[str, tuple[str, int]], source: str,
                 params: tuple = ()) -> dict[str, np.ndarray]:
    """Columns of the rows of `source` (FROM …) as int64 arrays, in one scan. Each column is an SQL expression
    giving an integer, or a date or month text, and the number of integers in it (3 for a date, 2 for a month):
    a date comes back as an array of shape (rows, 3).

    SQLite joins each column's values into one text (group_concat, dates joined with "-" like their own parts)
    that numpy parses in one call: no Python object is made per row or per value, which is what makes reading
    millions of rows through a cursor slow. The aggregates of one query see the rows in the same order, so the
    columns line up.
    """
    texts = ", ".join(f"group_concat({expression}, '{',' if parts == 1 else '-'}')"
                      for expression, parts in columns.values())
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")  # pages read in place, not copied into SQLite's cache
        rows, *values = conn.execute(f"SELECT count(*), {texts} {source}", params).fetchone()
    arrays = {}
    for (name, (_, parts)), text in zip(columns.items(), values, strict=True):
        numbers = np.fromstring(text, dtype=np.int64, sep="," if parts == 1 else "-") if rows else np.zeros(0, int)
        if len(numbers) != rows * parts:  # a NULL (skipped by group_concat) or a value that is not a number
            raise ValueError(f"{name}: {len(numbers)} numbers for {rows} rows in {source}")
        arrays[name] = numbers if parts == 1 else numbers.reshape(rows, parts)
    return arrays


MMAP_BYTES = 1 << 34


def _codes(column: str, codes: dict[str, int]) -> tuple[str, int]:
    """SQL giving the code of `column`'s value (-1 for any other value)."""
    return f"CASE {column} " + " ".join(f"WHEN '{name}' THEN {code}" for name, code in codes.items()) + \
        " ELSE -1 END", 1


def _number(expression: str) -> tuple[str, int]:
    return expression, 1


STATUS_CODES = {**{flag: i for i, flag in enumerate(STATUS_FLAGS)},
                "registered_unemployed": STATUS_FLAGS.index("employment_registered")}
DISABILITY_GROUPS = ("1", "2", "3", "child")


def _queries(day: str, months: list[str]) -> dict[str, tuple]:
    """Per table: the columns (PINs as numbers, codes as positions in a list), the rows wanted and the
    parameters. Biggest first, so that the two readers finish together."""
    in_window = "month >= ? AND month <= ?"  # the window's months are consecutive: a range is a cheaper test
    lines = {"pin": _number("pin"), "month": ("month", 2), "amount": _number("amount")}
    return {
        "income": (lines, f"FROM income WHERE {in_window}", (months[0], months[-1])),
        "people": ({"pin": _number("pin"), "birth": ("birth_date", 3), "male": _number("sex = 'M'")},
                   "FROM person WHERE death_date IS NULL"),
        "links": ({"pin": _number("pin"), "household": _number("household_id"),
                   "relation": _codes("relation", {name: i for i, name in enumerate(RELATIONS)})},
                  "FROM family_link"),
        "estate": ({"pin": _number("owner_pin"), "residential": _number("kind = 'residential'")},
                   "FROM real_estate"),
        "statuses": ({"pin": _number("pin"), "flag": _codes("status", STATUS_CODES)},
                     f"FROM status WHERE status IN ({','.join('?' * len(STATUS_CODES))}) "
                     "AND start_date <= ? AND (end_date IS NULL OR end_date >= ?)", (*STATUS_CODES, day, day)),
        "vehicles": ({"pin": _number("owner_pin"), "year": _number("year"),
                      "passenger": _number("kind = 'passenger'")}, "FROM vehicle"),
        "disability": ({"pin": _number("pin"), "group": _codes("disability_group", {
                           name: i for i, name in enumerate(DISABILITY_GROUPS)})},
                       "FROM disability WHERE end_date IS NULL OR end_date >= ?", (day,)),
        "alimony": (lines, f"FROM alimony_paid WHERE {in_window}", (months[0], months[-1])),
        "securities": ({"pin": _number("owner_pin"), "value": _number("COALESCE(market_value, nominal_value)")},
                       "FROM security_holding"),
    }


def _frames(tables: dict[str, dict[str, np.ndarray]], on: date) -> facts_frames.FactsFrames:
    members = _members(tables["links"], tables["people"])
    hid, pins = members["hid"], members["pin"]
    count = int(hid.max()) + 1 if len(hid) else 0
    row_of = _row_finder(pins)
    flags = {flag: np.zeros(len(pins), dtype=bool) for flag in STATUS_FLAGS}
    rows = row_of(tables["statuses"]["pin"])
    for code, flag in enumerate(STATUS_FLAGS):
        flags[flag][rows[(rows >= 0) & (tables["statuses"]["flag"] == code)]] = True
    group = np.full(len(pins), -1, dtype=np.int8)
    rows = row_of(tables["disability"]["pin"])
    group[rows[rows >= 0]] = tables["disability"]["group"][rows >= 0]
    member_frame = pd.DataFrame({
        "hid": hid, "pin": pins, "relation": pd.Categorical.from_codes(members["relation"], RELATIONS),
        "birth_year": members["birth"][:, 0], "birth_month": members["birth"][:, 1],
        "birth_day": members["birth"][:, 2], "male": members["male"].astype(bool),
        "disability_group": pd.Categorical.from_codes(group, DISABILITY_GROUPS), **flags,
        "non_state": np.zeros(len(pins), dtype=bool)}, copy=False)
    income, alimony = tables["income"], tables["alimony"]
    rows = row_of(np.concatenate([income["pin"], alimony["pin"]]))
    keep = rows >= 0
    income_frame = pd.DataFrame({
        "member": rows[keep], "month": (np.concatenate([income["month"], alimony["month"]]) @ [12, 1] - 1)[keep],
        "amount": np.concatenate([income["amount"], alimony["amount"]]).astype(float)[keep],
        "alimony_paid": (np.arange(len(rows)) >= len(income["pin"]))[keep]}, copy=False)
    owner = _owner_households(row_of, hid)
    securities = tables["securities"]
    held = owner(securities["pin"])
    securities_value = np.bincount(held[held >= 0], weights=securities["value"][held >= 0].astype(float),
                                   minlength=count)
    households = pd.DataFrame({"year": np.full(count, on.year), "month": np.full(count, on.month),
                               "day": np.full(count, on.day), "securities_value": securities_value[:count]},
                              copy=False)
    vehicles, estate = tables["vehicles"], tables["estate"]
    owned = owner(vehicles["pin"])
    vehicle_frame = pd.DataFrame({"hid": owned[owned >= 0], "year": vehicles["year"][owned >= 0],
                                  "passenger": vehicles["passenger"][owned >= 0].astype(bool)}, copy=False)
    owned = owner(estate["pin"])
    estate_frame = pd.DataFrame({"hid": owned[owned >= 0], "residential": estate["residential"][owned >= 0]
                                 .astype(bool)}, copy=False)
    return facts_frames.FactsFrames(households=households, members=member_frame, income=income_frame,
                                    vehicles=vehicle_frame, real_estate=estate_frame)


def _members(links: dict[str, np.ndarray], people: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Living people with their household link, in PIN order (as each household lists them), and `hid`: the
    household's row (households in the order of their ids). Sums per household do not need them grouped."""
    person = _row_finder(people["pin"])(links["pin"])
    alive = person >= 0
    household = links["household"][alive]
    present = np.zeros(household.max() + 1 if len(household) else 0, dtype=np.int64)
    present[household] = 1
    return {"hid": (np.cumsum(present) - 1)[household], "pin": links["pin"][alive],
            "relation": links["relation"][alive], "birth": people["birth"][person[alive]],
            "male": people["male"][person[alive]]}


def _row_finder(pins: np.ndarray):
    """PINs → their rows among `pins` (-1 where absent). The registers' tables come in PIN order already."""
    order = None if np.all(pins[1:] > pins[:-1]) else np.argsort(pins, kind="stable")
    ordered = pins if order is None else pins[order]

    def rows(wanted: np.ndarray) -> np.ndarray:
        if not len(ordered):
            return np.full(len(wanted), -1)
        at = np.minimum(np.searchsorted(ordered, wanted), len(ordered) - 1)
        return np.where(ordered[at] == wanted, at if order is None else order[at], -1)

    return rows


def _owner_households(row_of, hid: np.ndarray):
    def owners(owner_pins: np.ndarray) -> np.ndarray:
        rows = row_of(owner_pins)
        return np.where(rows >= 0, hid[rows], -1)

    return owners


def store_decisions(path: str, batch: vectorised.BatchResult) -> int:
    """One row per household (decision, per-capita income, monthly total) in one transaction."""
    table = batch.household
    amounts = sum(table[f"amount_{p.code}"].where(table[f"eligible_{p.code}"], 0.0)
                  for p in batch.version.pack.programmes)
    decisions = batch.decisions
    monthly = amounts.where(decisions == "eligible", 0.0)
    rows = zip(range(len(table)), decisions.tolist(), table["per_capita_income"].round(2).tolist(),
               monthly.round(2).tolist(), strict=True)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE decision (household INTEGER PRIMARY KEY, decision TEXT NOT NULL, "
                     "per_capita_income REAL NOT NULL, monthly_total REAL NOT NULL, pack_version TEXT NOT NULL)")
        conn.executemany(f"INSERT INTO decision VALUES (?, ?, ?, ?, '{batch.version.label}')", rows)
    return len(table)


def baseline(frames: facts_frames.FactsFrames, threshold: float, window: int) -> float:
    """Seconds for the bare per-capita income test in numpy over the same columns."""
    started = time.perf_counter()
    current = APPLICATION_DATE.year * 12 + APPLICATION_DATE.month - 1
    lines = frames.income
    counted = (lines["month"].to_numpy() >= current - window) & (lines["month"].to_numpy() < current)
    sign = np.where(lines["alimony_paid"].to_numpy(bool), -1.0, 1.0)
    hid = frames.members["hid"].to_numpy()
    per_member = np.bincount(lines["member"].to_numpy(), weights=np.where(counted, sign * lines["amount"], 0.0),
                             minlength=len(hid))
    total = np.bincount(hid, weights=per_member, minlength=len(frames))
    members = np.bincount(hid, minlength=len(frames))
    (np.maximum(total, 0) / members / window <= threshold).sum()
    return time.perf_counter() - started


def documents(frames: facts_frames.FactsFrames, count: int) -> list[dict]:
    """Facts documents for the first `count` households (the real-time engine's input)."""
    members = frames.members[frames.members["hid"] < count]
    lines = frames.income[frames.income["member"].isin(members.index)]
    by_member = {row: group for row, group in lines.groupby("member")}
    docs = [{"application_date": APPLICATION_DATE.isoformat(), "members": [], "vehicles": [], "real_estate": [],
             "securities_value": float(v)} for v in frames.households["securities_value"].iloc[:count]]
    for row, m in members.iterrows():
        lines = by_member.get(row)
        lines = [] if lines is None else list(zip(lines["month"], lines["amount"], lines["alimony_paid"], strict=True))
        docs[m["hid"]]["members"].append({
            "pin": f"{int(m['pin']):014d}", "relation": m["relation"], "sex": "M" if m["male"] else "F",
            "birth_date": f"{m['birth_year']:04d}-{m['birth_month']:02d}-{m['birth_day']:02d}",
            "income": [{"source": "salary", "month": _month(i), "amount": a} for i, a, paid in lines if not paid],
            "alimony_paid": [{"month": _month(i), "amount": a} for i, a, paid in lines if paid],
            "disability_group": None if pd.isna(m["disability_group"]) else m["disability_group"],
            "statuses": [f for f in STATUS_FLAGS if m[f]]})
    for frame, key in ((frames.vehicles, "vehicles"), (frames.real_estate, "real_estate")):
        for item in frame[frame["hid"] < count].itertuples():
            owner = docs[item.hid]["members"][0]["pin"]
            docs[item.hid][key].append({"owner_pin": owner, "year": int(item.year), "kind": "passenger"
                                        if item.passenger else "truck"} if key == "vehicles" else
                                       {"owner_pin": owner, "kind": "residential" if item.residential
                                        else "non_residential"})
    return docs


def _month(index: int) -> str:
    return f"{int(index) // 12:04d}-{int(index) % 12 + 1:02d}"


def realtime_latency() -> dict:
    """Collected → decided for single applications, from the collection benchmark's own run."""
    from bench import collect

    return collect.measure(runs=10)


def main() -> None:
    version = get_pack("uz").version_for(APPLICATION_DATE)
    window = int(version.parameters["income_window_months"])
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/simulator.db"
        engine = store.engine_for(f"sqlite:///{path}")
        store.create_schema(engine)
        started = time.perf_counter()
        synthetic.synthesize(engine, HOUSEHOLDS, seed=SEED, areas=mahallas(), as_of=APPLICATION_DATE)
        generated = time.perf_counter() - started

        timings = {}
        started = time.perf_counter()
        frames = load_frames(path, APPLICATION_DATE, window)
        timings["load_facts_s"] = time.perf_counter() - started
        mark = time.perf_counter()
        batch = vectorised.evaluate_frames(frames, version)
        timings["evaluate_s"] = time.perf_counter() - mark
        mark = time.perf_counter()
        stored = store_decisions(f"{folder}/decisions.db", batch)
        timings["store_s"] = time.perf_counter() - mark
        total = time.perf_counter() - started
        base = baseline(frames, version.parameters["income_threshold"], window)

        sample = documents(frames, min(DURABLE_HOUSEHOLDS, len(frames)))
        durable = get_engine()
        durable.evaluate(sample[0], version)  # registration of the pack version is start-up, not per decision
        mark = time.perf_counter()
        durable_results = [durable.evaluate(doc, version) for doc in sample]
        durable_s = time.perf_counter() - mark
        pandas_sample = batch.decisions.iloc[:len(sample)].tolist()
        disagreements = sum(r["decision"] != p for r, p in zip(durable_results, pandas_sample, strict=True))

    eligible = int((batch.decisions == "eligible").sum())
    result = {
        "benchmark": "means_test", "households": stored, "people": len(frames.members),
        "pack_version": version.label, "population_generated_s": round(generated, 1),
        "pandas": {"end_to_end_s": round(total, 2), **{k: round(v, 2) for k, v in timings.items()},
                   "decisions_per_s": round(stored / total), "eligible": eligible, "target_s": TARGET_SECONDS},
        "durable_rules": {"households": len(sample), "seconds": round(durable_s, 2),
                          "decisions_per_s": round(len(sample) / durable_s),
                          "decisions_differing_from_pandas": disagreements},
        "baseline_numpy_per_capita_s": round(base, 3),
        "ratio_evaluate_to_baseline": round(timings["evaluate_s"] / base, 1),
        "realtime": realtime_latency(),
    }
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
