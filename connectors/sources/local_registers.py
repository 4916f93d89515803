"""Local registers kept by mahallas: the "Iron Notebook" of families in need."""

from connectors.base import Connector
from connectors.sources._lines import statuses


class LocalRegistersConnector(Connector):
    source_name = "local_registers"

    def normalize(self, pin, data):
        return statuses(pin, "iron_notebook", data.get("iron_notebook"))
