"""Cadastre Agency: real estate owned."""

from connectors.base import Connector
from connectors.records import RealEstate


class CadastreConnector(Connector):
    source_name = "cadastre"

    def normalize(self, pin, data):
        return [RealEstate(pin, item["type"]) for item in data.get("properties") or ()]
