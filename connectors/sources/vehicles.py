"""Vehicle register (MIA traffic police): vehicles owned, with year and category."""

from connectors.base import Connector
from connectors.records import Vehicle


class VehiclesConnector(Connector):
    source_name = "vehicles"

    def normalize(self, pin, data):
        return [Vehicle(pin, int(item["manufacture_year"]), item["category"]) for item in data.get("vehicles") or ()]
