"""Canonical records: what every connector's `normalize()` returns, whatever the source's own format.

Eight kinds, one dataclass each. They are validated at the boundary (`validate`), so a source that sends
nonsense fails loudly as malformed instead of slipping wrong facts into a means test.

| kind        | fields                                                                                      |
|-------------|---------------------------------------------------------------------------------------------|
| identity    | pin, last_name, first_name, patronymic, birth_date, sex (M/F), death_date                    |
| family_link | pin, related_pin, relation (head/spouse/child/parent/other: the related person's relation)   |
| address     | pin, area_code (mahalla code of the area table), address                                     |
| income      | pin, source, month (YYYY-MM), amount, currency; source `alimony_paid` is a deduction         |
| vehicle     | owner_pin, year, kind (passenger/truck/motorcycle)                                           |
| real_estate | owner_pin, kind (residential/non_residential)                                                |
| securities  | owner_pin, market_value (None when not traded), nominal_value; `value` is what counts        |
| status      | pin, status, start, end; disability has `group` (1/2/3/child) and its `end` date             |
| vital_event | pin, event (birth/death/marriage/divorce), date, related_pin                                 |
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date

INCOME_SOURCES = frozenset({"salary", "entrepreneurial", "pension", "benefit", "unemployment_benefit",
                            "public_works", "alimony_received", "alimony_paid", "property", "securities"})
RELATIONS = frozenset({"head", "spouse", "child", "parent", "other"})
STATUSES = frozenset({"student", "military_service", "detention", "iron_notebook", "employment_registered",
                      "registered_unemployed", "disability"})
DISABILITY_GROUPS = frozenset({"1", "2", "3", "child"})
VEHICLE_KINDS = frozenset({"passenger", "truck", "motorcycle"})
ESTATE_KINDS = frozenset({"residential", "non_residential"})
VITAL_EVENTS = frozenset({"birth", "death", "marriage", "divorce"})
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_PIN = re.compile(r"^\d{14}$")


class InvalidRecord(ValueError):
    """A record that breaks the canonical format; the message names the kind and the field."""


def _need(condition: bool, kind: str, message: str) -> None:
    if not condition:
        raise InvalidRecord(f"{kind}: {message}")


def _pin(kind: str, name: str, value) -> None:
    _need(isinstance(value, str) and bool(_PIN.match(value)), kind, f"{name} must be 14 digits, got {value!r}")


def _date(kind: str, name: str, value, optional: bool = False) -> None:
    if optional and value is None:
        return
    _need(isinstance(value, date), kind, f"{name} must be a date, got {value!r}")


@dataclass(frozen=True)
class Identity:
    pin: str
    last_name: str
    first_name: str
    birth_date: date
    sex: str
    patronymic: str | None = None
    death_date: date | None = None
    kind: str = field(default="identity", init=False)

    def check(self) -> None:
        _pin(self.kind, "pin", self.pin)
        _need(bool(self.last_name) and bool(self.first_name), self.kind, "names are required")
        _date(self.kind, "birth_date", self.birth_date)
        _date(self.kind, "death_date", self.death_date, optional=True)
        _need(self.sex in ("M", "F"), self.kind, f"sex must be M or F, got {self.sex!r}")


@dataclass(frozen=True)
class FamilyLink:
    pin: str
    related_pin: str
    relation: str
    kind: str = field(default="family_link", init=False)

    def check(self) -> None:
        _pin(self.kind, "pin", self.pin)
        _pin(self.kind, "related_pin", self.related_pin)
        _need(self.relation in RELATIONS, self.kind, f"unknown relation {self.relation!r}")


@dataclass(frozen=True)
class Address:
    pin: str
    area_code: str
    address: str | None = None
    kind: str = field(default="address", init=False)

    def check(self) -> None:
        _pin(self.kind, "pin", self.pin)
        _need(bool(self.area_code), self.kind, "area_code is required")


@dataclass(frozen=True)
class IncomeLine:
    pin: str
    source: str
    month: str
    amount: float
    currency: str = "UZS"
    kind: str = field(default="income", init=False)

    def check(self) -> None:
        _pin(self.kind, "pin", self.pin)
        _need(self.source in INCOME_SOURCES, self.kind, f"unknown income source {self.source!r}")
        _need(isinstance(self.month, str) and bool(_MONTH.match(self.month)), self.kind,
              f"month must be YYYY-MM, got {self.month!r}")
        _need(isinstance(self.amount, int | float) and self.amount >= 0, self.kind,
              f"amount must be a number ≥ 0, got {self.amount!r}")
        _need(len(self.currency) == 3, self.kind, f"currency must be an ISO 4217 code, got {self.currency!r}")


@dataclass(frozen=True)
class Vehicle:
    owner_pin: str
    year: int
    vehicle_kind: str
    kind: str = field(default="vehicle", init=False)

    def check(self) -> None:
        _pin(self.kind, "owner_pin", self.owner_pin)
        _need(isinstance(self.year, int) and 1900 < self.year < 2100, self.kind, f"implausible year {self.year!r}")
        _need(self.vehicle_kind in VEHICLE_KINDS, self.kind, f"unknown vehicle kind {self.vehicle_kind!r}")


@dataclass(frozen=True)
class RealEstate:
    owner_pin: str
    estate_kind: str
    kind: str = field(default="real_estate", init=False)

    def check(self) -> None:
        _pin(self.kind, "owner_pin", self.owner_pin)
        _need(self.estate_kind in ESTATE_KINDS, self.kind, f"unknown real estate kind {self.estate_kind!r}")


@dataclass(frozen=True)
class Securities:
    owner_pin: str
    nominal_value: float
    market_value: float | None = None
    kind: str = field(default="securities", init=False)

    @property
    def value(self) -> float:
        """Market value where the securities trade; the nominal value where they do not."""
        return self.market_value if self.market_value is not None else self.nominal_value

    def check(self) -> None:
        _pin(self.kind, "owner_pin", self.owner_pin)
        _need(self.nominal_value >= 0 and (self.market_value is None or self.market_value >= 0), self.kind,
              "values must be ≥ 0")


@dataclass(frozen=True)
class Status:
    pin: str
    status: str
    start: date | None = None
    end: date | None = None
    group: str | None = None  # disability group, only for status "disability"
    kind: str = field(default="status", init=False)

    def check(self) -> None:
        _pin(self.kind, "pin", self.pin)
        _need(self.status in STATUSES, self.kind, f"unknown status {self.status!r}")
        _date(self.kind, "start", self.start, optional=True)
        _date(self.kind, "end", self.end, optional=True)
        if self.status == "disability":
            _need(self.group in DISABILITY_GROUPS, self.kind, f"disability group must be 1, 2, 3 or child, "
                                                              f"got {self.group!r}")

    def active_on(self, day: date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class VitalEvent:
    pin: str
    event: str
    date: date
    related_pin: str | None = None
    kind: str = field(default="vital_event", init=False)

    def check(self) -> None:
        _pin(self.kind, "pin", self.pin)
        _need(self.event in VITAL_EVENTS, self.kind, f"unknown vital event {self.event!r}")
        _date(self.kind, "date", self.date)
        if self.related_pin is not None:
            _pin(self.kind, "related_pin", self.related_pin)


Record = Identity | FamilyLink | Address | IncomeLine | Vehicle | RealEstate | Securities | Status | VitalEvent
KINDS: dict[str, type] = {cls.__dataclass_fields__["kind"].default: cls for cls in
                          (Identity, FamilyLink, Address, IncomeLine, Vehicle, RealEstate, Securities, Status,
                           VitalEvent)}
_DATE_FIELDS = {"birth_date", "death_date", "start", "end", "date"}


def validate(records: list[Record]) -> list[Record]:
    """Check every record; raise InvalidRecord naming the first bad one."""
    for record in records:
        record.check()
    return records


def to_json(record: Record) -> dict:
    """A JSON-ready dict (dates as ISO strings) with its `kind`, as stored in data_pull payloads."""
    data = asdict(record)
    return {key: value.isoformat() if isinstance(value, date) else value for key, value in data.items()}


def from_json(data: dict) -> Record:
    """The inverse of `to_json`; raises InvalidRecord for an unknown kind or a bad field."""
    data = dict(data)
    cls = KINDS.get(data.pop("kind", None))
    if cls is None:
        raise InvalidRecord(f"unknown record kind in {data!r}")
    for name in _DATE_FIELDS & data.keys():
        if isinstance(data[name], str):
            try:
                data[name] = date.fromisoformat(data[name])
            except ValueError:
                raise InvalidRecord(f"{cls.__name__}: {name} is not a date: {data[name]!r}") from None
    try:
        record = cls(**data)
    except TypeError as exc:
        raise InvalidRecord(f"{cls.__name__}: {exc}") from None
    record.check()
    return record
