"""Case categories, read once from categories.yaml: two levels, each category with its SLA, priority and role."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml
from flask import has_request_context
from flask_babel import get_locale

from modules.grievances.models import CaseKind
from webapp.models import AreaLevel, Role

SOURCE = Path(__file__).with_name("categories.yaml")
LANGUAGES = ("uz", "ru", "en")


def _language() -> str:
    locale = get_locale() if has_request_context() else None
    language = getattr(locale, "language", None) or "uz"
    return language if language in LANGUAGES else "uz"


@dataclass(frozen=True)
class Group:
    code: str
    names: dict[str, str]

    @property
    def name(self) -> str:
        return self.names.get(_language()) or self.names["uz"]


@dataclass(frozen=True)
class Category:
    code: str
    group: Group
    kinds: tuple[CaseKind, ...]
    names: dict[str, str]
    sla_working_days: int
    priority: int
    role: Role
    sensitive: bool
    visible_to: frozenset[Role]

    @property
    def name(self) -> str:
        """The name in the reader's language (Uzbek outside a request)."""
        return self.names.get(_language()) or self.names["uz"]

    def name_in(self, language: str) -> str:
        return self.names.get(language) or self.names["uz"]

    def visible_for(self, role: Role) -> bool:
        return not self.sensitive or role in self.visible_to


@dataclass(frozen=True)
class Escalation:
    level: AreaLevel


@cache
def _load() -> tuple[dict[str, Category], Escalation]:
    data = yaml.safe_load(SOURCE.read_text(encoding="utf-8"))
    found: dict[str, Category] = {}
    for group_data in data["groups"]:
        group = Group(code=group_data["code"], names=dict(group_data["names"]))
        for item in group_data["categories"]:
            if item["code"] in found:
                raise ValueError(f"{SOURCE.name}: category {item['code']!r} is defined twice")
            if set(item["names"]) != set(LANGUAGES):
                raise ValueError(f"{SOURCE.name}: category {item['code']!r} needs names in {LANGUAGES}")
            sensitive = bool(item.get("sensitive", False))
            found[item["code"]] = Category(
                code=item["code"], group=group, kinds=tuple(CaseKind(kind) for kind in item["kinds"]),
                names=dict(item["names"]), sla_working_days=int(item["sla_working_days"]),
                priority=int(item["priority"]), role=Role(item["role"]), sensitive=sensitive,
                visible_to=frozenset(Role(role) for role in item.get("visible_to", ())) if sensitive else frozenset())
    escalation = Escalation(level=AreaLevel(data.get("escalation", {}).get("escalate_level", "region")))
    return found, escalation


def categories(kind: CaseKind | str | None = None) -> list[Category]:
    """Every category in file order; only those for `kind` when given."""
    items = list(_load()[0].values())
    if kind is not None:
        items = [item for item in items if CaseKind(kind) in item.kinds]
    return items


def category(code: str) -> Category | None:
    return _load()[0].get(code)


def escalation() -> Escalation:
    return _load()[1]


def sensitive_codes_hidden_from(role: Role) -> list[str]:
    """The category codes whose cases `role` may not see."""
    return [item.code for item in categories() if not item.visible_for(role)]
