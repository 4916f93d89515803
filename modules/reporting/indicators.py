"""The indicators of the monthly return, declared as data in indicators.yaml: loaded and checked once.

A broken file fails loudly with `IndicatorError` naming the file, the indicator and the problem, the way a rule
pack does, so an analyst editing the YAML can fix it without reading Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

INDICATORS_FILE = Path(__file__).parent / "indicators.yaml"
LANGUAGES = ("uz", "ru", "en")
UNITS = ("people", "households", "applications", "cases", "certificates", "days", "UZS", "percent")
DIMENSIONS = ("programme", "region", "kind", "rule")
_KEYS = {"code", "unit", "dimensions", "name", "definition"}


class IndicatorError(ValueError):
    """A broken indicators file: `file: where: problem`."""

    def __init__(self, file, where: str, problem: str):
        self.file, self.where, self.problem = str(file), where, problem
        super().__init__(f"{file}: {where}: {problem}")


@dataclass(frozen=True)
class Indicator:
    code: str
    unit: str
    dimensions: tuple[str, ...]
    name: dict[str, str]
    definition: dict[str, str]

    def name_in(self, language: str) -> str:
        return self.name.get(language) or self.name["uz"]

    def definition_in(self, language: str) -> str:
        return self.definition.get(language) or self.definition["uz"]


def parse(document, file="<indicators>") -> tuple[Indicator, ...]:
    """Check a loaded document and build the indicators, in the file's order."""
    if not isinstance(document, dict) or not isinstance(document.get("indicators"), list):
        raise IndicatorError(file, "top", "expected a mapping with a list under 'indicators'")
    found: dict[str, Indicator] = {}
    for position, item in enumerate(document["indicators"], 1):
        where = f"indicator {position}"
        if not isinstance(item, dict):
            raise IndicatorError(file, where, "expected a mapping")
        code = item.get("code")
        if not isinstance(code, str) or not code.isidentifier() or code != code.lower():
            raise IndicatorError(file, where, f"code {code!r} must be a lower-case identifier")
        where = f"indicator {code}"
        if code in found:
            raise IndicatorError(file, where, "declared twice")
        if set(item) != _KEYS:
            missing, unknown = sorted(_KEYS - set(item)), sorted(set(item) - _KEYS)
            raise IndicatorError(file, where, f"missing {missing}, unknown {unknown}")
        if item["unit"] not in UNITS:
            raise IndicatorError(file, where, f"unit {item['unit']!r} is not one of {', '.join(UNITS)}")
        dimensions = item["dimensions"]
        if (not isinstance(dimensions, list) or not dimensions or len(set(dimensions)) != len(dimensions)
                or any(d not in DIMENSIONS for d in dimensions)):
            raise IndicatorError(file, where,
                                 f"dimensions must be a list of distinct values of {', '.join(DIMENSIONS)}")
        texts = {}
        for field in ("name", "definition"):
            value = item[field]
            if not isinstance(value, dict) or set(value) != set(LANGUAGES) or not all(
                    isinstance(text, str) and text.strip() for text in value.values()):
                raise IndicatorError(file, where, f"{field} needs a non-empty text in each of {', '.join(LANGUAGES)}")
            texts[field] = dict(value)
        found[code] = Indicator(code, item["unit"], tuple(dimensions), texts["name"], texts["definition"])
    if not found:
        raise IndicatorError(file, "indicators", "no indicator declared")
    return tuple(found.values())


def load(path: Path = INDICATORS_FILE) -> tuple[Indicator, ...]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise IndicatorError(path.name, "yaml", str(error)) from None
    return parse(document, path.name)


@cache
def indicators() -> tuple[Indicator, ...]:
    """The project's indicators (read once per process)."""
    return load()


def by_code() -> dict[str, Indicator]:
    return {indicator.code: indicator for indicator in indicators()}
