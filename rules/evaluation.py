"""What both engines share: the scalar derivation of one household, and turning outcomes into a result.

A result is the decision, the per-capita income, the reasons, the programmes with their amounts, the pack
version and the trace (each rule with the values it saw and what it concluded). Both engines produce it
through `build_result`, so a difference between them can only come from the evaluation itself.
"""

from __future__ import annotations

import math
import string
from datetime import date

from rules import expr
from rules.facts import validate_facts
from rules.features import WINDOW_PARAMETER, primitives, window_months
from rules.pack import Programme, Version

INCOME_NAME = "per_capita_income"


class EngineError(RuntimeError):
    """The engine broke one of its own guarantees (e.g. an input without exactly one decision)."""


class EngineInputError(ValueError):
    """An input the engines must not be given (checked before posting, e.g. a household with no members)."""


def check_input(facts: dict) -> None:
    if not facts.get("members"):
        raise EngineInputError("members: a household needs at least one member")


def derive(version: Version, facts: dict) -> tuple[dict, list[dict]]:
    """Household environment (parameters, primitives, household derived values) and member environments."""
    pack = version.pack
    household, members = primitives(facts, int(version.parameters[WINDOW_PARAMETER]))
    household = {**version.parameters, **household}
    envs = [{**household, **member} for member in members]  # what a member-level expression sees
    for item in pack.derived:
        if item.per == "member":
            for env, member in zip(envs, members, strict=True):
                env[item.name] = member[item.name] = expr.evaluate(item.node, env)
        else:
            household[item.name] = value = expr.evaluate(item.node, household, envs)
            for env in envs:
                env[item.name] = value
    return household, members


def paid_for(version: Version, facts: dict, programme: Programme) -> list[str]:
    """PINs of the members a per-person programme is paid for (the household's facts as the decision saw them)."""
    facts = validate_facts(facts)
    _household, members = derive(version, facts)
    return [fact["pin"] for fact, member in zip(facts["members"], members, strict=True)
            if member[programme.paid_for.each]]


def amounts(version: Version, household: dict, eligible: dict[str, bool]) -> dict[str, float]:
    return {programme.code: float(expr.evaluate(programme.amount, household))
            for programme in version.pack.programmes if eligible[programme.code]}


def format_number(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, int | float) or not math.isfinite(value):
        return str(value)
    if float(value).is_integer():
        # Digits grouped from five on (the Uzbek and Russian convention): 648 000 and 12 500, but 2018.
        return f"{value:,.0f}".replace(",", " ") if abs(value) >= 10_000 else f"{value:.0f}"
    return f"{value:,.2f}".replace(",", " ")


def reason_message(rule, household: dict, language: str = "en") -> str:
    template = rule.reason.get(language) or rule.reason["en"]
    fields = {name: format_number(household[name]) for _, name, _, _ in string.Formatter().parse(template) if name}
    return template.format(**fields)


def counted_conditions(pack, node) -> tuple:
    """The member conditions a household expression counts (`count(condition)`), followed through the household
    values it reads: `idle_adults > 0` counts `able_bodied and without_income and not exempt`."""
    derived = {item.name: item for item in pack.derived if item.per != "member"}
    found, seen = [], set()

    def visit(item) -> None:
        if isinstance(item, expr.Call) and item.fn == "count":
            if item.args[0] not in found:
                found.append(item.args[0])
            return
        if isinstance(item, expr.Name):
            if item.id in derived and item.id not in seen:
                seen.add(item.id)
                visit(derived[item.id].node)
            return
        for child in expr.children(item):
            visit(child)

    visit(node)
    return tuple(found)


_COUNTED: dict[int, tuple] = {}  # id(rule node) → (node, its counted conditions): a rule node belongs to one pack


def concerned_members(pack, node, household: dict, members: list[dict]) -> list[int]:
    """Indexes of the members a rule is about: those its counted conditions hold for (e.g. the able-bodied
    members without income and exemption), so a reason can name them. Empty for a rule over household values."""
    entry = _COUNTED.get(id(node))
    if entry is None or entry[0] is not node:
        entry = _COUNTED[id(node)] = (node, counted_conditions(pack, node))
    conditions = entry[1]
    if not conditions:
        return []
    return [index for index, member in enumerate(members)
            if any(expr.evaluate(condition, {**household, **member}) for condition in conditions)]


def _plain(value):
    """JSON-safe: bools stay bools, numbers are floats rounded to the tiyin, non-finite become None."""
    if isinstance(value, bool):
        return value
    return round(float(value), 2) if math.isfinite(value) else None


def build_result(version: Version, household: dict, members: list[dict], fired: dict[str, bool],
                 eligible: dict[str, bool], amount_by_code: dict[str, float], facts: dict, engine: str,
                 language: str = "en") -> dict:
    pack = version.pack
    reasons = [{"rule": rule.id, "message": reason_message(rule, household, language)}
               for rule in pack.rules if fired[rule.id]]
    decision = "ineligible" if reasons else "eligible"
    programmes = [] if reasons else [
        {"code": p.code, "monthly_amount": round(amount_by_code[p.code], 2), "months": version.months(p)}
        for p in pack.programmes if eligible[p.code]]
    return {"decision": decision, "per_capita_income": round(household[INCOME_NAME], 2), "reasons": reasons,
            "programmes": programmes, "pack_version": version.label,
            "trace": trace(version, household, members, fired, eligible, amount_by_code, facts, engine)}


def trace(version, household, members, fired, eligible, amount_by_code, facts, engine) -> dict:
    pack = version.pack
    household_names = [item.name for item in pack.derived if item.per == "household"]
    member_names = [item.name for item in pack.derived if item.per == "member"]

    def seen(node) -> dict:
        return {name: _plain(household[name]) for name in expr.names(node) if name in household}

    pins = [fact["pin"] for fact in facts["members"]]

    def about(rule) -> list[str]:
        return [pins[index] for index in concerned_members(pack, rule.node, household, members)]

    return {
        "pack": pack.id, "version": version.version, "engine": engine,
        "application_date": facts["application_date"],
        "window": window_months(date.fromisoformat(facts["application_date"]),
                                int(version.parameters[WINDOW_PARAMETER])),
        "values": {name: _plain(household[name]) for name in household_names},
        "members": [{"pin": fact["pin"], **{name: _plain(member[name]) for name in ("age", *member_names)}}
                    for fact, member in zip(facts["members"], members, strict=True)],
        "rules": [{"rule": rule.id, "when": rule.text, "values": seen(rule.node), "fired": bool(fired[rule.id]),
                   "legal": rule.reference.text(), "members": about(rule) if fired[rule.id] else []}
                  for rule in pack.rules],
        "programmes": [{"code": p.code, "eligible": bool(eligible[p.code]), "values": seen(p.eligible),
                        "monthly_amount": _plain(amount_by_code.get(p.code, 0.0)), "months": version.months(p)}
                       for p in pack.programmes],
    }
