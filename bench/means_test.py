"""Benchmark: the means test over a synthetic country (target: 1.2 million households, facts → decisions
stored, in < 2 minutes on 2 cores), through the pandas engine and through durable_rules, plus the real-time
latency from collected to decided for one application.

    .venv/bin/python -m bench.means_test
    BENCH_HOUSEHOLDS=100000 BENCH_DURABLE_HOUSEHOLDS=5000 .venv/bin/python -m bench.means_test

Steps, each timed: generate the population into a scratch simulator database (not part of the measure: it plays
the registries); load every household's facts for the application date from it (SQL → columns); evaluate the
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
from datetime import date

import numpy as np
import pandas as pd

from bench.synth import mahallas
from connectors import synthetic
from connectors.simulator import store
from rules import frames as facts_frames
from rules import vectorised
from rules.durable import get_engine
from rules.features import STATUS_FLAGS, window_months
from rules.pack import get_pack

HOUSEHOLDS = int(os.environ.get("BENCH_HOUSEHOLDS", "1200000"))
DURABLE_HOUSEHOLDS = int(os.environ.get("BENCH_DURABLE_HOUSEHOLDS", "20000"))
APPLICATION_DATE = date.fromisoformat(os.environ.get("BENCH_APPLICATION_DATE", "2026-11-10"))
SEED = 2026
TARGET_SECONDS = 120


def load_frames(path: str, on: date, window: int) -> facts_frames.FactsFrames:
    """Every living household's facts on `on`, straight from the registries' tables into columns."""
    with sqlite3.connect(path) as conn:
        # Two plain reads merged in pandas: SQLite's join of the two WITHOUT ROWID tables is 6× slower.
        links = pd.read_sql_query("SELECT pin, household_id, relation FROM family_link", conn)
        people = pd.read_sql_query(f"SELECT pin, {_DATE_PARTS}, sex FROM person WHERE death_date IS NULL", conn)
        members = links.merge(people, on="pin")  # family_link comes in pin order; keep it within each household
        members = members.iloc[np.argsort(members["household_id"].to_numpy(), kind="stable")].reset_index(drop=True)
        months = "','".join(window_months(on, window))
        income = pd.read_sql_query(f"SELECT pin, {_MONTH_INDEX}, amount FROM income WHERE month IN ('{months}')",
                                   conn)
        alimony = pd.read_sql_query(f"SELECT pin, {_MONTH_INDEX}, amount FROM alimony_paid "
                                    f"WHERE month IN ('{months}')", conn)
        day = on.isoformat()
        statuses = pd.read_sql_query("SELECT pin, status FROM status WHERE start_date <= ? AND "
                                     "(end_date IS NULL OR end_date >= ?)", conn, params=(day, day))
        disability = pd.read_sql_query("SELECT pin, disability_group FROM disability WHERE end_date IS NULL "
                                       "OR end_date >= ?", conn, params=(day,))
        vehicles = pd.read_sql_query("SELECT owner_pin, year, kind FROM vehicle", conn)
        estate = pd.read_sql_query("SELECT owner_pin, kind FROM real_estate", conn)
        securities = pd.read_sql_query("SELECT owner_pin, COALESCE(market_value, nominal_value) AS value "
                                       "FROM security_holding", conn)
    return _frames(members, income, alimony, statuses, disability, vehicles, estate, securities, on)


# Dates and months split into numbers by SQLite itself: cheaper than parsing millions of strings in pandas.
_DATE_PARTS = ("CAST(substr(birth_date, 1, 4) AS INTEGER) AS by, CAST(substr(birth_date, 6, 2) AS INTEGER) AS bm, "
               "CAST(substr(birth_date, 9, 2) AS INTEGER) AS bd")
_MONTH_INDEX = "CAST(substr(month, 1, 4) AS INTEGER) * 12 + CAST(substr(month, 6, 2) AS INTEGER) - 1 AS month"


def _frames(members, income, alimony, statuses, disability, vehicles, estate, securities, on):
    hid, _ = pd.factorize(members["household_id"], sort=True)
    count = int(hid.max()) + 1 if len(hid) else 0
    pins = pd.Index(members["pin"])
    flags = {flag: np.zeros(len(members), dtype=bool) for flag in STATUS_FLAGS}
    statuses = statuses.replace({"status": {"registered_unemployed": "employment_registered"}})
    for flag in STATUS_FLAGS:
        rows = pins.get_indexer(statuses.loc[statuses["status"] == flag, "pin"])
        flags[flag][rows[rows >= 0]] = True
    group = pd.Series([None] * len(members), dtype=object)
    rows = pins.get_indexer(disability["pin"])
    group.iloc[rows[rows >= 0]] = disability["disability_group"].to_numpy()[rows >= 0]
    member_frame = pd.DataFrame({
        "hid": hid, "pin": members["pin"], "relation": members["relation"], "birth_year": members["by"],
        "birth_month": members["bm"], "birth_day": members["bd"], "male": members["sex"] == "M",
        "disability_group": group, **flags, "non_state": False})
    lines = pd.concat([income.assign(alimony_paid=False), alimony.assign(alimony_paid=True)])
    line_rows = pins.get_indexer(lines["pin"])
    keep = line_rows >= 0
    income_frame = pd.DataFrame({"member": line_rows[keep], "month": lines["month"].to_numpy()[keep],
                                 "amount": lines["amount"].to_numpy(float)[keep],
                                 "alimony_paid": lines["alimony_paid"].to_numpy(bool)[keep]})
    owners = hid_of(pins, hid)
    vehicle_hid, estate_hid, security_hid = owners(vehicles["owner_pin"]), owners(estate["owner_pin"]), owners(
        securities["owner_pin"])
    securities_value = np.bincount(security_hid[security_hid >= 0],
                                   weights=securities["value"].to_numpy(float)[security_hid >= 0], minlength=count)
    households = pd.DataFrame({"year": on.year, "month": on.month, "day": on.day,
                               "securities_value": securities_value[:count]}, index=range(count))
    return facts_frames.FactsFrames(
        households=households, members=member_frame, income=income_frame,
        vehicles=pd.DataFrame({"hid": vehicle_hid, "year": vehicles["year"],
                               "passenger": vehicles["kind"] == "passenger"})[vehicle_hid >= 0],
        real_estate=pd.DataFrame({"hid": estate_hid, "residential": estate["kind"] == "residential"})[estate_hid >= 0])


def hid_of(pins: pd.Index, hid: np.ndarray):
    def owners(owner_pins: pd.Series) -> np.ndarray:
        rows = pins.get_indexer(owner_pins)
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
            "pin": m["pin"], "relation": m["relation"], "sex": "M" if m["male"] else "F",
            "birth_date": f"{m['birth_year']:04d}-{m['birth_month']:02d}-{m['birth_day']:02d}",
            "income": [{"source": "salary", "month": _month(i), "amount": a} for i, a, paid in lines if not paid],
            "alimony_paid": [{"month": _month(i), "amount": a} for i, a, paid in lines if paid],
            "disability_group": m["disability_group"], "statuses": [f for f in STATUS_FLAGS if m[f]]})
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
