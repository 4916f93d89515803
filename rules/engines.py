"""The one door to the means test: facts in, result out, whichever engine runs it.

A pack never names an engine: callers pick one by name; `durable_rules` is the real-time engine,
`pandas` the batch one. `as_of` picks the pack version in force; it defaults to the application date.
"""

from __future__ import annotations

from datetime import date

from rules import vectorised
from rules.durable import get_engine
from rules.pack import Version, get_pack

ENGINES = ("durable_rules", "pandas")


def version_for(pack_id: str, as_of: date | None, facts: dict | None = None) -> Version:
    when = as_of or date.fromisoformat(facts["application_date"])
    return get_pack(pack_id).version_for(when)


def evaluate(facts: dict, pack_id: str, as_of: date | None = None, engine: str = "durable_rules",
             language: str = "en", version: Version | None = None) -> dict:
    """Validate the facts document and run the means test; raises FactsError, PackError or EngineInputError."""
    from rules.facts import validate_facts

    facts = validate_facts(facts)
    version = version or version_for(pack_id, as_of, facts)
    if engine == "durable_rules":
        return get_engine().evaluate(facts, version, language)
    if engine == "pandas":
        return vectorised.evaluate_documents([facts], version, language)[0]
    raise ValueError(f"unknown engine {engine!r} (known: {', '.join(ENGINES)})")


def public(result: dict) -> dict:
    """The result without its trace: the contract of `srsp means-test evaluate` and the evaluate API."""
    return {key: result[key] for key in ("decision", "per_capita_income", "reasons", "programmes", "pack_version")}
