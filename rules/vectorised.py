"""The batch engine: the same parsed pack evaluated over all households at once, column by column.

Used for recertification, national re-runs and policy simulation. Every expression node becomes one numpy
operation over a column (per household or per member); `count()` and `sum()` add member columns up per
household. Results go through `rules.evaluation.build_result`, like the real-time engine's, so the two can be
compared field by field (tests/rules/test_differential.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rules import expr, frames
from rules.evaluation import INCOME_NAME, build_result
from rules.expr import Binary, Bool, Name, Neg, Not, Num
from rules.features import WINDOW_PARAMETER
from rules.pack import Version

_OPS = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.true_divide, "<": np.less, "<=": np.less_equal,
        ">": np.greater, ">=": np.greater_equal, "==": np.equal, "!=": np.not_equal,
        "and": np.logical_and, "or": np.logical_or}


@dataclass
class _Scope:
    household: dict  # name → array over households (or a float parameter)
    member: dict  # name → array over members
    hid: np.ndarray  # member row → household row
    count: int  # households
    per_member: bool  # evaluating per member (inside count()/sum() or a member derived value)


def _evaluate(node, scope: _Scope):
    if isinstance(node, Num | Bool):
        return node.value
    if isinstance(node, Name):
        return _lookup(node.id, scope)
    if isinstance(node, Not):
        return np.logical_not(_evaluate(node.operand, scope))
    if isinstance(node, Neg):
        return np.negative(_evaluate(node.operand, scope))
    if isinstance(node, Binary):
        return _OPS[node.op](_evaluate(node.left, scope), _evaluate(node.right, scope))
    if node.fn in expr.AGGREGATES:
        members = _Scope(scope.household, scope.member, scope.hid, scope.count, per_member=True)
        values = np.broadcast_to(_evaluate(node.args[0], members), scope.hid.shape).astype(float)
        return np.bincount(scope.hid, weights=values, minlength=scope.count)[:scope.count]
    reduce = np.minimum if node.fn == "min" else np.maximum
    result = _evaluate(node.args[0], scope)
    for arg in node.args[1:]:
        result = reduce(result, _evaluate(arg, scope))
    return np.asarray(result, dtype=float) if np.ndim(result) else float(result)


def _lookup(name: str, scope: _Scope):
    if scope.per_member and name in scope.member:
        return scope.member[name]
    value = scope.household[name]
    if scope.per_member and np.ndim(value):
        return value[scope.hid]  # a household value seen from each of its members
    return value


def _column(value, count: int) -> np.ndarray:
    array = np.asarray(value)
    if array.shape == (count,):
        return array  # a column already (every operation above makes a new array)
    return np.broadcast_to(array, (count,)).copy()


@dataclass
class BatchResult:
    version: Version
    household: pd.DataFrame  # one row per household: primitives, derived values, fired_*, eligible_*, amount_*
    members: pd.DataFrame  # one row per member: hid, pin, age and member derived values

    @property
    def decisions(self) -> pd.Series:
        fired = self.household[[f"fired_{rule.id}" for rule in self.version.pack.rules]].any(axis=1)
        return fired.map({True: "ineligible", False: "eligible"})


def evaluate_frames(facts: frames.FactsFrames, version: Version) -> BatchResult:
    """Evaluate one pack version over every household in `facts`."""
    pack, count = version.pack, len(facts)
    hid = facts.members["hid"].to_numpy(np.int64)
    household = {**version.parameters, **frames.household_primitives(facts)}
    member = frames.member_primitives(facts, int(version.parameters[WINDOW_PARAMETER]))
    with np.errstate(divide="ignore", invalid="ignore"):
        for item in pack.derived:
            per_member = item.per == "member"
            value = _evaluate(item.node, _Scope(household, member, hid, count, per_member))
            (member if per_member else household)[item.name] = _column(value, len(hid) if per_member else count)
        columns = {name: _column(value, count) for name, value in household.items()}
        top = _Scope(household, member, hid, count, False)
        for rule in pack.rules:
            columns[f"fired_{rule.id}"] = _column(_evaluate(rule.node, top), count).astype(bool)
        for programme in pack.programmes:
            columns[f"eligible_{programme.code}"] = _column(_evaluate(programme.eligible, top), count).astype(bool)
            columns[f"amount_{programme.code}"] = _column(_evaluate(programme.amount, top), count).astype(float)
    # copy=False: the columns are fresh arrays already; stacking them into one block would copy every one of them
    member_frame = pd.DataFrame({"hid": hid, "pin": facts.members["pin"].to_numpy(), **member}, copy=False)
    return BatchResult(version, pd.DataFrame(columns, copy=False), member_frame)


def results(batch: BatchResult, documents: list[dict], language: str = "en") -> list[dict]:
    """Full results (reasons, programmes, trace) per household, in the shape the real-time engine gives."""
    pack, version = batch.version.pack, batch.version
    rows = batch.household.to_dict("records")
    by_household = [[] for _ in rows]
    for row in batch.members.to_dict("records"):
        by_household[row.pop("hid")].append(row)
    out = []
    for row, members, facts in zip(rows, by_household, documents, strict=True):
        household = {name: _python(value) for name, value in row.items()}
        fired = {rule.id: bool(row[f"fired_{rule.id}"]) for rule in pack.rules}
        eligible = {p.code: bool(row[f"eligible_{p.code}"]) for p in pack.programmes}
        amounts = {p.code: float(row[f"amount_{p.code}"]) for p in pack.programmes if eligible[p.code]}
        member_values = [{name: _python(value) for name, value in member.items()} for member in members]
        out.append(build_result(version, household, member_values, fired, eligible, amounts, facts, ENGINE_NAME,
                                language))
    return out


def _python(value):
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.floating | np.integer | float | int):
        return float(value)
    return value


ENGINE_NAME = "pandas"


def evaluate_documents(documents: list[dict], version: Version, language: str = "en") -> list[dict]:
    return results(evaluate_frames(frames.from_documents(documents), version), documents, language)


__all__ = ["BatchResult", "evaluate_frames", "evaluate_documents", "results", "INCOME_NAME"]
