"""Alert rules: events (a death the civil registry reports, a payment the bank failed or returned, …) matched
against the rule pack's `alerts:` list.

Each event kind carries a few typed fields (EVENT_FIELDS); an alert rule's `when` is an expression of the pack's
language over those fields only, type-checked when the pack loads. `matching` has the conditions decided by
durable_rules (rules/durable_events.py, behind the means test's adapter), in pack order; `matching_scalar` decides
them with the pack's scalar evaluator (rules.expr), the cross-check the tests hold the engine to. The rules layer
decides which alerts an event raises; what an alert does (a case, a suspension) is the cases module's.
"""

from __future__ import annotations

from rules import durable_events, expr
from rules.events import EVENT_FIELDS
from rules.pack import AlertRule, Pack

__all__ = ["EVENT_FIELDS", "EventError", "matching", "matching_scalar"]


class EventError(ValueError):
    """An event of an unknown kind, or without a field its kind carries."""


def _typed(event: dict) -> tuple[str, dict[str, str], dict]:
    """(kind, the kind's fields, the event's values typed: bools as bools, numbers as floats)."""
    kind = event.get("kind")
    fields = EVENT_FIELDS.get(kind)
    if fields is None:
        raise EventError(f"unknown event kind {kind!r}")
    env = {}
    for name, kind_of in fields.items():
        if name not in event:
            raise EventError(f"a {kind} event needs the field {name!r}")
        value = event[name]
        env[name] = bool(value) if kind_of == "bool" else float(value)
    return kind, fields, env


def matching(pack: Pack, event: dict) -> list[AlertRule]:
    """The pack's alert rules that `event` (a dict with "kind" and the kind's fields) raises, in pack order."""
    kind, fields, env = _typed(event)
    return durable_events.decide(pack, kind, fields, env)


def matching_scalar(pack: Pack, event: dict) -> list[AlertRule]:
    """The same as `matching`, decided by the scalar evaluator."""
    kind, _fields, env = _typed(event)
    return [rule for rule in pack.alerts if rule.event == kind and expr.evaluate(rule.node, env) is True]
