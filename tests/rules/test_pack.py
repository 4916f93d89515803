"""Rule packs: every load error names the file, the place (rule, derived value, programme, version) and the
problem; effective dating picks the version in force; a new version changes decisions only from its date."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

import pytest
import yaml

from rules import vectorised
from rules.durable import DurableEngine
from rules.pack import PACK_DIR, PackError, get_pack, load_pack, pack_ids

BASE = """\
id: tp
country: UZ
currency: UZS
acts:
  regulation: {title: {en: The regulation, ru: Положение}}
versions:
  - version: "1"
    effective_from: "2024-01-01"
    parameters:
      income_window_months: {value: 3, source: the regulation}
      income_threshold: {value: 500, source: the regulation}
      support_months: {value: 6, source: the regulation}
derived:
  - {name: children, expr: "count(is_child and age < 18)"}
  - {name: income_total, expr: "sum(window_income) - sum(window_alimony_paid)"}
  - {name: per_capita_income, expr: "max(income_total, 0) / members / income_window_months"}
rules:
  - id: income_high
    when: per_capita_income > income_threshold
    outcome: ineligible
    reason: {en: "Income {per_capita_income} is above {income_threshold}."}
    reference: {act: regulation, part: {en: the income test, ru: проверка дохода}}
programmes:
  - code: support
    eligible: children > 0
    amount: 100 * children
    months: support_months
    reference: {act: regulation}
"""
SECOND_VERSION = """\
  - version: "2"
    effective_from: "2025-01-01"
    parameters:
      income_threshold: {value: 600, source: the amended regulation}
"""


def variant(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def with_second_version(version: str = SECOND_VERSION) -> str:
    return variant("derived:\n", version + "derived:\n")


def refused(text: str, tmp_path: Path) -> PackError:
    path = tmp_path / "tp.yaml"
    with pytest.raises(PackError) as caught:
        load_pack(path, text=text)
    error = caught.value
    assert error.file == str(path)
    assert str(error) == f"{path}: {error.where}: {error.problem}"
    return error


def test_the_base_pack_of_these_tests_loads(tmp_path):
    pack = load_pack(tmp_path / "tp.yaml", text=BASE)
    assert [rule.id for rule in pack.rules] == ["income_high"]
    assert [version.version for version in load_pack(tmp_path / "tp.yaml", text=with_second_version()).versions] \
        == ["1", "2"]


WHEN = "    when: per_capita_income > income_threshold\n"


def when(expression: str) -> str:
    return variant(WHEN, f"    when: {expression}\n")


def derived(line: str) -> str:
    return variant("rules:\n", f"  - {line}\nrules:\n")


ERRORS = {
    # schema
    "missing when": (variant(WHEN, ""), "rule income_high", "'when' is a required property"),
    "unknown outcome": (variant("outcome: ineligible", "outcome: maybe"), "rule income_high: outcome",
                        "'maybe' is not one of ['ineligible']"),
    "parameter without a source": (
        variant("income_threshold: {value: 500, source: the regulation}", "income_threshold: {value: 500}"),
        "version 1: parameters: income_threshold", "'source' is a required property"),
    "parameter value not a number": (
        variant("{value: 500, source: the regulation}", "{value: lots, source: the regulation}"),
        "version 1: parameters: income_threshold: value", "'lots' is not of type 'number'"),
    "unknown top-level key": (BASE + "extras: 1\n", "(pack)", "'extras' was unexpected"),
    # names
    "unknown name": (when("per_capita_income > income_limit"), "rule income_high", "unknown name 'income_limit'"),
    "member value outside count()/sum()": (
        when("age > 18"), "rule income_high", "'age' is a value per member; use it inside count() or sum()"),
    "member value in a household derived value": (
        derived('{name: eldest, expr: "age + 1"}'), "derived eldest", "'age' is a value per member"),
    "derived name used twice": (derived('{name: children, expr: "1"}'), "derived children",
                                "the name 'children' is already defined"),
    "derived value shadowing a primitive": (derived('{name: members, expr: "1"}'), "derived members",
                                            "the name 'members' is already defined"),
    # types
    "number joined with and": (when("children and 1"), "rule income_high",
                               "'and' needs a bool, got a number (children)"),
    "not of a number": (when("not children"), "rule income_high", "'not' needs a bool, got a number (children)"),
    "arithmetic on a bool": (when("(children > 0) + 1 > 0"), "rule income_high", "'+' needs a number, got a bool"),
    "when that is a number": (when("children + 1"), "rule income_high", "gives a number, a bool is needed"),
    "amount that is a bool": (variant("amount: 100 * children", "amount: children > 0"),
                              "programme support: amount", "gives a bool, a number is needed"),
    "count() of a number": (derived('{name: earners, expr: "count(window_income)"}'), "derived earners",
                            "'count' needs a bool, got a number (window_income)"),
    # aggregates
    "aggregate nested in an aggregate": (
        derived('{name: odd, expr: "count(sum(window_income) > 0)"}'), "derived odd",
        "sum() ranges over the members of a household; it cannot be used per member"),
    "aggregate in a member derived value": (
        derived('{name: sibling_count, per: member, expr: "count(is_child)"}'), "derived sibling_count",
        "count() ranges over the members of a household; it cannot be used per member"),
    # expressions that do not parse
    "unknown function": (when("avg(per_capita_income, 1) > 0"), "rule income_high",
                         "unknown function 'avg' (known: min, max, count, sum)"),
    "chained comparison": (when("0 < per_capita_income < income_threshold"), "rule income_high",
                           "comparisons cannot be chained; join them with 'and'"),
    "unbalanced parenthesis": (when("(per_capita_income > income_threshold"), "rule income_high",
                               "unexpected end of expression, expected ')'"),
    "python in an expression": (when("__import__('os') == 0"), "rule income_high", "unexpected character"),
    # versions
    "unknown parameter in a later version": (
        with_second_version(SECOND_VERSION + "      new_limit: {value: 1, source: the amended regulation}\n"),
        "version 2", "parameter 'new_limit' is not defined by the first version"),
    "versions out of order": (
        with_second_version(SECOND_VERSION.replace("2025-01-01", "2023-06-01")), "version 2",
        "versions must be in order of effective date, each later than the one before"),
    "two versions on one date": (
        with_second_version(SECOND_VERSION.replace("2025-01-01", "2024-01-01")), "version 2",
        "versions must be in order of effective date"),
    "effective date that is not a date": (variant('"2024-01-01"', '"2024-02-30"'), "version 1",
                                          "effective_from '2024-02-30' is not a date"),
    "no income window": (variant("      income_window_months: {value: 3, source: the regulation}\n", ""),
                         "version 1", "parameter 'income_window_months' is required"),
    # reasons, ids, programmes
    "reason with an unknown name": (variant("{per_capita_income} is", "{per_capita_incme} is"),
                                    "rule income_high: reason.en", "unknown name {per_capita_incme} in the message"),
    "reason with a member value": (variant("{per_capita_income} is", "{age} is"), "rule income_high: reason.en",
                                   "unknown name {age} in the message"),
    "reason with a broken template": (variant("{per_capita_income} is", "{per_capita_income is"),
                                      "rule income_high: reason.en", "bad template"),
    "duplicate rule id": (BASE.replace("programmes:\n", """\
  - id: income_high
    when: members > 9
    outcome: ineligible
    reason: {en: "Too many."}
    reference: {act: regulation}
programmes:
"""), "rule income_high", "the rule id is used twice"),
    "programme months naming an unknown parameter": (variant("months: support_months", "months: suport_months"),
                                                      "programme support: months",
                                                      "unknown parameter 'suport_months'"),
    "programme months as a fixed number": (variant("months: support_months", "months: 6"),
                                           "programme support: months", "6 is not of type 'string'"),
    "programme months below one": (variant("support_months: {value: 6", "support_months: {value: 0"),
                                   "programme support: months",
                                   "support_months is 0 in version 1; it must be a whole number of at least 1"),
    "programme months not whole in a later version": (
        with_second_version(SECOND_VERSION + "      support_months: {value: 2.5, source: the amended regulation}\n"),
        "programme support: months", "support_months is 2.5 in version 2"),
    "programme incompatible with an unknown programme": (
        variant("months: support_months", "months: support_months\n    incompatible_with: [suport]"),
        "programme support: incompatible_with", "unknown programme 'suport'"),
    "programme incompatible with itself": (
        variant("months: support_months", "months: support_months\n    incompatible_with: [support]"),
        "programme support: incompatible_with", "unknown programme 'support'"),
    "paid for a value that is not a member's yes or no": (
        variant("months: support_months", "months: support_months\n    paid_for: {each: age, amount: support_months}"),
        "programme support: paid_for: each", "'age' is not a yes/no value per member"),
    "paid for at an unknown parameter": (
        variant("months: support_months", "months: support_months\n    paid_for: {each: is_child, amount: per_kid}"),
        "programme support: paid_for: amount", "unknown parameter 'per_kid'"),
    # references
    "rule without a reference": (variant("    reference: {act: regulation, part: {en: the income test, "
                                         "ru: проверка дохода}}\n", ""),
                                 "rule income_high", "'reference' is a required property"),
    "reference to an unknown act": (variant("reference: {act: regulation}", "reference: {act: regulaton}"),
                                    "programme support: reference: act", "unknown act 'regulaton'"),
    "free-text reference": (variant("reference: {act: regulation}", "reference: the regulation"),
                            "programme support: reference", "is not of type 'object'"),
    "act without an English title": (variant("{title: {en: The regulation, ru: Положение}}",
                                             "{title: {ru: Положение}}"),
                                     "acts/regulation/title", "'en' is a required property"),
}


@pytest.mark.parametrize("text, where, problem", ERRORS.values(), ids=ERRORS.keys())
def test_a_pack_error_names_the_file_the_place_and_the_problem(tmp_path, text, where, problem):
    error = refused(text, tmp_path)
    assert error.where == where
    assert problem in error.problem, error.problem


def test_an_expression_error_quotes_the_expression(tmp_path):
    error = refused(when("per_capita_income >> 1"), tmp_path)
    assert error.problem == "unexpected '>' in 'per_capita_income >> 1'"


def test_malformed_yaml_is_a_pack_error_naming_the_file(tmp_path):
    error = refused(BASE.replace("  - id: income_high\n", "  - id: [income_high\n"), tmp_path)
    assert error.where == "YAML"
    assert "line" in error.problem and "\n" not in error.problem


def test_a_pack_that_is_not_a_mapping_is_refused(tmp_path):
    error = refused("- just\n- a list\n", tmp_path)
    assert error.where == "(pack)" and "is not of type 'object'" in error.problem


def test_an_unknown_pack_lists_the_known_ones():
    with pytest.raises(PackError) as caught:
        get_pack("zz")
    assert caught.value.where == "pack"
    assert "no pack 'zz'" in caught.value.problem and "kg" in caught.value.problem and "uz" in caught.value.problem


# -- the real packs -----------------------------------------------------------------------------------------------


def test_the_real_packs_load_and_every_parameter_names_its_source():
    assert {"uz", "kg"} <= set(pack_ids())
    for pack_id in pack_ids():
        pack = get_pack(pack_id)
        path = PACK_DIR / f"{pack_id}.yaml"
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert pack.id == pack_id and pack.path == path
        first = set(pack.versions[0].parameters)
        for version, item in zip(pack.versions, raw["versions"], strict=True):
            assert set(version.parameters) == first == set(version.sources)
            for name, source in version.sources.items():
                assert isinstance(source["source"], str) and len(source["source"].strip()) >= 3, (version.label, name)
                assert isinstance(version.parameters[name], float)
            for name, declared in item["parameters"].items():  # what a version sets, it sources itself
                assert version.sources[name] == declared
                assert version.parameters[name] == float(declared["value"])
        assert [v.effective_from for v in pack.versions] == sorted({v.effective_from for v in pack.versions})


# -- effective dating ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("as_of, expected", [
    (date(2021, 9, 1), "2021.09"), (date(2022, 3, 31), "2021.09"), (date(2022, 4, 1), "2022.04"),
    (date(2022, 8, 31), "2022.04"), (date(2022, 9, 1), "2022.09"), (date(2024, 5, 31), "2022.09"),
    (date(2024, 6, 1), "2024.06"), (date(2040, 1, 1), "2024.06"),
])
def test_the_version_in_force_is_the_latest_not_after_the_date(as_of, expected):
    assert get_pack("uz").version_for(as_of).version == expected


def test_there_is_no_version_before_the_first():
    pack = get_pack("kg")
    with pytest.raises(PackError) as caught:
        pack.version_for(date(2021, 12, 31))
    assert caught.value.where == "versions"
    assert caught.value.problem == ("no version is in force on 2021-12-31 "
                                    "(the first takes effect on 2022-01-01)")
    with pytest.raises(PackError, match="no version '1999'"):
        pack.version_named("1999")


def test_later_versions_inherit_the_parameters_they_do_not_change(tmp_path):
    pack = load_pack(tmp_path / "tp.yaml", text=with_second_version())
    first, second = pack.versions
    assert first.parameters == {"income_window_months": 3.0, "income_threshold": 500.0, "support_months": 6.0}
    assert second.parameters == {"income_window_months": 3.0, "income_threshold": 600.0, "support_months": 6.0}
    assert second.sources["income_threshold"]["source"] == "the amended regulation"
    assert second.sources["income_window_months"]["source"] == "the regulation"


NEW_VERSION = """\
  - version: "2027.01"
    effective_from: "2027-01-01"
    source: A lower threshold (test)
    parameters:
      income_threshold:
        value: 500000
        source: A lower threshold from 1 January 2027 (test)
        unit: UZS per person per month
"""


def amended_uz(tmp_path: Path):
    """uz.yaml as it is, plus one later version that changes only `income_threshold`."""
    text = (PACK_DIR / "uz.yaml").read_text(encoding="utf-8")
    versions_end = text.index("\n", text.index("unit: UZS per household per month", text.index('"2024.06"'))) + 1
    pack = load_pack(tmp_path / "uz.yaml", text=text[:versions_end] + NEW_VERSION + text[versions_end:])
    assert [v.version for v in pack.versions] == [v.version for v in get_pack("uz").versions] + ["2027.01"]
    return pack


def household(application_date: str, monthly_income: int) -> dict:
    """A mother with a salary every month of 2026 and 2027 and her son: nothing but income can make it ineligible."""
    salary = [{"source": "salary", "month": f"{year}-{month:02d}", "amount": monthly_income}
              for year in (2026, 2027) for month in range(1, 13)]
    return {
        "application_date": application_date,
        "members": [
            {"pin": "31502850170012", "relation": "head", "birth_date": "1985-04-02", "sex": "F", "income": salary,
             "alimony_paid": [], "disability_group": None, "statuses": []},
            {"pin": "51003200170034", "relation": "child", "birth_date": "2016-03-10", "sex": "M", "income": [],
             "alimony_paid": [], "disability_group": None, "statuses": []},
        ],
        "vehicles": [], "real_estate": [], "securities_value": 0,
    }


def both_engines(facts: dict, version) -> dict:
    """The result (without its trace's engine) after checking that both engines give it."""
    batch = vectorised.evaluate_documents([facts], version)[0]
    single = DurableEngine().evaluate(facts, version)  # a fresh host: this pack's versions stay out of the shared one
    for result in (batch, single):
        del result["trace"]["engine"]
    assert batch == single
    return batch


@pytest.mark.parametrize("application_date", ["2026-06-15", "2026-12-31", "2027-01-01", "2027-01-02", "2027-12-31"])
@pytest.mark.parametrize("monthly_income", [600_000, 1_100_000, 1_400_000])  # per person: 300k, 550k, 700k
def test_a_new_version_changes_decisions_only_from_its_effective_date(tmp_path, application_date, monthly_income):
    amended, original = amended_uz(tmp_path), get_pack("uz")
    on = date.fromisoformat(application_date)
    facts = household(application_date, monthly_income)
    per_capita = monthly_income / 2
    now = both_engines(facts, amended.version_for(on))
    before = both_engines(facts, original.version_for(on))
    assert now["per_capita_income"] == before["per_capita_income"] == per_capita
    if on < date(2027, 1, 1):
        assert now == before  # the same version label, parameters, decision, messages and trace
        assert now["pack_version"] == "uz@2024.06"
        return
    assert now["pack_version"] == "uz@2027.01" and before["pack_version"] == "uz@2024.06"
    assert now["trace"]["values"] == before["trace"]["values"]  # nothing but the threshold differs
    expected = "ineligible" if per_capita > 500_000 else "eligible"
    assert (before["decision"], now["decision"]) == ("ineligible" if per_capita > 648_000 else "eligible", expected)
    if expected == "ineligible":
        shown = f"{per_capita:,.0f}".replace(",", " ")
        assert now["reasons"] == [{"rule": "income_above_threshold", "message":
                                   f"Income per person per month is {shown} UZS, above the threshold of 500 000 UZS."}]
    else:
        assert [p["code"] for p in now["programmes"]] == ["child_allowance"]


# -- what-if parameters -------------------------------------------------------------------------------------------


def test_with_parameters_refuses_unknown_names():
    version = get_pack("uz").version_for(date(2026, 1, 1))
    with pytest.raises(PackError) as caught:
        version.with_parameters({"income_threshold": 1, "income_treshold": 2})
    assert caught.value.where == "version 2024.06"
    assert caught.value.problem == "unknown parameter 'income_treshold'"


def test_with_parameters_changes_a_copy():
    version = get_pack("uz").version_for(date(2026, 1, 1))
    before = copy.deepcopy(version.parameters)
    draft = version.with_parameters({"income_threshold": 700000}, tag="what-if")
    assert draft.label == "uz@2024.06+what-if" and draft.pack is version.pack
    assert draft.parameters == {**before, "income_threshold": 700000.0}
    assert isinstance(draft.parameters["income_threshold"], float)
    assert version.parameters == before
