"""The household facts document: the single input of both rule engines (docs/facts.md, rules/facts.schema.json).

`validate_facts` checks a document in two passes, structure (the JSON Schema) and then meaning (real dates,
birth before the application, unique PINs, known owners, finite amounts), and reports the first problem as a
`FactsError` whose `field` is a path like `members[1].birth_date`. Both engines refuse what it refuses; in
particular a household without members, which would crash durable_rules.
"""

from __future__ import annotations

import copy
import json
import math
import re
from datetime import date
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

SCHEMA: dict = json.loads(Path(__file__).with_name("facts.schema.json").read_text(encoding="utf-8"))
DOCUMENT = "(document)"  # the `field` of a problem with the document as a whole
_DEFS = SCHEMA["$defs"]
_DATE = re.compile(_DEFS["date"]["pattern"])
_FORMATS = FormatChecker(formats=())
_PATTERN_PROBLEMS = {_DEFS["date"]["pattern"]: "is not a date (YYYY-MM-DD)",
                     _DEFS["month"]["pattern"]: "is not a month (YYYY-MM)",
                     _DEFS["pin"]["pattern"]: "is not a PIN (1 to 20 digits)"}
_TYPE_NAMES = {"string": "a string", "integer": "an integer", "number": "a number", "array": "a list",
               "object": "an object", "boolean": "true or false", "null": "null"}


class FactsError(ValueError):
    """A facts document that cannot be assessed; `field` says where (`members[1].birth_date`, or `(document)`)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem

    def __reduce__(self):  # picklable, for batch runs that spread households over processes
        return type(self), (self.field, self.problem)


@_FORMATS.checks("date", raises=ValueError)
def _is_date(value: Any) -> bool:
    # The pattern alone lets 2026-02-30 through; fromisoformat alone would accept 20260230 (Python 3.11).
    return not isinstance(value, str) or (bool(_DATE.match(value)) and date.fromisoformat(value) is not None)


_VALIDATOR = Draft202012Validator(SCHEMA, format_checker=_FORMATS)


def validate_facts(document: Any) -> dict:
    """A normalised copy of `document` (defaults filled); raises FactsError naming the first problem."""
    _check_structure(document)
    facts = copy.deepcopy(document)
    _fill_defaults(facts, SCHEMA)
    _check_meaning(facts)
    for vehicle in facts["vehicles"]:
        vehicle["year"] = int(vehicle["year"])  # the schema's integer admits 2015.0
    return facts


def load_facts_text(text: str) -> dict:
    """Parse JSON text and validate it; bad JSON is a FactsError on `(document)` with the error's position."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise FactsError(DOCUMENT, f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
                         ) from None
    return validate_facts(document)


# -- structure: the JSON Schema, its errors sorted in document order and re-worded -------------------------------


def _check_structure(document: Any) -> None:
    errors = [(_error_path(error), error) for error in _VALIDATOR.iter_errors(document)]
    if errors:
        path, error = min(errors, key=lambda pair: _path_order(pair[0]))
        raise FactsError(field_name(path), _problem(error))


def _error_path(error: ValidationError) -> tuple:
    """Where the error is; a missing property is reported at the property itself, not at its parent."""
    path = tuple(error.absolute_path)
    if error.validator == "required":
        missing = next(name for name in error.validator_value if name not in error.instance)
        path += (missing,)
    return path


def _property_ranks(schema: dict) -> dict[str, int]:
    """Each property name's first position in the schema: problems are reported in the schema's field order."""
    names: dict[str, int] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for name in node.get("properties", {}):
                names.setdefault(name, len(names))
            for value in node.values():
                walk(value)

    walk(SCHEMA["properties"])
    walk(SCHEMA["$defs"])
    return names


_RANKS = _property_ranks(SCHEMA)


def _path_order(path: tuple) -> tuple:
    return tuple((part, "") if isinstance(part, int) else (_RANKS.get(part, len(_RANKS)), part) for part in path)


def field_name(path: tuple | list) -> str:
    """("members", 1, "birth_date") → "members[1].birth_date"; the empty path is the whole document."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or DOCUMENT


def _show(value: Any) -> str:
    text = "null" if value is None else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _problem(error: ValidationError) -> str:
    """The schema error in words a registrar or a pack author reads without knowing JSON Schema."""
    kind, expected, value = error.validator, error.validator_value, error.instance
    if kind == "required":
        return "is required"
    if kind == "type":
        names = [expected] if isinstance(expected, str) else expected
        return f"{_show(value)} is not " + " or ".join(_TYPE_NAMES.get(name, name) for name in names)
    if kind == "enum":
        return f"{_show(value)} is not one of: " + ", ".join(_show(item) for item in expected)
    if kind == "format":  # the only asserted format is `date`
        return f"{_show(value)} is not a date (YYYY-MM-DD)"
    if kind == "pattern" and expected in _PATTERN_PROBLEMS:
        return f"{_show(value)} {_PATTERN_PROBLEMS[expected]}"
    if kind == "minimum":
        return f"{_show(value)} is less than {expected}"
    if kind == "maximum":
        return f"{_show(value)} is more than {expected}"
    if kind == "minItems":
        return f"needs at least {expected} item{'s' if expected != 1 else ''}, got {len(value)}"
    return error.message


def _resolve(schema: dict) -> dict:
    """A local `$ref` merged with its siblings (a `default` sits next to the `$ref` it completes)."""
    if "$ref" not in schema:
        return schema
    target = _DEFS[schema["$ref"].rsplit("/", 1)[-1]]
    return {**_resolve(target), **{key: value for key, value in schema.items() if key != "$ref"}}


def _fill_defaults(instance: Any, schema: dict) -> None:
    """Absent optional fields take the schema's `default`, so the engines never meet a missing list."""
    schema = _resolve(schema)
    if isinstance(instance, dict):
        for name, sub in schema.get("properties", {}).items():
            sub = _resolve(sub)
            if name not in instance and "default" in sub:
                instance[name] = copy.deepcopy(sub["default"])
            if name in instance:
                _fill_defaults(instance[name], sub)
    elif isinstance(instance, list) and "items" in schema:
        for item in instance:
            _fill_defaults(item, schema["items"])


# -- meaning: what a schema cannot say ------------------------------------------------------------------------


def _check_meaning(facts: dict) -> None:
    applied = date.fromisoformat(facts["application_date"])
    pins: dict[str, int] = {}
    for index, member in enumerate(facts["members"]):
        _check_member(member, index, applied, pins)
    for collection in ("vehicles", "real_estate"):
        for index, item in enumerate(facts[collection]):
            _need(item["owner_pin"] in pins, (collection, index, "owner_pin"),
                  f"{_show(item['owner_pin'])} is not the PIN of any member")
    _finite(facts["securities_value"], ("securities_value",))


def _check_member(member: dict, index: int, applied: date, pins: dict[str, int]) -> None:
    pin = member["pin"]
    if pin in pins:
        raise FactsError(field_name(("members", index, "pin")), f"{_show(pin)} is also the PIN of members[{pins[pin]}]")
    pins[pin] = index
    _need(date.fromisoformat(member["birth_date"]) <= applied, ("members", index, "birth_date"),
          f"{_show(member['birth_date'])} is after the application date {applied.isoformat()}")
    for lines in ("income", "alimony_paid"):
        for line_index, line in enumerate(member[lines]):
            _finite(line["amount"], ("members", index, lines, line_index, "amount"))


def _finite(amount: float, path: tuple) -> None:
    # JSON Schema's `minimum` lets NaN and infinity through (no comparison with them is true).
    _need(math.isfinite(amount), path, f"{_show(amount)} is not a finite number")


def _need(condition: bool, path: tuple, problem: str) -> None:
    if not condition:
        raise FactsError(field_name(path), problem)
