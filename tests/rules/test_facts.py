"""The facts document: its schema, and every rule of `validate_facts` with the field its message names."""

from __future__ import annotations

import copy
import json
import re
from datetime import date
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from rules import features, frames
from rules.facts import SCHEMA, FactsError, load_facts_text, validate_facts
from rules.features import month_index

HEAD, CHILD = "31502850170012", "51003200170034"


def document() -> dict:
    return {
        "application_date": "2026-11-10",
        "members": [
            {"pin": HEAD, "relation": "head", "birth_date": "1985-04-02", "sex": "F",
             "income": [{"source": "salary", "month": "2026-08", "amount": 1500000.5}],
             "alimony_paid": [{"month": "2026-08", "amount": 200000}],
             "disability_group": None, "statuses": ["employment_registered"]},
            {"pin": CHILD, "relation": "child", "birth_date": "2020-03-10", "sex": "M"},
        ],
        "vehicles": [{"owner_pin": HEAD, "year": 2015, "kind": "passenger"}],
        "real_estate": [{"owner_pin": HEAD, "kind": "residential"}],
        "securities_value": 0,
    }


def refused(doc, field: str) -> str:
    with pytest.raises(FactsError) as caught:
        validate_facts(doc)
    assert caught.value.field == field, str(caught.value)
    message = str(caught.value)
    assert message.startswith(f"{field}: "), message
    return message


def test_the_schema_is_a_valid_draft_2020_12_schema():
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_a_valid_document_passes_and_the_input_is_not_changed():
    doc = document()
    before = copy.deepcopy(doc)
    facts = validate_facts(doc)
    assert doc == before
    assert facts["members"][0] == before["members"][0]
    assert facts["members"][0]["income"] is not doc["members"][0]["income"]  # a copy, not a view


def test_defaults_are_filled():
    doc = document()
    del doc["vehicles"], doc["real_estate"], doc["securities_value"]
    facts = validate_facts(doc)
    assert facts["vehicles"] == [] and facts["real_estate"] == [] and facts["securities_value"] == 0
    child = facts["members"][1]
    assert child["income"] == [] and child["alimony_paid"] == [] and child["statuses"] == []
    assert child["disability_group"] is None
    assert "employment_sector" not in child  # optional with no default: stays absent


def test_integer_and_fractional_amounts_and_extra_fields_are_accepted():
    doc = document()
    doc["members"][0]["income"].append({"source": "pension", "month": "2026-09", "amount": 700000})
    doc["members"][0]["employment_sector"] = "non_state"
    doc.update(household_id=42, region="UZ-TK", pack_note="kept")
    doc["vehicles"][0]["year"] = 2015.0
    facts = validate_facts(doc)
    assert [line["amount"] for line in facts["members"][0]["income"]] == [1500000.5, 700000]
    assert facts["pack_note"] == "kept" and facts["household_id"] == 42
    assert facts["vehicles"][0]["year"] == 2015 and isinstance(facts["vehicles"][0]["year"], int)


@pytest.mark.parametrize("path, field", [
    (("application_date",), "application_date"),
    (("members", 1, "birth_date"), "members[1].birth_date"),
    (("members", 0, "pin"), "members[0].pin"),
    (("members", 0, "relation"), "members[0].relation"),
    (("members", 1, "sex"), "members[1].sex"),
    (("members", 0, "income", 0, "month"), "members[0].income[0].month"),
    (("members", 0, "alimony_paid", 0, "amount"), "members[0].alimony_paid[0].amount"),
    (("vehicles", 0, "kind"), "vehicles[0].kind"),
    (("real_estate", 0, "owner_pin"), "real_estate[0].owner_pin"),
])
def test_a_missing_required_field_is_named(path, field):
    doc = document()
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    del parent[path[-1]]
    assert refused(doc, field) == f"{field}: is required"


def test_the_members_list_is_required():
    doc = document()
    del doc["members"]
    assert refused(doc, "members") == "members: is required"


@pytest.mark.parametrize("value", ["1985-13-02", "1985-02-30", "1985/04/02", "19850402", "85-04-02", ""])
def test_a_bad_date_is_named(value):
    doc = document()
    doc["members"][1]["birth_date"] = value
    assert refused(doc, "members[1].birth_date") == f"members[1].birth_date: {value!r} is not a date (YYYY-MM-DD)"


def test_a_bad_application_date_is_named():
    doc = document()
    doc["application_date"] = "2026-11-31"
    assert "is not a date" in refused(doc, "application_date")


@pytest.mark.parametrize("value", ["2026-13", "2026-00", "2026-8", "2026-08-01", "202608"])
def test_a_bad_month_is_named(value):
    doc = document()
    doc["members"][0]["income"][0]["month"] = value
    assert refused(doc, "members[0].income[0].month").endswith(f"{value!r} is not a month (YYYY-MM)")


def test_a_bad_alimony_month_is_named():
    doc = document()
    doc["members"][0]["alimony_paid"][0]["month"] = "2026-13"
    refused(doc, "members[0].alimony_paid[0].month")


def test_a_negative_amount_is_refused():
    doc = document()
    doc["members"][0]["income"][0]["amount"] = -1
    assert "-1 is less than 0" in refused(doc, "members[0].income[0].amount")
    doc = document()
    doc["securities_value"] = -0.01
    refused(doc, "securities_value")


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_non_finite_amount_is_refused(value):
    doc = document()
    doc["members"][0]["alimony_paid"][0]["amount"] = value
    assert "is not a finite number" in refused(doc, "members[0].alimony_paid[0].amount")


def test_an_amount_that_is_not_a_number_is_refused():
    doc = document()
    doc["members"][0]["income"][0]["amount"] = "1500000"
    assert "'1500000' is not a number" in refused(doc, "members[0].income[0].amount")
    doc["members"][0]["income"][0]["amount"] = True  # JSON true is not 1
    refused(doc, "members[0].income[0].amount")


def test_an_unknown_relation_is_refused():
    doc = document()
    doc["members"][1]["relation"] = "cousin"
    message = refused(doc, "members[1].relation")
    assert "'cousin' is not one of" in message and "'spouse'" in message


def test_an_unknown_income_source_is_refused():
    doc = document()
    doc["members"][0]["income"][0]["source"] = "alimony_paid"  # a deduction: it has its own list
    assert "'alimony_paid' is not one of" in refused(doc, "members[0].income[0].source")


def test_an_unknown_status_is_refused():
    doc = document()
    doc["members"][0]["statuses"] = ["student", "registered_unemployed"]
    refused(doc, "members[0].statuses[1]")


@pytest.mark.parametrize("field, value", [("sex", "X"), ("disability_group", 4), ("disability_group", "4"),
                                          ("disability_group", 0), ("disability_group", True),
                                          ("disability_group", 2.5), ("employment_sector", "private")])
def test_other_coded_member_fields_are_checked(field, value):
    doc = document()
    doc["members"][0][field] = value
    refused(doc, f"members[0].{field}")


def test_a_disability_group_is_accepted():
    doc = document()
    doc["members"][1]["disability_group"] = "child"
    assert validate_facts(doc)["members"][1]["disability_group"] == "child"


@pytest.mark.parametrize("group", [1, 2, 3])
def test_a_disability_group_given_as_an_integer_is_read_as_its_string(group):
    doc = document()
    doc["members"][0]["disability_group"] = group
    facts = validate_facts(doc)  # accepted, as the string form is
    as_string = copy.deepcopy(facts)
    as_string["members"][0]["disability_group"] = str(group)
    on = date.fromisoformat(facts["application_date"])
    window = range(month_index("2026-05"), month_index("2026-11"))
    assert features.member_primitives(facts["members"][0], on, window) == features.member_primitives(
        as_string["members"][0], on, window)
    assert features.member_primitives(facts["members"][0], on, window)["disabled"] is True
    assert features.disability_group(group) == str(group)
    members = frames.from_documents([facts]).members
    assert members["disability_group"].tolist()[0] == str(group)
    assert frames.from_documents([facts]).members.equals(frames.from_documents([as_string]).members)


@pytest.mark.parametrize("field, value", [("kind", "bus"), ("year", 1800), ("year", "2015"), ("year", 2015.5)])
def test_vehicle_fields_are_checked(field, value):
    doc = document()
    doc["vehicles"][0][field] = value
    refused(doc, f"vehicles[0].{field}")


def test_a_household_without_members_is_refused():
    doc = document()
    doc["members"] = []
    assert "at least 1 item" in refused(doc, "members")


@pytest.mark.parametrize("pin", ["", "3150285017001A", "123456789012345678901", 31502850170012])
def test_a_bad_pin_is_refused(pin):
    doc = document()
    doc["members"][0]["pin"] = pin
    refused(doc, "members[0].pin")


def test_a_pin_of_another_country_is_accepted():
    doc = document()
    doc["members"][0]["pin"] = doc["vehicles"][0]["owner_pin"] = doc["real_estate"][0]["owner_pin"] = "21234567"
    assert validate_facts(doc)["members"][0]["pin"] == "21234567"


def test_a_duplicate_pin_is_refused():
    doc = document()
    doc["members"][1]["pin"] = HEAD
    assert refused(doc, "members[1].pin") == f"members[1].pin: {HEAD!r} is also the PIN of members[0]"


@pytest.mark.parametrize("collection", ["vehicles", "real_estate"])
def test_an_owner_who_is_not_a_member_is_refused(collection):
    doc = document()
    doc[collection][0]["owner_pin"] = "99999999999999"
    assert "is not the PIN of any member" in refused(doc, f"{collection}[0].owner_pin")


def test_a_birth_after_the_application_date_is_refused():
    doc = document()
    doc["members"][1]["birth_date"] = "2026-11-11"
    assert refused(doc, "members[1].birth_date") == \
        "members[1].birth_date: '2026-11-11' is after the application date 2026-11-10"
    doc["members"][1]["birth_date"] = "2026-11-10"  # born on the day: a member
    validate_facts(doc)


def test_a_document_that_is_not_an_object_is_refused():
    for value in ([], None, "facts"):
        assert "is not an object" in refused(value, "(document)")


def test_the_first_problem_in_document_order_is_reported():
    doc = document()
    doc["members"][1]["birth_date"] = "2020-02-30"
    doc["members"][0]["sex"] = "X"
    doc["vehicles"][0]["kind"] = "bus"
    refused(doc, "members[0].sex")
    doc["members"][0]["sex"] = "F"
    refused(doc, "members[1].birth_date")
    doc = document()
    doc["members"][1]["pin"] = HEAD   # a meaning problem...
    doc["vehicles"][0]["kind"] = "bus"  # ...comes after any structural one
    refused(doc, "vehicles[0].kind")


def test_load_facts_text_validates():
    facts = load_facts_text(json.dumps(document()))
    assert facts["members"][1]["statuses"] == []
    doc = document()
    doc["members"] = []
    with pytest.raises(FactsError) as caught:
        load_facts_text(json.dumps(doc))
    assert caught.value.field == "members"


def test_bad_json_text_names_the_position():
    with pytest.raises(FactsError) as caught:
        load_facts_text('{"application_date": "2026-11-10",\n "members": [}')
    assert caught.value.field == "(document)"
    assert str(caught.value).startswith("(document): not valid JSON: ") and "line 2 column 14" in str(caught.value)


def test_nan_in_json_text_is_named_at_its_field():
    text = json.dumps(document()).replace("1500000.5", "NaN")
    with pytest.raises(FactsError) as caught:
        load_facts_text(text)
    assert caught.value.field == "members[0].income[0].amount"


def test_the_example_in_the_documentation_is_valid():
    text = (Path(__file__).parents[2] / "docs" / "facts.md").read_text(encoding="utf-8")
    example = re.search(r"```json\n(.*?)```", text, re.DOTALL)
    assert example, "docs/facts.md has a JSON example"
    facts = load_facts_text(example.group(1))
    assert [m["relation"] for m in facts["members"]] == ["head", "spouse", "child"]


def test_a_facts_error_survives_pickling():
    import pickle

    error = pickle.loads(pickle.dumps(FactsError("members[0].sex", "is required")))
    assert (error.field, error.problem, str(error)) == ("members[0].sex", "is required", "members[0].sex: is required")
