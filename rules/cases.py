"""Golden cases: `rules/packs/<pack>.cases.yaml`, household facts with the decision a person worked out by hand.

Each case: `name`, `facts` (a facts document; empty lists may be left out), optional `as_of`, and `expect`:
`decision`, `reasons` (rule ids, in pack order), optionally `per_capita_income` and `programmes`
(code → {monthly_amount, months}; when given, exactly these programmes). Run by the tests (both engines, and
through `srsp means-test evaluate`) and by `srsp rules test`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import yaml

from rules.pack import PACK_DIR


@dataclass(frozen=True)
class Case:
    pack: str
    name: str
    facts: dict
    expect: dict
    as_of: date | None = None


def load_cases(pack_id: str) -> list[Case]:
    path = PACK_DIR / f"{pack_id}.cases.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    cases = []
    for item in data["cases"]:
        as_of = item.get("as_of")
        cases.append(Case(pack_id, item["name"], item["facts"], item["expect"],
                          date.fromisoformat(str(as_of)) if as_of else None))
    return cases


def mismatches(case: Case, result: dict) -> list[str]:
    """What differs between the expectation and the result (empty when the case passes)."""
    expect, problems = case.expect, []
    if result["decision"] != expect["decision"]:
        problems.append(f"decision {result['decision']!r}, expected {expect['decision']!r}")
    reasons = [reason["rule"] for reason in result["reasons"]]
    if reasons != list(expect.get("reasons", [])):
        problems.append(f"reasons {reasons}, expected {expect.get('reasons', [])}")
    if "per_capita_income" in expect and abs(result["per_capita_income"] - expect["per_capita_income"]) > 0.005:
        problems.append(f"per-capita income {result['per_capita_income']}, expected {expect['per_capita_income']}")
    if "programmes" in expect:
        got = {p["code"]: {"monthly_amount": p["monthly_amount"], "months": p["months"]} for p in result["programmes"]}
        wanted = {code: {"monthly_amount": float(v["monthly_amount"]), "months": int(v["months"])}
                  for code, v in (expect["programmes"] or {}).items()}
        if got != wanted:
            problems.append(f"programmes {got}, expected {wanted}")
    return problems
