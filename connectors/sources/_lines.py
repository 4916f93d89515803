"""Shapes several registries share: monthly amounts and dated periods."""

from connectors.base import parse_date
from connectors.records import IncomeLine, Status


def income_lines(pin: str, source: str, items) -> list[IncomeLine]:
    return [IncomeLine(pin, source, item["period"], float(item["amount"])) for item in items or ()]


def statuses(pin: str, status: str, items) -> list[Status]:
    return [Status(pin, status, start=parse_date(item.get("from")), end=parse_date(item.get("to")))
            for item in items or ()]
