"""Alert rules (a pack's `alerts:`) decided by durable_rules, through the means test's adapter (rules/durable.py).

The alert rules of one event kind in one pack form one ruleset; its name carries a digest of those rules (their
ids and conditions), so a pack loaded again with other alert rules registers a new ruleset instead of colliding
with the one already on the host. The adapter's guards hold as for the means test: each rule is posted as its own
message and compiled twice (as its condition and as its negation), numbers go as floats, every message has a fresh
id, the host is used under the adapter's one lock, and a message without exactly one verdict is an error.

An alert rule's condition names only the fields of its event kind (rules/events.py); there are no parameters and
no members, so the compiler sees the event's fields as the household values of a means test.
"""

from __future__ import annotations

import hashlib
import json

from rules.durable import _FALSE, _TRUE, _Check, _Compiled, _Compiler, get_engine
from rules.pack import AlertRule, Pack, Symbol

CHECK_PREFIX = "alert:"


class _AlertCompiler(_Compiler):
    """The alert rules of one event kind → one durable_rules ruleset definition."""

    def __init__(self, name: str, rules: list[AlertRule], fields: dict[str, str], record):
        # No pack version: it would supply parameters, and an alert condition names none.
        self.version, self.record, self.suffix = None, record, ""
        self.name, self.rules = name, rules
        self.symbols = {field: Symbol(kind, "household") for field, kind in fields.items()}
        self.hoisted: dict[str, object] = {}
        self.fields: list[str] = []

    def ruleset(self) -> tuple[dict, _Compiled]:
        definition, checks = {}, []
        for number, rule in enumerate(self.rules):
            key = f"{CHECK_PREFIX}{rule.id}"
            self.fields = []
            for verdict in (True, False):
                condition = self.condition(rule.node, negate=not verdict)
                if condition == _FALSE:
                    continue
                clauses = [{"check": key}] + ([] if condition == _TRUE else [condition])
                definition[f"a{number}_{'yes' if verdict else 'no'}"] = {
                    "all": [{"m": {"$and": clauses}}], "run": self.record(verdict)}
            checks.append(_Check(key, list(dict.fromkeys(self.fields))))
        return {self.name: definition}, _Compiled(self.name, checks, self.hoisted)


def ruleset_name(pack: Pack, kind: str, rules: list[AlertRule]) -> str:
    text = json.dumps([[rule.id, rule.text] for rule in rules])
    return f"srsp_alerts_{pack.id}_{kind}_{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def decide(pack: Pack, kind: str, fields: dict[str, str], env: dict) -> list[AlertRule]:
    """The pack's alert rules of event `kind` whose condition holds for `env` (the event's typed values), in pack
    order, as durable_rules decides them."""
    rules = [rule for rule in pack.alerts if rule.event == kind]
    if not rules:
        return []
    name = ruleset_name(pack, kind, rules)
    verdicts = get_engine().decide(name, lambda record: _AlertCompiler(name, rules, fields, record).ruleset(), env)
    return [rule for rule in rules if verdicts[f"{CHECK_PREFIX}{rule.id}"]]
