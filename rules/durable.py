"""The real-time engine: pack rules compiled to durable_rules, behind an adapter that contains its hazards.

Its known hazards, each with its guard here:
- durable_rules' `Host` starts two timer threads that poll forever: `_QuietHost` never starts them.
- A ruleset name can be registered once per host: each pack version is registered once, under a versioned name.
- Integer arithmetic truncates on division: every number is posted as a float.
- A household with no members crashes the process: `check_input` refuses it before anything is posted.
- A message id seen twice is refused: every message gets a fresh id.
- An event is consumed by the first rule it matches, so every check is posted as its own event and compiled
  twice, as the condition and as its negation: each event must get exactly one verdict, which is verified.
- The host is not thread-safe: one lock around it.

Household values (the pack's `derived:`) come from the scalar derivation shared with the trace; durable_rules
evaluates the conditions of every rule and every programme. Sub-expressions durable_rules cannot express
(functions, arithmetic starting with a constant) are hoisted: computed before posting, sent as a field.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import os
import threading
from dataclasses import dataclass, field

from durable import engine as durable_engine

from rules import expr
from rules.evaluation import EngineError, EngineInputError, amounts, build_result, check_input, derive
from rules.expr import Binary, Bool, Name, Not, Num
from rules.pack import Version

_TRUE, _FALSE = "TRUE", "FALSE"
_DURABLE_OPS = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte", "!=": "$neq"}
_NEGATED = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_ARITHMETIC = {"+": "$add", "-": "$sub", "*": "$mul", "/": "$div"}


class _QuietHost(durable_engine.Host):
    """A Host without the background dispatch threads: we post synchronously and use no timers."""

    def _run(self):
        return None


@dataclass
class _Check:
    key: str  # rule:<id> or programme:<code>
    fields: list[str] = field(default_factory=list)  # message fields the compiled conditions read


@dataclass
class _Compiled:
    name: str
    checks: list[_Check]
    hoisted: dict  # field name → expression node, computed before posting


class _Compiler:
    """One pack version → one durable_rules ruleset definition."""

    def __init__(self, version: Version, record, suffix: str = ""):
        self.version, self.record, self.suffix = version, record, suffix
        self.symbols = version.pack.symbols
        self.hoisted: dict[str, object] = {}
        self.fields: list[str] = []

    def ruleset(self) -> tuple[dict, _Compiled]:
        definition, checks = {}, []
        pack = self.version.pack
        conditions = [(f"rule:{r.id}", r.node) for r in pack.rules]
        conditions += [(f"programme:{p.code}", p.eligible) for p in pack.programmes]
        for number, (key, node) in enumerate(conditions):
            self.fields = []
            for verdict in (True, False):
                condition = self.condition(node, negate=not verdict)
                if condition == _FALSE:
                    continue
                clauses = [{"check": key}] + ([] if condition == _TRUE else [condition])
                definition[f"c{number}_{'yes' if verdict else 'no'}"] = {
                    "all": [{"m": {"$and": clauses}}], "run": self.record(verdict)}
            checks.append(_Check(key, list(dict.fromkeys(self.fields))))
        label = self.version.label.replace("@", "_v_").replace(".", "_").replace("-", "_").replace("+", "_")
        name = f"srsp_{label}" + (f"_{self.suffix}" if self.suffix else "")
        return {name: definition}, _Compiled(name, checks, self.hoisted)

    def is_bool(self, node) -> bool:
        if isinstance(node, Bool | Not):
            return True
        if isinstance(node, Name):
            return self.symbols[node.id].type == "bool"
        return isinstance(node, Binary) and node.op in (*expr.COMPARISONS, "and", "or")

    def condition(self, node, negate: bool):
        if isinstance(node, Bool):
            return _TRUE if node.value != negate else _FALSE
        if isinstance(node, Not):
            return self.condition(node.operand, not negate)
        if isinstance(node, Name):
            return {self.field(node): not negate}
        if isinstance(node, Binary) and node.op in ("and", "or"):
            joined = "$and" if (node.op == "and") != negate else "$or"
            return self.join(joined, [self.condition(node.left, negate), self.condition(node.right, negate)])
        if isinstance(node, Binary) and node.op in expr.COMPARISONS and not self.is_bool(node.left):
            return self.comparison(node, negate)
        return {self.field(self.hoist(node)): not negate}

    @staticmethod
    def join(op: str, parts: list):
        neutral, absorbing = (_TRUE, _FALSE) if op == "$and" else (_FALSE, _TRUE)
        if absorbing in parts:
            return absorbing
        parts = [part for part in parts if part != neutral]
        if not parts:
            return neutral
        return parts[0] if len(parts) == 1 else {op: parts}

    def comparison(self, node: Binary, negate: bool):
        op = _NEGATED[node.op] if negate else node.op
        left, right = node.left, node.right
        if not self.is_field(left) and self.is_field(right):
            left, right, op = right, left, _FLIPPED[op]
        if not self.is_field(left):
            left = self.hoist(left)
        value = self.operand(right)
        name = self.field(left)
        return {name: value} if op == "==" else {_DURABLE_OPS[op]: {name: value}}

    def is_field(self, node) -> bool:
        return isinstance(node, Name) and self.symbols[node.id].scope != "param"

    def operand(self, node):
        """A right-hand side: a float constant, a message field or arithmetic durable_rules can evaluate."""
        if isinstance(node, Num):
            return node.value
        if isinstance(node, Name) and self.symbols[node.id].scope == "param":
            return float(self.version.parameters[node.id])
        if isinstance(node, Name):
            return {"$m": self.field(node)}
        if isinstance(node, Binary) and node.op in _ARITHMETIC and self.leads_with_field(node):
            return {_ARITHMETIC[node.op]: {"$l": self.operand(node.left), "$r": self.operand(node.right)}}
        return {"$m": self.field(self.hoist(node))}

    def leads_with_field(self, node) -> bool:
        """durable_rules arithmetic must start from a message field (its left operand cannot be a constant)."""
        while isinstance(node, Binary) and node.op in _ARITHMETIC:
            node = node.left
        return self.is_field(node)

    def hoist(self, node) -> Name:
        for name, existing in self.hoisted.items():
            if existing == node:
                return Name(name)
        name = f"_h{len(self.hoisted)}"
        self.hoisted[name] = node
        return Name(name)

    def field(self, node: Name) -> str:
        self.fields.append(node.id)
        return node.id


def parameters_digest(version: Version) -> str:
    """Parameters are compiled into the ruleset: two drafts with one label but other values need two rulesets."""
    text = json.dumps(sorted(version.parameters.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class DurableEngine:
    name = "durable_rules"

    def __init__(self):
        self._lock = threading.Lock()
        self._host = _QuietHost()
        self._compiled: dict[str, _Compiled] = {}
        self._rulesets: dict[str, _Compiled] = {}  # other rulesets than pack versions' (rules/durable_events.py)
        self._verdicts: dict[str, list[bool]] = {}
        self._expected: set[str] = set()  # ids of the messages being posted; late actions of a refused post ignored
        self._ids = itertools.count()
        self._prefix = f"{os.getpid()}-{id(self):x}"

    def _record(self, verdict: bool):
        def run(c):
            if c.m["id"] in self._expected:
                self._verdicts.setdefault(c.m["id"], []).append(verdict)

        return run

    def compiled(self, version: Version) -> _Compiled:
        """Register each pack version once (under the lock, which the caller holds)."""
        key = (version.label, parameters_digest(version))
        compiled = self._compiled.get(key)
        if compiled is None:
            # A second parameter set under a label already registered (a what-if draft) gets its own name.
            clash = any(label == version.label for label, _digest in self._compiled)
            definition, compiled = _Compiler(version, self._record, key[1] if clash else "").ruleset()
            self._host.register_rulesets(definition)
            self._compiled[key] = compiled
        return compiled

    def evaluate(self, facts: dict, version: Version, language: str = "en") -> dict:
        check_input(facts)
        household, members = derive(version, facts)
        with self._lock:
            compiled = self.compiled(version)
            verdicts = self._post(compiled, household, members)
        fired = {key[5:]: value for key, value in verdicts.items() if key.startswith("rule:")}
        eligible = {key[10:]: value for key, value in verdicts.items() if key.startswith("programme:")}
        return build_result(version, household, members, fired, eligible, amounts(version, household, eligible),
                            facts, self.name, language)

    def decide(self, name: str, build, values: dict) -> dict[str, bool]:
        """The verdict of each check of the ruleset `name` for one message's `values`: a ruleset other than a pack
        version's (the alert rules, rules/durable_events.py), compiled by `build(record)` into (definition,
        _Compiled) and registered the first time its name is seen, behind the same lock and guards."""
        with self._lock:
            compiled = self._rulesets.get(name)
            if compiled is None:
                definition, compiled = build(self._record)
                self._host.register_rulesets(definition)
                self._rulesets[name] = compiled
            return self._post(compiled, values, []) if compiled.checks else {}

    def _post(self, compiled: _Compiled, household: dict, members: list[dict]) -> dict[str, bool]:
        values = dict(household)
        if compiled.hoisted:
            member_envs = [{**household, **member} for member in members]
            for name, node in compiled.hoisted.items():
                values[name] = expr.evaluate(node, household, member_envs)
        messages = [self._message(check, values) for check in compiled.checks]
        self._expected = {message["id"] for message in messages}
        try:
            with contextlib.suppress(durable_engine.MessageNotHandledException):
                self._host.post(compiled.name, messages)  # an unmatched message is reported below
            verdicts = {message["id"]: self._verdicts.pop(message["id"], []) for message in messages}
        finally:
            self._expected = set()
            self._verdicts.clear()
        if any(len(found) != 1 for found in verdicts.values()):
            raise EngineError(self._diagnose(compiled, values))
        return {check.key: verdicts[message["id"]][0] for check, message in zip(compiled.checks, messages,
                                                                               strict=True)}

    def _diagnose(self, compiled: _Compiled, values: dict) -> str:
        """Which checks lack exactly one verdict. One unmatched message stops every action of its batch, so
        each check is posted again on its own to find the culprit."""
        problems = []
        for check in compiled.checks:
            message = self._message(check, values)
            self._expected = {message["id"]}
            try:
                with contextlib.suppress(durable_engine.MessageNotHandledException):
                    self._host.post(compiled.name, [message])
                count = len(self._verdicts.pop(message["id"], []))
            finally:
                self._expected = set()
                self._verdicts.clear()
            if count != 1:
                problems.append(f"durable_rules gave {count} verdicts for {check.key} (exactly one is required)")
        return "; ".join(problems) or "durable_rules did not give exactly one verdict per check of this household"

    def _message(self, check: _Check, values: dict) -> dict:
        message = {"id": f"{self._prefix}-{next(self._ids)}", "check": check.key}
        for name in check.fields:
            value = values[name]
            if not isinstance(value, bool):
                value = float(value)
                if not math.isfinite(value):
                    # durable_rules crashes the process on Infinity and matches nothing on NaN: refuse it here.
                    raise EngineInputError(f"{name} is {value} (a division by zero in the pack?); "
                                           f"{check.key} cannot be decided")
            message[name] = value
        return message


_engine: DurableEngine | None = None
_engine_lock = threading.Lock()


def get_engine() -> DurableEngine:
    """One engine (one host) per process."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = DurableEngine()
        return _engine
