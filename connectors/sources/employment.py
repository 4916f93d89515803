"""Employment service: unemployment benefit, public works pay, registrations (unemployed; Single National
Employment System)."""

from connectors.base import Connector, parse_date
from connectors.records import Status
from connectors.sources._lines import income_lines

_REGISTRATIONS = {"registered_unemployed", "employment_registered"}


class EmploymentConnector(Connector):
    source_name = "employment"

    def normalize(self, pin, data):
        records = income_lines(pin, "unemployment_benefit", data.get("unemployment_benefit"))
        records += income_lines(pin, "public_works", data.get("public_works"))
        for item in data.get("registrations") or ():
            if item["kind"] not in _REGISTRATIONS:
                raise ValueError(f"unknown registration kind {item['kind']!r}")
            records.append(Status(pin, item["kind"], start=parse_date(item.get("from")),
                                  end=parse_date(item.get("to"))))
        return records
