"""Disability register: group (1, 2, 3, or a child with a disability) and until when it is established."""

from connectors.base import Connector, parse_date
from connectors.records import Status


class DisabilityConnector(Connector):
    source_name = "disability"

    def normalize(self, pin, data):
        return [Status(pin, "disability", end=parse_date(data.get("valid_until")), group=str(data["group"]))]
