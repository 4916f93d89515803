"""Penitentiary system: periods of detention."""

from connectors.base import Connector
from connectors.sources._lines import statuses


class PenitentiaryConnector(Connector):
    source_name = "penitentiary"

    def normalize(self, pin, data):
        return statuses(pin, "detention", data.get("detentions"))
