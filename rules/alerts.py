"""Alert rules: events (a death the civil registry reports, a payment the bank failed or returned, …) matched
against the rule pack's `alerts:` list.

Each event kind carries a few typed fields (EVENT_FIELDS); an alert rule's `when` is an expression of the pack's
language over those fields only, type-checked when the pack loads. `matching` evaluates the conditions with the
pack's scalar evaluator (rules.expr), in pack order. The rules layer decides which alerts an event raises; what an
alert does (a case, a suspension) is the cases module's.
"""

from __future__ import annotations

from rules import expr
from rules.events import EVENT_FIELDS
from rules.pack import AlertRule, Pack

__all__ = ["EVENT_FIELDS", "EventError", "matching"]


class EventError(ValueError):
    """An event of an unknown kind, or without a field its kind carries."""


def matching(pack: Pack, event: dict) -> list[AlertRule]:
    """The pack's alert rules that `event` (a dict with "kind" and the kind's fields) raises, in pack order."""
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
    return [rule for rule in pack.alerts if rule.event == kind and expr.evaluate(rule.node, env) is True]
