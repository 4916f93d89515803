"""Golden cases (rules/packs/<pack>.cases.yaml): expectations worked out by hand, checked against both engines and
the command line, plus a check that the case files exercise every rule, programme and exemption of each pack."""

from __future__ import annotations

import json

import pytest

from rules.cases import Case, load_cases, mismatches
from rules.engines import ENGINES, evaluate
from rules.pack import get_pack

MINIMUM_CASES = {"uz": 45, "kg": 12}
CASES = [case for pack_id in MINIMUM_CASES for case in load_cases(pack_id)]

# (pack, case name) → why the engine or the pack is believed wrong; the case stays as worked out by hand.
KNOWN_BUGS: dict[tuple[str, str], str] = {}

# The eight exemptions of the able-bodied-without-income rule (seed 002, "Improving eligibility criteria"): status
# flags come from the facts, the others from the pack's derived values in the trace.
STATUS_EXEMPTIONS = ("military_service", "detention", "student", "iron_notebook", "employment_registered")
DERIVED_EXEMPTIONS = ("cares_for_child_under_3", "single_parent")
MANY_CHILDREN = "more_than_4_children"
EXEMPTIONS = (*DERIVED_EXEMPTIONS[:1], *STATUS_EXEMPTIONS, DERIVED_EXEMPTIONS[1], MANY_CHILDREN)


def _param(case: Case, *rest):
    reason = KNOWN_BUGS.get((case.pack, case.name))
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(case, *rest, marks=marks, id=f"{case.pack}:{case.name}" + "".join(f"[{r}]" for r in rest))


def _as_of(case: Case) -> str:
    return (case.as_of.isoformat() if case.as_of else case.facts["application_date"])


@pytest.mark.parametrize(("case", "engine"), [_param(case, engine) for case in CASES for engine in ENGINES])
def test_golden_case(case, engine):
    result = evaluate(case.facts, case.pack, case.as_of, engine=engine)
    assert mismatches(case, result) == []


@pytest.mark.parametrize("pack_id", list(MINIMUM_CASES))
def test_case_file_size_and_unique_names(pack_id):
    names = [case.name for case in load_cases(pack_id)]
    assert len(names) >= MINIMUM_CASES[pack_id]
    assert len(set(names)) == len(names), "case names must be unique"


@pytest.mark.parametrize("pack_id", list(MINIMUM_CASES))
def test_every_case_states_its_full_expectation(pack_id):
    for case in load_cases(pack_id):
        assert {"decision", "reasons", "per_capita_income", "programmes"} <= set(case.expect), case.name
        assert (case.expect["decision"] == "ineligible") == bool(case.expect["reasons"]), case.name
        if case.expect["reasons"]:
            assert not case.expect["programmes"], f"{case.name}: an ineligible household gets no programme"


@pytest.mark.parametrize("pack_id", list(MINIMUM_CASES))
def test_every_rule_fires_and_every_programme_is_awarded(pack_id):
    pack, cases = get_pack(pack_id), load_cases(pack_id)
    order = [rule.id for rule in pack.rules]
    fired_alone = {case.expect["reasons"][0] for case in cases if len(case.expect["reasons"]) == 1}
    awarded = {code for case in cases for code in (case.expect["programmes"] or {})}
    assert fired_alone == set(order), "every rule must fire alone in some case"
    assert awarded == {programme.code for programme in pack.programmes}
    for case in cases:
        reasons = case.expect["reasons"]
        assert set(reasons) <= set(order), case.name
        assert reasons == sorted(reasons, key=order.index), f"{case.name}: reasons must be in pack order"
    assert any(len(case.expect["reasons"]) > 1 for case in cases), "some case must fire several rules at once"


def test_every_exemption_saves_an_idle_adult_in_some_eligible_case():
    """For each exemption, an eligible uz case has a member of working age, able-bodied and without income whom
    that exemption covers (so the exemption, not a missing fact, is what keeps the household eligible)."""
    covered: set[str] = set()
    for case in load_cases("uz"):
        if case.expect["decision"] != "eligible":
            continue
        result = evaluate(case.facts, "uz", case.as_of, engine="pandas")
        version = get_pack("uz").version_named(result["trace"]["version"])
        many = result["trace"]["values"]["children"] > version.parameters["many_children"]
        for fact, member in zip(case.facts["members"], result["trace"]["members"], strict=True):
            if not (member["able_bodied"] and member["without_income"]):
                continue
            assert member["exempt"], f"{case.name}: {fact['pin']} is idle without an exemption"
            covered.update(status for status in fact.get("statuses", ()) if status in STATUS_EXEMPTIONS)
            covered.update(name for name in DERIVED_EXEMPTIONS if member[name])
            if many:
                covered.add(MANY_CHILDREN)
    assert covered == set(EXEMPTIONS)
    idle = [case.name for case in load_cases("uz") if case.expect["reasons"] == ["able_bodied_without_income"]]
    assert idle, "some case must have an idle adult whom no exemption covers"


def _means_test_evaluate_registered() -> bool:
    """Whether `srsp means-test evaluate` exists: the srsp commands registered on a bare Flask app."""
    from flask import Flask

    probe = Flask("probe")
    try:
        from webapp.cli import register_commands

        register_commands(probe)
    except ImportError:
        return False
    group = probe.cli.commands.get("means-test")
    return group is not None and "evaluate" in getattr(group, "commands", {})


@pytest.mark.skipif(not _means_test_evaluate_registered(),
                    reason="`srsp means-test evaluate` is not registered on the srsp CLI yet")
@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_golden_case_through_the_command_line(app, case):
    assert "means-test" in app.cli.commands, "the means-test group is not registered on the srsp CLI"
    outcome = app.test_cli_runner().invoke(
        args=["means-test", "evaluate", "--pack", case.pack, "--as-of", _as_of(case), "-"],
        input=json.dumps(case.facts))
    assert outcome.exit_code == 0, outcome.output
    printed = json.loads(outcome.output)
    assert set(printed) == {"decision", "per_capita_income", "reasons", "programmes", "pack_version"}
    assert printed["pack_version"].startswith(f"{case.pack}@")
    assert mismatches(case, printed) == []
