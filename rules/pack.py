"""Rule packs: loading, validation (JSON Schema, then names and types), and effective dating.

A pack error names the file, the rule (or derived value, programme, parameter) and the problem, so a policy
analyst editing YAML can fix it without reading Python.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache
from pathlib import Path

import jsonschema
import yaml

from rules import expr
from rules.events import EVENT_FIELDS
from rules.expr import Binary, Bool, Call, ExprError, Name, Neg, Not, Num
from rules.features import HOUSEHOLD_PRIMITIVES, MEMBER_PRIMITIVES, WINDOW_PARAMETER

PACK_DIR = Path(__file__).parent / "packs"
_SCHEMA = json.loads((Path(__file__).parent / "pack.schema.json").read_text())


class PackError(ValueError):
    """A broken pack: `file: where: problem`. `kind` names the problems a page explains in its reader's language
    ("alias", "negative", "unknown_parameter"); the others are shown as written."""

    def __init__(self, file, where: str, problem: str, kind: str | None = None, subject: str | None = None):
        self.file, self.where, self.problem, self.kind, self.subject = str(file), where, problem, kind, subject
        super().__init__(f"{file}: {where}: {problem}")


class _AliasRefused(yaml.composer.ComposerError):
    pass


@dataclass(frozen=True)
class Symbol:
    type: str  # number | bool
    scope: str  # param | household | member


@dataclass(frozen=True)
class Derived:
    name: str
    per: str
    text: str
    node: object
    type: str
    description: str = ""


@dataclass(frozen=True)
class Act:
    """A legal act the pack cites: its title per language, and where to read it when there is a public copy."""

    id: str
    title: dict
    url: str | None = None


@dataclass(frozen=True)
class Reference:
    """Where a rule or a programme comes from: the act and the part of it (per language), as OpenFisca's
    `reference:` keeps a parameter's source next to it."""

    act: Act
    part: dict = field(default_factory=dict)

    def text(self, language: str = "en") -> str:
        """`<act>: <part>` in the language (English when the pack has no text in it)."""
        title = _in(self.act.title, language)
        part = _in(self.part, language)
        return f"{title}: {part}" if part else title

    @property
    def url(self) -> str | None:
        return self.act.url


def _in(texts: dict, language: str) -> str:
    return texts.get(language) or texts.get("en") or ""


@dataclass(frozen=True)
class Rule:
    id: str
    text: str
    node: object
    outcome: str
    reason: dict
    reference: Reference
    title: dict = field(default_factory=dict)


@dataclass(frozen=True)
class AlertRule:
    """An event rule: when an event of kind `event` satisfies `when`, a case of `category` is opened with the
    proposed `action` (texts by language); `suspend_enrolments` suspends the enrolments the event concerns."""
    id: str
    event: str
    text: str
    node: object
    category: str
    priority: int
    action: dict
    suspend_enrolments: bool = False

    def action_text(self, language: str = "en") -> str:
        return _in(self.action, language)


@dataclass(frozen=True)
class PaidFor:
    """A programme paid per person: one enrolment for each member for whom `each` holds, `amount` apiece."""

    each: str  # a member value (bool) of the pack
    amount: str  # the parameter with the amount per person


@dataclass(frozen=True)
class Programme:
    code: str
    eligible_text: str
    eligible: object
    amount_text: str
    amount: object
    months: str  # the parameter holding the months, so a new version of the pack changes them by date
    lump_sum: bool
    reference: Reference
    name: dict
    # Programmes a household cannot be paid for the same month together with this one (pre-payroll check).
    incompatible_with: tuple[str, ...] = ()
    paid_for: PaidFor | None = None  # None: a household benefit, paid to the applicant


@dataclass(frozen=True)
class Version:
    pack: Pack = field(repr=False, compare=False)
    version: str
    effective_from: date
    parameters: dict
    sources: dict

    @property
    def label(self) -> str:
        return f"{self.pack.id}@{self.version}"

    def months(self, programme: Programme) -> int:
        return int(self.parameters[programme.months])

    def with_parameters(self, changes: dict, tag: str = "draft") -> Version:
        """A copy with some parameters changed (policy simulation); unknown names are refused."""
        unknown = sorted(set(changes) - set(self.parameters))
        if unknown:
            raise PackError(self.pack.path, f"version {self.version}", f"unknown parameter {unknown[0]!r}",
                            kind="unknown_parameter", subject=unknown[0])
        negative = sorted(name for name, value in changes.items() if float(value) < 0)
        if negative:
            # Thresholds, amounts, ages and counts are never below zero; a minus sign is a typing error.
            raise PackError(self.pack.path, f"parameter {negative[0]}", "must not be negative", kind="negative",
                            subject=negative[0])
        return replace(self, version=f"{self.version}+{tag}",
                       parameters={**self.parameters, **{k: float(v) for k, v in changes.items()}})


@dataclass
class Pack:
    id: str
    country: str
    currency: str
    path: Path
    languages: list
    versions: list
    derived: list
    rules: list
    programmes: list
    symbols: dict
    labels: dict = field(default_factory=dict)
    acts: dict = field(default_factory=dict)
    alerts: list = field(default_factory=list)

    def label(self, name: str, language: str) -> str:
        """What a name is called on a page, in the language (the name itself when the pack has no label)."""
        texts = self.labels.get(name, {})
        return texts.get(language) or texts.get("en") or name.replace("_", " ")

    def version_for(self, as_of: date) -> Version:
        """The version in force on `as_of`: the latest whose effective date is not after it."""
        in_force = [version for version in self.versions if version.effective_from <= as_of]
        if not in_force:
            raise PackError(self.path, "versions", f"no version is in force on {as_of.isoformat()} (the first "
                                                   f"takes effect on {self.versions[0].effective_from.isoformat()})")
        return in_force[-1]

    def version_named(self, name: str) -> Version:
        for version in self.versions:
            if version.version == name:
                return version
        raise PackError(self.path, "versions", f"no version {name!r}")

    @property
    def member_derived(self) -> list[Derived]:
        return [item for item in self.derived if item.per == "member"]


@cache
def get_pack(pack_id: str) -> Pack:
    """The pack `rules/packs/<pack_id>.yaml`, loaded and checked once per process."""
    path = PACK_DIR / f"{pack_id}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PACK_DIR.glob("*.yaml") if not p.stem.endswith(".cases")))
        raise PackError(path, "pack", f"no pack {pack_id!r} (known: {known})")
    return load_pack(path)


def pack_ids() -> list[str]:
    return sorted(p.stem for p in PACK_DIR.glob("*.yaml") if "." not in p.stem)


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without anchors' aliases: a few nested aliases in a few hundred bytes expand to gigabytes (the
    "billion laughs"), and a pack never needs them."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise _AliasRefused(None, None, "aliases (*name) are not allowed in a rule pack", mark)
        return super().compose_node(parent, index)


def load_pack(path: Path | str, text: str | None = None) -> Pack:
    """Parse, validate and type-check a pack file (or `text` given for that file name)."""
    path = Path(path)
    try:
        data = yaml.load(text if text is not None else path.read_text(encoding="utf-8"), Loader=_NoAliasLoader)
    except _AliasRefused as error:
        raise PackError(path, "YAML", str(error).replace("\n", " "), kind="alias") from None
    except yaml.YAMLError as error:
        raise PackError(path, "YAML", str(error).replace("\n", " ")) from None
    _check_schema(path, data)
    return _Builder(path, data).build()


def _check_schema(path: Path, data) -> None:
    errors = sorted(jsonschema.Draft202012Validator(_SCHEMA).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        error = errors[0]
        where = _where(data, list(error.absolute_path))
        if error.validator == "minimum" and list(error.absolute_path)[-1:] == ["value"]:
            raise PackError(path, where, error.message, kind="negative", subject=str(error.absolute_path[-2]))
        raise PackError(path, where, error.message)


def _where(data, location: list) -> str:
    """`rule income_above_threshold: when` rather than `rules/3/when` where the item has an id."""
    if len(location) >= 2 and location[0] in ("rules", "programmes", "derived", "versions"):
        item = data[location[0]][location[1]] if isinstance(data, dict) else None
        key = {"rules": "id", "programmes": "code", "derived": "name", "versions": "version"}[location[0]]
        label = item.get(key) if isinstance(item, dict) else None
        singular = {"rules": "rule", "programmes": "programme", "derived": "derived", "versions": "version"}
        head = f"{singular[location[0]]} {label}" if label else f"{location[0]}[{location[1]}]"
        return ": ".join([head, *map(str, location[2:])])
    return "/".join(map(str, location)) or "(pack)"


class _Builder:
    """Turns validated YAML into a Pack, checking every name and type as it goes."""

    def __init__(self, path: Path, data: dict):
        self.path, self.data = path, data
        self.symbols: dict[str, Symbol] = {}
        self.acts: dict[str, Act] = {}

    def fail(self, where: str, problem: str):
        raise PackError(self.path, where, problem)

    def build(self) -> Pack:
        data = self.data
        pack = Pack(id=data["id"], country=data["country"], currency=data["currency"], path=self.path,
                    languages=data.get("languages", ["en"]), versions=[], derived=[], rules=[], programmes=[],
                    symbols=self.symbols)
        self.acts.update({key: Act(key, item["title"], item.get("url")) for key, item in data["acts"].items()})
        pack.acts = self.acts
        pack.versions = self.versions(pack)
        self.symbols.update({name: Symbol("number", "param") for name in pack.versions[0].parameters})
        for name, kind in HOUSEHOLD_PRIMITIVES.items():
            self.symbols[name] = Symbol(kind, "household")
        for name, kind in MEMBER_PRIMITIVES.items():
            self.symbols[name] = Symbol(kind, "member")
        pack.derived = [self.derived(item) for item in data["derived"]]
        pack.rules = [self.rule(item) for item in data["rules"]]
        pack.programmes = [self.programme(item, pack.versions) for item in data["programmes"]]
        pack.labels = self.labels(data.get("labels", {}))
        pack.alerts = [self.alert(item) for item in data.get("alerts", [])]
        self.unique("alert", [alert.id for alert in pack.alerts])
        self.unique("rule", [rule.id for rule in pack.rules])
        self.unique("programme", [programme.code for programme in pack.programmes])
        self.check_incompatible(pack.programmes)
        return pack

    def check_incompatible(self, programmes: list[Programme]) -> None:
        codes = {programme.code for programme in programmes}
        for programme in programmes:
            for other in programme.incompatible_with:
                if other not in codes or other == programme.code:
                    self.fail(f"programme {programme.code}: incompatible_with", f"unknown programme {other!r}")

    def labels(self, labels: dict) -> dict:
        for name in labels:
            if name not in self.symbols:
                self.fail(f"labels: {name}", f"unknown name {name!r}")
        return labels

    def unique(self, what: str, ids: list[str]) -> None:
        seen = set()
        for item in ids:
            if item in seen:
                self.fail(f"{what} {item}", f"the {what} id is used twice")
            seen.add(item)

    def versions(self, pack: Pack) -> list[Version]:
        versions, current = [], {}
        for item in self.data["versions"]:
            where = f"version {item['version']}"
            try:
                effective = date.fromisoformat(item["effective_from"])
            except ValueError:
                self.fail(where, f"effective_from {item['effective_from']!r} is not a date")
            if versions and effective <= versions[-1].effective_from:
                self.fail(where, "versions must be in order of effective date, each later than the one before")
            new = set(item["parameters"]) - set(current)
            if versions and new:
                self.fail(where, f"parameter {sorted(new)[0]!r} is not defined by the first version")
            current = {**current, **{k: float(v["value"]) for k, v in item["parameters"].items()}}
            sources = {**(versions[-1].sources if versions else {}), **item["parameters"]}
            versions.append(Version(pack, item["version"], effective, current, sources))
        if WINDOW_PARAMETER not in versions[0].parameters:
            self.fail(f"version {versions[0].version}", f"parameter {WINDOW_PARAMETER!r} is required")
        return versions

    def expression(self, where: str, text, scope: str, want: str):
        try:
            node = expr.parse(text)
        except ExprError as error:
            self.fail(where, f"{error} in {text!r}")
        found = self.type_of(where, node, scope)
        if found != want:
            self.fail(where, f"{text!r} gives a {found}, a {want} is needed")
        return node

    def type_of(self, where: str, node, scope: str, inside_aggregate: bool = False) -> str:
        if isinstance(node, Num):
            return "number"
        if isinstance(node, Bool):
            return "bool"
        if isinstance(node, Name):
            return self.name_type(where, node.id, scope)
        if isinstance(node, Not):
            return self.expect(where, node.operand, scope, "bool", "not", inside_aggregate)
        if isinstance(node, Neg):
            return self.expect(where, node.operand, scope, "number", "-", inside_aggregate)
        if isinstance(node, Binary):
            return self.binary_type(where, node, scope, inside_aggregate)
        return self.call_type(where, node, scope, inside_aggregate)

    def name_type(self, where: str, name: str, scope: str) -> str:
        symbol = self.symbols.get(name)
        if symbol is None:
            self.fail(where, f"unknown name {name!r}")
        if symbol.scope == "member" and scope != "member":
            self.fail(where, f"{name!r} is a value per member; use it inside count() or sum()")
        return symbol.type

    def expect(self, where, node, scope, kind, op, inside_aggregate) -> str:
        found = self.type_of(where, node, scope, inside_aggregate)
        if found != kind:
            self.fail(where, f"{op!r} needs a {kind}, got a {found} ({expr.to_text(node)})")
        return kind

    def binary_type(self, where, node: Binary, scope, inside_aggregate) -> str:
        if node.op in ("and", "or"):
            for side in (node.left, node.right):
                self.expect(where, side, scope, "bool", node.op, inside_aggregate)
            return "bool"
        if node.op in ("==", "!=") and self.type_of(where, node.left, scope, inside_aggregate) == "bool":
            self.expect(where, node.right, scope, "bool", node.op, inside_aggregate)
            return "bool"
        for side in (node.left, node.right):
            self.expect(where, side, scope, "number", node.op, inside_aggregate)
        return "bool" if node.op in expr.COMPARISONS else "number"

    def call_type(self, where, node: Call, scope, inside_aggregate) -> str:
        if node.fn in expr.AGGREGATES:
            if scope == "member" or inside_aggregate:
                self.fail(where, f"{node.fn}() ranges over the members of a household; it cannot be used per member")
            self.expect(where, node.args[0], "member", "bool" if node.fn == "count" else "number", node.fn, True)
            return "number"
        for arg in node.args:
            self.expect(where, arg, scope, "number", node.fn, inside_aggregate)
        return "number"

    def derived(self, item: dict) -> Derived:
        name, per = item["name"], item.get("per", "household")
        where = f"derived {name}"
        if name in self.symbols:
            self.fail(where, f"the name {name!r} is already defined")
        try:
            node = expr.parse(item["expr"])
        except ExprError as error:
            self.fail(where, f"{error} in {item['expr']!r}")
        kind = self.type_of(where, node, per)
        self.symbols[name] = Symbol(kind, per)
        return Derived(name, per, str(item["expr"]), node, kind, item.get("description", ""))

    def rule(self, item: dict) -> Rule:
        where = f"rule {item['id']}"
        node = self.expression(where, item["when"], "household", "bool")
        for language, template in item["reason"].items():
            self.check_template(f"{where}: reason.{language}", template)
        return Rule(item["id"], str(item["when"]), node, item["outcome"], item["reason"],
                    self.reference(f"{where}: reference", item["reference"]), item.get("title", {}))

    def alert(self, item: dict) -> AlertRule:
        """An alert rule; its condition may name only the fields its event kind carries (rules.alerts)."""
        where = f"alert {item['id']}"
        fields = EVENT_FIELDS.get(item["event"])
        if fields is None:
            self.fail(f"{where}: event", f"unknown event {item['event']!r} (known: {', '.join(sorted(EVENT_FIELDS))})")
        symbols, self.symbols = self.symbols, {name: Symbol(kind, "household") for name, kind in fields.items()}
        try:
            node = self.expression(f"{where}: when", item["when"], "household", "bool")
        finally:
            self.symbols = symbols
        return AlertRule(item["id"], item["event"], str(item["when"]), node, item["category"], int(item["priority"]),
                         item["action"], bool(item.get("suspend_enrolments", False)))

    def reference(self, where: str, item: dict) -> Reference:
        act = self.acts.get(item["act"])
        if act is None:
            self.fail(f"{where}: act", f"unknown act {item['act']!r} (the acts cited are listed under `acts:`)")
        return Reference(act, item.get("part", {}))

    def programme(self, item: dict, versions: list[Version]) -> Programme:
        where = f"programme {item['code']}"
        eligible = self.expression(f"{where}: eligible", item["eligible"], "household", "bool")
        amount = self.expression(f"{where}: amount", item["amount"], "household", "number")
        months = item["months"]
        self.check_months(f"{where}: months", months, versions)
        return Programme(item["code"], str(item["eligible"]), eligible, str(item["amount"]), amount, months,
                         item.get("lump_sum", False), self.reference(f"{where}: reference", item["reference"]),
                         item.get("name", {"en": item["code"]}), tuple(item.get("incompatible_with", ())),
                         self.paid_for(f"{where}: paid_for", item.get("paid_for")))

    def paid_for(self, where: str, item: dict | None) -> PaidFor | None:
        if item is None:
            return None
        each = self.symbols.get(item["each"])
        if each is None or each.scope != "member" or each.type != "bool":
            self.fail(f"{where}: each", f"{item['each']!r} is not a yes/no value per member")
        if self.symbols.get(item["amount"], Symbol("", "")).scope != "param":
            self.fail(f"{where}: amount", f"unknown parameter {item['amount']!r}")
        return PaidFor(item["each"], item["amount"])

    def check_months(self, where: str, months, versions: list[Version]) -> None:
        """Months name a parameter (the schema refuses a number: a resolution that changes them is a new version),
        and every version gives them as a whole number of at least one."""
        if months not in versions[0].parameters:
            self.fail(where, f"unknown parameter {months!r}")
        for version in versions:
            value = version.parameters[months]
            if value < 1 or not float(value).is_integer():
                self.fail(where, f"{months} is {value:g} in version {version.version}; "
                                 f"it must be a whole number of at least 1")

    def check_template(self, where: str, template: str) -> None:
        try:
            fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
        except ValueError as error:
            self.fail(where, f"bad template: {error}")
        for name in fields:
            symbol = self.symbols.get(name)
            if symbol is None or symbol.scope == "member":
                self.fail(where, f"unknown name {{{name}}} in the message")
