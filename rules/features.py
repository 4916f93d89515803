"""Facts → the primitive values a pack's expressions start from (scalar path, one household at a time).

These are facts, not policy: ages on the application date, income summed over the income window, counts of
cars and dwellings. Everything that is policy (who is of working age, who is exempt, what disqualifies) is a
`derived:` expression in the pack. `rules.frames` computes the same primitives vectorised over many households;
the differential test holds the two to identical values.
"""

from __future__ import annotations

from datetime import date

MEMBER_PRIMITIVES = {
    "age": "number", "age_months": "number", "male": "bool",
    "is_head": "bool", "is_spouse": "bool", "is_child": "bool", "is_parent": "bool", "is_other": "bool",
    "disabled": "bool", "disabled_child_group": "bool",
    "window_income": "number", "window_alimony_paid": "number",
    "student": "bool", "military_service": "bool", "detention": "bool", "iron_notebook": "bool",
    "employment_registered": "bool", "non_state_worker": "bool",
}
HOUSEHOLD_PRIMITIVES = {
    "members": "number", "application_year": "number", "application_month": "number",
    "passenger_cars": "number", "vehicles": "number", "newest_car_year": "number",
    "residential_properties": "number", "non_residential_properties": "number", "securities_value": "number",
}
STATUS_FLAGS = ("student", "military_service", "detention", "iron_notebook", "employment_registered")
RELATIONS = ("head", "spouse", "child", "parent", "other")
WINDOW_PARAMETER = "income_window_months"


def month_index(month: str) -> int:
    """'2026-08' → a month number that orders and subtracts (year × 12 + month − 1)."""
    return int(month[:4]) * 12 + int(month[5:7]) - 1


def window_months(application_date: date, months: int) -> list[str]:
    """The `months` full calendar months before the application month, oldest first."""
    current = application_date.year * 12 + application_date.month - 1
    return [f"{index // 12:04d}-{index % 12 + 1:02d}" for index in range(current - months, current)]


def full_years(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def full_months(birth: date, on: date) -> int:
    return (on.year - birth.year) * 12 + on.month - birth.month - (on.day < birth.day)


def disability_group(value):
    """A member's disability group in its string form: a document may give the groups 1, 2 and 3 as integers
    ("1", "2", "3" and "child" otherwise); null stays None."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value == int(value):
        return str(int(value))
    return value


def member_primitives(member: dict, on: date, window: range) -> dict:
    """One member's primitive values; `window` is the range of month indexes that count."""
    birth = date.fromisoformat(member["birth_date"])
    statuses = set(member.get("statuses") or ())
    group = disability_group(member.get("disability_group"))
    values = {
        "age": float(full_years(birth, on)), "age_months": float(full_months(birth, on)),
        "male": member["sex"] == "M",
        "disabled": group is not None,
        "disabled_child_group": group == "child",
        "window_income": float(sum(line["amount"] for line in member.get("income") or ()
                                   if month_index(line["month"]) in window)),
        "window_alimony_paid": float(sum(line["amount"] for line in member.get("alimony_paid") or ()
                                         if month_index(line["month"]) in window)),
        "non_state_worker": member.get("employment_sector") == "non_state",
    }
    values.update({f"is_{relation}": member["relation"] == relation for relation in RELATIONS})
    values.update({flag: flag in statuses for flag in STATUS_FLAGS})
    return values


def household_primitives(facts: dict) -> dict:
    on = date.fromisoformat(facts["application_date"])
    cars = [vehicle["year"] for vehicle in facts.get("vehicles") or () if vehicle["kind"] == "passenger"]
    estate = [item["kind"] for item in facts.get("real_estate") or ()]
    return {
        "members": float(len(facts["members"])),
        "application_year": float(on.year), "application_month": float(on.month),
        "passenger_cars": float(len(cars)), "vehicles": float(len(facts.get("vehicles") or ())),
        "newest_car_year": float(max(cars, default=0)),
        "residential_properties": float(estate.count("residential")),
        "non_residential_properties": float(estate.count("non_residential")),
        "securities_value": float(facts.get("securities_value") or 0),
    }


def primitives(facts: dict, income_window_months: int) -> tuple[dict, list[dict]]:
    """(household values, one dict per member) for a validated facts document."""
    on = date.fromisoformat(facts["application_date"])
    current = on.year * 12 + on.month - 1
    window = range(current - income_window_months, current)
    return household_primitives(facts), [member_primitives(member, on, window) for member in facts["members"]]
